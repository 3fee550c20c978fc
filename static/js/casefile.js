/* Casefile: small progressive enhancements. Loaded on every page; no inline scripts (CSP). */
(function () {
  "use strict";

  // The browser's time zone, for the server to show times in and read typed times in
  // (web/middleware.py). Written only when it changes; the next page uses it.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var current = document.cookie.match(/(?:^|;\s*)casefile_tz=([^;]*)/);
    // IANA names ("America/Argentina/Buenos_Aires") need no escaping in a cookie.
    if (zone && /^[A-Za-z0-9_+\/-]+$/.test(zone) && (!current || current[1] !== zone)) {
      document.cookie = "casefile_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax" +
        (location.protocol === "https:" ? "; Secure" : "");
    }
  } catch (error) { /* no Intl time zone: the pages stay in UTC */ }

  // Forms that ask before doing something that cannot be undone from the page.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // Filter forms apply as soon as a select or checkbox changes.
  document.addEventListener("change", function (event) {
    var field = event.target;
    var form = field.form;
    if (!form || !form.hasAttribute("data-autosubmit")) return;
    if (field.tagName === "SELECT" || field.type === "checkbox") {
      form.requestSubmit ? form.requestSubmit() : form.submit();
    }
  });

  // Sensitive images stay blurred behind their overlay until asked for ("Show", or a click on
  // the image), and can be blurred again ("Hide again": inside the image's frame, or a control
  // elsewhere naming the frame's id in data-sensitive-hide).
  function hideControl(media) {
    var inside = media.querySelector(":scope > [data-sensitive-hide]");
    return inside || (media.id && document.querySelector('[data-sensitive-hide="' + media.id + '"]'));
  }
  document.addEventListener("click", function (event) {
    if (!event.target.closest) return;
    var hide = event.target.closest("[data-sensitive-hide]");
    if (hide) {
      event.preventDefault();
      event.stopPropagation();
      var named = hide.getAttribute("data-sensitive-hide");
      var frame = named ? document.getElementById(named) : hide.closest(".sensitive");
      if (frame) frame.classList.remove("revealed");
      hide.hidden = true;
      var show = frame && frame.querySelector("[data-sensitive-show]");
      if (show) show.focus();
      return;
    }
    var media = event.target.closest(".sensitive");
    if (media && !media.classList.contains("revealed")) {
      event.preventDefault();
      media.classList.add("revealed");
      var control = hideControl(media);
      if (control) {
        control.hidden = false;
        if (event.target.closest("[data-sensitive-show]")) control.focus();
      }
    }
  });

  // The compare page's overlay: the slider wipes the top photo away.
  function setupWipe(frame) {
    var top = frame.querySelector("[data-wipe-over]");
    var line = frame.querySelector("[data-wipe-line]");
    var range = document.querySelector("[data-wipe-range]");
    if (!top || !range) return;
    function apply() {
      var value = Number(range.value);
      top.style.clipPath = "inset(0 " + (100 - value) + "% 0 0)";
      if (line) line.style.left = value + "%";
    }
    range.addEventListener("input", apply);
    apply();
  }

  // A protected source needs a pseudonym: show that field only when it applies.
  function setupProtected(box) {
    var form = box.form;
    var field = form && form.querySelector(".field-pseudonym");
    if (!field) return;
    function apply() { field.hidden = !box.checked; }
    box.addEventListener("change", apply);
    apply();
  }

  function init() {
    document.querySelectorAll("[data-wipe-frame]").forEach(setupWipe);
    document.querySelectorAll("input[name=protected]").forEach(setupProtected);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
