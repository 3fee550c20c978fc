/* Word boxes of the text read in a photo (OCR), drawn over its preview: each word's box is
   given as fractions of the picture (data-box="left top right bottom"), placed here over the
   part of the <img> the picture fills (object-fit: contain may leave bands). The words stay
   text: they can be selected and copied. No inline scripts or styles (CSP). */
(function () {
  "use strict";

  function place(frame) {
    var img = frame.querySelector("img");
    var layer = frame.querySelector("[data-ocr-boxes]");
    if (!img || !layer || !img.naturalWidth) return;
    var boxWidth = img.clientWidth, boxHeight = img.clientHeight;
    var scale = Math.min(boxWidth / img.naturalWidth, boxHeight / img.naturalHeight);
    var width = img.naturalWidth * scale, height = img.naturalHeight * scale;
    layer.style.left = img.offsetLeft + (boxWidth - width) / 2 + "px";
    layer.style.top = img.offsetTop + (boxHeight - height) / 2 + "px";
    layer.style.width = width + "px";
    layer.style.height = height + "px";
    layer.querySelectorAll(".ocr-word").forEach(function (word) {
      var box = (word.getAttribute("data-box") || "").split(" ").map(Number);
      if (box.length !== 4 || box.some(isNaN)) return;
      word.style.left = box[0] * 100 + "%";
      word.style.top = box[1] * 100 + "%";
      word.style.width = (box[2] - box[0]) * 100 + "%";
      word.style.height = (box[3] - box[1]) * 100 + "%";
      word.style.fontSize = Math.max(6, (box[3] - box[1]) * height * 0.8) + "px";
    });
  }

  function setUp() {
    var frame = document.querySelector("[data-ocr-frame]");
    var toggle = document.querySelector("[data-ocr-toggle]");
    if (!frame || !toggle) return;
    var layer = frame.querySelector("[data-ocr-boxes]");
    var img = frame.querySelector("img");
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var showing = layer.hidden;
      layer.hidden = !showing;
      toggle.setAttribute("aria-pressed", showing ? "true" : "false");
      toggle.textContent = showing ? "Hide word boxes" : "Show word boxes";
      if (showing) place(frame);
    });
    if (img.complete) place(frame); else img.addEventListener("load", function () { place(frame); });
    window.addEventListener("resize", function () { if (!layer.hidden) place(frame); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
