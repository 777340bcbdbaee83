// The sign button signs through the signing endpoint (the site's own, or the Functions app's in
// functions mode) with the short-lived signing token the page carries: one small JSON request,
// no cookie sent. An expired token, or an endpoint that cannot be reached, falls back to the
// form's normal post through the web app, which signs with the session.
(function () {
  "use strict";
  var form = document.querySelector("form.sign-form[data-sign-url]");
  if (!form || !window.fetch) return;
  var button = form.querySelector("button");
  var shown = null;

  function note(text, kind) {
    var p = document.createElement("p");
    p.className = "notice" + (kind ? " notice-" + kind : "");
    p.setAttribute("role", "status");
    p.textContent = text;
    return p;
  }

  // A notice at the top of the page, as the server shows its own (app/templates/_notice.html).
  function say(text, kind) {
    if (shown) shown.remove();
    shown = document.createElement("div");
    shown.className = "flash flash-" + kind;
    shown.setAttribute("role", "status");
    shown.textContent = text;
    document.getElementById("main").prepend(shown);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    // The opt-ins as the signing endpoint's JSON body (app/signing_endpoint/contract.py).
    var optIns = {};
    ["notify_response", "notify_close"].forEach(function (name) {
      var box = form.elements[name];
      if (box && box.checked) optIns[name] = true;
    });
    fetch(form.dataset.signUrl, {
      method: "POST",
      headers: { Authorization: "Bearer " + form.dataset.signToken, Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify(optIns),
      credentials: "omit"
    })
      .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
      .then(function (res) {
        if (res.status === 201 || res.status === 200) {
          var n = res.body.signature_count;
          document.dispatchEvent(new CustomEvent("petition:count", { detail: n }));
          // The same words the page says after the form's post (app/services/signing.py).
          say(res.status === 201 ?
            "Thank you for signing. This petition now has " + n.toLocaleString("en-GB") + " signature" + (n === 1 ? "" : "s") + "." :
            "You have already signed this petition. Each person can sign once.", res.status === 201 ? "success" : "info");
          form.replaceWith(note("You signed this petition.", "success"));
        } else if (res.status === 401) {
          form.submit(); // token expired: the web app signs with the session instead
        } else {
          button.disabled = false;
          say((res.body.error && res.body.error.message) || "Something went wrong. Please try again.", "error");
        }
      })
      .catch(function () { form.submit(); });
  });
})();
