/* The sign-in form of /login: POST /auth/login, then go where the user was heading. */
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form || form.id !== "gc-login-form") { return; }
    ev.preventDefault();
    var err = document.getElementById("gc-login-error");
    err.textContent = "";
    fetch("/auth/login", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: document.getElementById("gc-login-username").value,
                             password: document.getElementById("gc-login-password").value })
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
    }).then(function (res) {
      if (!res.ok) {
        err.textContent = res.status === 401 ? err.getAttribute("data-wrong")
          : GCDom.errorText(res.body, res.status);  // in the page's language (code + field)
        return;
      }
      var next = form.getAttribute("data-next") || "/";
      if (res.body.must_change_password) {  // a one-time or reset password: set one's own before any page
        err.textContent = err.getAttribute("data-change");
        var lang = /[?&]lang=en\b/.test(window.location.search) ? "&lang=en" : "";
        next = "/password?next=" + encodeURIComponent(next) + lang;
      }
      window.location.assign(next);
    }).catch(function (e) { err.textContent = String(e); });
  });
})();
