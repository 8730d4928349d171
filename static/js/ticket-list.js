// Ticket list: the filter form updates the results through htmx (see the
// hx-* attributes); this file only adds "select all" for bulk actions and
// keeps the bulk form's return address equal to the current list URL.
(function () {
  "use strict";
  function syncNext() {
    var next = document.querySelector('#bulk-form input[name="next"]');
    if (next) { next.value = window.location.pathname + window.location.search; }
  }
  document.addEventListener("htmx:pushedIntoHistory", syncNext);
  document.addEventListener("htmx:afterSettle", syncNext);
})();
