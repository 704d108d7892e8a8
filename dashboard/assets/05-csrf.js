/* CSRF: every same-origin fetch that changes state sends the gc_csrf cookie back as the
 * X-CSRF-Token header (the server compares them; see dashboard/api/security.py). */
(function () {
  "use strict";
  if (!window.fetch || window.fetch.gcCsrf) { return; }
  var SAFE = { GET: 1, HEAD: 1, OPTIONS: 1 };
  var original = window.fetch;

  function token() {
    var m = document.cookie.match(/(?:^|;\s*)gc_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function sameOrigin(url) {
    try { return new URL(url, window.location.href).origin === window.location.origin; } catch { return false; }
  }

  var wrapped = function (input, init) {
    var req = typeof input === "string" || input instanceof URL ? null : input;
    var method = ((init && init.method) || (req && req.method) || "GET").toUpperCase();
    var url = req ? req.url : String(input);
    if (!SAFE[method] && sameOrigin(url) && token()) {
      init = Object.assign({}, init || {});
      var headers = new Headers((init && init.headers) || (req && req.headers) || {});
      if (!headers.has("X-CSRF-Token")) { headers.set("X-CSRF-Token", token()); }
      init.headers = headers;
    }
    return original.call(this, input, init);
  };
  wrapped.gcCsrf = true;
  window.fetch = wrapped;
  window.GCCsrf = { token: token };
})();
