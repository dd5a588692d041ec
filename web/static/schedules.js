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
