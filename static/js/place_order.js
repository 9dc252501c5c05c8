// The place-order form: remove line rows, and a running total of the rows
// whose product (and so unit price) is known. Adding rows and looking up a
// typed SKU is htmx (the server renders the row); without JavaScript the
// form still works ("Add a line" posts the form back with one more row).
(function () {
  "use strict";
  var form = document.getElementById("place-form");
  if (!form) return;
  var precision = parseInt(form.dataset.precision || "2", 10);
  var format = new Intl.NumberFormat((form.dataset.locale || "en").replace("_", "-"), {
    style: "currency",
    currency: form.dataset.currency || "EUR",
  });
  function money(minor) {
    return format.format(minor / Math.pow(10, precision));
  }
  function update() {
    var total = 0;
    var known = false;
    form.querySelectorAll("tr.line-row").forEach(function (row) {
      var info = row.querySelector(".product-info");
      var price = info ? info.dataset.price : "";
      var quantity = row.querySelector(".line-quantity");
      row.querySelector(".line-price").textContent = info ? info.dataset.priceText : "";
      if (price && quantity && quantity.value === "" && document.activeElement !== quantity) {
        quantity.value = "1"; // a product was picked: one of it, until told otherwise
      }
      var qty = parseInt((quantity || {}).value || "0", 10);
      var most = parseInt((quantity || {}).max || "0", 10) || Infinity;
      var cell = row.querySelector(".line-total");
      if (price !== "" && price !== undefined && qty > 0 && qty <= most) { // a line the form would take
        var line = parseInt(price, 10) * qty;
        total += line;
        known = true;
        cell.textContent = money(line);
      } else {
        cell.textContent = "";
      }
    });
    document.getElementById("place-total").textContent = known ? money(total) : "";
  }
  form.addEventListener("click", function (event) {
    var button = event.target.closest(".remove-line");
    if (!button) return;
    var rows = form.querySelectorAll("tr.line-row");
    var row = button.closest("tr");
    if (rows.length > 1) {
      row.remove();
    } else {
      row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      row.querySelector(".line-product").textContent = "";
    }
    update();
  });
  // A row's SKU errors from the last submission were about what it held
  // then: once its SKU is changed and the lookup finds a product on sale,
  // they go (the server checks the whole row again when the form is sent).
  // Its quantity's stay: the quantity has not changed.
  function forget_old_errors(event) {
    var row = event.detail.target && event.detail.target.closest ? event.detail.target.closest("tr.line-row") : null;
    var found = row ? row.querySelector(".product-info:not(.errorlist)") : null;
    if (!found || !found.dataset.price) return; // not found, or no longer sold: the errors stand
    var sku = row.querySelector("input[name^='sku_']");
    if (!sku || sku.value === sku.defaultValue) return;
    row.querySelectorAll("td.line-sku > .errorlist").forEach(function (old) { old.remove(); });
    sku.removeAttribute("aria-invalid");
  }
  form.addEventListener("input", update);
  document.body.addEventListener("htmx:afterSettle", function (event) { forget_old_errors(event); update(); });
  update();
})();
