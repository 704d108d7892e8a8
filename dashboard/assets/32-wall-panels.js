/* The wall's plain-DOM panels: ticker, counters, alerts, ranking, charts, and the alert sound.
 *
 * Methods of the wall controller in 30-wall.js (installed with GCWallPanels(Wall) before the
 * wall starts). Text that must show at once is plain DOM, never a figure redraw.
 */
(function () {
  "use strict";
  function el(id) { return document.getElementById(id); }
  function setText(node, text) { if (node && node.textContent !== text) { node.textContent = text; } }
  var ALERT_CARDS = 2;  // the alert panel holds two cards and the "+N more" line at the 1920×1080 design size
  var KPIS = ["reported", "onsite", "escalated", "dispatched", "in_progress", "closed", "overdue", "on_duty",
              "patrolling"];

  window.GCWallPanels = function (Wall) {
    // -- plain DOM: ticker, counters, alerts, ranking ----------------------------------------
    Wall.prototype.tickerText = function (ev) {
      var p = ev.payload, time = (ev.at || "").slice(11, 19);
      if (ev.type === "case") {
        var c = p.case, act = p.action === "created" && c.handled_onsite ? "onsite" : p.action;
        return [time, this.tx("wall.action." + act, act), "case-" + (c.priority || 3),
                c.code + " " + (c.source === "resident" ? "[" + GCDom.label("case.source", c.source) + "] " : "") +
                (c.major ? GCDom.name(c.major) + "/" : "") + GCDom.name(c.category || "") +
                (c.grid_name ? " · " + GCDom.name(c.grid_name) : "") +
                (c.description ? " · " + c.description.slice(0, 60) : "")];
      }
      var a = p.alert, lg = this.cfg.lang, title = a.texts && a.texts[lg] ? a.texts[lg].title : a.title;
      return [time, this.tx("wall.alert." + p.action, p.action), "alert-" + a.severity,
              title + (a.count > 1 ? " ×" + a.count : "")];
    };

    Wall.prototype.addTicker = function (events, initial) {
      var list = el("wall-ticker"), now = Date.now(), seqs = this.tickerSeqs;
      if (!list) { return; }
      events = events.filter(function (e) { return !seqs.has(e.seq); });  // once each, even across a resync
      if (!events.length) { return; }
      var empty = list.querySelector(".wall-none");
      if (empty) { empty.remove(); }
      var frag = document.createDocumentFragment();
      for (var i = events.length - 1; i >= 0; i--) {
        var parts = this.tickerText(events[i]);
        var li = document.createElement("li");
        li.className = "wall-tick wall-tick-" + parts[2] + (initial ? "" : " wall-tick-new");
        li.setAttribute("data-born", String(now));
        li.setAttribute("data-seq", events[i].seq);
        seqs.add(events[i].seq);
        var t = document.createElement("time"); t.textContent = parts[0];
        var b = document.createElement("b"); b.textContent = parts[1];
        var s = document.createElement("span"); s.textContent = parts[3];
        li.appendChild(t); li.appendChild(b); li.appendChild(s);
        frag.appendChild(li);
        if (events[i].type === "case" && !initial) { this.mark(events[i].payload.case.id, "ticker", now); }
      }
      list.insertBefore(frag, list.firstChild);
      while (list.children.length > this.cfg.caps.ticker) {
        seqs.delete(Number(list.lastChild.getAttribute("data-seq")));
        list.removeChild(list.lastChild);
      }
    };

    Wall.prototype.mark = function (id, what, at) {
      this.marks.push([id, what, at]);
      if (this.marks.length > 400) { this.marks.splice(0, this.marks.length - 200); }
    };

    Wall.prototype.renderCounters = function () {
      var k = this.counters;
      KPIS.forEach(function (name) {  // unchanged figures are not touched: no style, layout or paint for them
        if (k[name] != null) { setText(el("wall-kpi-" + name), Number(k[name]).toLocaleString("en-US")); }
      });
      ["self_rate", "ontime_rate"].forEach(function (name) {
        var v = k[name], bar = el("wall-kpi-" + name + "-bar"), pc = v == null ? null : (v * 100).toFixed(1) + "%";
        setText(el("wall-kpi-" + name), pc || "—");
        if (bar && bar.style.width !== (pc || "0%")) { bar.style.width = pc || "0%"; }
      });
    };

    Wall.prototype.renderWorkerCounts = function () {
      var duty = 0, patrol = 0;
      this.workers.forEach(function (w) { if (w[3] && w[3] !== "offline") { duty++; } if (w[3] === "patrolling") { patrol++; } });
      if (this.workers.size && !this.wide) {  // a wide wall holds only the workers that moved: the stats count
        this.counters.on_duty = duty; this.counters.patrolling = patrol;
        setText(el("wall-kpi-on_duty"), duty.toLocaleString("en-US"));  // unchanged text: no repaint
        setText(el("wall-kpi-patrolling"), patrol.toLocaleString("en-US"));
      }
    };

    Wall.prototype.renderAlerts = function (flashId) {
      var box = el("wall-alerts"), self = this;
      if (!box) { return; }
      var list = Array.from(this.alerts.values()).sort(function (a, b) {
        return (b.created_at || "").localeCompare(a.created_at || "");
      });
      box.textContent = "";
      if (!list.length) {
        var none = document.createElement("div"); none.className = "wall-none";
        none.textContent = this.tx("wall.alerts.none"); box.appendChild(none);
      }
      list.slice(0, ALERT_CARDS).forEach(function (a) {
        var d = document.createElement("div");
        d.className = "wall-alert wall-alert-" + a.severity + " wall-alert-" + a.state + (a.id === flashId ? " wall-flash" : "");
        if (a.id === flashId) { d.setAttribute("data-born", String(Date.now())); }
        d.setAttribute("data-alert-id", a.id);
        var h = document.createElement("b"); h.textContent = a.title;
        var m = document.createElement("span");
        // a repeated alert (one per rule and subject) shows how often and when last, in place of a second card
        var when = a.count > 1 ? (a.created_at || "").slice(11, 16) + "–" + (a.last_at || "").slice(11, 19) + " ×" + a.count
          : (a.created_at || "").slice(11, 19);
        d.setAttribute("data-count", String(a.count || 1));
        m.textContent = [when, self.tx("wall.severity." + a.severity, a.severity),
                         self.tx("alert.state." + a.state, a.state), a.worker_name || ""].filter(Boolean).join(" · ");
        d.appendChild(h); d.appendChild(m); box.appendChild(d);
      });
      // the true open total: the wall is sent the newest 200 (a city can have thousands open)
      var total = Math.max(list.length, this.alertsOpen || 0);
      if (total > ALERT_CARDS) {  // never let the rest go unnoticed
        var more = document.createElement("div"); more.className = "wall-alert-more";
        more.setAttribute("data-more", total - ALERT_CARDS);
        more.textContent = this.tx("wall.alerts.more", "+{n}").replace("{n}", (total - ALERT_CARDS).toLocaleString("en-US"));
        box.appendChild(more);
      }
      this.map.placeRings();
    };

    Wall.prototype.renderRanking = function () {
      var body = el("wall-ranking"), key = JSON.stringify(this.stats.ranking.slice(0, 9));
      if (!body || key === this.rankingDrawn) { return; }  // unchanged: no relayout of the table
      this.rankingDrawn = key;
      body.textContent = "";
      this.stats.ranking.slice(0, 9).forEach(function (r, i) {
        var tr = document.createElement("tr");
        [String(i + 1), r.name, r.reported, r.open, r.closed].forEach(function (v, j) {
          var td = document.createElement("td"); td.textContent = v; if (j === 0) { td.className = "wall-rank-n"; }
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
    };

    // -- charts: bumped from events, corrected by the stats refetch ---------------------------
    Wall.prototype.bumpCharts = function (c) {
      var cats = this.stats.by_category, found = false;
      for (var i = 0; i < cats.length; i++) { if (cats[i].name === c.major) { cats[i].count += 1; found = true; } }
      if (!found && c.major) { cats.push({ name: c.major, count: 1 }); }
      cats.sort(function (a, b) { return b.count - a.count; });
      var hour = parseInt((c.created_at || "").slice(11, 13), 10);
      if (hour >= 0 && hour < 24) { this.stats.hourly.today[hour] += 1; }
    };

    // charts redraw at most every chart_min_interval_ms: the figures are day totals, not the live feed
    // drawn by the heartbeat's second frame (afterBeat), at most every chart_min_interval_ms, not in one of their own
    Wall.prototype.scheduleCharts = function () { this.chartsDue = true; };

    // The two charts are a few dozen SVG elements written here, not Plotly figures: a Plotly.update of both
    // measured 184 ms of main thread on average (up to 363 ms) with software rendering — on ten walls at once
    // after every case, the largest CPU burst on the box and the tail of the ticker's latency. This is < 2 ms.
    Wall.prototype.drawCharts = function () {
      var rows = this.stats.by_category.slice(0, 8), h = this.stats.hourly;
      var hour = this.hourNow === undefined ? 23 : this.hourNow;
      var key = JSON.stringify([rows, h, hour]);
      if (key === this.chartsDrawn) { return; }  // a refetch that brought what is already drawn
      this.chartsDrawn = key; this.chartsAt = Date.now();
      var cat = el("wall-category"), hr = el("wall-hourly");
      if (cat) { cat.innerHTML = categorySvg(rows, this.cfg.charts.category); }
      if (hr) { hr.innerHTML = hourlySvg(h, this.cfg.charts.hourly, this.tx("wall.series.yesterday"),
                                         this.tx("wall.series.today"), hour); }
    };

    function esc(s) {
      return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; });
    }
    function svg(w, h, body) {
      return '<svg class="wall-svg" xmlns="http://www.w3.org/2000/svg" width="' + w + '" height="' + h +
        '" viewBox="0 0 ' + w + " " + h + '">' + body + "</svg>";
    }
    function num(v) { return Math.round(v * 10) / 10; }
    function ticks(top) { return top % 2 ? [0, top] : [0, top / 2, top]; }  // whole numbers only

    // horizontal bars, the largest on top; the count axis ends at axisTop (0, half, top gridlines)
    function categorySvg(rows, size) {
      // the name column fits the longest name (English names run longer), up to 45 % of the chart
      var L = Math.min(Math.round(size[0] * 0.45), Math.max(110, 12 + Math.max.apply(null, rows.map(function (r) {
        return legendWidth(String(r.name || "")); }).concat([0]))));
      var W = size[0], H = size[1], R = 36, T = 4, B = 24, pw = W - L - R, ph = H - T - B, out = [];
      var top = axisTop(Math.max.apply(null, rows.map(function (r) { return r.count; }).concat([0])));
      ticks(top).forEach(function (v) {
        var x = num(L + pw * v / top);
        out.push('<line class="wall-svg-grid" x1="' + x + '" x2="' + x + '" y1="' + T + '" y2="' + (T + ph) + '"/>',
                 '<text class="wall-svg-tick" x="' + x + '" y="' + (H - 6) + '" text-anchor="middle">' + v + "</text>");
      });
      var band = ph / Math.max(rows.length, 1);
      rows.forEach(function (r, i) {
        var y = T + band * i, bw = num(pw * r.count / top), mid = num(y + band / 2);
        out.push('<g class="wall-bar"><text class="wall-svg-label" x="' + (L - 6) + '" y="' + mid +
                 '" text-anchor="end" dominant-baseline="central">' + esc(fitText(String(r.name || ""), L - 10)) + "</text>" +
                 '<rect x="' + L + '" y="' + num(y + band * 0.15) + '" width="' + bw + '" height="' + num(band * 0.7) +
                 '"/><text class="wall-svg-value" x="' + num(L + bw + 4) + '" y="' + mid +
                 '" dominant-baseline="central">' + r.count + "</text></g>");
      });
      return svg(W, H, out.join(""));
    }

    // today (line and points, up to the current hour: the hours to come have no figures yet) over yesterday
    // (dotted, all 24 hours), hours 0–23
    function hourlySvg(h, size, yesterday, today, hourNow) {
      var W = size[0], H = size[1], L = 44, R = 12, T = 26, B = 30, pw = W - L - R, ph = H - T - B, out = [];
      var top = axisTop(Math.max.apply(null, h.yesterday.concat(h.today, [0])));
      var X = function (i) { return num(L + pw * (i + 0.5) / 24); }, Y = function (v) { return num(T + ph - ph * v / top); };
      ticks(top).forEach(function (v) {
        out.push('<line class="wall-svg-grid" x1="' + L + '" x2="' + (L + pw) + '" y1="' + Y(v) + '" y2="' + Y(v) + '"/>',
                 '<text class="wall-svg-tick" x="' + (L - 6) + '" y="' + Y(v) + '" text-anchor="end" dominant-baseline="central">' +
                 v + "</text>");
      });
      for (var i = 0; i < 24; i += 3) {
        out.push('<text class="wall-svg-tick" x="' + X(i) + '" y="' + (H - 8) + '" text-anchor="middle">' + i + "</text>");
      }
      var line = function (vals) { return vals.map(function (v, i) { return X(i) + "," + Y(v); }).join(" "); };
      var sofar = h.today.slice(0, Math.max(0, Math.min(23, hourNow)) + 1);
      out.push('<polyline class="wall-line-yesterday" points="' + line(h.yesterday) + '"/>',
               '<polyline class="wall-line-today" points="' + line(sofar) + '"/>');
      sofar.forEach(function (v, i) { out.push('<circle class="wall-dot-today" cx="' + X(i) + '" cy="' + Y(v) + '" r="2.5"/>'); });
      // the legend, top right: each entry as wide as its text (English "Yesterday" is twice 昨日)
      var yw = legendWidth(yesterday), tw = legendWidth(today), lx = W - R - (28 + yw + 14 + 28 + tw);
      out.push('<line class="wall-line-yesterday" x1="' + lx + '" x2="' + (lx + 22) + '" y1="10" y2="10"/>',
               '<text class="wall-svg-legend" x="' + (lx + 28) + '" y="10" dominant-baseline="central">' + esc(yesterday) + "</text>",
               '<line class="wall-line-today" x1="' + (lx + 42 + yw) + '" x2="' + (lx + 64 + yw) + '" y1="10" y2="10"/>',
               '<text class="wall-svg-legend" x="' + (lx + 70 + yw) + '" y="10" dominant-baseline="central">' + esc(today) + "</text>");
      return svg(W, H, out.join(""));
    }

    // a legend text's width at the legend's font size (.wall-svg-legend): a CJK character is 1 em, others ~0.6
    var LEGEND_PX = 14;  // the charts' text size (30-wall.css .wall-svg-legend, .wall-svg-label)
    function legendWidth(s) {
      var em = 0;
      for (var i = 0; i < s.length; i++) { em += s.charCodeAt(i) > 0x2e80 ? 1 : 0.6; }
      return Math.ceil(em * LEGEND_PX);
    }
    // ``s`` shortened with "…" to fit ``px`` (a long English category name on the bar chart's name column)
    function fitText(s, px) {
      if (legendWidth(s) <= px) { return s; }
      while (s.length > 1 && legendWidth(s + "…") > px) { s = s.slice(0, -1); }
      return s.replace(/\s+$/, "") + "…";
    }
    // 5, 10, 20, 50, 100, …: the count axes move in steps (layouts/wall/panels.py axis_top)
    function axisTop(v) {
      var top = 5;
      while (top < v) { top = /^[15]/.test(String(top)) ? top * 2 : top * 5 / 2; }
      return top;
    }
    Wall.prototype.axisTop = axisTop;

    // -- sound: a WebAudio beep, no audio file; browsers want a gesture first -----------------
    // A running AudioContext renders silence all the time: ~30 ms of CPU a second per wall in Chromium (its audio
    // threads, bench/RESULTS.md), on the CPU the page's own frames and the server need. So the context runs only
    // while it beeps: suspended once the browser has let it start (soundOn), resumed for each beep.
    Wall.prototype.initSound = function () {
      var self = this, btn = el("wall-sound"), Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx || this.audio) { return; }
      try { this.audio = new Ctx(); } catch { return; }
      this.soundOn = false; this.beeping = 0;
      var check = function () {
        if (self.audio.state === "running") {
          self.soundOn = true;
          if (!self.beeping) { self.audio.suspend(); }
        }
        if (btn) { btn.hidden = self.soundOn; }
      };
      this.audio.resume().then(check, check);
      setTimeout(check, 500);
      if (btn) {
        btn.addEventListener("click", function () { self.audio.resume().then(function () { check(); self.beep(); }); });
      }
    };

    Wall.prototype.beep = function () {  // three tones: a new alert on the wall (GCDom.beep, as the console's)
      if (this.soundOn) { GCDom.beep(this, 3); }
    };
  };
})();
