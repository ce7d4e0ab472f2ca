// Batches: small enhancements; every page works without them.
"use strict";
(function () {
  // The label page's print button.
  const print = document.getElementById("print-label");
  if (print) { print.addEventListener("click", function () { window.print(); }); }

  // The preparation page: a changed choice makes the shown preview stale, so the
  // confirm button is hidden until the preview is refreshed (the confirmation posts the
  // previewed values, never the changed ones).
  const form = document.getElementById("preview-form");
  const preview = document.getElementById("preview");
  if (form && preview) {
    form.addEventListener("input", function () {
      preview.classList.add("opacity-50");
      preview.querySelectorAll("[data-testid=confirm]").forEach(function (b) { b.disabled = true; });
    });
    const cocktail = form.querySelector("select[name=cocktail_id]");
    if (cocktail) {
      cocktail.addEventListener("change", function () {
        if (form.querySelector("input[name=doses]").value) { form.requestSubmit(); }
      });
    }
  }
})();
