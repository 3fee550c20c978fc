// The image search page: an image dropped on the zone is put in the form's file field and
// the form sent (the field alone works without script).
(function () {
  "use strict";

  function ready() {
    const zone = document.getElementById("image-drop");
    const input = document.getElementById("image-file");
    if (!zone || !input) return;
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () {
        zone.classList.remove("dragging");
      });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      input.files = event.dataTransfer.files;
      input.form.requestSubmit();
    });
    input.addEventListener("change", function () {
      if (input.files.length) input.form.requestSubmit();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
