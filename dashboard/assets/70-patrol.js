/* Mouse patrol (鼠标巡逻): the tour runner of /patrol.
 *
 * Does nothing unless #patrol-root is on the page. Builds/generates tours through
 * /api/v1/tours, then runs one stop after another: flies the map to the grid, shows
 * that grid's cameras (MJPEG <img>, refreshed JPEG snapshots, or HLS via the locally
 * served hls.js loaded on demand), counts the dwell time down and logs the stop —
 * 巡查正常 / 发现问题 (a prefilled case at the grid) or, when the dwell runs out, an
 * automatic "normal". A new or escalated severe alert (severe or extreme; GCLive "alert" event) pauses it: a
 * minor or moderate one does not interrupt the patrol.
 */
(function () {
  "use strict";
  var S = null; // the state of the page instance currently shown

  function $(id) { return document.getElementById(id); }
  function tx(key, fmt) {
    var s = (S && S.texts[key]) || GCDom.miss(key);
    Object.keys(fmt || {}).forEach(function (k) { s = s.replace("{" + k + "}", fmt[k]); });
    return s;
  }
  var el = window.GCDom.el; // 08-gc-dom.js
  function api(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin", cache: "no-store",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      if (r.status === 204) { return null; }
      return r.json().then(function (j) {
        if (!r.ok) { throw new Error(GCDom.errorText(j, r.status)); }  // in the page's language
        return j;
      });
    });
  }
  function message(text, bad) {
    var m = $("patrol-message");
    if (m) { m.textContent = text || ""; m.className = "patrol-message" + (bad ? " bad" : ""); }
  }
  function fail(e) { message(tx("patrol.error") + e.message, true); }
  function hhmmss(iso) { return iso ? iso.slice(11, 19) : ""; }

  /* ---- tours list ---- */
  function tourSelect() {
    var box = $("patrol-tours");
    var sel = box.querySelector("select");
    if (!sel) { sel = el("select", { id: "patrol-tour-select" }); box.appendChild(sel); }
    return sel;
  }
  function loadTours(selectId) {
    return api("GET", "/api/v1/tours").then(function (res) {
      var sel = tourSelect();
      sel.innerHTML = "";
      res.tours.forEach(function (t) {
        sel.appendChild(el("option", { value: String(t.id), text: "#" + t.id + " " + t.name + " (" + t.stops.length + ")" }));
      });
      if (selectId) { sel.value = String(selectId); }
      S.tours = {};
      res.tours.forEach(function (t) { S.tours[t.id] = t; });
    });
  }
  function generate() {
    var kind = $("patrol-gen-kind").value;
    var body = { kind: kind, limit: parseInt($("patrol-gen-limit").value, 10) || 5,
                 dwell_s: parseFloat($("patrol-gen-dwell").value) || 20 };
    if (kind === "community") { body.community_id = parseInt($("patrol-gen-community").value, 10); }
    api("POST", "/api/v1/tours/generate", body).then(function (t) {
      // how many stops have no camera to look through (grids with cameras come first in "not patrolled today")
      var none = t.no_camera_stops || 0;
      message(t.name + " · " + t.stops.length + " · " + (none ? tx("patrol.gen.no_camera_stops", { n: none })
                                                                : tx("patrol.gen.all_cameras")));
      return loadTours(t.id);
    }).catch(fail);
  }
  function saveManual() {
    var opts = Array.prototype.slice.call($("patrol-manual-grids").selectedOptions || []);
    var dwell = parseFloat($("patrol-gen-dwell").value) || 20;
    var body = { name: $("patrol-manual-name").value || tx("patrol.manual"),
                 stops: opts.map(function (o) { return { grid_id: parseInt(o.value, 10), dwell_s: dwell }; }) };
    api("POST", "/api/v1/tours", body).then(function (t) { message(t.name); return loadTours(t.id); }).catch(fail);
  }
  function deleteTour() {
    var id = tourSelect().value;
    if (!id) { return; }
    api("DELETE", "/api/v1/tours/" + id).then(function () { return loadTours(); }).catch(fail);
  }

  /* ---- cameras ---- */
  function stopTiles() {
    (S.tileTimers || []).forEach(clearInterval);
    (S.hlsPlayers || []).forEach(function (h) { try { h.destroy(); } catch { /* gone */ } });
    S.tileTimers = []; S.hlsPlayers = [];
    var box = $("patrol-cameras");
    if (!box) { return; }
    box.querySelectorAll("img").forEach(function (img) {  // closes MJPEG streams
      img.onerror = null; clearTimeout(img.retry); img.src = "data:,";
    });
    box.innerHTML = "";
  }
  function loadHls() {
    if (window.Hls) { return Promise.resolve(window.Hls); }
    if (!S.hlsLoading) {
      S.hlsLoading = new Promise(function (ok, ko) {
        var s = el("script", { src: "/vendor/hls.min.js" });
        s.onload = function () { ok(window.Hls); }; s.onerror = ko;
        document.head.appendChild(s);
      });
    }
    return S.hlsLoading;
  }
  function tile(cam) {
    var p = cam.play || {}, media;
    if (p.type === "mjpeg") {
      media = el("img", { src: p.url, alt: cam.name, cls: "patrol-cam-media", "data-kind": "mjpeg" });
      // the server ends a stream after GC_CAMERA_STREAM_MAX_S (it holds a connection): open it again a little
      // before that, and a few seconds after a stream that failed, so a tile left on the screen keeps moving
      var reopen = function () { media.src = p.url + (p.url.indexOf("?") < 0 ? "?" : "&") + "_t=" + Date.now(); };
      S.tileTimers.push(setInterval(reopen, Math.max(1, S.streamMax * 0.9) * 1000));
      media.onerror = function () {
        if (!media.retry) { media.retry = setTimeout(function () { media.retry = null; reopen(); }, 5000); }
      };
    } else if (p.type === "snapshot") {
      media = el("img", { src: p.url, alt: cam.name, cls: "patrol-cam-media", "data-kind": "snapshot" });
      S.tileTimers.push(setInterval(function () {
        media.src = p.url + (p.url.indexOf("?") < 0 ? "?" : "&") + "_t=" + Date.now();
      }, (S.snapshotEvery || 3) * 1000));
    } else if (p.type === "hls") {
      media = el("video", { cls: "patrol-cam-media", muted: "", autoplay: "", playsinline: "", "data-kind": "hls" });
      media.muted = true;
      // as hls.js recommends: hls.js wherever Media Source Extensions exist, the browser's own HLS otherwise
      var mse = window.MediaSource && MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"');
      if (!mse && media.canPlayType("application/vnd.apple.mpegurl")) { media.src = p.url; }
      else {
        loadHls().then(function (Hls) {
          if (Hls && Hls.isSupported()) {
            var h = new Hls(); h.loadSource(p.url); h.attachMedia(media); S.hlsPlayers.push(h);
          } else { media.src = p.url; }
        }).catch(function () { media.src = p.url; });
      }
    } else {
      media = el("div", { cls: "patrol-cam-media none", text: "—" });
    }
    return el("figure", { cls: "patrol-cam" + (cam.online ? "" : " offline"), "data-camera": cam.code },
              [media, el("figcaption", { text: cam.code + " " + cam.name })]);
  }
  function showCameras(reg, ids) {
    stopTiles();
    var box = $("patrol-cameras");
    var cams = (reg.cameras || []).filter(function (c) { return !ids || !ids.length || ids.indexOf(c.id) >= 0; });
    if (!cams.length) { box.appendChild(el("p", { cls: "patrol-nocam", text: tx("patrol.no_cameras") })); }
    cams.forEach(function (c) { box.appendChild(tile(c)); });
    return cams;
  }

  /* ---- map ---- */
  function mapDiv() { var g = $("patrol-map"); return g && g.querySelector(".js-plotly-plot"); }
  function fly(reg, cams) {
    var gd = mapDiv();
    if (!gd || !window.Plotly) { return; }
    // stored WGS-84 → the map's datum (GCJ-02 under GCJ-02 tiles: the figure says which)
    var ring = GCGeo.mapRing(gd, (reg.grid.boundary && reg.grid.boundary.coordinates &&
                                  reg.grid.boundary.coordinates[0]) || []);
    var pts = cams.map(function (c) { return GCGeo.mapPoint(gd, c.lat, c.lon); }).filter(Boolean);
    var mid = GCGeo.mapPoint(gd, reg.grid.centroid[0], reg.grid.centroid[1]);
    window.Plotly.restyle(gd, { lat: [ring.map(function (c) { return c[1]; })],
                                lon: [ring.map(function (c) { return c[0]; })] }, [1]);
    window.Plotly.restyle(gd, { lat: [pts.map(function (p) { return p[0]; })],
                                lon: [pts.map(function (p) { return p[1]; })] }, [2]);
    window.Plotly.relayout(gd, { "map.center": { lat: mid[0], lon: mid[1] }, "map.zoom": 16 });
  }

  /* ---- the run ---- */
  function setRunning(on) {
    var root = $("patrol-root");
    if (root) { root.setAttribute("data-run", on ? (S.paused ? "paused" : "running") : "idle"); }
  }
  function logRow(entry, caseCode) {
    var box = $("patrol-log");
    var table = box.querySelector("table");
    if (!table) {
      table = el("table", {}, [el("thead", {}, [el("tr", {}, ["time", "grid", "result", "operator", "note", "case"]
        .map(function (k) { return el("th", { text: tx("patrol.log." + k) }); }))]), el("tbody")]);
      box.appendChild(table);
    }
    var tr = el("tr", { cls: "result-" + entry.result, "data-grid-id": String(entry.grid_id) }, [
      el("td", { text: hhmmss(entry.at) }), el("td", { text: entry.grid_name || String(entry.grid_id) }),
      el("td", { text: tx("patrol.result." + entry.result) + (entry.auto ? tx("patrol.log.auto") : "") }),
      el("td", { text: entry.operator }), el("td", { text: entry.note || "" }),
      el("td", { text: caseCode || (entry.case_id ? "#" + entry.case_id : "") })]);
    var body = table.querySelector("tbody");
    body.insertBefore(tr, body.firstChild);
  }
  function renderLog(entries) {
    var box = $("patrol-log");
    box.innerHTML = "";
    entries.slice().reverse().forEach(function (e) { logRow(e); });
  }
  function refreshCoverage() { var b = $("patrol-coverage-refresh"); if (b) { b.click(); } }

  function showStop(i) {
    var tour = S.run.tour;
    if (i >= tour.stops.length) { return done(); }
    var stop = tour.stops[i];
    S.run.index = i; S.run.remaining = stop.dwell_s; S.run.busy = false;
    $("patrol-stop-title").textContent = tx("patrol.stop", { i: i + 1, n: tour.stops.length }) + " · " +
      (stop.grid_name || stop.grid_id);
    $("patrol-note").value = "";
    var token = S.run.token = {};
    api("GET", "/api/v1/grids/" + stop.grid_id + "/register").then(function (reg) {
      if (S.run.token !== token) { return; }
      var cams = showCameras(reg, stop.camera_ids);
      fly(reg, cams);
      $("patrol-stop-info").innerHTML = "";
      [[tx("patrol.open_cases"), reg.cases.open_count], [tx("patrol.residents"), reg.residents.total],
       [tx("patrol.workers"), reg.workers.map(function (w) { return w.name; }).join("、") || "—"]]
        .forEach(function (kv) {
          $("patrol-stop-info").appendChild(el("div", {}, [el("b", { text: kv[0] + (S.lang === "en" ? ": " : "：") }), el("span", { text: String(kv[1]) })]));
        });
    }).catch(fail);
    tick();
  }
  function tick() {
    var cd = $("patrol-countdown");
    if (!S.run) { return; }
    if (cd) { cd.textContent = S.paused ? tx("patrol.paused") : tx("patrol.remaining", { s: Math.ceil(S.run.remaining) }); }
  }
  function onTimer() {
    if (!S || !S.run || S.paused || S.run.busy) { return; }
    S.run.remaining -= 0.25;
    tick();
    if (S.run.remaining <= 0) { mark("ok", true); }
  }
  function mark(result, auto) {
    if (!S.run || S.run.busy) { return; }
    S.run.busy = true;
    var i = S.run.index, note = $("patrol-note").value || "";
    api("POST", "/api/v1/tours/" + S.run.tour.id + "/stops/" + i, { result: result, note: note, auto: !!auto })
      .then(function (res) {
        logRow(res.stop, res.case && res.case.code);
        if (res.case) { message(tx("patrol.case_made", { code: res.case.code })); }
        refreshCoverage();
        S.run.tour.state = res.tour.state;
        if (res.tour.state === "finished") { return done(); }
        showStop(i + 1);
      })
      .catch(function (e) { S.run.busy = false; fail(e); });
  }
  function start() {
    var id = parseInt(tourSelect().value, 10);
    if (!id) { return; }
    api("GET", "/api/v1/tours/" + id).then(function (t) {
      var go = (t.state === "running" || t.state === "paused")
        ? (t.state === "paused" ? api("POST", "/api/v1/tours/" + id + "/resume") : Promise.resolve(t))
        : api("POST", "/api/v1/tours/" + id + "/start");
      return go.then(function (tour) {
        S.run = { tour: tour, index: 0 }; S.paused = false;
        renderLog(t.state === "finished" || t.state === "draft" ? [] : t.log);
        setRunning(true); hideBanner(); message("");
        showStop(tour.current || 0);
      });
    }).catch(fail);
  }
  function done() {
    stopTiles();
    $("patrol-stop-title").textContent = tx("patrol.done");
    $("patrol-countdown").textContent = "";
    $("patrol-stop-info").innerHTML = "";
    var gd = mapDiv();
    if (gd && window.Plotly) { window.Plotly.restyle(gd, { lat: [[], []], lon: [[], []] }, [1, 2]); }
    S.run = null; S.paused = false;
    setRunning(false);
    loadTours(tourSelect().value).catch(fail);
  }
  function finish() {
    if (!S.run) { return; }
    api("POST", "/api/v1/tours/" + S.run.tour.id + "/finish").then(done).catch(fail);
  }
  function pause(reason) {
    if (!S.run || S.paused) { return Promise.resolve(); }
    S.paused = true; setRunning(true); tick();
    $("patrol-pause").textContent = tx("patrol.resume");
    return api("POST", "/api/v1/tours/" + S.run.tour.id + "/pause", { reason: reason || "" }).catch(fail);
  }
  function resume() {
    if (!S.run || !S.paused) { return; }
    api("POST", "/api/v1/tours/" + S.run.tour.id + "/resume").then(function () {
      S.paused = false; setRunning(true); hideBanner(); tick();
      $("patrol-pause").textContent = tx("patrol.pause");
    }).catch(fail);
  }
  function hideBanner() { var b = $("patrol-banner"); if (b) { b.hidden = true; b.innerHTML = ""; } }
  function onAlert(alert) {
    if (!S || !S.run) { return; }
    var b = $("patrol-banner");
    b.innerHTML = "";
    b.appendChild(el("span", { text: tx("patrol.paused.severe") + (alert.title || "") }));
    var r = el("button", { cls: "patrol-btn primary", id: "patrol-banner-resume", text: tx("patrol.resume") });
    r.addEventListener("click", resume);
    b.appendChild(r);
    b.hidden = false;
    pause("alert:" + alert.id);
  }
  var PAUSING = { severe: 1, extreme: 1 };
  // only a severe alert pauses (a new one, or an open one raised to severe), once per alert
  function pausesTour(e) {
    var p = e.payload || {}, a = p.alert;
    return e.type === "alert" && a && (p.action === "created" || p.action === "updated") && PAUSING[a.severity] === 1 &&
      a.state === "new" && a.channel !== "exercise";
  }
  function onEvents(events) {
    events.forEach(function (e) {
      if (!pausesTour(e) || !S || !S.run) { return; }
      S.pausedFor = S.pausedFor || {};
      if (S.pausedFor[e.payload.alert.id]) { return; }
      S.pausedFor[e.payload.alert.id] = true;
      onAlert(e.payload.alert);
    });
  }

  /* ---- wiring: the page may be shown, left and shown again by the Dash router ---- */
  function init(root) {
    S = { root: root, texts: JSON.parse(root.getAttribute("data-texts") || "{}"), tours: {}, run: null,
          lang: root.getAttribute("data-lang") || "zh-CN",
          paused: false, tileTimers: [], hlsPlayers: [],
          snapshotEvery: Math.max(1, parseFloat(root.getAttribute("data-snapshot-every")) || 3),
          streamMax: parseFloat(root.getAttribute("data-stream-max")) || 600 };
    var on = function (id, fn) { var b = $(id); if (b) { b.addEventListener("click", function (ev) { ev.preventDefault(); fn(); }); } };
    on("patrol-generate", generate); on("patrol-save", saveManual); on("patrol-start", start);
    on("patrol-delete", deleteTour); on("patrol-ok", function () { mark("ok", false); });
    on("patrol-issue", function () { mark("issue", false); }); on("patrol-finish", finish);
    on("patrol-pause", function () { if (S.paused) { resume(); } else { pause("operator"); } });
    setRunning(false);
    loadTours().catch(fail);
    if (window.GCLive) { window.GCLive.start({}); }
  }
  var listening = false;
  setInterval(function () {
    var root = $("patrol-root");
    if (root && (!S || S.root !== root)) { init(root); }
    if (!root && S) { stopTiles(); S = null; }
    if (window.GCLive && !listening) { listening = true; window.GCLive.on("events", onEvents); }
  }, 300);
  setInterval(onTimer, 250);
  window.GCPatrol = {
    state: function () { return S && S.run ? { tour: S.run.tour.id, index: S.run.index, paused: S.paused } : null; },
    pause: pause, resume: resume, pausesTour: pausesTour
  };
})();
