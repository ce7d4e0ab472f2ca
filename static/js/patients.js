// Patients: show only the allergen field the chosen kind needs. Without JS every field
// shows and the server uses the one the radio names.
"use strict";
(function () {
  const form = document.querySelector("form[data-allergy-form]");
  if (!form) { return; }
  const blocks = form.querySelectorAll("[data-target-kind]");
  function show() {
    const chosen = form.querySelector("input[name=kind]:checked");
    const kind = chosen ? chosen.value : "ingredient_id";
    blocks.forEach(function (block) {
      block.hidden = block.dataset.targetKind !== kind;
    });
  }
  form.querySelectorAll("input[name=kind]").forEach(function (radio) {
    radio.addEventListener("change", show);
  });
  show();
})();
