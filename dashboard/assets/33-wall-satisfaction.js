/* The wall's residents' satisfaction panel (/wall?panel=satisfaction, issue 31; layouts/wall/satisfaction_panel.py).
 *
 * Rendered by the server; refetched (GET /api/v1/satisfaction?days=30, the wall's scope) when a case event says a
 * resident's figures moved: a resident's report made, the center's first step on one (registered, dispatched), its
 * closure, or a resident's answer (resident_rating / resident_reopen). Debounced and spread over a few seconds so
 * ten walls do not ask at once; the new figures are written in the next frame, and only those that changed.
 */
(function () {
  "use strict";
  var DEBOUNCE_MS = 3000, JITTER_MS = 2000;
  var MOVES = { created: 1, register: 1, dispatch: 1, approve: 1, resident_rating: 1, resident_reopen: 1 };

  /* does this batch of live events move the residents' figures? (pure: tests/js/wall-satisfaction.test.js) */
  function moves(events) {
    return (events || []).some(function (ev) {
      var p = ev && ev.payload;
      if (!p || ev.type !== "case" || !p.case) { return false; }
      if (p.action === "resident_rating" || p.action === "resident_reopen") { return true; }
      return p.case.source === "resident" && MOVES[p.action] === 1;
    });
  }

  /* a figure as the panel writes it (the same rules as satisfaction_panel.show) */
  function show(key, v, minTemplate) {
    if (v === null || v === undefined) { return "—"; }
    if (/_share$/.test(key)) { return (v * 100).toFixed(1) + "%"; }
    if (/_min$/.test(key)) { return (minTemplate || "{n}").split("{n}").join(String(Math.round(v * 10) / 10)); }
    return Number(v).toLocaleString("en-US");
  }

  var timer = null, listening = false;

  function panel() { return document.getElementById("wall-sat"); }

  function apply(total) {
    var p = panel();
    if (!p || !total) { return; }
    var tpl = p.getAttribute("data-min");
    requestAnimationFrame(function () {
      Array.prototype.forEach.call(p.querySelectorAll("[data-key]"), function (el) {
        var text = show(el.getAttribute("data-key"), total[el.getAttribute("data-key")], tpl);
        if (el.textContent !== text) { el.textContent = text; }
      });
    });
  }

  function refetch() {
    timer = null;
    var p = panel();
    if (!p) { return; }
    fetch(p.getAttribute("data-url"), { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("satisfaction → " + r.status); }
      return r.json();
    }).then(function (j) { apply(j.total); })
      .catch(function (e) { console.warn("wall satisfaction refetch failed", e); });
  }

  function onEvents(events) {
    if (timer || !panel() || !moves(events)) { return; }
    timer = setTimeout(refetch, DEBOUNCE_MS + Math.random() * JITTER_MS);
  }

  // the panel comes with the page's first render; a wall without the option stops looking after a minute
  var tries = 0;
  var hook = setInterval(function () {
    tries += 1;
    if (panel() && window.GCLive) {  // and once now: the page's figures may be a few seconds old (the server's memo)
      listening = true; window.GCLive.on("events", onEvents); refetch();
      // events pushed while the live snapshot loaded are dropped as counted by it: read the figures again then
      window.GCLive.on("snapshot", function () { if (!timer) { timer = setTimeout(refetch, 300); } });
    }
    if (listening || tries > 120) { clearInterval(hook); }
  }, 500);

  window.GCWallSatisfaction = { moves: moves, show: show, refetch: refetch };
})();
