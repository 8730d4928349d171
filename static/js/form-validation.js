// Live validation for every form that carries data-msg-* attributes (new
// ticket, reply, sign-up, passwords): required fields,
// lengths and attachment limits are checked as the person types or picks
// files, with the same rules the server applies (the server still decides).
// Messages come translated from data-msg-* attributes on the form.
(function () {
  "use strict";

  function fmt(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] !== undefined ? values[key] : "";
    });
  }

  function humanSize(bytes) {
    var units = ["B", "KB", "MB", "GB"];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return (i ? bytes.toFixed(1) : String(bytes)) + " " + units[i];
  }

  function extensionOf(name) {
    var dot = name.lastIndexOf(".");
    return dot > 0 ? name.slice(dot).toLowerCase() : "";
  }

  function list(value) {
    return (value || "").split(",").map(function (s) { return s.trim().toLowerCase(); }).filter(Boolean);
  }

  function checkField(form, field) {
    var msg = form.dataset;
    var value = field.type === "file" ? "" : (field.value || "").trim();
    var problems = [];
    if (field.type === "file") {
      var files = Array.prototype.slice.call(field.files || []);
      var maxBytes = parseInt(field.dataset.maxBytes || "0", 10);
      var maxFiles = parseInt(field.dataset.maxFiles || "0", 10);
      var blocked = list(field.dataset.blocked);
      var allowed = list(field.dataset.allowed);
      if (maxFiles && files.length > maxFiles) {
        problems.push(fmt(msg.msgTooMany, { count: maxFiles }));
      }
      files.forEach(function (f) {
        var ext = extensionOf(f.name);
        if (maxBytes && f.size > maxBytes) {
          problems.push(fmt(msg.msgTooLarge, { name: f.name, limit: humanSize(maxBytes) }));
        }
        if (blocked.indexOf(ext) !== -1 || (allowed.length && allowed.indexOf(ext) === -1)) {
          problems.push(fmt(msg.msgBlocked, { name: f.name }));
        }
      });
    } else if (field.required && !value) {
      problems.push(msg.msgRequired);
    } else if (value) {
      var min = parseInt(field.getAttribute("minlength") || "0", 10);
      var max = parseInt(field.getAttribute("maxlength") || "0", 10);
      if (min && value.length < min) { problems.push(fmt(msg.msgTooShort, { min: min })); }
      if (max && value.length > max) { problems.push(fmt(msg.msgTooLong, { max: max })); }
      if (field.type === "email" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) {
        problems.push(msg.msgInvalidEmail);
      }
    }
    var box = form.querySelector('[data-field-error="' + field.name + '"]');
    if (box) {
      box.textContent = "";
      problems.forEach(function (p, i) {
        if (i) { box.appendChild(document.createElement("br")); }
        box.appendChild(document.createTextNode(p));
      });
    }
    field.classList.toggle("is-invalid", problems.length > 0);
    if (problems.length) { field.setAttribute("aria-invalid", "true"); } else { field.removeAttribute("aria-invalid"); }
    return problems.length === 0;
  }

  function setup(form) {
    var fields = form.querySelectorAll("input[name], textarea[name], select[name]");
    fields.forEach(function (field) {
      if (field.type === "hidden" || field.type === "submit") { return; }
      var touched = false;
      field.addEventListener("blur", function () { touched = true; checkField(form, field); });
      field.addEventListener("input", function () { if (touched || field.classList.contains("is-invalid")) { checkField(form, field); } });
      field.addEventListener("change", function () { touched = true; checkField(form, field); });
    });
    form.addEventListener("submit", function (event) {
      var firstBad = null;
      fields.forEach(function (field) {
        if (field.type === "hidden" || field.type === "submit") { return; }
        if (!checkField(form, field) && !firstBad) { firstBad = field; }
      });
      if (firstBad) {
        event.preventDefault();
        firstBad.focus();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-msg-required]").forEach(setup);
  });
})();
