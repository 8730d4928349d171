// The thread's mail: "Show images" per message and the image viewer.
// Loaded from our static files: the page's CSP runs no inline script.
(function () {
  "use strict";

  // Frames whose remote images the agent asked for, by frame id: a thread
  // refresh (htmx) re-renders them blocked, so the choice is applied again.
  var shown = {};

  function showImages(button, focus) {
    var frame = document.getElementById(button.getAttribute("aria-controls"));
    if (!frame) { return; }
    var url = button.getAttribute("data-show-images");
    shown[frame.id] = url;
    // srcdoc wins over src and inherits the page's img-src 'self': the frame
    // loads a document of its own whose CSP allows remote images.
    frame.removeAttribute("srcdoc");
    frame.setAttribute("src", url);
    var note = button.closest(".remote-images");
    if (note) { note.hidden = true; }
    if (focus) { frame.focus(); }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-show-images]");
    if (button) { showImages(button, true); }
  });

  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("[data-show-images]").forEach(function (button) {
      if (shown[button.getAttribute("aria-controls")]) { showImages(button, false); }
    });
  });

  // The viewer: a thumbnail opens its image in a Bootstrap modal (Esc, focus
  // trap and focus return for free); ←/→ move through the thread's images.
  // Without script the thumbnail is a plain link to the image.
  var opener = null;

  function thumbs() { return Array.prototype.slice.call(document.querySelectorAll("a[data-viewer]")); }

  function show(link) {
    var viewer = document.getElementById("image-viewer");
    if (!viewer || !window.bootstrap) { return false; }
    var img = viewer.querySelector(".image-viewer-img");
    img.src = link.getAttribute("href");
    img.alt = link.getAttribute("data-name") || "";
    viewer.querySelector(".image-viewer-title").textContent = link.getAttribute("data-name") || "";
    viewer.querySelector(".image-viewer-download").href = link.getAttribute("data-download");
    var all = thumbs();
    viewer.setAttribute("data-current", String(all.indexOf(link)));
    viewer.querySelector(".image-viewer-hint").hidden = all.length < 2;
    window.bootstrap.Modal.getOrCreateInstance(viewer).show();
    return true;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-viewer]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    opener = link;
    if (show(link)) { event.preventDefault(); }
  });

  document.addEventListener("keydown", function (event) {
    var viewer = document.getElementById("image-viewer");
    if (!viewer || !viewer.classList.contains("show")) { return; }
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") { return; }
    var all = thumbs();
    if (all.length < 2) { return; }
    var step = event.key === "ArrowRight" ? 1 : -1;
    var next = (Number(viewer.getAttribute("data-current")) + step + all.length) % all.length;
    opener = all[next];
    show(all[next]);
  });

  document.addEventListener("hidden.bs.modal", function (event) {
    if (event.target.id !== "image-viewer") { return; }
    event.target.querySelector(".image-viewer-img").removeAttribute("src");
    if (opener && document.contains(opener)) { opener.focus(); }
  });
})();
