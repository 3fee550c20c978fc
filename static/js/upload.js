/* Drag-and-drop upload of many files, one request per file with its own progress bar. Each
   new card is put into the gallery and polls its own status through htmx. */
(function () {
  "use strict";

  var PARALLEL = 3;

  function init() {
    var form = document.getElementById("upload-form");
    if (!form) return;
    var input = document.getElementById("upload-files");
    var zone = document.getElementById("dropzone");
    var list = document.getElementById("upload-list");
    var gallery = document.getElementById("gallery");
    var maxBytes = Number(form.getAttribute("data-max-bytes")) || 0;
    // Videos have a larger limit of their own (the server tells a video from its bytes; this
    // only spares a long upload that would be refused).
    var maxVideoBytes = Number(form.getAttribute("data-max-video-bytes")) || maxBytes;
    var VIDEO_NAME = /\.(mp4|mov|m4v|webm|mkv|3gp|3g2|avi)$/i;
    var queue = [];
    var running = 0;

    function sizeLabel(bytes) {
      if (bytes < 1024) return bytes + " B";
      if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(0) + " KB";
      return (bytes / 1024 / 1024).toFixed(1) + " MB";
    }

    function row(file) {
      var li = document.createElement("li");
      li.className = "upload-item";
      var name = document.createElement("span");
      name.className = "upload-name";
      name.textContent = file.name + " (" + sizeLabel(file.size) + ")";
      name.title = file.name;
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", "Upload of " + file.name);
      var state = document.createElement("span");
      state.className = "upload-state";
      state.textContent = "Waiting…";
      li.append(name, bar, state);
      list.prepend(li);
      return { li: li, bar: bar, state: state };
    }

    function fail(ui, message) {
      ui.li.classList.add("error");
      ui.state.textContent = message;
    }

    // A server error or a lost connection says nothing about the file: offer to send it again
    // rather than make the reporter find it on disk a second time.
    function failRetryable(item, message) {
      var ui = item.ui;
      fail(ui, message);
      var again = document.createElement("button");
      again.type = "button";
      again.className = "btn btn-small upload-retry";
      again.textContent = "Try again";
      again.setAttribute("aria-label", "Try uploading " + item.file.name + " again");
      again.addEventListener("click", function () {
        again.remove();
        ui.li.classList.remove("error");
        ui.bar.value = 0;
        ui.state.textContent = "Waiting…";
        queue.push(item);
        pump();
      });
      ui.li.append(again);
      again.focus();
    }

    function placeCard(html) {
      var holder = document.createElement("div");
      holder.innerHTML = html.trim();
      var card = holder.firstElementChild;
      if (!card) return;
      var empty = document.getElementById("gallery-empty");
      if (empty) empty.remove();
      var existing = document.getElementById(card.id);
      if (existing) {
        existing.replaceWith(card);
      } else {
        gallery.prepend(card);
        var count = document.getElementById("result-count");
        if (count) {
          var n = Number(count.getAttribute("data-count") || 0) + 1;
          count.setAttribute("data-count", String(n));
          count.textContent = n + (n === 1 ? " item" : " items");
        }
      }
      if (window.htmx) window.htmx.process(card);
    }

    function send(item) {
      running += 1;
      var ui = item.ui;
      var data = new FormData();
      data.append("file", item.file, item.file.name);
      // What the batch states of every file (source, title, stated date and place).
      form.querySelectorAll("[data-batch]").forEach(function (field) {
        if (field.type === "checkbox") {
          if (field.checked) data.append(field.name, "on");
        } else if (field.value) {
          data.append(field.name, field.value);
        }
      });
      data.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.responseType = "json";
      ui.state.textContent = "Uploading…";
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) ui.bar.value = Math.round((event.loaded / event.total) * 100);
      });
      xhr.addEventListener("load", function () {
        var body = xhr.response || {};
        if (xhr.status >= 200 && xhr.status < 300) {
          ui.bar.value = 100;
          ui.li.classList.add("done");
          ui.state.textContent = body.message || "Uploaded — processing";
          if (body.html) placeCard(body.html);
        } else if (xhr.status >= 500) {
          failRetryable(item, "The server could not store the file this time (error " +
            xhr.status + "). Nothing was saved.");
        } else {
          fail(ui, body.error || "Upload failed (" + xhr.status + ").");
        }
      });
      xhr.addEventListener("error", function () {
        failRetryable(item, "The connection was lost before the file arrived.");
      });
      xhr.addEventListener("loadend", function () {
        running -= 1;
        pump();
      });
      xhr.send(data);
    }

    function pump() {
      while (running < PARALLEL && queue.length) send(queue.shift());
    }

    function add(files) {
      Array.prototype.forEach.call(files, function (file) {
        var ui = row(file);
        var isVideo = /^video\//.test(file.type || "") || VIDEO_NAME.test(file.name || "");
        var limit = isVideo ? Math.max(maxBytes, maxVideoBytes) : maxBytes;
        if (limit && file.size > limit) {
          fail(ui, "Larger than " + sizeLabel(limit) + ": not uploaded.");
          return;
        }
        if (file.size === 0) {
          fail(ui, "Empty file: not uploaded.");
          return;
        }
        queue.push({ file: file, ui: ui });
      });
      pump();
    }

    input.addEventListener("change", function () {
      add(input.files);
      input.value = "";
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      add(input.files);
    });
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "dragend"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      if (event.dataTransfer && event.dataTransfer.files.length) add(event.dataTransfer.files);
    });
    // Dropping a file next to the zone must not navigate away from the page.
    window.addEventListener("dragover", function (event) { event.preventDefault(); });
    window.addEventListener("drop", function (event) { event.preventDefault(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
