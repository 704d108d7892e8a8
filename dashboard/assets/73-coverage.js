/* Live patrol coverage panels (.gc-coverage): foot and mouse patrols per grid today, side by side.
 * Filled from /api/v1/patrol/coverage; refreshed when a "patrol" event arrives and, at most once a
 * minute, when "positions" frames arrive (foot coverage grows as workers walk). */
(function () {
  "use strict";
  var panels = [], listening = false, lastFoot = 0, pending = null;

  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) { e.className = cls; } if (text !== undefined) { e.textContent = text; } return e; }
  function tx(p, k) { return (p.texts && p.texts[k]) || GCDom.miss(k); }

  function fill(p) {
    var comm = p.root.getAttribute("data-community");
    return fetch("/api/v1/patrol/coverage" + (comm ? "?community_id=" + encodeURIComponent(comm) : ""),
                 { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (d) {
        var body = p.root.querySelector('[data-role="body"]'), tot = d.totals;
        body.innerHTML = "";
        var sum = el("div", "gc-coverage-sum");
        [["grids", tot.grids], ["foot", tot.foot], ["mouse", tot.mouse], ["none", tot.none]].forEach(function (kv) {
          var c = el("div", "gc-coverage-kpi k-" + kv[0]);
          c.appendChild(el("b", "", String(kv[1]))); c.appendChild(el("span", "", tx(p, "cov." + kv[0])));
          sum.appendChild(c);
        });
        var bar = el("div", "gc-coverage-bar");
        var both = d.grids.filter(function (g) { return g.foot && g.mouse; }).length;
        [["foot", tot.foot - both], ["both", both], ["mouse", tot.mouse - both], ["none", tot.none]].forEach(function (kv) {
          var s = el("i", "b-" + kv[0]); s.style.width = (tot.grids ? kv[1] / tot.grids * 100 : 0) + "%"; bar.appendChild(s);
        });
        body.appendChild(sum); body.appendChild(bar);
        var rows = parseInt(p.root.getAttribute("data-rows") || "8", 10);
        var none = d.grids.filter(function (g) { return !g.foot && !g.mouse; });
        if (rows > 0) {
          body.appendChild(el("div", "gc-coverage-sub", none.length ? tx(p, "cov.uncovered") : tx(p, "cov.all_covered")));
          var ul = el("ul", "gc-coverage-list");
          none.slice(0, rows).forEach(function (g) { var li = el("li", "", g.name); li.setAttribute("data-grid-id", String(g.id || g.grid_id)); ul.appendChild(li); });
          body.appendChild(ul);
        }
        p.root.setAttribute("data-day", d.day);
        p.root.setAttribute("data-mouse", String(tot.mouse));
      }).catch(function (e) { console.warn("coverage", e); });
  }
  function refreshAll() { panels.forEach(fill); }
  function schedule(ms) {
    if (pending) { return; }
    pending = setTimeout(function () { pending = null; refreshAll(); }, ms);
  }
  function onEvents(events) {
    var patrol = false, positions = false;
    events.forEach(function (e) { if (e.type === "patrol") { patrol = true; } else if (e.type === "positions") { positions = true; } });
    if (patrol) { schedule(300); }
    else if (positions && Date.now() - lastFoot > 60000) { lastFoot = Date.now(); schedule(1000); }
  }
  setInterval(function () {
    var roots = Array.prototype.slice.call(document.querySelectorAll(".gc-coverage"));
    panels = panels.filter(function (p) { return roots.indexOf(p.root) >= 0; });
    roots.forEach(function (r) {
      if (panels.some(function (p) { return p.root === r; })) { return; }
      var p = { root: r, texts: JSON.parse(r.getAttribute("data-texts") || "{}") };
      panels.push(p); fill(p);
    });
    if (panels.length && window.GCLive && !listening) {
      listening = true;
      window.GCLive.on("events", onEvents);
      // events pushed while the live snapshot loaded are dropped as counted by it: read the figures again then
      window.GCLive.on("snapshot", function () { schedule(300); });
    }
  }, 500);
  window.GCCoverage = { refresh: refreshAll };
})();
