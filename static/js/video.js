// The video page (issue #15): frame stepping (buttons and keys), the keyframe strip seeks the
// player, the current time shown to the millisecond. No inline script: wired from data-*
// attributes, for the Content-Security-Policy.
(function () {
  "use strict";

  function timecode(seconds) {
    var whole = Math.floor(seconds);
    var millis = Math.round((seconds - whole) * 1000);
    if (millis === 1000) { whole += 1; millis = 0; }
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    var pad = function (n, w) { n = String(n); while (n.length < w) n = "0" + n; return n; };
    return (h ? h + ":" + pad(m, 2) : String(m)) + ":" + pad(s, 2) + "." + pad(millis, 3);
  }

  function wire(root) {
    var video = root.querySelector("[data-video]");
    if (!video || video.dataset.wired) return;
    video.dataset.wired = "1";
    var rate = parseFloat(root.getAttribute("data-frame-rate")) || 25;
    var frame = 1 / rate;
    var shown = root.querySelector("[data-time]");

    function show() { if (shown) shown.textContent = timecode(video.currentTime || 0); }
    function step(n) {
      video.pause();
      // Land on the middle of the frame, so rounding never leaves it on the one before.
      var index = Math.floor((video.currentTime || 0) / frame + 1e-6) + n;
      var end = isFinite(video.duration) ? video.duration : Infinity;
      video.currentTime = Math.max(0, Math.min(end, index * frame + frame / 2));
    }
    function toggle() { if (video.paused) video.play(); else video.pause(); }

    video.addEventListener("timeupdate", show);
    video.addEventListener("seeked", show);
    root.querySelectorAll("[data-step]").forEach(function (button) {
      button.addEventListener("click", function () { step(parseInt(button.getAttribute("data-step"), 10)); });
    });
    var play = root.querySelector("[data-play]");
    if (play) play.addEventListener("click", toggle);

    document.addEventListener("keydown", function (event) {
      var target = event.target;
      if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === "." || event.key === "ArrowRight") { step(1); event.preventDefault(); }
      else if (event.key === "," || event.key === "ArrowLeft") { step(-1); event.preventDefault(); }
      else if (event.key === "k" || (event.key === " " && target === document.body)) { toggle(); event.preventDefault(); }
    });

    document.querySelectorAll("[data-keyframes] [data-seek]").forEach(function (button) {
      button.addEventListener("click", function () {
        video.pause();
        video.currentTime = parseFloat(button.getAttribute("data-seek")) || 0;
        document.querySelectorAll("[data-keyframes] .keyframe.current").forEach(function (b) { b.classList.remove("current"); });
        button.classList.add("current");
        video.focus();
      });
    });
    show();
  }

  function init() { document.querySelectorAll("[data-video-player]").forEach(wire); }
  document.addEventListener("DOMContentLoaded", init);
  // The page swaps itself in while a video is processed (htmx): wire the new player.
  document.addEventListener("htmx:afterSettle", init);
})();
