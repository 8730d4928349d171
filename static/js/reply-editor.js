// The reply box's light formatting. The toolbar and its shortcuts only type
// the syntax helpdesk/markup.py reads (**bold**, *italic*, "- " and "1. "
// lists, [text](https://...)), so without this script the box is a plain
// textarea that formats the same. Pasted or dropped images join the form's
// file input and appear in the text as ![name](file name): the server sends
// them inline, where they stand.
(function () {
  "use strict";
  var IMAGE_TYPES = { "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp" };

  function insert(area, text, selectFrom, selectTo) {
    // execCommand keeps the browser's undo history; setRangeText where it is gone.
    var start = area.selectionStart;
    area.focus();
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      area.setRangeText(text, area.selectionStart, area.selectionEnd, "end");
      area.dispatchEvent(new Event("input", { bubbles: true }));
    }
    if (selectFrom !== undefined) {
      area.setSelectionRange(start + selectFrom, start + (selectTo === undefined ? selectFrom : selectTo));
    }
  }

  function selected(area) {
    return area.value.slice(area.selectionStart, area.selectionEnd);
  }

  function wrap(area, mark) {
    var text = selected(area);
    if (text.length > 2 * mark.length && text.slice(0, mark.length) === mark && text.slice(-mark.length) === mark) {
      var inner = text.slice(mark.length, -mark.length);
      insert(area, inner, 0, inner.length);  // pressed again: unformat
      return;
    }
    insert(area, mark + text + mark, mark.length, mark.length + text.length);
  }

  function link(area) {
    var text = selected(area);
    if (/^(https?:\/\/|mailto:)\S+$/i.test(text)) {
      insert(area, "[" + text + "](" + text + ")", 1, 1 + text.length);
    } else if (text) {
      insert(area, "[" + text + "](https://)", text.length + 3, text.length + 11);
    } else {
      insert(area, "[](https://)", 1);
    }
  }

  function list(area, numbered) {
    var collapsed = area.selectionStart === area.selectionEnd;
    var value = area.value;
    var from = value.lastIndexOf("\n", area.selectionStart - 1) + 1;
    var to = value.indexOf("\n", area.selectionEnd);
    if (to === -1) { to = value.length; }
    var lines = value.slice(from, to).split("\n");
    var marker = numbered ? /^\d+[.)]\s+/ : /^[-*+]\s+/;
    var all = lines.every(function (line) { return marker.test(line); });
    var out = lines.map(function (line, i) {
      if (all) { return line.replace(marker, ""); }
      var bare = line.replace(/^(\d+[.)]|[-*+])\s+/, "");
      return (numbered ? (i + 1) + ". " : "- ") + bare;
    }).join("\n");
    area.setSelectionRange(from, to);
    // A caret stays a caret, at the end of the line; a selection stays selected.
    insert(area, out, collapsed ? out.length : 0, out.length);
  }

  // Enter on a list item starts the next item; on an empty one it ends the list.
  function continueList(area, event) {
    if (area.selectionStart !== area.selectionEnd) { return; }
    var value = area.value;
    var from = value.lastIndexOf("\n", area.selectionStart - 1) + 1;
    var line = value.slice(from, area.selectionStart);
    var match = /^(\s{0,3})(\d+)([.)])\s+(.*)$/.exec(line) || /^(\s{0,3})([-*+])()\s+(.*)$/.exec(line);
    if (!match) { return; }
    event.preventDefault();
    if (!match[4]) {
      area.setSelectionRange(from, area.selectionStart);
      insert(area, "", 0);  // Chrome leaves the caret a line up after deleting
      return;
    }
    var next = match[3] ? (parseInt(match[2], 10) + 1) + match[3] : match[2];
    insert(area, "\n" + match[1] + next + " ");
  }

  var COMMANDS = {
    bold: function (area) { wrap(area, "**"); },
    italic: function (area) { wrap(area, "*"); },
    bullets: function (area) { list(area, false); },
    numbers: function (area) { list(area, true); },
    link: link
  };

  function shortcut(event) {
    if (!(event.ctrlKey || event.metaKey) || event.altKey) { return null; }
    var key = (event.key || "").toLowerCase();
    if (!event.shiftKey && key === "b") { return "bold"; }
    if (!event.shiftKey && key === "i") { return "italic"; }
    if (!event.shiftKey && key === "k") { return "link"; }
    if (event.shiftKey && event.code === "Digit8") { return "bullets"; }
    if (event.shiftKey && event.code === "Digit7") { return "numbers"; }
    return null;
  }

  function uniqueName(input, name) {
    var taken = {};
    Array.prototype.forEach.call(input.files, function (f) { taken[f.name] = true; });
    if (!taken[name]) { return name; }
    var dot = name.lastIndexOf(".");
    var stem = dot > 0 ? name.slice(0, dot) : name;
    var ext = dot > 0 ? name.slice(dot) : "";
    for (var i = 2; ; i++) {
      if (!taken[stem + "-" + i + ext]) { return stem + "-" + i + ext; }
    }
  }

  function randomName(type) {
    var bytes = new Uint8Array(4);
    window.crypto.getRandomValues(bytes);
    var hex = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    return "paste-" + hex + (IMAGE_TYPES[type] || ".png");
  }

  function addFiles(area, input, files, pasted) {
    if (!input || typeof DataTransfer === "undefined") { return false; }
    var transfer = new DataTransfer();
    Array.prototype.forEach.call(input.files, function (f) { transfer.items.add(f); });
    var refs = [];
    files.forEach(function (file) {
      var image = Object.prototype.hasOwnProperty.call(IMAGE_TYPES, file.type);
      // A pasted screenshot is always "image.png": give each its own name.
      var name = uniqueName(input, pasted && image ? randomName(file.type) : file.name);
      var named = name === file.name ? file : new File([file], name, { type: file.type, lastModified: file.lastModified });
      transfer.items.add(named);
      if (image) { refs.push("![" + name + "](" + name + ")"); }
    });
    input.files = transfer.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    if (refs.length) {
      var before = area.selectionStart > 0 && area.value.charAt(area.selectionStart - 1) !== "\n" ? "\n" : "";
      insert(area, before + refs.join("\n") + "\n");
    }
    showImages(area, input);
    return true;
  }

  // Thumbnails of the images going with the reply (data: URLs: the CSP allows no blob:).
  function showImages(area, input) {
    var strip = area.form.querySelector(".reply-images");
    if (!strip) { return; }
    strip.textContent = "";
    Array.prototype.forEach.call(input.files, function (file) {
      if (!Object.prototype.hasOwnProperty.call(IMAGE_TYPES, file.type)) { return; }
      var figure = document.createElement("figure");
      figure.className = "reply-image";
      var img = document.createElement("img");
      img.alt = file.name;
      var caption = document.createElement("figcaption");
      caption.textContent = file.name;
      figure.appendChild(img);
      figure.appendChild(caption);
      strip.appendChild(figure);
      var reader = new FileReader();
      reader.onload = function () { img.src = String(reader.result); };
      reader.readAsDataURL(file);
    });
    strip.hidden = !strip.childNodes.length;
  }

  function init(area) {
    var form = area.form;
    var input = form.querySelector("input[type=file][name=attachments]");
    var bar = form.querySelector(".reply-toolbar");
    if (bar) {
      bar.hidden = false;
      bar.addEventListener("mousedown", function (event) {
        if (event.target.closest("[data-command]")) { event.preventDefault(); }  // keep the selection
      });
      bar.addEventListener("click", function (event) {
        var button = event.target.closest("[data-command]");
        if (button && COMMANDS[button.dataset.command]) { COMMANDS[button.dataset.command](area); }
      });
    }
    area.addEventListener("keydown", function (event) {
      var command = shortcut(event);
      if (command) {
        event.preventDefault();
        COMMANDS[command](area);
      } else if (event.key === "Enter" && !event.shiftKey && !event.ctrlKey && !event.metaKey && !event.altKey && !event.isComposing) {
        continueList(area, event);
      }
    });
    area.addEventListener("paste", function (event) {
      var data = event.clipboardData;
      var files = data ? Array.prototype.filter.call(data.files || [], function (f) { return /^image\//.test(f.type); }) : [];
      if (files.length && addFiles(area, input, files, true)) { event.preventDefault(); }
    });
    area.addEventListener("dragover", function (event) {
      if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") !== -1) {
        event.preventDefault();
        area.classList.add("reply-drop");
      }
    });
    area.addEventListener("dragleave", function () { area.classList.remove("reply-drop"); });
    area.addEventListener("drop", function (event) {
      area.classList.remove("reply-drop");
      var files = event.dataTransfer ? Array.prototype.slice.call(event.dataTransfer.files || []) : [];
      if (files.length && addFiles(area, input, files, false)) { event.preventDefault(); }
    });
    if (input) { input.addEventListener("change", function () { showImages(area, input); }); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-editor='reply']").forEach(init);
  });
})();
