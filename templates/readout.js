// Highlights the sentence being read and lets a click on a sentence seek to it.
// The page works without this script: the player and the text stand on their own.
(function () {
  "use strict";
  var audio = document.querySelector("audio[data-readout]");
  if (!audio || !audio.textTracks || !audio.textTracks.length) return;
  var track = audio.textTracks[0];
  track.mode = "hidden";
  document.documentElement.classList.add("readout-ready");
  var marked = [];

  function mark(id) {
    marked.forEach(function (el) { el.classList.remove("reading"); });
    marked = id ? Array.prototype.slice.call(document.querySelectorAll('[data-s="' + id + '"]')) : [];
    marked.forEach(function (el) { el.classList.add("reading"); });
  }

  track.addEventListener("cuechange", function () {
    var cue = track.activeCues && track.activeCues[0];
    mark(cue ? cue.id : null);
  });
  audio.addEventListener("ended", function () { mark(null); });

  document.addEventListener("click", function (event) {
    var el = event.target.closest && event.target.closest("[data-s]");
    if (!el || event.target.closest("a, button, input, label, textarea")) return;
    var cue = track.cues && track.cues.getCueById(el.getAttribute("data-s"));
    if (!cue) return;
    audio.currentTime = cue.startTime;
    audio.play();
  });
})();
