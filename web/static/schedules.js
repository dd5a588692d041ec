// The schedule form: show only the fields of the chosen recurrence. Without this script
// every field is visible and the form still works.
(() => {
  const kind = document.getElementById("kind");
  if (!kind) return;
  const parts = document.querySelectorAll("[data-kinds]");
  const update = () => {
    parts.forEach((part) => {
      part.hidden = !part.dataset.kinds.split(" ").includes(kind.value);
    });
  };
  kind.addEventListener("change", update);
  update();
})();

// Script or relay ("Tiếp sóng"): show the fields of the chosen source.
(() => {
  const choices = document.querySelectorAll("input[name=source]");
  if (!choices.length) return;
  const parts = document.querySelectorAll("[data-sources]");
  const update = () => {
    const chosen = document.querySelector("input[name=source]:checked");
    const value = chosen ? chosen.value : "script";
    parts.forEach((part) => {
      part.hidden = part.dataset.sources !== value;
    });
  };
  choices.forEach((choice) => choice.addEventListener("change", update));
  update();
})();
