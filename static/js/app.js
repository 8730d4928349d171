// Behaviour shared by every page. Loaded as a static file: the CSP allows no
// inline script.
(function () {
  "use strict";
  // After htmx swaps content in, move focus to the swapped region's first
  // heading or status line only when focus would otherwise be lost.
  // Mail HTML is shown in sandboxed frames (no scripts inside); size each
  // frame to its content once it has loaded.
  function fitFrame(frame) {
    try {
      var doc = frame.contentDocument;
      if (doc && doc.body) {
        // The body's own height: the document element is at least as tall as the frame.
        var content = Math.max(doc.body.scrollHeight, doc.body.offsetHeight);
        frame.style.height = Math.min(Math.max(content, 32) + 32, 1600) + "px";
      }
    } catch (e) { /* a frame we cannot read keeps its CSS height */ }
  }
  function fitFrames(root) {
    root.querySelectorAll("iframe.mail-html").forEach(function (frame) {
      frame.addEventListener("load", function () { fitFrame(frame); });
      fitFrame(frame);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { fitFrames(document); });
  document.addEventListener("htmx:afterSettle", function (event) { fitFrames(event.detail.elt || document); });

  // Keep bookmarkable list URLs short: drop empty filter fields from GETs.
  document.addEventListener("htmx:configRequest", function (event) {
    var data = event.detail.formData;
    if (event.detail.verb !== "get" || !data) { return; }
    var empty = [];
    data.forEach(function (value, key) {
      if (value === "" && data.getAll(key).every(function (v) { return v === ""; })) { empty.push(key); }
    });
    empty.forEach(function (key) { data.delete(key); });
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (document.activeElement === document.body && event.detail.target) {
      event.detail.target.setAttribute("tabindex", "-1");
    }
  });
})();
