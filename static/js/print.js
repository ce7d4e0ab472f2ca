// A "Print" button on a printable page (the patient's sheet): no inline script (CSP).
document.querySelectorAll("[data-action=print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
