// The rating page: a player without a seek bar (play, replay, volume), the server told when
// playback starts and ends, and a rating sent with retries so that a lost connection loses nothing.
(function () {
  "use strict";
  var video = document.getElementById("clip");
  var form = document.getElementById("rating-form");
  var submit = document.getElementById("submit");
  var hint = document.getElementById("play-hint");
  var error = document.getElementById("score-error");
  var play = document.getElementById("play");
  var replay = document.getElementById("replay");
  var volume = document.getElementById("volume");
  if (!video || !form || !submit) return;
  var MAX_DELAY_MS = 8000;

  function say(text, trouble) { hint.textContent = text; hint.classList.toggle("trouble", !!trouble); }
  function showError(text) { error.textContent = text; error.hidden = !text; }

  // POSTs a form body; retries with exponential backoff while the network or the server is down
  // (status 0 or 5xx), saying so. Resolves with the first answer the server gave (2xx/3xx/4xx).
  function post(url, body, attempt) {
    attempt = attempt || 0;
    return fetch(url, { method: "POST", body: body, credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (response.type !== "opaqueredirect" && response.status >= 500) throw new Error("server unavailable");
        return response;
      })
      .catch(function () {
        var delay = Math.min(MAX_DELAY_MS, 1000 * Math.pow(2, attempt));
        say("Connection lost, retrying in " + Math.round(delay / 1000) + " s. Your choice is kept.", true);
        return new Promise(function (resolve) { setTimeout(resolve, delay); })
          .then(function () { return post(url, body, attempt + 1); });
      });
  }

  function clipBody() {
    var body = new FormData();
    body.append("clip", form.elements.clip.value);
    body.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
    return body;
  }

  // --- the player: no seeking forward ---------------------------------------------------------
  var furthest = 0;
  video.addEventListener("timeupdate", function () {
    if (!video.seeking && video.currentTime > furthest) furthest = video.currentTime;
  });
  video.addEventListener("seeking", function () {
    if (video.currentTime > furthest + 0.25) video.currentTime = furthest;  // a skip ahead is undone
  });
  video.addEventListener("ratechange", function () {
    if (video.playbackRate !== 1) video.playbackRate = 1;
  });
  volume.addEventListener("input", function () { video.volume = Number(volume.value); });

  play.addEventListener("click", function () { video.play(); });
  replay.addEventListener("click", function () { video.currentTime = 0; video.play(); });

  var started = null;
  video.addEventListener("play", function () {
    play.disabled = true;
    replay.disabled = true;
    play.textContent = "Playing…";
    // The server's clock of the minimum listening time starts here (the first play only). It
    // may reach the server before the clip's media does; the server counts from the later. A
    // refusal is sent again at the next play, so the page never needs a reload.
    if (!started) {
      started = post(form.dataset.startedUrl, clipBody()).then(function (response) {
        if (!response.ok) started = null;
        return response;
      });
    }
  });
  // Tells the server the clip ended. If its clock says the clip cannot have played yet (its start
  // reached a loaded server late), it says when to ask again (Retry-After) and the page does.
  function sendPlayed() {
    return post(form.dataset.playedUrl, clipBody()).then(function (response) {
      var wait = Number(response.headers.get("Retry-After"));
      if (response.status === 409 && wait > 0) {
        say("Checking that the clip played to its end…");
        return new Promise(function (resolve) { setTimeout(resolve, wait * 1000); }).then(sendPlayed);
      }
      if (!response.ok) {
        // Playback never began by the server's clock: the refusal says so.
        return response.text().then(function (html) { showError(refusalOf(html)); });
      }
      showError("");
      submit.disabled = false;
      say("Choose a score, then press Next.");
    });
  }

  video.addEventListener("ended", function () {
    play.textContent = "Played";
    replay.disabled = false;
    furthest = video.duration;
    Promise.resolve(started).then(sendPlayed);
  });

  // --- the rating --------------------------------------------------------------------------
  function refusalOf(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var node = page.getElementById("refusal") || page.getElementById("score-error");
    return node && node.textContent.trim() ? node.textContent.trim() : "The rating was not accepted.";
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (submit.disabled) return;
    // Every question on the page (the suitability score, and any the study adds) needs an answer.
    var sets = form.querySelectorAll("fieldset");
    for (var i = 0; i < sets.length; i++) {
      if (!sets[i].querySelector("input[type=radio]:checked")) {
        var legend = sets[i].querySelector("legend");
        showError(i === 0 ? "Please choose a score from 1 (Bad) to 5 (Excellent)."
          : "Please also answer \u201c" + legend.textContent + "\u201d from 1 (Bad) to 5 (Excellent).");
        return;
      }
    }
    showError("");
    submit.disabled = true;  // one submission per click; the server answers a resend as the first
    say("Sending your rating…");
    post(form.action, new FormData(form)).then(function (response) {
      if (response.type === "opaqueredirect" || response.ok) {
        window.location.assign(form.action);  // stored: the next clip, or the end of the study
        return;
      }
      return response.text().then(function (html) {
        showError(refusalOf(html));
        say("Choose a score, then press Next.");
        submit.disabled = false;
      });
    });
  });
})();
