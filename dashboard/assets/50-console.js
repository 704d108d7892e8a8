/* /console — the dispatcher's desk, clientside.
 *
 * Does nothing unless #console-root is on the page. Starts GCLive; the snapshot fills the
 * queues (open alerts; cases reported/registered/feedback or overdue; cases in progress) and
 * "case"/"alert"/"worker" events keep them live. Picking an item loads its detail from
 * /api/v1 and every button is one API call; the answer (or the event it causes) redraws.
 * Everything is built with textContent, never innerHTML, so no text from a report can run.
 */
(function () {
  "use strict";
  var TRIAGE = { reported: 1, registered: 1, feedback: 1 };
  var TRACKING = { dispatched: 1, handling: 1 };
  var SEVERITY_RANK = { extreme: 0, severe: 1, moderate: 2, minor: 3 };
  var LOUD_SEVERITY = { extreme: 1, severe: 1 };  // a new alert of these flashes, leads its queue and sounds
  var FLASH_MS = 60000;                          // how long a new urgent item leads and flashes (or until opened)
  var SOUND_KEY = "gc.console.sound";            // the desk's sound switch, remembered in this browser
  var MAX_ITEMS = 300;

  function h(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) { return; }
      if (k === "text") { e.textContent = v; } else if (k === "cls") { e.className = v; } else if (k.indexOf("on") === 0) {
        e.addEventListener(k.slice(2), v);
      } else { e.setAttribute(k, v === true ? "" : v); }
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) { return; }
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }

  function hhmm(iso) { return iso ? iso.slice(5, 16).replace("T", " ") : "—"; }
  function ms(iso) { return iso ? Date.parse(iso) : NaN; }
  // 视频通话 / 网格档案 buttons, handled by 71-call.js and 72-drilldown.js (the widgets are on the page)
  function gcTools(desk, o) {
    var call = o.worker ? h("button", { cls: "gc-call-btn console-btn small", "data-worker-id": String(o.worker),
      "data-worker-label": o.label || null, "data-case-id": o.caseId ? String(o.caseId) : null,
      "data-alert-id": o.alertId ? String(o.alertId) : null, text: desk.tx("call.button") }) : null;
    var drill = o.grid ? h("button", { cls: "gc-drill-btn console-btn small", "data-grid-id": String(o.grid),
      text: desk.tx("drill.title") }) : null;
    return call || drill ? h("div", { cls: "console-gc-tools" }, [call, drill]) : null;
  }

  function Desk(root) {
    this.root = root;
    this.cfg = JSON.parse(root.getAttribute("data-config"));
    this.t = this.cfg.texts;
    this.cases = new Map();
    this.alerts = new Map();
    this.selected = null;        // {kind: "case"|"alert", id}
    this.view = null;            // the detail last loaded
    this.workers = [];           // recommendations shown in the side pane
    this.loads = 0;              // detail loads started (selectCase / selectAlert): the newest one draws
    this.refreshTimer = null;
    this.renderTimer = null;
    this.fresh = new Map();      // "case:<id>" | "alert:<id>" → until when it flashes and leads its queue
    this.beeps = 0;              // sounds made (one per new urgent item; read by tests)
    this.audio = null;
    this.soundOn = false;
    this.departments = [];       // the maintained list (GET /api/v1/departments)
  }

  // every code on screen goes through a label: kind, source, state … (an unknown code shows the fallback's label)
  Desk.prototype.lbl = function (prefix, code, fallback) {
    var key = prefix + code;
    if (this.t[key]) { return this.t[key]; }
    return fallback && this.t[fallback] ? this.t[fallback] : this.tx("console.unknown");
  };

  Desk.prototype.tx = function (key, vars) {
    var s = this.t[key] || GCDom.miss(key);
    Object.keys(vars || {}).forEach(function (k) { s = s.replace("{" + k + "}", vars[k]); });
    return s;
  };

  Desk.prototype.start = function () {
    var self = this;
    GCLive.on("status", function (s) {
      var el = document.getElementById("console-status");
      if (el) { el.textContent = self.tx("console.status." + s); el.className = "console-status console-status-" + s; }
    });
    GCLive.on("snapshot", function (snap) { self.onSnapshot(snap); });
    GCLive.on("events", function (evs) { self.onEvents(evs); });
    GCLive.start();
    this.initSound();
    setInterval(function () { self.renderQueues(); }, 30000);  // ages and "overdue" move with the clock
    if (this.cfg.open_case) { this.selectCase(parseInt(this.cfg.open_case, 10)); }
  };

  Desk.prototype.onSnapshot = function (snap) {
    var self = this;
    this.cases.clear();
    this.alerts.clear();
    (snap.cases || []).forEach(function (c) { self.cases.set(c.id, c); });
    (snap.alerts || []).forEach(function (a) { if (a.channel === "actual") { self.alerts.set(a.id, a); } });
    this.renderQueues();
  };

  Desk.prototype.onEvents = function (evs) {
    var self = this, touched = false;
    evs.forEach(function (e) {
      var p = e.payload || {};
      if (e.type === "case" && p.case) {
        var c = p.case;
        if (!self.cases.has(c.id) && p.action === "created" && c.priority <= 2 && c.state === "reported") {
          self.arrive("case:" + c.id);  // a new P1/P2 case: flashes, leads the queue, sounds once
        }
        if (c.state === "closed" || c.state === "void") { self.cases.delete(c.id); } else { self.cases.set(c.id, c); }
        touched = true;
        if (self.selected && self.selected.kind === "case" && self.selected.id === c.id) { self.scheduleRefresh(); }
        if (self.selected && self.selected.kind === "alert" && self.view && self.view.case_id === c.id) {
          self.scheduleRefresh();
        }
      } else if (e.type === "alert" && p.alert) {
        var a = p.alert;
        if (!self.alerts.has(a.id) && a.state === "new" && a.channel === "actual" && LOUD_SEVERITY[a.severity]) {
          self.arrive("alert:" + a.id);  // a new severe alert: the same
        }
        if (a.state === "resolved" || a.channel !== "actual") { self.alerts.delete(a.id); } else { self.alerts.set(a.id, a); }
        touched = true;
        if (self.selected && self.selected.kind === "alert" && self.selected.id === a.id) { self.scheduleRefresh(); }
      } else if (e.type === "worker" && p.worker) {
        self.workers.forEach(function (w) {
          if (w.worker_id === p.worker.id) { w.state = p.worker.state; self.renderWorkers(); }
        });
      }
    });
    if (touched) { this.scheduleRender(); }
  };

  Desk.prototype.scheduleRender = function () {
    var self = this;
    if (this.renderTimer) { return; }
    this.renderTimer = setTimeout(function () { self.renderTimer = null; self.renderQueues(); }, 150);
  };

  Desk.prototype.scheduleRefresh = function () {
    var self = this;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(function () {
      if (!self.selected) { return; }
      if (self.selected.kind === "case") { self.selectCase(self.selected.id, true); } else { self.selectAlert(self.selected.id, true); }
    }, 200);
  };

  // -- queues ------------------------------------------------------------------------------
  Desk.prototype.isOverdue = function (c) {
    return c.sla_due_at && ms(c.sla_due_at) < Date.now();
  };

  Desk.prototype.age = function (iso) {
    var m = Math.max(0, Math.round((Date.now() - ms(iso)) / 60000));
    return m < 120 ? this.tx("console.minutes_ago", { n: m }) : this.tx("console.hours_ago", { n: Math.round(m / 60) });
  };

  // -- new urgent items: flash, lead their queue, sound once ----------------------------------
  Desk.prototype.arrive = function (key) {
    if (this.fresh.has(key)) { return; }
    this.fresh.set(key, Date.now() + FLASH_MS);
    this.beep();
    var self = this;
    setTimeout(function () { self.scheduleRender(); }, FLASH_MS + 50);
  };

  Desk.prototype.isFresh = function (kind, id) { return this.freshAt(kind, id) > 0; };

  // when a flashing item arrived (its flash's end: later = newer), 0 when it does not flash
  Desk.prototype.freshAt = function (kind, id) {
    var until = this.fresh.get(kind + ":" + id);
    if (until === undefined) { return 0; }
    if (until < Date.now()) { this.fresh.delete(kind + ":" + id); return 0; }
    return until;
  };

  // A WebAudio beep as on the wall (no audio file); browsers start sound only after a gesture, so the switch in the
  // header is the gesture: on → beeps, off → silent; the choice is remembered. The context runs only while it beeps.
  Desk.prototype.initSound = function () {
    var self = this, btn = document.getElementById("console-sound");
    var Ctx = window.AudioContext || window.webkitAudioContext;
    var want = false;
    try { want = window.localStorage.getItem(SOUND_KEY) === "on"; } catch { want = false; }
    var show = function () {
      if (!btn) { return; }
      btn.textContent = self.tx(self.soundOn ? "console.sound.on" : "console.sound.off");
      btn.setAttribute("aria-pressed", self.soundOn ? "true" : "false");
      btn.className = "console-sound" + (self.soundOn ? " on" : "");
    };
    var start = function () {
      if (!Ctx) { return Promise.resolve(); }
      try { self.audio = self.audio || new Ctx(); } catch { return Promise.resolve(); }
      return self.audio.resume().then(function () {
        self.soundOn = self.audio.state === "running";
        if (self.soundOn && !self.beeping) { self.audio.suspend(); }
        show();
      }, show);
    };
    this.beeping = 0;
    if (want) { start(); }  // allowed only if this page had a gesture before; else the switch stays off
    show();
    if (btn) {
      btn.addEventListener("click", function () {
        if (self.soundOn) {
          self.soundOn = false;
          try { window.localStorage.setItem(SOUND_KEY, "off"); } catch { /* private mode */ }
          show();
          return;
        }
        try { window.localStorage.setItem(SOUND_KEY, "on"); } catch { /* private mode */ }
        start().then(function () { self.soundOn = true; show(); });
      });
    }
  };

  Desk.prototype.beep = function () {  // two tones: a new urgent item (the wall's alert sound has three)
    if (!this.soundOn) { return; }
    this.beeps++;
    GCDom.beep(this, 2);
  };

  Desk.prototype.renderQueues = function () {
    var self = this;
    // new urgent items first (while they flash, the newest on top), then priority / severity, then the longest waiting
    var alerts = Array.from(this.alerts.values()).sort(function (a, b) {
      return (self.freshAt("alert", b.id) - self.freshAt("alert", a.id)) ||
        (SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]) || (ms(a.created_at) - ms(b.created_at));
    });
    var byPriority = function (a, b) {
      return (self.freshAt("case", b.id) - self.freshAt("case", a.id)) || (a.priority - b.priority) ||
        (ms(a.created_at) - ms(b.created_at));
    };
    var all = Array.from(this.cases.values());
    var triage = all.filter(function (c) { return TRIAGE[c.state] || self.isOverdue(c); }).sort(byPriority);
    var tracking = all.filter(function (c) { return TRACKING[c.state] && !self.isOverdue(c); }).sort(byPriority);
    this.fill("console-alerts", alerts, function (a) { return self.alertItem(a); });
    this.fill("console-cases", triage, function (c) { return self.caseItem(c); });
    this.fill("console-tracking", tracking, function (c) { return self.caseItem(c); });
  };

  Desk.prototype.fill = function (id, rows, make) {
    var box = document.getElementById(id), count = document.getElementById(id + "-count");
    if (!box) { return; }
    if (count) { count.textContent = String(rows.length); }
    box.replaceChildren.apply(box, rows.length ? rows.slice(0, MAX_ITEMS).map(make)
      : [h("p", { cls: "console-empty", text: this.tx("console.queue.empty") })]);
  };

  Desk.prototype.isSelected = function (kind, id) {
    return this.selected && this.selected.kind === kind && this.selected.id === id;
  };

  // a rule's alert carries its title and detail in every language (texts): the desk shows its own
  Desk.prototype.alertText = function (a, field) {
    var own = a.texts && a.texts[this.cfg.lang];
    return (own ? own[field] : a[field]) || "";
  };

  Desk.prototype.alertItem = function (a) {
    var self = this;
    return h("button", {
      cls: "console-item console-alert sev-" + a.severity + (this.isSelected("alert", a.id) ? " selected" : "") +
        (this.isFresh("alert", a.id) ? " console-flash" : ""),
      "data-kind": "alert", "data-id": a.id, onclick: function () { self.selectAlert(a.id); }
    }, [
      h("span", { cls: "console-badge sev-" + a.severity, text: this.lbl("alert.kind.", a.kind, "alert.kind.other") }),
      h("span", { cls: "console-item-title", text: this.alertText(a, "title") + (a.count > 1 ? " ×" + a.count : "") }),
      h("span", { cls: "console-item-meta", text: this.age(a.created_at) + (a.state === "acknowledged" ? " · ✓" : "") })
    ]);
  };

  Desk.prototype.caseItem = function (c) {
    var self = this, overdue = this.isOverdue(c);
    return h("button", {
      cls: "console-item console-case p" + c.priority + (overdue ? " overdue" : "") + (this.isSelected("case", c.id) ? " selected" : "") +
        (this.isFresh("case", c.id) ? " console-flash" : ""),
      "data-kind": "case", "data-id": c.id, "data-priority": c.priority, onclick: function () { self.selectCase(c.id); }
    }, [
      h("span", { cls: "console-badge state-" + c.state, text: this.tx("case.state." + c.state) }),
      c.priority <= 2 ? h("span", { cls: "console-badge prio-" + c.priority, text: this.lbl("priority.", c.priority, "priority.other") }) : null,
      overdue ? h("span", { cls: "console-badge overdue", text: this.tx("console.overdue") }) : null,
      c.outside ? h("span", { cls: "console-badge outside", "data-flag": "outside", text: this.outsideText(c) }) : null,
      c.category_unconfirmed ? h("span", { cls: "console-badge unconfirmed", text: this.tx("console.category.unconfirmed") }) : null,
      h("span", { cls: "console-item-title", text: GCDom.name(c.category || c.category_code) + " · " +
                  (GCDom.name(c.grid_name) || (c.outside ? this.tx("console.outside") : "—")) }),
      h("span", { cls: "console-item-meta", text: c.code + " · " + this.age(c.created_at) })
    ]);
  };

  // -- API ---------------------------------------------------------------------------------
  Desk.prototype.api = function (method, url, body) {
    var self = this;
    var init = { method: method, credentials: "same-origin", cache: "no-store",
                 headers: { "Accept": "application/json", "X-Requested-With": "GCConsole" } };
    if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    return fetch(url, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var msg = GCDom.errorText(data, r.status);  // in the page's language (code + field)
          self.message(msg, "error");
          throw new Error(msg);
        }
        return data;
      });
    });
  };

  Desk.prototype.message = function (text, kind) {
    var el = document.getElementById("console-message");
    if (!el) { return; }
    el.textContent = text;
    el.className = "console-message " + (kind || "ok");
  };

  Desk.prototype.focus = function (point, label, workers) {
    if (!window.dash_clientside || !window.dash_clientside.set_props) { return; }
    var data = { case: point ? [point[0], point[1], label] : null, center: point ? { lat: point[0], lon: point[1] } : null,
                 workers: (workers || []).filter(function (w) { return w.lat !== undefined && w.lat !== null; })
                   .map(function (w) { return [w.lat, w.lon, w.code]; }) };
    window.dash_clientside.set_props("console-focus", { data: data });
  };

  // -- case detail -------------------------------------------------------------------------
  Desk.prototype.outsideText = function (c) {
    return c.outside_m !== null && c.outside_m !== undefined
      ? this.tx("console.outside.far", { km: (c.outside_m / 1000).toFixed(c.outside_m < 10000 ? 1 : 0) })
      : this.tx("console.outside");
  };

  Desk.prototype.selectCase = function (id, quiet) {
    var self = this, load = ++this.loads;  // only the newest load draws: an older one may answer last, with a stale state
    this.selected = { kind: "case", id: id };
    this.fresh.delete("case:" + id);
    if (!quiet) { this.message("", "ok"); this.renderQueues(); }
    var known = this.cases.get(id);
    return Promise.all([
      this.api("GET", "/api/v1/cases/" + id + "/view"),
      this.api("GET", "/api/v1/cases/" + id + "/recommendations"),
      this.api("GET", "/api/v1/cases/" + id + "/duplicates"),
      this.api("GET", "/api/v1/departments" + (known ? "?category=" + encodeURIComponent(known.category_code) : ""))
        .catch(function () { return { items: [] }; })
    ]).then(function (res) {
      if (!self.isSelected("case", id) || load !== self.loads) { return; }
      self.view = res[0];
      self.workers = res[1].workers;
      self.departments = res[3].items || [];
      self.renderCase(res[0], res[2].duplicates);
      self.renderWorkers();
      self.focus(res[0].lat !== null ? [res[0].lat, res[0].lon] : null, res[0].code, self.workers);
    }).catch(function (e) { console.warn("console: case load failed", e); });
  };

  Desk.prototype.field = function (key, value, cls) {
    return h("div", { cls: "console-field" + (cls ? " " + cls : "") }, [
      h("span", { cls: "console-label", text: this.tx(key) }), h("span", { cls: "console-value", text: value || "—" })]);
  };

  Desk.prototype.renderCase = function (v, dups) {
    var overdue = this.isOverdue(v) && (TRIAGE[v.state] || TRACKING[v.state]);
    var box = document.getElementById("console-detail");
    var head = h("div", { cls: "console-detail-head" }, [
      h("h2", { text: (v.major ? GCDom.name(v.major) + " / " : "") + GCDom.name(v.category || v.category_code) }),
      h("span", { cls: "console-badge state-" + v.state, id: "console-case-state", "data-state": v.state,
                  text: this.tx("case.state." + v.state) }),
      overdue ? h("span", { cls: "console-badge overdue", text: this.tx("console.overdue") }) : null
    ]);
    var fields = h("div", { cls: "console-fields" }, [
      this.field("console.field.code", v.code),
      this.field("console.field.priority", this.tx("priority." + v.priority)),
      this.field("console.field.level", this.tx("console.level." + v.level)),
      this.field("console.field.grid", (v.grid_code || "") + " " + (v.grid_name || "")),
      this.field("console.field.reporter", v.reporter),
      this.field("console.field.source", this.lbl("case.source.", v.source, "case.source.other")),
      this.field("console.field.created", hhmm(v.created_at)),
      this.field("console.field.due", hhmm(v.sla_due_at), overdue ? "overdue" : ""),
      this.field("console.field.assigned", v.assigned_worker || v.department),
      this.field("console.field.rework", String(v.rework_count)),
      this.field("console.field.address", v.address)
    ]);
    var desc = h("p", { cls: "console-desc", text: v.description });
    var tools = gcTools(this, { worker: v.assigned_worker_id, label: v.assigned_worker, caseId: v.id, grid: v.grid_id });
    box.replaceChildren.apply(box, [head, fields, this.outsidePane(v), tools, desc, this.photoPane(v), this.triagePane(v),
                                    this.actionBar(v), this.dupList(v, dups), this.timeline(v), this.dispatchList(v)]
                                    .filter(Boolean));
  };

  // before / after photos, each group under its label (处置前 / 处置后)
  Desk.prototype.photoPane = function (v) {
    var self = this;
    var items = v.photo_items || (v.photos || []).map(function (pid) { return { id: pid, stage: "before" }; });
    if (!items.length) { return null; }
    var groups = ["before", "after"].map(function (stage) {
      var mine = items.filter(function (p) { return (p.stage === "after" ? "after" : "before") === stage; });
      if (!mine.length) { return null; }
      var label = self.tx("console.photo." + stage);
      return h("div", { cls: "console-photo-group", "data-stage": stage }, [
        h("span", { cls: "console-photo-label", text: label })].concat(mine.map(function (p) {
          return h("a", { href: "/api/v1/photos/" + p.id, target: "_blank" }, [
            h("img", { src: "/api/v1/photos/" + p.id + "/thumb", alt: label + " " + p.id, loading: "lazy" })]);
        })));
    });
    return h("div", { cls: "console-photos" }, [h("h3", { text: this.tx("console.photos") })].concat(groups.filter(Boolean)));
  };

  // a case located outside the street: how far out, and a grid to give it by hand (the nearest preselected)
  Desk.prototype.outsidePane = function (v) {
    if (!v.outside) { return null; }
    var self = this;
    var grids = (this.cfg.grids || []).slice();
    var pick = h("select", { id: "console-grid-pick" }, grids.map(function (g) {
      return h("option", { value: String(g.id), text: g.name, selected: g.id === (v.grid_id || v.nearest_grid_id) });
    }));
    var msg = v.nearest_grid_name && v.outside_m !== null && v.outside_m !== undefined
      ? this.tx("console.outside.detail", { m: String(v.outside_m), grid: v.nearest_grid_name }) : this.tx("console.outside");
    return h("section", { cls: "console-outside", id: "console-outside" }, [
      h("span", { cls: "console-badge outside", text: this.outsideText(v) }),
      h("span", { cls: "console-outside-text", text: msg }),
      h("label", { cls: "console-field" }, [h("span", { cls: "console-label", text: this.tx("console.outside.assign") }), pick]),
      h("button", { cls: "console-btn small", "data-action": "assign-grid", text: this.tx("console.outside.assign_button"),
                    onclick: function () { self.triage(v, { grid_id: parseInt(pick.value, 10) }, "console.outside.assigned"); } })
    ]);
  };

  // triage: the category, with the best guess (from the text) preselected and marked
  Desk.prototype.categorySelect = function (id, current, guess) {
    var self = this;
    return h("select", { id: id }, this.cfg.categories.map(function (c) {
      return h("option", { value: c.code, selected: c.code === (guess || current),
                           text: GCDom.name(c.name) + (c.code === guess ? " · " + self.tx("console.category.guess") : "") +
                             (c.code === current ? " · " + self.tx("console.category.current") : "") });
    }));
  };

  Desk.prototype.triagePane = function (v) {
    if (v.state === "closed" || v.state === "void") { return null; }
    var self = this;
    var sel = this.categorySelect("console-category", v.category_code, v.category_guess);
    return h("section", { cls: "console-triage" }, [
      h("label", { cls: "console-field" }, [h("span", { cls: "console-label", text: this.tx("console.category.change") }), sel]),
      h("button", { cls: "console-btn small", "data-action": "change-category", text: this.tx("console.category.apply"),
                    onclick: function () {
                      if (sel.value === v.category_code) { self.message(self.tx("console.category.same"), "error"); return; }
                      self.triage(v, { category_code: sel.value }, "console.category.changed");
                    } })
    ]);
  };

  Desk.prototype.triage = function (v, body, doneKey) {
    var self = this;
    body.note = this.noteText();
    return this.api("POST", "/api/v1/cases/" + v.id + "/triage", body).then(function (out) {
      self.message(self.tx(doneKey), "ok");
      self.cases.set(out.id, out);
      self.renderQueues();
      self.selectCase(out.id, true);
    }).catch(function () {});
  };

  Desk.prototype.actionBar = function (v) {
    var self = this;
    var note = h("textarea", { id: "console-note", rows: "2", placeholder: this.tx("console.note") });
    // departments from the maintained list; those that take this category first
    var dept = h("select", { id: "console-dept" }, [h("option", { value: "", text: this.tx("console.route.department") })]
      .concat(this.departments.map(function (d) {
        return h("option", { value: String(d.id), text: d.name + (d.contact ? "（" + d.contact + "）" : "") +
                             (d.takes === false ? " · " + self.tx("console.route.other_category") : "") });
      })));
    var buttons = v.actions.filter(function (a) { return a !== "dispatch" && a !== "redispatch"; }).map(function (a) {
      return h("button", { cls: "console-btn action-" + a, "data-action": a, text: self.tx("console.action." + a),
                           onclick: function () { self.doAction(v, a); } });
    });
    var canRoute = v.actions.indexOf("dispatch") >= 0 || v.actions.indexOf("redispatch") >= 0;
    var route = canRoute ? h("div", { cls: "console-route" }, [
      h("span", { cls: "console-label", text: this.tx("console.route.title") }), dept,
      h("button", { cls: "console-btn", "data-action": "dispatch-department", text: this.tx("console.route.to_department"),
                    onclick: function () {
                      var d = self.departments.filter(function (x) { return String(x.id) === dept.value; })[0];
                      self.dispatchCase(v, null, d || null);
                    } })
    ]) : null;
    return h("section", { cls: "console-actions" }, [h("h3", { text: this.tx("console.actions") }), note, route,
                                                      h("div", { cls: "console-buttons" }, buttons)]);
  };

  Desk.prototype.noteText = function () {
    var n = document.getElementById("console-note");
    return n ? n.value.trim() : "";
  };

  Desk.prototype.doAction = function (v, action) {
    var self = this, note = this.noteText();
    if (action === "void" && !note) { this.message(this.tx("console.msg.need_reason"), "error"); return; }
    return this.api("POST", "/api/v1/cases/" + v.id + "/actions/" + action, { note: note }).then(function (out) {
      self.message(self.tx("console.msg.done", { action: self.tx("console.action." + action) }), "ok");
      self.cases.set(out.id, out);
      self.selectCase(out.id, true);
    }).catch(function () {});
  };

  Desk.prototype.dispatchCase = function (v, worker, department) {
    var self = this;
    if (!worker && !department) { this.message(this.tx("console.msg.need_worker"), "error"); return; }
    var action = v.actions.indexOf("dispatch") >= 0 ? "dispatch" : "redispatch";
    var body = { note: this.noteText() };
    if (worker) { body.worker_id = worker.worker_id; } else { body.department_id = department.id; }
    return this.api("POST", "/api/v1/cases/" + v.id + "/actions/" + action, body).then(function (out) {
      self.message(self.tx("console.msg.dispatched", { who: worker ? worker.name + " (" + worker.code + ")" : department.name }), "ok");
      self.selectCase(out.id, true);
    }).catch(function () {});
  };

  Desk.prototype.dupList = function (v, dups) {
    var self = this;
    var rows = (dups || []).map(function (d) {
      return h("li", { cls: "console-dup", "data-id": d.id }, [
        h("span", { text: d.code + " · " + d.distance_m + " m · " + hhmm(d.created_at) + " · " + self.tx("case.state." + d.state) }),
        h("span", { cls: "console-dup-desc", text: d.description }),
        h("button", { cls: "console-btn small", text: self.tx("console.dup.merge"), onclick: function () {
          self.api("POST", "/api/v1/cases/" + d.id + "/merge", { into: v.id, note: self.noteText() }).then(function () {
            self.message(self.tx("console.msg.done", { action: self.tx("console.action.merge") }), "ok");
            self.selectCase(v.id, true);
          }).catch(function () {});
        } })
      ]);
    });
    return h("section", { cls: "console-dups" }, [h("h3", { text: this.tx("console.dup.title") }),
      rows.length ? h("ul", {}, rows) : h("p", { cls: "console-empty", text: this.tx("console.dup.none") })]);
  };

  Desk.prototype.timeline = function (v) {
    var self = this;
    var rows = (v.timeline || []).map(function (e) {
      var label = self.t["console.tl." + e.action] ? self.tx("console.tl." + e.action)
        : self.lbl("console.action.", e.action);
      return h("tr", { "data-action": e.action }, [
        h("td", { text: hhmm(e.at) }), h("td", { text: label }),
        h("td", { text: e.to ? self.lbl("case.state.", e.to) : "" }), h("td", { text: e.actor === "居民" ? self.tx("console.tl.actor.resident") : e.actor }), // the log's word for a resident
        h("td", { text: e.note })]);
    });
    return h("section", { cls: "console-timeline" }, [h("h3", { text: this.tx("console.timeline") }),
                                                      h("table", { id: "console-timeline" }, [h("tbody", {}, rows)])]);
  };

  Desk.prototype.dispatchList = function (v) {
    var self = this;
    var rows = (v.dispatches || []).map(function (d) {
      return h("li", { cls: "console-dispatch state-" + d.state, "data-state": d.state }, [
        (d.worker || d.department || "—") + " · " + self.lbl("console.dispatch.", d.state) + " · " + hhmm(d.sent_at) +
        (d.acknowledged_at ? " → " + hhmm(d.acknowledged_at) : "") + (d.arrived_at ? " → " + hhmm(d.arrived_at) : "")]);
    });
    return rows.length ? h("section", { cls: "console-dispatches" }, [h("h3", { text: this.tx("console.dispatches") }),
                                                                      h("ul", {}, rows)]) : null;
  };

  // -- alert detail ------------------------------------------------------------------------
  Desk.prototype.selectAlert = function (id, quiet) {
    var self = this, ticket = ++this.loads;
    this.selected = { kind: "alert", id: id };
    this.fresh.delete("alert:" + id);
    if (!quiet) { this.message("", "ok"); this.renderQueues(); }
    var a = this.alerts.get(id);
    var load = a ? Promise.resolve(a) : this.api("GET", "/api/v1/alerts?state=all&channel=all&limit=2000").then(function (r) {
      return r.items.filter(function (x) { return x.id === id; })[0];
    });
    // the best-guess category for the case an alert turns into: from its kind, else its text
    var guessed = load.then(function (x) {
      if (!x || x.case_id) { return x; }
      var text = self.alertText(x, "title") + " " + self.alertText(x, "description");
      return self.api("GET", "/api/v1/categories/guess?kind=" + encodeURIComponent(x.kind || "") + "&text=" +
                      encodeURIComponent(text.slice(0, 1000))).then(function (g) {
        return Object.assign({}, x, { category_guess: g.code });
      }, function () { return x; });
    });
    return Promise.all([guessed, this.api("GET", "/api/v1/alerts/" + id + "/recommendations")]).then(function (res) {
      if (!self.isSelected("alert", id) || ticket !== self.loads || !res[0]) { return; }
      // the event may be newer than the list entry; fetch the alert itself when it changed
      self.view = res[0];
      self.workers = res[1].workers;
      self.renderAlert(res[0]);
      self.renderWorkers();
      self.focus(res[0].lat !== null ? [res[0].lat, res[0].lon] : null, self.alertText(res[0], "title"), self.workers);
    }).catch(function (e) { console.warn("console: alert load failed", e); });
  };

  Desk.prototype.renderAlert = function (a) {
    var self = this;
    var box = document.getElementById("console-detail");
    var comment = h("textarea", { id: "console-alert-comment", rows: "2", placeholder: this.tx("console.alert.comment") });
    var lifecycle = function (what) {
      return function () {
        self.api("POST", "/api/v1/alerts/" + a.id + "/" + what, { comment: comment.value.trim() }).then(function (out) {
          self.message(self.tx("console.msg.done", { action: self.tx("console.alert." + (what === "acknowledge" ? "ack" : "resolve")) }), "ok");
          if (out.state === "resolved") { self.alerts.delete(out.id); } else { self.alerts.set(out.id, out); }
          self.renderQueues();
          self.renderAlert(Object.assign({ category_guess: a.category_guess }, out));
        }).catch(function () {});
      };
    };
    var buttons = [];
    if (a.state === "new") { buttons.push(h("button", { cls: "console-btn", "data-action": "alert-ack", text: this.tx("console.alert.ack"), onclick: lifecycle("acknowledge") })); }
    if (a.state !== "resolved") { buttons.push(h("button", { cls: "console-btn", "data-action": "alert-resolve", text: this.tx("console.alert.resolve"), onclick: lifecycle("resolve") })); }
    var cat = null;
    if (!a.case_id) {
      // no default to the catalogue's first entry: the best guess from the alert's kind and text, else a blank to pick
      var pick = this.categorySelect("console-alert-category", null, a.category_guess || null);
      if (!a.category_guess) {
        pick.insertBefore(h("option", { value: "", text: this.tx("console.category.pick"), selected: true }), pick.firstChild);
      }
      cat = h("label", { cls: "console-field" }, [h("span", { cls: "console-label", text: this.tx("console.alert.category") }), pick]);
    }
    box.replaceChildren(
      h("div", { cls: "console-detail-head" }, [
        h("h2", { text: this.alertText(a, "title") }),
        h("span", { cls: "console-badge sev-" + a.severity, text: this.tx("console.severity." + a.severity) }),
        h("span", { cls: "console-badge", id: "console-alert-state", "data-state": a.state, text: this.tx("alert.state." + a.state) })
      ]),
      h("div", { cls: "console-fields" }, [
        this.field("console.field.source", this.lbl("alert.source.", a.source, "alert.source.other") + " / " +
          this.lbl("alert.kind.", a.kind, "alert.kind.other")),
        this.field("console.field.time", hhmm(a.created_at)),
        this.field("console.alert.expires", hhmm(a.expires_at)),
        this.field("console.alert.grids", String((a.grid_ids || []).length)),
        this.field("console.alert.acked_by", a.acknowledged_by ? a.acknowledged_by + "：" + (a.ack_comment || "") : ""),
        a.worker_name ? this.field("console.field.assigned", a.worker_name) : null
      ].filter(Boolean)),
      gcTools(this, { worker: a.worker_id, label: a.worker_name, alertId: a.id, caseId: a.case_id, grid: a.grid_id }) || h("span"),
      h("p", { cls: "console-desc", text: this.alertText(a, "description") }),
      h("section", { cls: "console-actions" }, [comment, cat, h("div", { cls: "console-buttons" }, buttons)].filter(Boolean)),
      a.case_id ? h("button", { cls: "console-btn", "data-action": "open-case", text: this.tx("console.alert.open_case"),
                                onclick: function () { self.selectCase(a.case_id); } }) : h("span")
    );
  };

  // -- nearest workers ---------------------------------------------------------------------
  Desk.prototype.renderWorkers = function () {
    var self = this, side = document.getElementById("console-side");
    if (!side) { return; }
    var v = this.view;
    var canDispatch = this.selected && (this.selected.kind === "alert" ? v && v.state !== "resolved"
      : v && (v.actions || []).some(function (a) { return a === "dispatch" || a === "redispatch"; }));
    var rows = this.workers.map(function (w) {
      return h("li", { cls: "console-worker duty-" + w.state, "data-worker": w.worker_id }, [
        h("div", { cls: "console-worker-name", text: w.name + " · " + w.code }),
        h("div", { cls: "console-worker-meta", text: Math.round(w.distance_m) + " m · " + self.tx("duty." + w.state) + " · " +
          self.tx("console.workers.load") + " " + w.load + (w.from_fix ? "" : " · " + self.tx("console.workers.estimated")) }),
        canDispatch ? h("button", { cls: "console-btn small", "data-action": "dispatch-worker", text: self.tx("console.workers.dispatch"),
                                    onclick: function () { self.dispatchTo(w); } }) : null,
        gcTools(self, { worker: w.worker_id, label: w.name, caseId: self.selected && self.selected.kind === "case" ? self.selected.id : null,
                        alertId: self.selected && self.selected.kind === "alert" ? self.selected.id : null })
      ]);
    });
    side.replaceChildren(h("h2", { text: this.tx("console.workers.title") }),
      rows.length ? h("ul", { cls: "console-workers" }, rows) : h("p", { cls: "console-empty", text: this.tx("console.workers.none") }));
  };

  Desk.prototype.dispatchTo = function (w) {
    var self = this, sel = this.selected;
    if (!sel) { return; }
    if (sel.kind === "case") { return this.dispatchCase(this.view, w, null); }
    var cat = document.getElementById("console-alert-category");
    var body = { worker_id: w.worker_id, note: (document.getElementById("console-alert-comment") || {}).value || "" };
    if (cat) {
      if (!cat.value) { this.message(this.tx("console.category.need"), "error"); return; }
      body.category_code = cat.value;
    }
    return this.api("POST", "/api/v1/alerts/" + sel.id + "/dispatch", body).then(function (out) {
      self.alerts.set(out.alert.id, out.alert);
      self.cases.set(out.case.id, out.case);
      self.message(self.tx("console.msg.dispatched", { who: w.name + " (" + w.code + ")" }), "ok");
      self.selectCase(out.case.id);
    }).catch(function () {});
  };

  // -- the small map: markers follow the focus; Plotly calls go one at a time ------------------
  var mapChain = Promise.resolve();
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.console = {
    focus: function (focus) {
      var gd = document.querySelector("#console-map .js-plotly-plot");
      if (!gd || !window.Plotly || !focus) { return window.dash_clientside.no_update; }
      // stored WGS-84 → the map's datum (GCJ-02 under GCJ-02 tiles: the figure says which)
      var ws = (focus.workers || []).map(function (w) { var p = GCGeo.mapPoint(gd, w[0], w[1]); return [p[0], p[1], w[2]]; });
      var c = focus.case && GCGeo.mapPoint(gd, focus.case[0], focus.case[1]);
      if (c) { c.push(focus.case[2]); }
      var center = focus.center && GCGeo.mapPoint(gd, focus.center.lat, focus.center.lon);
      mapChain = mapChain.then(function () {
        return Plotly.restyle(gd, {
          lat: [ws.map(function (w) { return w[0]; }), c ? [c[0]] : []],
          lon: [ws.map(function (w) { return w[1]; }), c ? [c[1]] : []],
          text: [ws.map(function (w) { return w[2]; }), c ? [c[2]] : []]
        }, [1, 2]);
      }).then(function () {
        if (center) { return Plotly.relayout(gd, { "map.center": { lat: center[0], lon: center[1] }, "map.zoom": 15.5 }); }
      }).catch(function (e) { console.warn("console map update failed", e); });
      return Date.now();
    }
  };

  // -- boot: Dash renders pages after load, so wait for the root to appear -------------------
  var tries = 0;
  var timer = setInterval(function () {
    var root = document.getElementById("console-root");
    if (root && window.GCLive) {
      clearInterval(timer);
      var desk = new Desk(root);
      window.GCConsole = desk;
      desk.start();
    } else if (++tries > 600) { clearInterval(timer); }
  }, 100);
})();
