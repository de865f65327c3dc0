// Arrow keys move focus between the tiles of an image grid; Enter follows the
// focused link as any link does.
(function () {
  var STEPS = { ArrowLeft: -1, ArrowRight: 1 };

  function columns(tiles) {
    var top = tiles[0].getBoundingClientRect().top;
    var count = 0;
    while (count < tiles.length && tiles[count].getBoundingClientRect().top === top) {
      count += 1;
    }
    return Math.max(count, 1);
  }

  document.addEventListener("keydown", function (event) {
    var tile = event.target.closest ? event.target.closest(".lens-tile") : null;
    if (!tile || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    var tiles = Array.prototype.slice.call(
      tile.closest("[data-lens-grid]").querySelectorAll(".lens-tile"));
    var step = STEPS[event.key];
    if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      step = columns(tiles) * (event.key === "ArrowUp" ? -1 : 1);
    }
    var target = step ? tiles[tiles.indexOf(tile) + step] : null;
    if (target) {
      event.preventDefault();
      target.focus();
    }
  });
})();
