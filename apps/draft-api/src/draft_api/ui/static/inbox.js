// Draft inbox: the Copy button (clipboard API; without JavaScript the text stays selectable).
(function () {
  "use strict";

  function reveal(root) {
    var buttons = root.querySelectorAll ? root.querySelectorAll("[data-copy]") : [];
    for (var i = 0; i < buttons.length; i++) { buttons[i].hidden = false; }
  }

  function say(button, text) {
    var status = document.getElementById("copy-status");
    if (status) { status.textContent = text; }
  }

  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = source.innerText;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { say(button, "Copied the draft to the clipboard."); },
        function () { selectText(source); say(button, "Copy was refused: the text is selected, press Ctrl+C."); }
      );
    } else {
      selectText(source);
      say(button, "The text is selected: press Ctrl+C (or Cmd+C) to copy it.");
    }
  });

  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:load", function (event) { reveal(event.target); });
})();
