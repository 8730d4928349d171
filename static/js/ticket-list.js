// Ticket list: the filter form updates the results through htmx (see the
// hx-* attributes); this file adds "select all" for bulk actions and
// keeps the bulk form's return address equal to the current list URL.
(function () {
  "use strict";
  function syncNext() {
    var next = document.querySelector('#bulk-form input[name="next"]');
    if (next) { next.value = window.location.pathname + window.location.search; }
  }
  // "Select all on this page": delegated, because htmx replaces the table.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("[data-select-all]")) { return; }
    document.querySelectorAll('#results input[name="tickets"]').forEach(function (row) {
      row.checked = box.checked;
    });
  });
  document.addEventListener("htmx:pushedIntoHistory", syncNext);
  document.addEventListener("htmx:afterSettle", syncNext);
})();
