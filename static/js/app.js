// Behaviour shared by every page. Loaded as a static file: the CSP allows no
// inline script.
(function () {
  "use strict";
  // After htmx swaps content in, move focus to the swapped region's first
  // heading or status line only when focus would otherwise be lost.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (document.activeElement === document.body && event.detail.target) {
      event.detail.target.setAttribute("tabindex", "-1");
    }
  });
})();
