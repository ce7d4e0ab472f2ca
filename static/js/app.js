// Formulary: small progressive enhancements; every page works without them.
"use strict";
document.addEventListener("submit", function (event) {
  // A double click must not send a form twice: disable its buttons once sent.
  const form = event.target;
  if (form.dataset.submitted === "1") { event.preventDefault(); return; }
  form.dataset.submitted = "1";
  window.setTimeout(function () {
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) { b.disabled = true; });
  }, 0);
});
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-submitted]").forEach(function (f) {
    delete f.dataset.submitted;
    f.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) { b.disabled = false; });
  });
});
