// On a ticket page, for staff: reply drafts saved on the server while typing
// (debounced), restored on return; and the presence state ("replying" while a
// reply or note box has focus or text), sent with the next heartbeat.
(function () {
  "use strict";
  var root = document.getElementById("ticket-extras");
  if (!root) return;
  var draftUrl = root.getAttribute("data-draft-url");
  var leaveUrl = root.getAttribute("data-presence-leave-url");
  var csrf = document.getElementById("extras-csrf");
  var token = csrf ? csrf.value : "";
  var stateInput = document.getElementById("presence-state");
  var DELAY_MS = 800;

  function draftBoxes() {
    // The ticket page's reply box (one box for replies and notes) unless a
    // template marks its boxes with data-draft-kind itself.
    var plain = document.querySelector("#reply-form textarea[name='body']");
    if (plain && !plain.hasAttribute("data-draft-kind")) plain.setAttribute("data-draft-kind", "reply");
    return Array.prototype.slice.call(document.querySelectorAll("textarea[data-draft-kind]"));
  }

  function post(url, fields) {
    var body = new FormData();
    Object.keys(fields).forEach(function (k) { body.append(k, fields[k]); });
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": token }
    });
  }

  // --- drafts ---------------------------------------------------------------
  if (draftUrl) {
    var timers = {};
    var boxes = draftBoxes();
    if (boxes.length) {
      fetch(draftUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : {}; })
        .then(function (saved) {
          boxes.forEach(function (box) {
            var text = saved[box.getAttribute("data-draft-kind")];
            if (text && !box.value) {
              box.value = text;
              box.classList.add("draft-restored");
              box.dispatchEvent(new Event("input", { bubbles: true }));
              var note = document.createElement("div");
              note.className = "form-text draft-note";
              note.textContent = root.getAttribute("data-draft-restored") || "Draft restored.";
              box.insertAdjacentElement("afterend", note);
            }
          });
          updateState();
        })
        .catch(function () { /* drafts are a convenience; never block the page */ });
    }
    boxes.forEach(function (box) {
      var kind = box.getAttribute("data-draft-kind");
      box.addEventListener("input", function () {
        clearTimeout(timers[kind]);
        timers[kind] = setTimeout(function () {
          post(draftUrl, { kind: kind, body: box.value }).catch(function () {});
        }, DELAY_MS);
      });
      // Leaving the page before the timer fires must not lose the last words.
      window.addEventListener("pagehide", function () {
        if (timers[kind] !== undefined) {
          clearTimeout(timers[kind]);
          var data = new FormData();
          data.append("csrfmiddlewaretoken", token);
          data.append("kind", kind);
          data.append("body", box.value);
          navigator.sendBeacon(draftUrl, data);
        }
      });
      // Sent: the server clears the draft in the same transaction; cancel pending saves.
      if (box.form) {
        box.form.addEventListener("submit", function () { clearTimeout(timers[kind]); delete timers[kind]; });
      }
    });
  }

  // --- presence -------------------------------------------------------------
  function updateState() {
    if (!stateInput) return;
    var active = document.activeElement;
    var replying = draftBoxes().some(function (box) {
      return box === active || box.value.trim() !== "";
    });
    var state = replying ? "replying" : "viewing";
    if (stateInput.value !== state) {
      stateInput.value = state;
      document.body.dispatchEvent(new CustomEvent("presence-change"));
    }
  }
  document.addEventListener("focusin", updateState);
  document.addEventListener("focusout", function () { setTimeout(updateState, 0); });
  document.addEventListener("input", updateState);

  // Who else is here matters before anything else in the sidebar: move the
  // card to its top (the template hook renders it at the bottom).
  var card = root.querySelector(".presence-card");
  var sidebar = root.closest("aside");
  if (card && sidebar) sidebar.insertBefore(card, sidebar.firstElementChild);

  var presence = document.getElementById("ticket-presence");
  var none = document.querySelector(".presence-none");
  if (presence && none) {
    var toggleNone = function () { none.hidden = presence.children.length > 0; };
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.target === presence) toggleNone();
    });
    toggleNone();
  }

  if (leaveUrl) {
    window.addEventListener("pagehide", function () {
      var data = new FormData();
      data.append("csrfmiddlewaretoken", token);
      navigator.sendBeacon(leaveUrl, data);
    });
  }
})();
