// Cocktails: the editor's live totals and component rows, and the print button.
// Every page works without this file: the editor then offers empty rows and a
// "Show totals" button that asks the server for the same numbers.
"use strict";
(function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  const form = document.getElementById("cocktail-editor");
  if (!form) { return; }
  const body = document.getElementById("component-rows");
  const template = body.querySelector("tr.component-row").cloneNode(true);
  let nextIndex = body.querySelectorAll("tr.component-row").length;
  let timer = null;
  let sequence = 0;

  form.querySelectorAll("[data-no-js]").forEach(function (el) { el.classList.add("d-none"); });
  form.querySelectorAll("[data-add-row], [data-remove-row]").forEach(function (el) { el.classList.remove("d-none"); });

  function rows() { return Array.from(body.querySelectorAll("tr.component-row")); }

  function blank(row) {
    return !row.querySelector("[data-field=ingredient_id]").value && !row.querySelector("[data-field=amount]").value.trim();
  }

  function clearRow(row) {
    row.querySelectorAll("[data-out]").forEach(function (cell) { cell.textContent = ""; });
    row.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
    row.querySelectorAll(".is-invalid").forEach(function (el) { el.classList.remove("is-invalid"); });
  }

  function addRow() {
    const row = template.cloneNode(true);
    const index = nextIndex++;
    row.dataset.row = String(index);
    row.querySelectorAll("[name]").forEach(function (el) {
      el.name = el.name.replace(/^components-\d+-/, "components-" + index + "-");
      if (el.id) { el.id = el.name; }
      if (el.tagName === "INPUT") { el.value = ""; }
      if (el.dataset.field === "ingredient_id") { el.value = ""; }
    });
    row.querySelector("[data-remove-row]").classList.remove("d-none");
    clearRow(row);
    body.appendChild(row);
    return row;
  }

  function show(data) {
    rows().forEach(clearRow);
    const byRow = {};
    rows().forEach(function (row) { byRow[row.dataset.row] = row; });
    data.lines.forEach(function (line) {
      const row = byRow[String(line.row)];
      if (!row) { return; }
      row.querySelector("[data-out=stock_quantity]").textContent = line.stock_quantity + " " + line.stock_unit;
      row.querySelector("[data-out=concentration]").textContent =
        line.concentration === null ? "" : line.concentration + " " + line.concentration_unit + "/mL";
      row.querySelector("[data-out=usable]").textContent = line.usable + " " + line.stock_unit;
    });
    Object.keys(data.errors).forEach(function (key) {
      const parts = key.split(".");
      if (parts.length !== 3) { return; }
      const row = byRow[parts[1]];
      if (!row) { return; }
      const input = row.querySelector("[data-field=" + parts[2] + "]");
      if (input) { input.classList.add("is-invalid"); }
      const message = row.querySelector("[data-error-for=" + parts[2] + "]");
      if (message) { message.textContent = data.errors[key].join(" "); }
    });
    form.querySelector("[data-testid=total-volume]").textContent =
      data.total_volume_ml === null ? "—" : data.total_volume_ml + " mL";
    form.querySelector("[data-testid=doses-possible]").textContent =
      data.doses_possible === null ? "—" : String(data.doses_possible);
  }

  function refresh() {
    const components = rows().filter(function (row) { return !blank(row); }).map(function (row) {
      return {
        row: Number(row.dataset.row),
        ingredient_id: row.querySelector("[data-field=ingredient_id]").value,
        amount: row.querySelector("[data-field=amount]").value,
        unit: row.querySelector("[data-field=unit]").value
      };
    });
    const mine = ++sequence;
    fetch(form.dataset.previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": form.dataset.csrf},
      body: JSON.stringify({components: components})
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (data && mine === sequence) { show(data); }  // an older answer never overwrites a newer one
    }).catch(function () { /* offline: the totals wait for the next change */ });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 200);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.querySelector("[data-add-row]").addEventListener("click", function () {
    addRow().querySelector("[data-field=ingredient_id]").focus();
  });
  body.addEventListener("click", function (event) {
    const button = event.target.closest("[data-remove-row]");
    if (!button) { return; }
    button.closest("tr").remove();
    if (rows().length === 0) { addRow(); }
    later();
  });
  if (rows().some(function (row) { return !blank(row); })) { refresh(); }
}());
