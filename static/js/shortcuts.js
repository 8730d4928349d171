// Keyboard shortcuts (listed in the #shortcuts-help dialog, opened with "?").
// They never fire while the user types in a field, or with Ctrl/Alt/Meta held.
(function () {
  "use strict";
  var LIST_KEY = "helpdesk:ticket-order";
  var dialog = document.getElementById("shortcuts-help");
  // The dialog is rendered in the nav, which is display:none when collapsed on
  // a phone; a modal must not have a hidden ancestor, so it lives in <body>.
  if (dialog) document.body.appendChild(dialog);
  var pendingG = false;
  var pendingTimer = null;

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function ticketRows() {
    var rows = document.querySelectorAll("[data-shortcut-row]");
    if (!rows.length) rows = document.querySelectorAll("tbody tr[data-ticket]");
    if (rows.length) return Array.prototype.slice.call(rows);
    // Fallback: table rows that link to a ticket.
    return Array.prototype.filter.call(document.querySelectorAll("tbody tr"), function (tr) {
      return tr.querySelector("a[href*='/tickets/HD-']");
    });
  }

  function rowLink(row) {
    return row.matches("a") ? row : row.querySelector("a[href*='/tickets/']");
  }

  // Remember the list's order so j/k also step through tickets on a ticket page.
  function rememberOrder() {
    var urls = ticketRows().map(function (row) {
      var link = rowLink(row);
      return link ? link.getAttribute("href") : null;
    }).filter(Boolean);
    if (urls.length) {
      try { sessionStorage.setItem(LIST_KEY, JSON.stringify(urls)); } catch (e) { /* private mode */ }
    }
  }

  function moveInList(step) {
    var rows = ticketRows();
    if (!rows.length) return false;
    var current = rows.findIndex(function (r) { return r.classList.contains("shortcut-active"); });
    var next = current === -1 ? (step > 0 ? 0 : rows.length - 1) : current + step;
    next = Math.max(0, Math.min(rows.length - 1, next));
    rows.forEach(function (r) { r.classList.remove("shortcut-active"); r.removeAttribute("aria-current"); });
    var row = rows[next];
    row.classList.add("shortcut-active");
    row.setAttribute("aria-current", "true");
    var link = rowLink(row);
    if (link) link.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
    return true;
  }

  function moveFromTicket(step) {
    var urls;
    try { urls = JSON.parse(sessionStorage.getItem(LIST_KEY) || "[]"); } catch (e) { urls = []; }
    var here = window.location.pathname;
    var index = urls.findIndex(function (u) { return new URL(u, window.location.href).pathname === here; });
    if (index === -1) return false;
    var target = urls[index + step];
    if (target) window.location.assign(target);
    return true;
  }

  function focusFirst(selectors) {
    for (var i = 0; i < selectors.length; i++) {
      var el = document.querySelector(selectors[i]);
      if (el) {
        if (el.tagName.toLowerCase() === "details") { el.open = true; el = el.querySelector("textarea") || el; }
        var box = el.closest("details");
        if (box) box.open = true;
        el.scrollIntoView({ block: "center" });
        el.focus();
        return true;
      }
    }
    return false;
  }

  function openHelp() {
    if (!dialog || dialog.open) return;
    if (typeof dialog.showModal === "function") dialog.showModal(); else dialog.setAttribute("open", "");
  }

  var goTo = {
    t: "/tickets/",
    d: "/",
    n: "/notifications/"
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (typing(event.target)) return;
    if (dialog && dialog.open && event.key !== "?") return;
    var key = event.key;
    var handled = false;
    if (pendingG) {
      pendingG = false;
      clearTimeout(pendingTimer);
      if (goTo[key]) { window.location.assign(goTo[key]); handled = true; }
    } else if (key === "g") {
      pendingG = true;
      pendingTimer = setTimeout(function () { pendingG = false; }, 1500);
      handled = true;
    } else if (key === "?") {
      openHelp();
      handled = true;
    } else if (key === "j" || key === "k") {
      var step = key === "j" ? 1 : -1;
      handled = moveInList(step) || moveFromTicket(step);
    } else if (key === "o") {
      var active = document.querySelector(".shortcut-active");
      var link = active && rowLink(active);
      if (link) { link.click(); handled = true; }
    } else if (key === "r") {
      handled = focusFirst(["[data-shortcut='reply']", "#reply-form textarea[name='body']", "textarea[data-draft-kind='reply']"]);
    } else if (key === "n") {
      // Notes are written in the reply box and sent with "Add internal note".
      handled = focusFirst(["[data-shortcut='note']", "textarea[data-draft-kind='note']", "#reply-form textarea[name='body']"]);
      var noteButton = document.getElementById("reply-note");
      if (handled && noteButton) {
        noteButton.classList.add("shortcut-note");
        document.activeElement.addEventListener("blur", function () {
          noteButton.classList.remove("shortcut-note");
        }, { once: true });
      }
    } else if (key === "/") {
      handled = focusFirst(["[data-shortcut='search']", "input[type='search']", "input[name='q']"]);
    }
    if (handled) event.preventDefault();
  });

  document.querySelectorAll("[data-shortcuts-open]").forEach(function (button) {
    button.addEventListener("click", openHelp);
  });

  rememberOrder();
  // The list is re-rendered by htmx when filters change: remember the new order.
  document.body.addEventListener("htmx:afterSettle", rememberOrder);
})();
