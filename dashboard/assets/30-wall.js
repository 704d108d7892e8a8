/* The big-screen wall (/wall): scaling, clock, and every live update, clientside.
 *
 * Does nothing unless #wall-root is on the page. Starts GCLive, fills the map's live
 * layers from the snapshot and applies pushed events: ticker and alerts in plain DOM at once,
 * new cases and alerts on the map's canvas in that same frame, the counters in the next one, worker moves
 * and the grid shading once a second, the charts at most every 5 s; /api/v1/wall/stats refetched (debounced)
 * after case events. Every collection is capped so memory stays flat for days.
 * The map lives in 31-wall-map.js (GCWallMap), the DOM panels and sound in 32-wall-panels.js.
 */
(function () {
  "use strict";
  var IN_PROGRESS = { dispatched: 1, handling: 1, feedback: 1 };
  var OPEN = { reported: 1, registered: 1, dispatched: 1, handling: 1, feedback: 1 };

  function el(id) { return document.getElementById(id); }
  function copyMeasures(m) {
    return { open: Object.assign({}, m.open), today: Object.assign({}, m.today), workers: Object.assign({}, m.workers) };
  }
  function localDate(iso) { return iso ? iso.slice(0, 10) : ""; }
  // what the wall keeps of a case: the fields its counters, markers and hover use (a pushed case also carries its
  // timeline, photos, timestamps and more; up to caps.cases of them stay in memory for days). Names that repeat
  // across cases (grid, category, reporter, worker) are kept once, not once per case.
  var CASE_FIELDS = ["id", "code", "state", "priority", "lat", "lon", "grid_id", "community_id"];
  var SHARED_FIELDS = ["grid_name", "major", "category", "reporter", "assigned_worker"];
  var pool = new Map();
  function shared(v) {
    if (typeof v !== "string") { return v; }
    var hit = pool.get(v);
    if (hit !== undefined) { return hit; }
    if (pool.size > 5000) { pool.clear(); }  // bounded: a street has a few hundred such names
    pool.set(v, v);
    return v;
  }
  function slimCase(c) {
    var out = {};
    CASE_FIELDS.forEach(function (k) { if (c[k] != null) { out[k] = c[k]; } });
    SHARED_FIELDS.forEach(function (k) { if (c[k] != null) { out[k] = shared(c[k]); } });
    out.description = (c.description || "").slice(0, 40);  // the hover shows 40 characters
    return out;
  }

  // and of an alert: what its panel card, marker, ring and hover show (not its CAP area, texts or data)
  var ALERT_FIELDS = ["id", "kind", "severity", "title", "lat", "lon", "grid_id", "worker_name", "state", "channel",
                      "created_at", "count", "last_at"];
  var ALERT_LANG = "zh-CN";  // a rule's alert carries its title in every language (texts): the wall shows its own
  function slimAlert(a) {
    var out = {};
    ALERT_FIELDS.forEach(function (k) { if (a[k] != null) { out[k] = a[k]; } });
    if (a.texts && a.texts[ALERT_LANG]) { out.title = a.texts[ALERT_LANG].title; }
    return out;
  }

  function Wall(root) {
    this.root = root;
    this.cfg = JSON.parse(root.getAttribute("data-config"));
    this.t = this.cfg.texts;
    ALERT_LANG = this.cfg.lang || ALERT_LANG;
    this.workers = new Map();   // id → [id, lat, lon, state, t, grid]
    this.cases = new Map();     // id → case (public, masked)
    this.alerts = new Map();    // id → alert (public, masked)
    this.openByGrid = {};
    this.todayByGrid = {};
    // a district's or city's wall (cfg.wide): per-community measures until it zooms in (31-wall-map.js)
    this.wide = this.cfg.wide || null;
    this.byCommunity = { open: {}, today: {}, workers: {} };
    this.alertsOpen = 0;  // every open alert in scope, not only the ones this wall was sent
    this.stats = this.cfg.stats;
    this.counters = Object.assign({}, this.stats.counters);
    this.lastCaseSeq = 0;
    this.measure = this.cfg.measure;
    this.dirty = {};
    this.drawTimer = null; this.lastDraw = 0; this.drawing = false;
    this.chartsDue = false; this.pendingStats = null;
    this.afterFrameWaiting = new Set();  // methods waiting for afterFrame
    this.statsTimer = null; this.lastStatsFetch = 0;
    this.audio = null; this.today = null;
    this.marks = [];            // [case id, "ticker"|"map", Date.now()] for the latency bench, capped
    this.timing = { page: Math.round(performance.now()) };  // ms since navigation: where a cold load goes
    this.map = new window.GCWallMap(this);
  }

  Wall.prototype.tx = function (key, fallback) { return this.t[key] || GCDom.miss(key, fallback); };

  Wall.prototype.start = function () {
    var self = this;
    document.documentElement.classList.add("wall-html");
    this.fit();
    window.addEventListener("resize", function () { self.fit(); });
    this.tickClock();
    setInterval(function () { self.tickClock(); }, 1000);
    this.todayByGrid = Object.assign({}, this.stats.grids.today);
    if (this.stats.communities) { this.byCommunity = copyMeasures(this.stats.communities); }
    this.renderCounters();
    this.drawCharts();
    this.tickerSeqs = new Set();
    if (this.stats.recent && this.stats.recent.length) { this.addTicker(this.stats.recent.slice().reverse(), true); }
    // the sound check creates an AudioContext (~100 ms on a slow box): after the first live frame, not before it
    this.soundTimer = setTimeout(function () { self.initSound(); }, 8000);
    var sel = el("wall-measure");
    if (sel) {
      sel.value = this.measure;
      sel.addEventListener("change", function () {  // a person's choice shows at once, not on the next beat
        self.measure = sel.value; self.lastShade = 0; self.dirty.grids = true; self.scheduleDraw(true);
        self.showScale();
      });
    }
    GCLive.on("status", function (s) { self.setStatus(s); });
    GCLive.on("snapshot", function (snap) { self.onSnapshot(snap); });
    GCLive.on("events", function (evs) { self.onEvents(evs); });
    this.map.whenReady(function () { self.markDirty("workers", "cases", "alerts", "grids"); });
    // a hidden wall (minimised, another tab) runs no frames: it paints nothing, keeping what is dirty, and, shown
    // again, paints that once
    document.addEventListener("visibilitychange", function () { if (!document.hidden) { self.scheduleDraw(true); } });
    GCLive.start({ view: "wall" });
  };

  // -- layout: a 1920×1080 canvas scaled to the window; the map sits outside it at real pixels
  Wall.prototype.fit = function () {
    var W = this.cfg.design[0], H = this.cfg.design[1];
    var s = Math.min(window.innerWidth / W, window.innerHeight / H);
    var stage = el("wall-stage");
    var left = (window.innerWidth - W * s) / 2, top = (window.innerHeight - H * s) / 2;
    stage.style.transform = "translate(" + left + "px," + top + "px) scale(" + s + ")";
    this.scale = s;
    // the panels over the map (coverage, register, camera) scale with the wall as the stage does (CSS --wall-s)
    var layer = document.querySelector(".wall-map-layer");
    if (layer) { layer.style.setProperty("--wall-s", String(s)); }
    this.map.fit(s);
  };

  Wall.prototype.tickClock = function () {
    // the server's time: with --sim-hour it runs at the simulated hour (cfg.clock_offset_ms ahead of the real clock)
    var now = new Date(Date.now() + (this.cfg.clock_offset_ms || 0));
    if (!this.clockFmt) {  // made once: building an Intl formatter costs far more than formatting with it
      this.clockFmt = [new Intl.DateTimeFormat("en-CA", { timeZone: this.cfg.timezone, year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }),
        new Intl.DateTimeFormat(this.cfg.lang, { timeZone: this.cfg.timezone, weekday: "short" })];
    }
    var p = {};
    this.clockFmt[0].formatToParts(now).forEach(function (x) { p[x.type] = x.value; });
    var day = p.year + "-" + p.month + "-" + p.day;
    var wd = this.clockFmt[1].format(now);
    el("wall-clock").textContent = day + " " + wd + " " + p.hour + ":" + p.minute + ":" + p.second;
    if (this.today && this.today !== day) { this.fetchStats(true); }  // a new day: counters start again
    this.today = day;
    var hour = parseInt(p.hour, 10) % 24;  // the hourly chart draws today up to this hour, not the hours to come
    if (this.hourNow !== undefined && this.hourNow !== hour) { this.chartsDue = true; }
    this.hourNow = hour;
    this.beat();
  };

  // The once-a-second heartbeat, in two frames. With software compositing a frame costs in proportion to the
  // bounding box of what it changes times the layers in it. First the clock and the blink of whatever blinks outside
  // the map (a class, not CSS animations): a strip at the right edge. Then, in the next frame, everything else that
  // only needs to be current within a second: worker markers, the alert rings' pulse, duty counts, the shading,
  // refetched figures and the charts. On timers of their own, those were two or three extra whole-map or
  // whole-screen frames per case on every wall; joined to the clock's frame, they made it a whole-screen one. Only a
  // case or an alert (drawEvents) has frames of its own.
  Wall.prototype.beat = function () {
    document.documentElement.classList.toggle("wall-beat-on");
    var now = Date.now();  // highlights end on a beat too: a new ticker line after 2 s, a new alert's blink after 6 s
    document.querySelectorAll(".wall-tick-new, .wall-flash").forEach(function (n) {
      var age = now - Number(n.getAttribute("data-born") || 0);
      if (age > (n.classList.contains("wall-flash") ? 6000 : 2000)) { n.classList.remove("wall-tick-new", "wall-flash"); }
    });
    this.afterFrame(this.afterBeat);
  };

  Wall.prototype.afterBeat = function () {
    // the alert rings pulse here, not with the clock: they are on the map, which this frame repaints anyway (the
    // worker markers), while the clock's frame stays a strip at the right edge
    document.documentElement.classList.toggle("wall-pulse-on", document.documentElement.classList.contains("wall-beat-on"));
    this.showCounters();
    if (this.pendingStats) { var st = this.pendingStats; this.pendingStats = null; this.applyStats(st); }
    if (this.chartsDue && Date.now() >= (this.chartsAt || 0) + (this.cfg.chart_min_interval_ms || 0)) {
      this.chartsDue = false; this.drawCharts();
    }
    if (!this.drawing && (this.dirty.workers || this.dirty.grids)) { this.draw(); }
  };

  // the shading's colour scale in the legend names the chosen measure and its top value
  Wall.prototype.showScale = function () {
    var box = document.querySelector(".wall-scale");
    if (!box) { return; }
    box.querySelector('[data-role="title"]').textContent = this.tx("wall.measure." + this.measure, this.measure);
    box.querySelector('[data-role="hi"]').textContent = this.map.zmax() + "+";
  };

  Wall.prototype.setStatus = function (s) {
    var box = el("wall-status");
    if (!box) { return; }
    box.className = "wall-status wall-status-" + s;
    box.querySelector(".wall-status-text").textContent = this.tx("wall.status." + s, s);
  };

  // -- live data -----------------------------------------------------------------------
  Wall.prototype.onSnapshot = function (snap) {
    var self = this;
    this.snapshotAt = this.snapshotAt || performance.now();
    this.timing.snapshot = this.timing.snapshot || Math.round(this.snapshotAt);
    this.workers.clear(); this.cases.clear(); this.alerts.clear();
    snap.workers.forEach(function (w) { self.workers.set(w[0], w); });
    snap.cases.forEach(function (c) { self.cases.set(c.id, slimCase(c)); });
    snap.alerts.forEach(function (a) { self.alerts.set(a.id, slimAlert(a)); });
    this.openByGrid = Object.assign({}, snap.open_by_grid);
    if (snap.by_community) { this.byCommunity = copyMeasures(snap.by_community); }
    this.alertsOpen = snap.alerts_open || 0;
    this.renderAlerts(false);
    this.renderWorkerCounts();
    this.markDirty("workers", "cases", "alerts", "grids");
    // a re-snapshot after a long outage, or figures rendered with the page before this snapshot's seq
    if (this.lastCaseSeq || snap.seq > (this.stats.seq || 0)) { this.fetchStats(true); }
    this.lastCaseSeq = snap.seq;
  };

  Wall.prototype.onEvents = function (events) {
    var ticker = [], caseSeen = false, newAlert = false;
    for (var i = 0; i < events.length; i++) {
      var ev = events[i], p = ev.payload || {};
      if (ev.type === "positions") {
        this.applyPositions(p);
      } else if (ev.type === "worker" && p.worker) {
        var w = p.worker, old = this.workers.get(w.id);
        this.workers.set(w.id, [w.id, w.lat, w.lon, w.state, w.last_fix_at, old ? old[5] : null]);
        this.dirty.workers = true;
      } else if (ev.type === "case" && p.case) {
        this.applyCase(p.action, p.case, ev.seq > (this.stats.seq || 0));
        ticker.push(ev);
        caseSeen = true;
        this.lastCaseSeq = ev.seq;
      } else if (ev.type === "alert" && p.alert) {
        newAlert = this.applyAlert(p.action, p.alert) || newAlert;
        ticker.push(ev);
      }
    }
    if (ticker.length) { this.addTicker(ticker); }
    if (caseSeen) { this.countersDue = true; this.scheduleCharts(); this.scheduleStats(); }
    if (newAlert) { this.beep(); }
    // cases and alerts are drawn at once, the counters in the next frame; worker moves wait for the next heartbeat
    this.countsDirty = true;
    if (ticker.length) { this.drawEvents(); this.afterFrame(this.showCounters); }
  };

  // The counters sit top left, the ticker bottom right and the map between them: changed in one frame, that frame's
  // damage is the whole screen (10 ms of software compositing on every wall, for every case). The ticker line and
  // the marker go first, the counters one frame later (showCounters), each frame a fraction of the screen.
  Wall.prototype.showCounters = function () {
    if (this.countersDue) { this.countersDue = false; this.renderCounters(); }
    if (this.countsDirty) { this.countsDirty = false; this.renderWorkerCounts(); }
  };

  // fn (a method) after the next frame has been rendered: its changes go into the frame after that. Once: a hidden
  // tab runs no frames, and a wall left hidden for days must not pile up a callback per beat and per case
  Wall.prototype.afterFrame = function (fn) {
    var self = this, waiting = this.afterFrameWaiting;
    if (waiting.has(fn)) { return; }
    waiting.add(fn);
    requestAnimationFrame(function () { setTimeout(function () { waiting.delete(fn); fn.call(self); }, 0); });
  };

  // New and changed cases and alerts go on the map in the same frame as their ticker line: painted right after
  // this task's DOM changes (a microtask), not by a timer, which ran only after that frame had been rendered and
  // so waited for the next one (22 ms at the median, 58 ms at p95 with ten walls on two cores). The canvas patch
  // costs a millisecond or two, and changes only the boxes of those markers; worker moves and the shading wait for
  // the heartbeat (beat).
  Wall.prototype.drawEvents = function () {
    var self = this;
    if (document.hidden) { return; }  // painted when shown (visibilitychange)
    if (!this.map.live()) { this.scheduleDraw(); return; }
    Promise.resolve().then(function () {
      var dirty = { cases: self.dirty.cases, alerts: self.dirty.alerts };
      if (!dirty.cases && !dirty.alerts) { return; }
      delete self.dirty.cases; delete self.dirty.alerts;
      self.render(dirty);
      self.scheduleDraw();
    });
  };

  Wall.prototype.applyPositions = function (p) {
    var f = p.fields || [], rows = p.workers || [];
    var iState = f.indexOf("state"), iGrid = f.indexOf("grid_id");
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      this.workers.set(r[0], [r[0], r[f.indexOf("lat")], r[f.indexOf("lon")], r[iState], r[f.indexOf("t")], r[iGrid]]);
    }
    if (rows.length) { this.dirty.workers = true; if (this.measure === "workers") { this.dirty.grids = true; } }
  };

  // counted: the event is newer than the figures shown (stats.seq); an older one (a prefetched snapshot can be older
  // than the figures the page was rendered with) is already in them and moves only the map
  Wall.prototype.applyCase = function (action, c, counted) {
    var prev = this.cases.get(c.id);
    // was it counted as open? unknown cases: every action but "created"/"evaluate" starts from an open state
    var wasOpen = prev ? !!OPEN[prev.state] : (action !== "created" && action !== "evaluate");
    var wasInProgress = prev ? !!IN_PROGRESS[prev.state] : ({ acknowledge: 1, feedback: 1, approve: 1, reject: 1,
      redispatch: 1, arrive: 1 })[action] === 1;
    var isOpen = !!OPEN[c.state];
    var g = c.grid_id == null ? null : String(c.grid_id);
    var oldG = prev && prev.grid_id != null ? String(prev.grid_id) : g;
    if (wasOpen && oldG) { this.openByGrid[oldG] = Math.max(0, (this.openByGrid[oldG] || 0) - 1); }
    if (isOpen && g) { this.openByGrid[g] = (this.openByGrid[g] || 0) + 1; }
    if (this.wide) {  // the communities' shading moves with the case as the grids' does
      var co = this.byCommunity.open, cm = c.community_id == null ? null : String(c.community_id);
      var oldC = prev && prev.community_id != null ? String(prev.community_id) : cm;
      if (wasOpen && oldC) { co[oldC] = Math.max(0, (co[oldC] || 0) - 1); }
      if (isOpen && cm) { co[cm] = (co[cm] || 0) + 1; }
    }
    if (counted) { this.countCase(action, c, g, wasInProgress); }
    var kept = slimCase(c);
    kept._seenAt = Date.now();
    this.cases.delete(c.id);  // re-insert: Map order = recency, oldest pruned first
    this.cases.set(c.id, kept);
    this.pruneCases();
    this.dirty.cases = true; this.dirty.grids = true;
  };

  // today's counters, the per-grid "today" measure and the charts move with a case's action
  Wall.prototype.countCase = function (action, c, g, wasInProgress) {
    var k = this.counters;
    if (action === "created" && localDate(c.created_at) === this.today) {
      k.reported += 1;
      if (c.handled_onsite) { k.onsite += 1; k.closed += 1; } else { k.escalated += 1; }
      if (g) { this.todayByGrid[g] = (this.todayByGrid[g] || 0) + 1; }
      if (this.wide && c.community_id != null) {
        var ct = this.byCommunity.today;
        ct[c.community_id] = (ct[c.community_id] || 0) + 1;
      }
      this.bumpCharts(c);
    }
    if (action === "dispatch" && c.dispatched_at && c.dispatched_at === c.updated_at) { k.dispatched += 1; }
    if (action === "approve") { k.closed += 1; }
    k.in_progress = Math.max(0, k.in_progress + (IN_PROGRESS[c.state] ? 1 : 0) - (wasInProgress ? 1 : 0));
    k.self_rate = k.reported ? k.onsite / k.reported : null;
  };

  Wall.prototype.pruneCases = function () {
    var caps = this.cfg.caps, cutoff = Date.now() - caps.closed_keep_s * 1000, self = this;
    if (this.cases.size <= caps.cases && this.cases.size % 50 !== 0) { return; }
    this.cases.forEach(function (c, id) {
      if (!OPEN[c.state] && (c._seenAt || 0) < cutoff) { self.cases.delete(id); }
    });
    var it = this.cases.keys();
    while (this.cases.size > caps.cases) { this.cases.delete(it.next().value); }
  };

  Wall.prototype.applyAlert = function (action, a) {
    var isNew = action === "created" && !this.alerts.has(a.id);
    var gone = a.state === "resolved" || a.channel !== "actual";
    // the true open total (the panel's "+N more"): a new one adds, a resolved one (sent or not) takes away
    if (isNew && !gone) { this.alertsOpen += 1; } else if (gone && (this.alerts.has(a.id) || action === "resolve")) {
      this.alertsOpen = Math.max(0, this.alertsOpen - 1);
    }
    if (gone) { this.alerts.delete(a.id); } else { this.alerts.set(a.id, slimAlert(a)); }
    var it = this.alerts.keys();
    while (this.alerts.size > this.cfg.caps.alerts) { this.alerts.delete(it.next().value); }
    this.renderAlerts(isNew ? a.id : false);
    this.dirty.alerts = true;
    return isNew && a.channel === "actual";
  };

  // -- the stats refetch: debounced after case events, at most every stats_min_interval_s ---
  Wall.prototype.scheduleStats = function () {
    var self = this;
    if (this.statsTimer) { return; }
    // walls seeing the same case spread their refetches over stats_jitter_s: the server builds the figures once
    // for all of them and a report filed at that moment does not queue behind ten requests at once
    var wait = Math.max(this.cfg.stats_debounce_s * 1000,
                        this.lastStatsFetch + this.cfg.stats_min_interval_s * 1000 - Date.now()) +
               Math.random() * (this.cfg.stats_jitter_s || 0) * 1000;
    this.statsTimer = setTimeout(function () { self.statsTimer = null; self.fetchStats(false); }, wait);
  };

  Wall.prototype.fetchStats = function (force) {
    var self = this;
    this.lastStatsFetch = Date.now();
    var url = "/api/v1/wall/stats" + (force ? "" : "?after=" + this.lastCaseSeq);  // figures at least that recent
    fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("wall stats → " + r.status); }
      return r.json();
    }).then(function (st) {
      if (!force && st.seq < self.lastCaseSeq) { self.scheduleStats(); return; }  // older than what we show
      if (force) { self.applyStats(st); } else { self.pendingStats = st; }  // a routine refetch shows on the beat
    }).catch(function (e) { console.warn("wall stats refetch failed", e); });
  };

  Wall.prototype.applyStats = function (st) {
    this.stats = st;
    var duty = this.counters.on_duty, patrol = this.counters.patrolling;
    this.counters = Object.assign({}, st.counters);
    if (this.workers.size && !this.wide) { this.counters.on_duty = duty; this.counters.patrolling = patrol; }
    if (st.communities) { this.byCommunity = copyMeasures(st.communities); }
    if (!this.wide) {  // a wide wall's grid figures come with its view (31-wall-map.js loadView)
      this.todayByGrid = Object.assign({}, st.grids.today);
      this.openByGrid = Object.assign({}, st.grids.open);
    }
    this.renderCounters(); this.renderRanking(); this.scheduleCharts();
    this.markDirty("grids");
  };

  // -- map: one throttled redraw for everything that changed ---------------------------------
  Wall.prototype.markDirty = function () {
    for (var i = 0; i < arguments.length; i++) { this.dirty[arguments[i]] = true; }
    this.scheduleDraw();
  };

  // With the map up, worker moves and shading wait for the heartbeat (beat); cases and alerts marked dirty outside
  // onEvents (snapshot, map ready) and a person's change of measure (`now`) go at once. Before the map is up,
  // markers follow map_min_frame_ms after the last draw. A running draw schedules the next one itself when its
  // frame is on screen. (Pushed cases and alerts take drawEvents.)
  Wall.prototype.scheduleDraw = function (now) {
    var self = this, urgent = !!(now || this.dirty.cases || this.dirty.alerts);
    if (!urgent && this.map.live()) { return; }
    if (this.drawing || (this.drawTimer && (this.drawUrgent || !urgent))) { return; }
    clearTimeout(this.drawTimer);
    this.drawUrgent = urgent;
    var wait = urgent ? 0 : Math.max(0, this.lastDraw + this.cfg.map_min_frame_ms - Date.now());
    this.drawTimer = setTimeout(function () { self.drawTimer = null; self.draw(); }, wait);
  };

  Wall.prototype.draw = function () {
    var self = this, dirty = this.dirty;
    if (!this.map.live() || document.hidden || !(dirty.workers || dirty.cases || dirty.alerts || dirty.grids)) { return; }
    this.dirty = {};
    // the grid shading (a canvas of every grid, a few ms) follows the counts at most every shade_min_interval_ms,
    // while the markers follow every change at once
    var shadeWait = (this.lastShade || 0) + (this.cfg.shade_min_interval_ms || 0) - Date.now();
    if (dirty.grids && shadeWait > 100) {  // kept for a later beat (100 ms: the beats' own jitter)
      dirty = Object.assign({}, dirty, { grids: false });
      this.dirty.grids = true;
      if (!(dirty.workers || dirty.cases || dirty.alerts)) { return; }
    }
    if (dirty.grids) { this.lastShade = Date.now(); }
    this.drawing = true;
    this.lastDraw = Date.now();
    this.render(dirty).then(function () {
      self.drawing = false;
      if (Object.keys(self.dirty).length) { self.scheduleDraw(); }
    });
  };

  // paints `dirty` on the map; resolves once its frame is on screen, having marked the cases it drew (for the
  // latency bench) and, on a cold load, the first live frame
  Wall.prototype.render = function (dirty) {
    var self = this, drawnCases = dirty.cases ? Array.from(this.cases.keys()) : null, live = !!this.snapshotAt;
    return this.map.draw(dirty).then(function () {
      var at = Date.now();
      if (!self.firstFrameAt && live) {  // cold load: first frame with live data
        self.firstFrameAt = performance.now(); self.timing.first_frame = Math.round(self.firstFrameAt);
        clearTimeout(self.soundTimer); setTimeout(function () { self.initSound(); }, 0);
      }
      if (drawnCases) {
        var fresh = new Set(self.marks.filter(function (m) { return m[1] === "ticker"; }).map(function (m) { return m[0]; }));
        drawnCases.forEach(function (id) { if (fresh.has(id) && !self.hasMark(id, "map")) { self.mark(id, "map", at); } });
      }
    }).catch(function (e) { console.warn("wall map draw failed", e); });
  };

  Wall.prototype.hasMark = function (id, what) {
    for (var i = this.marks.length - 1; i >= 0; i--) { if (this.marks[i][0] === id && this.marks[i][1] === what) { return true; } }
    return false;
  };

  Wall.prototype.gridValues = function () {
    if (this.wide && this.map.level() === "communities") {
      return this.measure === "workers" ? this.byCommunity.workers :
        this.measure === "today" ? this.byCommunity.today : this.byCommunity.open;
    }
    if (this.measure === "workers") {
      var counts = {};
      this.workers.forEach(function (w) { if (w[3] !== "offline" && w[5] != null) { counts[w[5]] = (counts[w[5]] || 0) + 1; } });
      return counts;
    }
    return this.measure === "today" ? this.todayByGrid : this.openByGrid;
  };

  // -- boot: Dash renders pages after load, so wait for the root to appear ------------------
  function boot() {
    var root = el("wall-root");
    if (!root || !window.GCLive || !window.GCWallMap || !window.GCWallPanels) { return false; }
    if (root.getAttribute("data-started")) { return true; }
    root.setAttribute("data-started", "1");
    if (!Wall.prototype.addTicker) { window.GCWallPanels(Wall); }
    var wall = new Wall(root);
    window.GCWall = wall;
    wall.start();
    return true;
  }

  // the wall goes live as soon as Dash has built it: its snapshot is asked for now, while Dash builds it
  if (window.GCLive && /\/wall$/.test(location.pathname)) { window.GCLive.prefetch({ view: "wall" }); }

  var tries = 0;
  var timer = setInterval(function () {
    if (boot() || ++tries > 2400) { clearInterval(timer); }
  }, 25);  // Dash renders the page after load: a short poll starts the wall within a frame or two
})();
