// Functions mode: the sign button posts straight to the signing function with the short-lived
// token the page carries, so the web app is not on the signing path. If the function cannot be
// reached, the form falls back to its normal post through the web app.
(function () {
  "use strict";
  var form = document.querySelector("form.sign-form[data-sign-url]");
  if (!form || !window.fetch) return;
  var button = form.querySelector("button");
  var count = document.getElementById("signature-count");

  function note(text, kind) {
    var p = document.createElement("p");
    p.className = "notice" + (kind ? " notice-" + kind : "");
    p.setAttribute("role", "status");
    p.textContent = text;
    return p;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    fetch(form.dataset.signUrl, {
      method: "POST",
      headers: { Authorization: "Bearer " + form.dataset.signToken, Accept: "application/json" },
      mode: "cors",
      credentials: "omit"
    })
      .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
      .then(function (res) {
        if (res.status === 201 || res.status === 200) {
          if (count) count.textContent = res.body.signature_count.toLocaleString("en-GB");
          form.replaceWith(note(res.status === 201 ? "Thank you for signing." :
            "You have already signed this petition. Each person can sign once.", res.status === 201 ? "success" : ""));
        } else if (res.status === 401) {
          form.submit(); // token expired: the web app signs with the session instead
        } else {
          button.disabled = false;
          form.before(note((res.body.error && res.body.error.message) || "Something went wrong. Please try again.", "error"));
        }
      })
      .catch(function () { form.submit(); });
  });
})();
