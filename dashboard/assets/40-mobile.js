/* /m — the grid worker's phone page (长安格).
 *
 * Does nothing unless #m-root is on the page. Sign-in (demo worker or password), my grid,
 * my tasks (live through GCLive "case" events), reporting in under 30 s, patrol with
 * batched positions. Every report is first written to IndexedDB with its idempotency key,
 * then sent (photos → tokens → POST /api/v1/cases); on a network failure it waits and is
 * retried with the same key, so a retry never makes a duplicate.
 */
(function () {
  "use strict";
  var S = null;
  var DB_NAME = "gc-mobile", STORE = "reports", FIX_KEY = "gc-m-fixes";

  function $(id) { return document.getElementById(id); }
  function tx(key, fmt) {
    var s = (S && S.texts[key]) || key;
    Object.keys(fmt || {}).forEach(function (k) { s = s.split("{" + k + "}").join(fmt[k]); });
    return s;
  }
  var el = window.GCDom.el; // 08-gc-dom.js
  function toast(msg, kind) {
    var t = $("m-toast");
    if (!t) { return; }
    t.textContent = msg; t.className = "m-toast show " + (kind || "");
    clearTimeout(S && S.toastTimer);
    if (S) { S.toastTimer = setTimeout(function () { t.className = "m-toast"; }, 5000); }
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return "m-" + Date.now().toString(16) + "-" + Math.random().toString(16).slice(2);
  }

  /* ---- HTTP: a network failure rejects with .network = true; an HTTP error with .status ---- */
  function call(method, url, body, headers) {
    var opts = { method: method, credentials: "same-origin", cache: "no-store", headers: headers || {} };
    if (body instanceof FormData) { opts.body = body; }
    else if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(url, opts).catch(function () {
      var err = new Error(GCDom.errorText({ code: "network" })); err.network = true; throw err;
    }).then(function (r) {
      return r.text().then(function (text) {
        var j = null;
        try { j = text ? JSON.parse(text) : null; } catch { j = null; }
        if (!r.ok) {
          var err = new Error(GCDom.errorText(j, r.status));  // in the page's language (code + field)
          err.status = r.status; throw err;
        }
        return j;
      });
    });
  }
  function retryable(e) { return e.network || e.status >= 500 || e.status === 408 || e.status === 429; }

  /* ---- IndexedDB queue of unsent reports ---- */
  function idb() {
    if (S.dbp) { return S.dbp; }
    S.dbp = new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "key" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
    return S.dbp;
  }
  function store(mode, fn) {
    return idb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode), st = t.objectStore(STORE), out = fn(st);
        t.oncomplete = function () { resolve(out && out.result !== undefined ? out.result : out); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function queueAll() { return store("readonly", function (st) { return st.getAll(); }); }
  function queuePut(item) { return store("readwrite", function (st) { st.put(item); }); }
  function queueDel(key) { return store("readwrite", function (st) { st["delete"](key); }); }

  function updateNet() {
    var n = $("m-net");
    if (!n || !S) { return; }
    queueAll().then(function (items) {
      S.queued = items.length;
      n.textContent = (navigator.onLine ? tx("m.online") : tx("m.offline")) +
        (items.length ? " · " + tx("m.queued", { n: items.length }) : "");
      n.className = "m-net " + (navigator.onLine ? "on" : "off") + (items.length ? " queued" : "");
    });
  }

  function uploadAll(blobs) {
    var tokens = [];
    return blobs.reduce(function (p, b) {
      return p.then(function () {
        var fd = new FormData();
        fd.append("photo", b, "photo.jpg");
        return call("POST", "/api/v1/photos", fd).then(function (r) { tokens.push(r.token); });
      });
    }, Promise.resolve()).then(function () { return tokens; });
  }

  function sendOne(item) {
    var ready = item.tokens ? Promise.resolve() : uploadAll(item.photos).then(function (tk) {
      return uploadAll(item.after).then(function (ta) {
        item.tokens = tk; item.afterTokens = ta; item.photos = []; item.after = [];
        return queuePut(item); // uploaded once: a retry reuses the tokens
      });
    });
    return ready.then(function () {
      var body = Object.assign({}, item.body, { photos: item.tokens, after_photos: item.afterTokens });
      return call("POST", "/api/v1/cases", body, { "Idempotency-Key": item.key });
    });
  }

  function flush() {
    if (!S || S.flushing || !S.me) { return Promise.resolve(); }
    S.flushing = true;
    return queueAll().then(function (items) {
      items.sort(function (a, b) { return a.created - b.created; });
      return items.reduce(function (p, item) {
        return p.then(function (stop) {
          if (stop) { return true; }
          return sendOne(item).then(function (c) {
            S.sent.push(c.code);
            toast(tx(c.handled_onsite ? "m.report.sent_onsite" : "m.report.sent_escalated", { code: c.code }), "ok");
            return queueDel(item.key).then(function () { return false; });
          }, function (e) {
            if (retryable(e) || e.status === 401) { return true; } // keep it; try again later
            toast(tx("m.report.rejected", { msg: e.message }), "bad");
            return queueDel(item.key).then(function () { return false; });
          });
        });
      }, Promise.resolve(false));
    }).then(function () { S.flushing = false; updateNet(); }, function (e) {
      S.flushing = false; console.warn("flush failed", e); updateNet();
    });
  }

  /* ---- photos: shrink on the phone before storing (a flaky network sends less) ---- */
  function shrink(file) {
    if (!window.createImageBitmap) { return Promise.resolve(file); }
    return createImageBitmap(file).then(function (bmp) {
      var k = Math.min(1, 1600 / Math.max(bmp.width, bmp.height));
      var c = document.createElement("canvas");
      c.width = Math.round(bmp.width * k); c.height = Math.round(bmp.height * k);
      c.getContext("2d").drawImage(bmp, 0, 0, c.width, c.height);
      return new Promise(function (resolve) {
        c.toBlob(function (b) { resolve(b || file); }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }
  function makeFileInput(slotId, list, previewId) {
    var slot = $(slotId);
    if (!slot || slot.firstChild) { return; }
    var input = el("input", { type: "file", accept: "image/*", capture: "environment", id: slot.getAttribute("data-input") });
    input.addEventListener("change", function () {
      Array.prototype.forEach.call(input.files || [], function (f) {
        shrink(f).then(function (b) {
          list.push(b);
          var prev = $(previewId);
          if (prev) { prev.appendChild(el("img", { src: URL.createObjectURL(b), cls: "m-thumb" })); }
        });
      });
      input.value = "";
    });
    slot.appendChild(input);
  }

  /* ---- location: GPS first, the worker drags the map under the cross-hair to correct ---- */
  function mapDiv() { var m = $("m-map"); return m && (m.querySelector(".js-plotly-plot") || null); }
  function showLoc() {
    var t = $("m-loc-text");
    if (!t) { return; }
    t.textContent = S.loc ? S.loc.lat.toFixed(6) + ", " + S.loc.lon.toFixed(6) +
      (S.loc.acc ? " ±" + Math.round(S.loc.acc) + " m" : "") : tx("m.report.no_location");
  }
  // lat, lon in WGS-84; the map may be drawn in GCJ-02 (GCGeo: the figure says which)
  function centerMap(lat, lon) {
    var gd = mapDiv();
    if (gd && window.Plotly) {
      var p = GCGeo.mapPoint(gd, lat, lon);
      S.ownCenters.push(p); // the relayoutData this causes is ours, not the worker's drag
      S.ownCenters = S.ownCenters.slice(-5);
      Plotly.relayout(gd, { "map.center": { lat: p[0], lon: p[1] } });
    }
  }
  function locate() {
    if (!navigator.geolocation) { S.loc = S.loc || null; showLoc(); return; }
    $("m-loc-text").textContent = tx("m.report.locating");
    navigator.geolocation.getCurrentPosition(function (pos) {
      S.loc = { lat: pos.coords.latitude, lon: pos.coords.longitude, acc: pos.coords.accuracy, src: "gps" };
      showLoc(); centerMap(S.loc.lat, S.loc.lon);
      var gd = mapDiv();
      if (gd && window.Plotly) {
        var p = GCGeo.mapPoint(gd, S.loc.lat, S.loc.lon);
        Plotly.restyle(gd, { lat: [[p[0]]], lon: [[p[1]]] }, [2]);
      }
    }, function () { showLoc(); }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 30000 });
  }
  function mapMoved(r) {
    if (!S || !r || !r["map.center"]) { return; }
    var c = r["map.center"];
    var ours = S.ownCenters.some(function (o) { return Math.abs(o[0] - c.lat) < 1e-7 && Math.abs(o[1] - c.lon) < 1e-7; });
    if (ours) { return; }
    var w = GCGeo.wgsPoint(mapDiv(), c.lat, c.lon);  // the cross-hair in the map's datum, stored as WGS-84
    S.loc = { lat: w[0], lon: w[1], acc: null, src: "map" };
    showLoc();
  }

  /* ---- reporting ---- */
  function fillCategories() {
    var major = $("m-major"), minor = $("m-minor");
    if (!major || major.options.length) { return; }
    major.appendChild(el("option", { value: "", text: tx("m.report.pick") }));
    S.cats.forEach(function (m) { major.appendChild(el("option", { value: m.code, text: m.name })); });
    var fillMinor = function () {
      minor.innerHTML = "";
      minor.appendChild(el("option", { value: "", text: tx("m.report.pick") }));
      var m = S.cats.filter(function (x) { return x.code === major.value; })[0];
      (m ? m.children : []).forEach(function (c) { minor.appendChild(el("option", { value: c.code, text: c.name })); });
    };
    major.addEventListener("change", fillMinor);
    fillMinor();
  }
  function resetReport() {
    S.photos = []; S.after = [];
    ["m-photo-preview", "m-after-preview"].forEach(function (id) { if ($(id)) { $(id).innerHTML = ""; } });
    $("m-desc").value = "";
    ["m-photo-slot", "m-after-slot"].forEach(function (id) { if ($(id)) { $(id).innerHTML = ""; } });
    makeFileInput("m-photo-slot", S.photos, "m-photo-preview");
    makeFileInput("m-after-slot", S.after, "m-after-preview");
  }
  function submit(onsite) {
    var code = $("m-minor").value;
    if (!code) { toast(tx("m.report.need_category"), "bad"); return; }
    if (!S.loc) { toast(tx("m.report.need_location"), "bad"); return; }
    if (onsite && !S.after.length) { toast(tx("m.report.need_after"), "bad"); return; }
    var item = { key: uuid(), created: Date.now(), photos: S.photos.slice(), after: onsite ? S.after.slice() : [],
                 tokens: null, afterTokens: null,
                 body: { category_code: code, description: $("m-desc").value || "", lat: S.loc.lat, lon: S.loc.lon,
                         onsite: !!onsite } };
    queuePut(item).then(function () {
      resetReport(); updateNet();
      if (!navigator.onLine) { toast(tx("m.report.queued"), "warn"); return; }
      return flush().then(function () {
        return queueAll().then(function (items) {
          if (items.some(function (i) { return i.key === item.key; })) { toast(tx("m.report.queued"), "warn"); }
        });
      });
    }).catch(function (e) { toast(tx("m.error", { msg: e.message }), "bad"); });
  }

  /* ---- tasks ---- */
  function renderTasks(items) {
    var ul = $("m-tasks");
    if (!ul) { return; }
    ul.innerHTML = "";
    if (!items.length) { ul.appendChild(el("li", { cls: "m-empty", text: tx("m.tasks.none") })); }
    var open = S.finishOpen || {};
    S.finishOpen = {};
    items.forEach(function (c) {
      var st = (c.dispatch && c.dispatch.state) || "sent";
      var kept = open[c.id];
      if (kept && kept.getAttribute("data-state") === st) { // a feedback form being filled in survives live updates
        S.finishOpen[c.id] = kept; ul.appendChild(kept); return;
      }
      var li = el("li", { cls: "m-task", "data-case-id": String(c.id), "data-state": st }, [
        el("div", { cls: "m-task-head" }, [el("b", { text: c.code }), el("span", { cls: "m-badge " + st, text: tx("m.task.state." + st) })]),
        el("div", { cls: "m-task-cat", text: (c.major || "") + " / " + (c.category || "") }),
        el("div", { cls: "m-task-desc", text: c.description || "" }),
        el("div", { cls: "m-task-meta", text: (c.grid_name || "") + (c.sla_due_at ? " · " + tx("m.task.due", { t: c.sla_due_at.slice(5, 16).replace("T", " ") }) : "") })
      ]);
      var act = el("div", { cls: "m-task-actions" });
      var button = function (key, cls, fn) {
        var b = el("button", { cls: "m-btn " + cls, text: tx(key), "data-action": key.split(".").pop() });
        b.addEventListener("click", function (ev) { ev.preventDefault(); fn(b); });
        act.appendChild(b);
      };
      if (st === "sent") { button("m.task.acknowledge", "m-primary", function () { taskAction(c.id, "acknowledge"); }); }
      if (st === "acknowledged") { button("m.task.arrive", "m-primary", function () { taskAction(c.id, "arrive"); }); }
      if (st === "acknowledged" || st === "arrived") {
        button("m.task.finish", "m-ok", function () { finishForm(li, c); });
      }
      li.appendChild(act);
      ul.appendChild(li);
    });
  }
  function loadTasks() {
    return call("GET", "/api/v1/me/tasks").then(function (r) {
      S.taskIds = {};
      r.items.forEach(function (c) { S.taskIds[c.id] = true; });
      renderTasks(r.items);
    }).catch(function (e) { if (!e.network) { toast(tx("m.error", { msg: e.message }), "bad"); } });
  }
  function taskAction(id, action, body) {
    return call("POST", "/api/v1/me/tasks/" + id + "/" + action, body || {}).then(loadTasks)
      .catch(function (e) { toast(tx("m.error", { msg: e.message }), "bad"); throw e; });
  }
  function finishForm(li, c) {
    if (li.querySelector(".m-finish")) { return; }
    S.finishOpen = S.finishOpen || {};
    S.finishOpen[c.id] = li;
    var photos = [];
    var note = el("textarea", { cls: "m-input", rows: "2", placeholder: tx("m.task.note") });
    var slot = el("div", { id: "m-finish-slot-" + c.id, "data-input": "m-finish-photo-" + c.id, cls: "m-file" });
    var prev = el("div", { id: "m-finish-prev-" + c.id, cls: "m-thumbs" });
    var send = el("button", { cls: "m-btn m-ok", text: tx("m.task.send"), "data-action": "send" });
    var form = el("div", { cls: "m-finish" }, [note, el("label", { cls: "m-label", text: tx("m.task.photo") }), slot, prev, send]);
    li.appendChild(form);
    makeFileInput(slot.id, photos, prev.id);
    send.addEventListener("click", function (ev) {
      ev.preventDefault();
      send.disabled = true;
      uploadAll(photos).then(function (tokens) {
        return taskAction(c.id, "finish", { note: note.value || "", photos: tokens });
      }).then(function () { toast(tx("m.task.done"), "ok"); }, function (e) {
        send.disabled = false;
        if (e.network) { toast(tx("m.error", { msg: tx("m.offline") }), "bad"); }
      });
    });
  }
  function onEvents(events) {
    if (!S || !S.me) { return; }
    var reload = false;
    events.forEach(function (e) {
      var c = e.type === "case" && e.payload && e.payload.case;
      if (!c) { return; }
      var mine = c.assigned_worker_id === S.me.id;
      if (mine && !S.taskIds[c.id] && (c.state === "dispatched")) {
        toast(tx("m.tasks.new", { code: c.code }), "warn");
        if (navigator.vibrate) { navigator.vibrate([200, 100, 200]); }
      }
      if (mine || S.taskIds[c.id]) { reload = true; }
    });
    if (reload) { clearTimeout(S.taskTimer); S.taskTimer = setTimeout(loadTasks, 150); }
  }

  /* ---- patrol: watchPosition → batched POST /api/v1/positions ---- */
  function fixBuffer() { try { return JSON.parse(localStorage.getItem(FIX_KEY) || "[]"); } catch { return []; } }
  function saveFixes(list) { localStorage.setItem(FIX_KEY, JSON.stringify(list.slice(-2000))); }
  function sendFixes() {
    var buf = fixBuffer();
    if (!buf.length || S.sendingFixes) { return Promise.resolve(); }
    S.sendingFixes = true;
    return call("POST", "/api/v1/positions", { fixes: buf }).then(function (r) {
      saveFixes(fixBuffer().slice(buf.length));
      S.fixesSent += r.accepted + r.duplicates;
      showPatrol();
    }, function (e) {
      if (!retryable(e)) { saveFixes(fixBuffer().slice(buf.length)); } // a bad batch is not retried forever
    }).then(function () { S.sendingFixes = false; });
  }
  function onFix(pos) {
    var c = pos.coords, buf = fixBuffer();
    buf.push({ t: new Date(pos.timestamp || Date.now()).toISOString(), lat: c.latitude, lon: c.longitude,
               accuracy: c.accuracy != null ? Math.max(0, c.accuracy) : null,
               speed: c.speed != null && c.speed >= 0 ? c.speed : null,
               bearing: c.heading != null && c.heading >= 0 && c.heading <= 360 ? c.heading : null });
    saveFixes(buf);
    if (buf.length >= 5) { sendFixes(); }
  }
  function watch(on) {
    if (on && S.watchId == null && navigator.geolocation) {
      S.watchId = navigator.geolocation.watchPosition(onFix, function () {}, { enableHighAccuracy: true, maximumAge: 5000 });
    }
    if (!on && S.watchId != null) { navigator.geolocation.clearWatch(S.watchId); S.watchId = null; }
  }
  function showPatrol() {
    var st = $("m-patrol-state"), b = $("m-patrol-toggle");
    if (!st || !b) { return; }
    st.textContent = S.patrolling ? tx("m.patrol.on", { n: S.fixesSent }) : tx("m.patrol.off");
    b.textContent = tx(S.patrolling ? "m.patrol.stop" : "m.patrol.start");
    b.className = "m-btn m-wide " + (S.patrolling ? "m-bad" : "m-primary");
  }
  function togglePatrol() {
    if (!S.patrolling) {
      call("POST", "/api/v1/patrols/start", {}).then(function () {
        S.patrolling = true; S.fixesSent = 0; watch(true); showPatrol();
      }).catch(function (e) { toast(tx("m.error", { msg: e.message }), "bad"); });
    } else {
      watch(false);
      sendFixes().then(function () { return call("POST", "/api/v1/patrols/stop", {}); }).then(function (r) {
        S.patrolling = false; showPatrol();
        toast(tx("m.patrol.ended", { n: (r.patrol && r.patrol.grids_covered.length) || 0 }), "ok");
      }).catch(function (e) { toast(tx("m.error", { msg: e.message }), "bad"); });
    }
  }

  /* ---- sign-in and the signed-in page ---- */
  function showMain(me) {
    S.me = me;
    $("m-signin").hidden = true; $("m-main").hidden = false;
    $("m-me").textContent = me.name + " · " + me.code;
    $("m-grid").textContent = me.grid ? tx("m.mygrid", { grid: me.grid.name, community: me.grid.community }) : tx("m.nogrid");
    var gd = mapDiv();
    if (me.grid && gd && window.Plotly) {
      var ring = GCGeo.mapRing(gd, me.grid.boundary.type === "Polygon" ? me.grid.boundary.coordinates[0]
                                                                      : me.grid.boundary.coordinates[0][0]);
      Plotly.restyle(gd, { lon: [ring.map(function (p) { return p[0]; })], lat: [ring.map(function (p) { return p[1]; })] }, [1]);
      if (!S.loc) { centerMap(me.grid.centroid[0], me.grid.centroid[1]); }
    }
    S.patrolling = me.state === "patrolling";
    if (S.patrolling) { watch(true); }
    showPatrol(); fillCategories(); resetReport(); locate(); loadTasks(); flush(); updateNet();
    if (window.GCLive) { window.GCLive.start({}); }
  }
  function loadMe() {
    return call("GET", "/api/v1/me").then(showMain);
  }
  function showSignin() {
    S.me = null;
    $("m-signin").hidden = false; $("m-main").hidden = true;
  }
  function demoSuggest() {
    var q = $("m-demo-code").value.trim(), list = $("m-demo-list");
    if (!q || !list) { return; }
    call("GET", "/api/v1/workers?page_size=20&q=" + encodeURIComponent(q)).then(function (r) {
      list.innerHTML = "";
      r.items.forEach(function (w) { list.appendChild(el("option", { value: w.code, text: w.name + " " + (w.grid_code || "") })); });
    }).catch(function () {});
  }
  function wire() {
    var on = function (id, ev, fn) { var b = $(id); if (b) { b.addEventListener(ev, function (e) { if (ev !== "input") { e.preventDefault(); } fn(e); }); } };
    on("m-demo-go", "click", function () {
      call("POST", "/auth/demo-worker", { worker: $("m-demo-code").value.trim() }).then(loadMe)
        .catch(function (e) { toast(tx("m.signin.failed", { msg: e.message }), "bad"); });
    });
    on("m-demo-code", "input", demoSuggest);
    on("m-login", "submit", function () {
      call("POST", "/auth/login", { username: $("m-username").value, password: $("m-password").value })
        .then(function (u) { if (!u.worker_id) { throw new Error("not a grid worker account"); } return loadMe(); })
        .catch(function (e) { toast(tx("m.signin.failed", { msg: e.message }), "bad"); });
    });
    on("m-signout", "click", function () {
      watch(false);
      call("POST", "/auth/logout", {}).then(showSignin, showSignin);
    });
    Array.prototype.forEach.call(S.root.querySelectorAll(".m-tab"), function (b) {
      b.addEventListener("click", function (e) {
        e.preventDefault();
        var tab = b.getAttribute("data-tab");
        Array.prototype.forEach.call(S.root.querySelectorAll(".m-tab"), function (x) { x.classList.toggle("active", x === b); });
        ["tasks", "report", "patrol"].forEach(function (n) { $("m-pane-" + n).hidden = n !== tab; });
        if (tab === "report") { var gd = mapDiv(); if (gd && window.Plotly) { Plotly.Plots.resize(gd); } }
      });
    });
    on("m-relocate", "click", locate);
    on("m-onsite", "click", function () { submit(true); });
    on("m-escalate", "click", function () { submit(false); });
    on("m-patrol-toggle", "click", togglePatrol);
  }
  function init(root) {
    S = { root: root, texts: JSON.parse(root.getAttribute("data-texts") || "{}"),
          cats: JSON.parse(root.getAttribute("data-categories") || "[]"), me: null, loc: null, photos: [], after: [],
          taskIds: {}, sent: [], ownCenters: [], queued: 0, fixesSent: 0, patrolling: false, watchId: null };
    wire();
    call("GET", "/auth/me").then(function (who) {
      if (who.signed_in && who.worker_id) { return loadMe(); }
      showSignin();
      if (!who.demo) { $("m-demo").hidden = true; }
    }).catch(showSignin);
    updateNet();
  }

  var listening = false;
  setInterval(function () {
    var root = $("m-root");
    if (root && (!S || S.root !== root)) { init(root); }
    if (!root && S) { watch(false); S = null; }
    if (window.GCLive && !listening) { listening = true; window.GCLive.on("events", onEvents); }
  }, 300);
  setInterval(function () { if (S && S.me && navigator.onLine) { flush(); if (S.patrolling) { sendFixes(); } } }, 10000);
  window.addEventListener("online", function () { if (S) { updateNet(); flush(); } });
  window.addEventListener("offline", function () { if (S) { updateNet(); } });

  window.GCMobile = {
    mapMoved: mapMoved,
    flush: flush,
    sendFixes: function () { return S ? sendFixes() : Promise.resolve(); },
    queued: function () { return queueAll().then(function (i) { return i.length; }); },
    state: function () {
      return S ? { signedIn: !!S.me, me: S.me && S.me.id, loc: S.loc, sent: S.sent.slice(), patrolling: S.patrolling,
                   fixesSent: S.fixesSent, tasks: Object.keys(S.taskIds).map(Number) } : null;
    }
  };
})();
