// Canned replies: the box above the reply finds one by name (the browser's
// own datalist search) and inserts its text, already filled in for this
// ticket by the server, where the cursor is. Without this script the box
// stays hidden; `#canned NAME` works by mail either way.
(function () {
  "use strict";

  function init() {
    var data = document.getElementById("canned-replies");
    var picker = document.querySelector(".canned-picker");
    var form = document.getElementById("reply-form");
    if (!data || !picker || !form) return;
    var replies = JSON.parse(data.textContent);
    var area = form.querySelector("textarea[name='body']");
    var search = document.getElementById("canned-search");
    var button = document.getElementById("canned-insert");
    if (!area || !search || !button) return;
    picker.hidden = false;

    function find(name) {
      var wanted = name.trim().toLowerCase();
      for (var i = 0; i < replies.length; i++) {
        if (replies[i].name.toLowerCase() === wanted) return replies[i];
      }
      return null;
    }

    function insert() {
      var reply = find(search.value);
      if (!reply) {
        search.setCustomValidity(search.dataset.notFound || "?");
        search.reportValidity();
        return;
      }
      search.setCustomValidity("");
      area.focus();
      var text = reply.body;
      if (!document.execCommand || !document.execCommand("insertText", false, text)) {
        area.setRangeText(text, area.selectionStart, area.selectionEnd, "end");
        area.dispatchEvent(new Event("input", { bubbles: true }));
      }
      search.value = "";
    }

    button.addEventListener("click", insert);
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();  // Enter inserts; it never sends the reply
        insert();
      }
    });
    search.addEventListener("input", function () { search.setCustomValidity(""); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
