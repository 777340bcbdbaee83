// Keeps an open petition's count live. Polls the cacheable count endpoint (ETag + short max-age)
// without cookies, so every watcher, signed in or not, shares the proxy's micro-cached answer;
// backs off when the tab is hidden, and announces changes through the aria-live region.
(function () {
  "use strict";
  var el = document.getElementById("signature-count");
  if (!el || !el.dataset.countUrl) return;
  var progress = document.getElementById("progress");
  var milestone = document.getElementById("milestone");
  var noun = document.getElementById("signature-noun");
  var last = null;

  function nextMilestone(n) {
    var m = 100;
    while (n >= m) m *= 10;
    return m;
  }

  function render(count) {
    if (count === last) return;
    last = count;
    el.textContent = count.toLocaleString("en-GB");
    if (noun) noun.textContent = count === 1 ? "signature" : "signatures";
    var target = nextMilestone(count);
    if (progress) { progress.max = target; progress.value = count; }
    if (milestone) milestone.textContent = "Next milestone: " + target.toLocaleString("en-GB") + " signatures";
  }

  function poll() {
    if (document.hidden) return schedule(30000);
    fetch(el.dataset.countUrl, { headers: { Accept: "application/json" }, credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body) render(body.signature_count); })
      .catch(function () {})
      .then(function () { schedule(10000); });
  }

  function schedule(ms) { window.setTimeout(poll, ms); }
  // sign.js announces the count its signature answer carried.
  document.addEventListener("petition:count", function (event) { render(event.detail); });
  schedule(10000);
})();
