/* /password: the strength rules tick as the user types; POST /auth/password, then on to where they were going. */
(function () {
  "use strict";
  function rules(form) {
    var min = parseInt(form.getAttribute("data-min"), 10) || 10;
    var old = document.getElementById("gc-password-old").value;
    var pw = document.getElementById("gc-password-new").value;
    var again = document.getElementById("gc-password-repeat").value;
    var distinct = {};
    for (var i = 0; i < pw.length; i++) { distinct[pw[i]] = 1; }
    return { length: pw.length >= min, digits: pw.length > 0 && !/^[0-9]+$/.test(pw),
             variety: Object.keys(distinct).length >= 4, new: pw.length > 0 && pw !== old,
             match: pw.length > 0 && pw === again };
  }

  function show(form) {
    var ok = rules(form), all = true;
    document.querySelectorAll("#gc-password-rules li").forEach(function (li) {
      var good = ok[li.getAttribute("data-rule")];
      li.className = good ? "good" : "bad";
      all = all && good;
    });
    return all;
  }

  document.addEventListener("input", function (ev) {
    var form = ev.target && ev.target.form;
    if (form && form.id === "gc-password-form") { show(form); }
  });

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form || form.id !== "gc-password-form") { return; }
    ev.preventDefault();
    var err = document.getElementById("gc-password-error");
    err.textContent = "";
    if (!show(form)) { err.textContent = err.getAttribute("data-weak"); return; }
    fetch("/auth/password", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ old_password: document.getElementById("gc-password-old").value,
                             new_password: document.getElementById("gc-password-new").value })
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      if (!res.ok) {
        var field = res.body.error && res.body.error.field;
        err.textContent = err.getAttribute(field === "old_password" ? "data-old"
          : field === "new_password" ? "data-weak" : "data-failed");
        return;
      }
      var next = form.getAttribute("data-next") || "/";
      var lang = form.getAttribute("data-lang");
      if (lang === "en" && next.indexOf("lang=") < 0) { next += (next.indexOf("?") < 0 ? "?" : "&") + "lang=en"; }
      window.location.assign(next);
    }).catch(function () { err.textContent = err.getAttribute("data-failed"); });
  });
})();
