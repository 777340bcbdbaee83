// Keeps an open petition's count live.
// Pushed where the site has the stream (data-stream-url): a Server-Sent Events stream that nginx
// holds, carrying a new count at most once a second and the final count when the petition closes.
// Otherwise, or when the stream keeps failing, it polls the cacheable count endpoint without
// cookies (so every watcher shares the proxy's micro-cached answer), every 10 s, 30 s while the
// tab is hidden; while streaming it still checks that endpoint once a minute.
// The number on screen changes at most once a second and silently; the polite live region says
// the count at most once every 30 s, and at once after your own signature and at the close (or
// take-down), so a screen reader is told without being flooded.
(function () {
  "use strict";
  var el = document.getElementById("signature-count");
  if (!el || !el.dataset.countUrl) return;
  var progress = document.getElementById("progress");
  var milestone = document.getElementById("milestone");
  var noun = document.getElementById("signature-noun");
  var announcer = document.getElementById("count-announcement");
  var RENDER_MS = 1000, ANNOUNCE_MS = 30000, STREAM_FAILURES = 3, CHECK_MS = 60000;
  var initial = parseInt(el.textContent.replace(/\D/g, ""), 10);  // the count the page came with
  var shown = initial, latest = initial, renderTimer = null, lastRender = 0;
  var announced = initial, lastAnnounce = 0, announceTimer = null, closed = false, closeAnnounced = false;
  var takenDown = false;

  function nextMilestone(n) {
    var m = 100;
    while (n >= m) m *= 10;
    return m;
  }

  function words(count) {
    return count.toLocaleString("en-GB") + (count === 1 ? " signature" : " signatures");
  }

  function render() {
    renderTimer = null;
    lastRender = Date.now();
    if (latest === shown) return;
    shown = latest;
    el.textContent = shown.toLocaleString("en-GB");
    if (noun) noun.textContent = shown === 1 ? "signature" : "signatures";
    var target = nextMilestone(shown);
    if (progress) { progress.max = target; progress.value = shown; }
    if (milestone) milestone.textContent = "Next milestone: " + target.toLocaleString("en-GB") + " signatures";
  }

  function announce(now) {
    announceTimer = null;
    if (!announcer || (latest === announced && closed === closeAnnounced)) return;
    if (!now && Date.now() - lastAnnounce < ANNOUNCE_MS) {
      announceTimer = window.setTimeout(announce, ANNOUNCE_MS - (Date.now() - lastAnnounce));
      return;
    }
    announced = latest;
    closeAnnounced = closed;
    lastAnnounce = Date.now();
    announcer.textContent = !closed ? words(latest) + "." : takenDown ? "This petition was taken down."
      : "Petition closed with " + words(latest) + ".";
  }

  function update(count, now) {
    latest = count;
    var wait = RENDER_MS - (Date.now() - lastRender);
    if (now || wait <= 0) render();
    else if (!renderTimer) renderTimer = window.setTimeout(render, wait);
    if (now) announce(true);
    else if (!announceTimer) announce(false);
  }

  function pollOnce() {
    return fetch(el.dataset.countUrl, { headers: { Accept: "application/json" }, credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body) update(body.signature_count, false); })
      .catch(function () {});
  }

  function poll() {
    if (document.hidden) return window.setTimeout(poll, 30000);
    pollOnce().then(function () { window.setTimeout(poll, 10000); });
  }

  function stream() {
    var source = new EventSource(el.dataset.streamUrl);
    var failures = 0;
    // A stream can be open yet silent (its publisher down): check the cached count once a minute.
    var check = window.setInterval(function () { if (!document.hidden) pollOnce(); }, CHECK_MS);
    source.onmessage = function (event) {
      failures = 0;
      var message = JSON.parse(event.data);
      if (message.closed) {
        closed = true;
        takenDown = Boolean(message.taken_down);
        source.close();
        window.clearInterval(check);
      }
      update(message.signature_count, closed);
    };
    source.onerror = function () {
      if (closed) return;
      failures += 1;
      pollOnce();  // whatever was missed while the stream was away
      if (failures >= STREAM_FAILURES || source.readyState === EventSource.CLOSED) {
        source.close();
        window.clearInterval(check);
        window.setTimeout(poll, 10000);
      }
    };
  }

  // sign.js announces the count its signature answer carried.
  document.addEventListener("petition:count", function (event) { update(event.detail, true); });
  if (el.dataset.streamUrl && window.EventSource) stream();
  else window.setTimeout(poll, 10000);
})();
