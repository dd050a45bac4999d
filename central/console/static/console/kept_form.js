/* 填写内容保留: the form a person sent after the idle sign-out, filled back in on the page it came from once they
   have signed in again (central/console/kept_forms.py). Nothing is sent: they check it and send it themselves.
   Hidden fields keep the page's own values (a new step token, the page's state); files and secret fields were never
   kept. */
(function () {
  "use strict";
  var holder = document.getElementById("seed-kept-form");
  if (!holder) { return; }
  var kept = JSON.parse(holder.textContent);
  var names = Object.keys(kept.fields);
  function sentTo(form) {
    return new URL(form.getAttribute("hx-post") || form.getAttribute("action") || location.href, location.href).pathname;
  }
  function holds(form) {
    return names.some(function (name) { return form.elements.namedItem(name) !== null; });
  }
  var posting = Array.prototype.filter.call(document.forms, function (form) {
    return (form.getAttribute("method") || "").toLowerCase() === "post" || form.hasAttribute("hx-post");
  });
  var form = posting.filter(function (f) { return sentTo(f) === kept.action && holds(f); })[0] ||
             posting.filter(holds)[0];
  if (!form) { return; }
  var filled = 0;
  Array.prototype.forEach.call(form.elements, function (field) {
    if (!field.name) { return; }
    var type = (field.type || "").toLowerCase();
    if (type === "hidden" || type === "file" || type === "password" || type === "submit" || type === "button") { return; }
    var values = kept.fields[field.name];
    if (type === "checkbox") {  /* a box the form sent unticked is not in it: unticked again */
      field.checked = !!values && values.indexOf(field.value) >= 0;
      if (values) { filled += 1; }
      return;
    }
    if (!values) { return; }
    filled += 1;
    if (type === "radio") { field.checked = values.indexOf(field.value) >= 0; return; }
    if (field.tagName === "SELECT" && field.multiple) {
      Array.prototype.forEach.call(field.options, function (o) { o.selected = values.indexOf(o.value) >= 0; });
      return;
    }
    var same = form.querySelectorAll("[name='" + CSS.escape(field.name) + "']");
    var index = Array.prototype.indexOf.call(same, field);
    if (index < values.length) { field.value = values[index]; }
  });
  if (!filled) { return; }  /* buttons only (a decision, the language switch): nothing typed to give back */
  form.classList.add("kept-form");
  var main = document.querySelector("main.content");
  var box = document.querySelector(".messages");
  if (!box && main) {
    box = document.createElement("div");
    box.className = "messages";
    main.insertBefore(box, main.firstChild);
  }
  kept.notices.forEach(function (text) {
    var alert = document.createElement("div");
    alert.className = "alert alert-ok kept-notice";
    alert.setAttribute("role", "status");
    alert.textContent = text;
    if (box) { box.appendChild(alert); }
  });
  var first = form.querySelector("input:not([type=hidden]), select, textarea");
  if (first) { first.focus(); }
}());
