// The order page. Its stock panel polls while the fulfilment process works
// and then asks for the page to be reloaded (HX-Refresh), to show what can
// be done now. Not while something typed into the page is unsent: a reload
// would throw it away. The panel then says the stock has settled and stops
// polling; sending the form shows the order as it is now anyway.
(function () {
  "use strict";

  function changed(field) {
    if (field.type === "hidden" || field.type === "submit" || field.type === "button") return false;
    // "As of" only looks back: and the browser rewrites a datetime's value
    // (…T10:00:00.000 reads …T10:00), so it never equals what it was drawn with.
    if (field.type === "datetime-local") return false;
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    return field.value !== field.defaultValue;
  }

  function typing() {
    return Array.prototype.some.call(document.querySelectorAll("form input, form textarea, form select"), changed);
  }

  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var panel = event.detail.elt;
    var xhr = event.detail.xhr;
    if (!panel || panel.id !== "reservation" || xhr.getResponseHeader("HX-Refresh") !== "true" || !typing()) {
      return; // reload as asked
    }
    event.preventDefault();
    var quiet = panel.cloneNode(true); // the same panel, no longer polling
    ["hx-get", "hx-trigger", "hx-swap"].forEach(function (name) { quiet.removeAttribute(name); });
    var note = document.createElement("p");
    note.id = "stock-settled";
    note.className = "alert";
    note.setAttribute("role", "status");
    note.appendChild(document.createTextNode("The stock has settled. "));
    var link = document.createElement("a");
    link.href = window.location.pathname;
    link.textContent = "Reload the page";
    note.appendChild(link);
    note.appendChild(document.createTextNode(" to see what can be done now (what you typed and did not send would be lost)."));
    quiet.classList.remove("htmx-request");
    quiet.insertBefore(note, quiet.children[1] || null);
    panel.replaceWith(quiet);
  });
})();
