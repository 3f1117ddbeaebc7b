// One Play/Pause button per media element instead of the browser's controls (the instructions'
// examples, the headphone check's sounds), so that a keyboard user needs few Tab presses.
// <button data-plays="ID" data-name="example 1"> plays the element ID; its text says which.
(function () {
  "use strict";
  var buttons = document.querySelectorAll("button[data-plays]");
  Array.prototype.forEach.call(buttons, function (button) {
    var media = document.getElementById(button.dataset.plays);
    var name = button.dataset.name;
    function label() { button.textContent = (media.paused ? "Play " : "Pause ") + name; }
    button.addEventListener("click", function () {
      if (!media.paused) { media.pause(); return; }
      if (media.ended) media.currentTime = 0;
      media.play();
    });
    ["play", "pause", "ended"].forEach(function (event) { media.addEventListener(event, label); });
  });
})();
