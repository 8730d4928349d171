// Submit a form as soon as a [data-autosubmit] select changes (the language
// switcher). The form keeps its own submit button for people without JS.
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    var button = select.form && select.form.querySelector(".language-submit");
    if (button) button.classList.add("visually-hidden");
    select.addEventListener("change", function () {
      if (select.form) select.form.requestSubmit();
    });
  });
})();
