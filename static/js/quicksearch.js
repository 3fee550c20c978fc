// The quick search: Ctrl-K (⌘K on a Mac), or the topbar's button, opens a dialog whose field
// asks /search/quick/ as one types (htmx, from the dialog's attributes); arrow keys move
// through the hits, Enter on the field opens the full search page.
(function () {
  "use strict";

  function ready() {
    const dialog = document.getElementById("quick-search");
    if (!dialog) return;
    const input = dialog.querySelector("input[name=q]");

    function open() {
      if (!dialog.open) dialog.showModal();
      input.focus();
      input.select();
    }

    document.addEventListener("keydown", function (event) {
      if ((event.metaKey || event.ctrlKey) && event.key.toLowerCase() === "k") {
        event.preventDefault();
        if (dialog.open) dialog.close();
        else open();
      }
    });
    document.querySelectorAll("[data-quick-search]").forEach(function (button) {
      button.addEventListener("click", open);
    });
    dialog.addEventListener("keydown", function (event) {
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
      const links = Array.from(dialog.querySelectorAll("#quick-results a"));
      if (!links.length) return;
      event.preventDefault();
      let at = links.indexOf(document.activeElement);
      at = event.key === "ArrowDown" ? Math.min(links.length - 1, at + 1) : at - 1;
      (at < 0 ? input : links[at]).focus();
    });
    // A click on the backdrop (the dialog element itself, outside its content) closes it.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
