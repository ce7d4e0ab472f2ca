// Inventory pages: small enhancements; every page works without them.
"use strict";
(function () {
  // A keyboard-wedge scanner sends FNC1 as Ctrl+] (GS); browsers drop it. Keep it as <GS>.
  document.querySelectorAll("[data-scan-field]").forEach(function (input) {
    input.addEventListener("keydown", function (event) {
      if (event.ctrlKey && (event.key === "]" || event.code === "BracketRight")) {
        event.preventDefault();
        const start = input.selectionStart, end = input.selectionEnd;
        input.value = input.value.slice(0, start) + "<GS>" + input.value.slice(end);
        input.selectionStart = input.selectionEnd = start + 4;
      }
    });
    // After a look-up the page puts the cursor in Quantity (autofocus): leave it there.
    const focused = document.querySelector("[autofocus]:not([data-scan-field])");
    if (!focused) input.select();
  });
  // A recall is final: ask before sending one.
  document.querySelectorAll("form[data-confirm-recall]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      const select = form.querySelector("select[name$='status']");
      if (select && select.value === "recalled" && !window.confirm(form.dataset.confirmRecall)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    }, true);
  });
})();
