// Keep the phone-width bell (beside the menu button) in step with the polled
// bell in the folded nav: htmx swaps the latter, this copies its count.
(function () {
  "use strict";
  function sync() {
    var bell = document.getElementById("notification-bell");
    var compact = document.querySelector(".notification-bell-compact");
    if (!bell || !compact) return;
    var unread = parseInt(bell.getAttribute("data-unread") || "0", 10);
    var badge = compact.querySelector(".notification-count");
    compact.setAttribute("data-unread", String(unread));
    compact.setAttribute("aria-label", bell.getAttribute("aria-label") || "");
    if (badge) {
      badge.textContent = unread > 99 ? "99+" : String(unread);
      badge.hidden = unread === 0;
    }
  }
  document.body.addEventListener("htmx:afterSettle", sync);
  document.body.addEventListener("htmx:oobAfterSwap", sync);

  // A tab in the background does not poll (dozens of forgotten tabs would
  // each hit the server every 20 s); it catches up when shown again.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (document.hidden && event.target && event.target.id === "notification-bell") {
      event.preventDefault();
    }
  });
  document.addEventListener("visibilitychange", function () {
    var bell = document.getElementById("notification-bell");
    if (!document.hidden && bell && window.htmx) window.htmx.trigger(bell, "refresh");
  });
})();
