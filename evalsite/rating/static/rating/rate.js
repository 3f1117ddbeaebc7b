// Enables the rating once the clip has played to its end. The server is told first, so that a
// rating sent right after the end is already known as "played" (screening: rated before played).
(function () {
  "use strict";
  var video = document.getElementById("clip");
  var form = document.getElementById("rating-form");
  var submit = document.getElementById("submit");
  var hint = document.getElementById("play-hint");
  if (!video || !form || !submit) return;

  function enable() {
    submit.disabled = false;
    hint.textContent = "Choose a score, then press Next.";
  }

  video.addEventListener("ended", function () {
    var body = new FormData();
    body.append("clip", form.elements.clip.value);
    body.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
    fetch(form.dataset.playedUrl, { method: "POST", body: body, credentials: "same-origin" })
      .then(enable, enable);  // a lost request must not block the participant
  });

  form.addEventListener("submit", function (event) {
    if (submit.disabled) { event.preventDefault(); return; }
    submit.disabled = true;  // one submission per click; a replay is refused by the server anyway
  });
})();
