/* GCDom: the small DOM builder the page scripts share.
 * el("div", {cls: "x", text: "…", "data-id": 3}, [child or "text", …]) → element. */
(function () {
  "use strict";
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; } else if (k === "cls") { e.className = attrs[k]; }
      else { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) {
      if (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); }
    });
    return e;
  }
  // the page language's enum and API error texts (layouts/lang.py puts them into #gc-texts)
  var shared = null;
  function texts() {
    if (shared === null) {
      var node = document.getElementById("gc-texts");
      try { shared = node ? JSON.parse(node.textContent) : {}; } catch { shared = {}; }
    }
    return shared;
  }
  // label("case.state", "closed") → "Closed" / "结案"; an unknown value → the family's ".other" text, never the code
  function label(family, value) {
    if (value === null || value === undefined || value === "") { return ""; }
    var t = texts();
    return t[family + "." + value] || t[family + ".other"] || "";
  }
  var STATUS_CODES = { 401: "unauthenticated", 403: "forbidden", 404: "not_found", 409: "conflict", 413: "too_large", 429: "rate_limited" };
  // an API error body's {error: {code, field, status}} in the page's language (the English message is for API clients)
  function errorText(err, status) {
    var t = texts(), e = (err && typeof err.error === "object" && err.error) || err || {};
    var code = e.code || STATUS_CODES[e.status || status] || ((e.status || status) >= 500 ? "unavailable" : "invalid");
    if (!t["error." + code]) { code = "invalid"; }
    var field = e.field && t["field." + e.field];
    if (field) { return (t["error." + code] || "").replace("{field}", field); }
    return t["error." + code + ".any"] || t["error.invalid.any"] || "";
  }
  // a place or category name in the page's language (layouts/lang.py): the catalogue's English, a grid
  // "兴乐社区第04网格" as its community's English and number ("Xingle 04"), else the name as stored
  var GRID = /^(\S+?社区)第(\d+)网格$/;
  function name(zh) {
    if (!zh || typeof zh !== "string") { return zh; }
    var t = texts(), en = t["name." + zh], m;
    if (en) { return en; }
    m = GRID.exec(zh);
    if (m && t["name." + m[1]]) { return t["name." + m[1]].replace(/ Community$/, "") + " " + m[2]; }
    if (zh.indexOf("/") > 0) { return zh.split("/").map(name).join("/"); }  // 大类/小类
    return zh;
  }
  // what a page's tx() shows for a key its texts lack (a code from the data it has no text for, e.g. a new alert
  // kind): the shared text of that key, else its family's "other", else ``fallback`` unless that is a bare code —
  // never the key or the code itself (tests/unit/test_i18n_keys.py checks the keys written in the scripts)
  function miss(key, fallback) {
    var t = texts(), fam = String(key).replace(/\.[^.]*$/, "");
    if (t[key]) { return t[key]; }
    if (window.console) { console.warn("i18n: no text for " + key); }
    if (t[fam + ".other"]) { return t[fam + ".other"]; }
    return typeof fallback === "string" && !/^[a-z0-9_.]*$/.test(fallback) ? fallback : "";
  }
  // one cell of a CSV file the page writes: a text a spreadsheet would run as a formula gets a leading quote — the
  // ASCII triggers and their full-width forms (＝＋－＠, typed by a Chinese IME; Excel reads ＝1+1 as a formula),
  // as dashboard/services/exports.neutralise_cell does for the server's exports; quoted when it holds , " or a newline
  function csvCell(v) {
    var s = String(v === null || v === undefined ? "" : v);
    if (/^[=+\-@\t\r\uff1d\uff0b\uff0d\uff20]/.test(s)) { s = "'" + s; }
    return /[",\n\r]/.test(s) ? "\"" + s.replace(/"/g, "\"\"") + "\"" : s;
  }
  // The one alert sound of every page: ``tones`` short square-wave tones (988/660 Hz alternating), no audio file.
  // A running AudioContext renders silence all the time (~30 ms of CPU a second in Chromium), so the page's context
  // (``holder.audio``) runs only while it beeps: resumed for each beep — a suspend() still pending from the last
  // one is applied first — and suspended when the last tone of the last beep ends. Returns whether it sounded.
  function beep(holder, tones) {
    var ctx = holder && holder.audio;
    if (!ctx) { return false; }
    holder.beeping = (holder.beeping || 0) + 1;
    var done = function () { if (--holder.beeping === 0 && ctx.state === "running") { ctx.suspend(); } };
    ctx.resume().then(function () {
      var last = null;
      for (var i = 0; i < (tones || 1); i++) {
        var o = ctx.createOscillator(), g = ctx.createGain(), t0 = ctx.currentTime + 0.28 * i;
        o.type = "square"; o.frequency.value = i % 2 ? 660 : 988;
        g.gain.setValueAtTime(0.0001, t0);
        g.gain.exponentialRampToValueAtTime(0.18, t0 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.22);
        o.connect(g); g.connect(ctx.destination);
        o.start(t0); o.stop(t0 + 0.25);
        last = o;
      }
      if (last) { last.onended = done; } else { done(); }
    }, done);
    return true;
  }
  // a text with its {name} placeholders filled from ``params`` (every occurrence; others left as they are)
  function fill(text, params) {
    var s = String(text);
    Object.keys(params || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(params[k])); });
    return s;
  }
  // a new Idempotency-Key (a page without crypto.randomUUID, plain http on a LAN address, gets time + random)
  function newKey(prefix) {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return (prefix || "k") + "-" + Date.now().toString(16) + "-" + Math.random().toString(16).slice(2);
  }
  window.GCDom = { el: el, label: label, errorText: errorText, name: name, miss: miss, csvCell: csvCell,
                   beep: beep, fill: fill, newKey: newKey };
})();
