// The Preview page's copy button (the snippet stays selectable without it).
"use strict";
const snippet = document.getElementById("snippet");
const copy = document.getElementById("copy");
const copied = document.getElementById("copied");
if (snippet && copy && navigator.clipboard) {
  copy.hidden = false;
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(snippet.value);
      copied.textContent = "Copied.";
    } catch (_) {
      snippet.select();
      copied.textContent = "Press Ctrl+C (Cmd+C) to copy.";
    }
  });
}
