/* Copy a secret shown once to the clipboard: the Clipboard API where the page is a secure
 * context (https, localhost), else a selection and execCommand("copy"). */
(function () {
  "use strict";

  function selectText(node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  async function copy(node) {
    const text = node.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    selectText(node);
    if (!document.execCommand("copy")) { throw new Error("copy refused"); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    for (const button of document.querySelectorAll("[data-copy-target]")) {
      const target = document.getElementById(button.dataset.copyTarget);
      const status = document.getElementById(button.id + "-status");
      button.addEventListener("click", async function () {
        try {
          await copy(target);
          if (status) { status.textContent = "Copied."; }
        } catch (err) {
          selectText(target);
          if (status) { status.textContent = "Selected: press Ctrl+C (⌘C) to copy."; }
        }
      });
    }
  });
})();
