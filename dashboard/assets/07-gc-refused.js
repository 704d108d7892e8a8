/* When the API refuses a page its data (401 signed out, 403 not allowed), the page says so on screen instead of
 * showing empty queues under a green "live" light: a banner names the reason and the live light is hidden.
 * Only reads count (GET of /api/, and Dash's callback requests, which read): a refused action is the page's own
 * message to show. The texts come from the
 * index page (layouts/app.py, dashboard/i18n/admin.json "refused.*"), in both languages. */
(function () {
  "use strict";
  if (!window.fetch || window.fetch.gcRefused) { return; }
  var PAGES = /^\/(console|wall|briefing|governance|patrol|call)\/?$/;
  var original = window.fetch;

  function texts() {
    var node = document.getElementById("gc-refused-texts");
    var all = node ? JSON.parse(node.textContent) : {};
    var en = /^en/.test(document.documentElement.lang || "") || /[?&]lang=en\b/.test(window.location.search);
    return all[en ? "en" : "zh-CN"] || {};
  }

  function show(status) {
    if (document.getElementById("gc-refused")) { return; }
    var T = texts();
    var why = status === 401 ? T["refused.signed_out"] : T["refused.forbidden"];
    var box = document.createElement("div");
    box.id = "gc-refused";
    box.className = "gc-refused-banner";
    box.setAttribute("role", "alert");
    box.setAttribute("data-status", String(status));
    box.appendChild(document.createTextNode((why || "") + " "));
    var a = document.createElement("a");
    a.href = "/login?next=" + encodeURIComponent(window.location.pathname + window.location.search);
    a.textContent = T["refused.sign_in"] || "";
    box.appendChild(a);
    document.body.classList.add("gc-refused");
    document.body.insertBefore(box, document.body.firstChild);
  }

  var wrapped = function (input, init) {
    var req = typeof input === "string" || input instanceof URL ? null : input;
    var method = ((init && init.method) || (req && req.method) || "GET").toUpperCase();
    var url;
    try { url = new URL(req ? req.url : String(input), window.location.href); } catch { url = null; }
    // a read of /api/, or a Dash server callback (the briefing's figures come that way; it only reads)
    var watched = url && url.origin === window.location.origin && PAGES.test(window.location.pathname) && (
      (method === "GET" && url.pathname.indexOf("/api/") === 0) || url.pathname === "/_dash-update-component");
    var out = original.apply(this, arguments);
    if (!watched) { return out; }
    return out.then(function (r) {
      if (r.status === 401 || r.status === 403) { show(r.status); }
      return r;
    });
  };
  wrapped.gcRefused = true;
  wrapped.gcCsrf = window.fetch.gcCsrf;
  window.fetch = wrapped;
  if (typeof module !== "undefined") { module.exports = { wrapped: wrapped }; }
})();
