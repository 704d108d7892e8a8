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
    var s = (S && S.texts[key]) || GCDom.miss(key);
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
    return blobs.reduce(function (p, b, i) {
      return p.then(function () {
        var fd = new FormData();
        fd.append("photo", b, "photo.jpg");
        return call("POST", "/api/v1/photos", fd).then(function (r) { tokens.push(r.token); }, function (e) {
          e.photoIndex = i; e.photoBlob = b; throw e; // which photo the server refused (the form marks it)
        });
      });
    }, Promise.resolve()).then(function () { return tokens; });
  }
  // why a photo was refused, in the worker's language (the server's message is for developers)
  function photoRefusal(e) {
    var n = (e.photoIndex || 0) + 1;
    return tx(e.status === 415 ? "m.photo.rejected.type" : e.status === 413 ? "m.photo.rejected.size"
      : "m.photo.rejected.other", { n: n });
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
      // the form is sending this one itself (a page closed mid-send leaves it to the flush a minute later)
      items = items.filter(function (i) { return !(i.direct && Date.now() - i.direct < 60000); });
      return items.reduce(function (p, item) {
        return p.then(function (stop) {
          if (stop) { return true; }
          return sendOne(item).then(function (c) {
            S.sent.push(c.code);
            toast(tx(c.handled_onsite ? "m.report.sent_onsite" : "m.report.sent_escalated", { code: c.code }), "ok");
            return queueDel(item.key).then(function () { return false; });
          }, function (e) {
            if (retryable(e) || e.status === 401) { return true; } // keep it; try again later
            toast(e.photoBlob ? tx("m.photo.rejected.queued", { code: item.body.category_code })
              : tx("m.report.rejected", { msg: e.message }), "bad");
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
  function thumb(b, list) {
    var x = el("button", { type: "button", cls: "m-thumb-x", text: "×", title: tx("m.photo.remove"),
                          "aria-label": tx("m.photo.remove") });
    var box = el("span", { cls: "m-thumb-box" }, [el("img", { src: URL.createObjectURL(b), cls: "m-thumb" }), x]);
    x.addEventListener("click", function (ev) {
      ev.preventDefault();
      var i = list.indexOf(b);
      if (i >= 0) { list.splice(i, 1); }
      if (box.parentNode) { box.parentNode.removeChild(box); }
    });
    b.gcBox = box;
    return box;
  }
  function markRefused(b) {
    var box = b && b.gcBox;
    if (!box || box.classList.contains("m-thumb-bad")) { return; }
    box.classList.add("m-thumb-bad");
    box.appendChild(el("span", { cls: "m-thumb-flag", text: tx("m.photo.bad") }));
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
          if (prev) { prev.appendChild(thumb(b, list)); }
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
  function locate(fresh) { // fresh: the worker pressed 重新定位 — a new fix, not the one cached a moment ago
    if (!navigator.geolocation) { S.loc = S.loc || null; showLoc(); return; }
    $("m-loc-text").textContent = tx("m.report.locating");
    navigator.geolocation.getCurrentPosition(function (pos) {
      S.loc = { lat: pos.coords.latitude, lon: pos.coords.longitude, acc: pos.coords.accuracy, src: "gps" };
      S.gps = { lat: S.loc.lat, lon: S.loc.lon };
      refreshWays();
      showLoc(); centerMap(S.loc.lat, S.loc.lon);
      var gd = mapDiv();
      if (gd && window.Plotly) {
        var p = GCGeo.mapPoint(gd, S.loc.lat, S.loc.lon);
        Plotly.restyle(gd, { lat: [[p[0]]], lon: [[p[1]]] }, [2]);
      }
    }, function () { showLoc(); }, { enableHighAccuracy: true, timeout: 10000, maximumAge: fresh === true ? 0 : 30000 });
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
    $("m-desc").value = ""; $("m-desc").classList.remove("m-missing");
    ["m-photo-slot", "m-after-slot"].forEach(function (id) { if ($(id)) { $(id).innerHTML = ""; } });
    makeFileInput("m-photo-slot", S.photos, "m-photo-preview");
    makeFileInput("m-after-slot", S.after, "m-after-preview");
  }
  /* ---- the street's outline: a report from outside it is warned about before it goes ---- */
  function inRing(lat, lon, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var yi = ring[i][1], yj = ring[j][1], xi = ring[i][0], xj = ring[j][0];
      if ((yi > lat) !== (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi) { inside = !inside; }
    }
    return inside;
  }
  function metres(lat1, lon1, lat2, lon2) {
    var k = Math.PI / 180, dy = (lat2 - lat1) * k, dx = (lon2 - lon1) * k * Math.cos((lat1 + lat2) / 2 * k);
    return 6371000 * Math.sqrt(dx * dx + dy * dy);
  }
  // metres from the point to the street's edge (0 inside; null without an outline)
  function outsideBy(lat, lon) {
    if (!S.street.length) { return null; }
    if (S.street.some(function (r) { return inRing(lat, lon, r); })) { return 0; }
    var best = Infinity, k = Math.cos(lat * Math.PI / 180);
    S.street.forEach(function (r) {
      for (var i = 1; i < r.length; i++) { // nearest point of each edge, in a local flat frame
        var ax = (r[i - 1][0] - lon) * k, ay = r[i - 1][1] - lat, bx = (r[i][0] - lon) * k, by = r[i][1] - lat;
        var dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
        var t = l2 ? Math.max(0, Math.min(1, -(ax * dx + ay * dy) / l2)) : 0;
        var px = ax + t * dx, py = ay + t * dy;
        best = Math.min(best, Math.sqrt(px * px + py * py) * 111320);
      }
    });
    return best;
  }
  function distText(m) {
    return m >= 1000 ? tx("m.dist.km", { n: (m / 1000).toFixed(1) }) : tx("m.dist.m", { n: Math.max(1, Math.round(m / 10) * 10) });
  }
  function submit(onsite, outsideConfirmed) {
    var code = $("m-minor").value;
    $("m-outside").hidden = true;
    if (S.sending) { return; }
    if (!code) { toast(tx("m.report.need_category"), "bad"); return; }
    if (!S.loc) { toast(tx("m.report.need_location"), "bad"); return; }
    var desc = ($("m-desc").value || "").trim();
    if (!desc && !S.photos.length && !(onsite && S.after.length)) {
      $("m-desc").classList.add("m-missing"); $("m-desc").focus();
      toast(tx("m.report.need_desc_or_photo"), "bad"); return;
    }
    if (onsite && !S.after.length) { toast(tx("m.report.need_after"), "bad"); return; }
    if (S.photos.concat(S.after).some(function (b) { return b.gcBox && b.gcBox.classList.contains("m-thumb-bad"); })) {
      toast(tx("m.photo.remove_bad"), "bad"); return;
    }
    var off = outsideBy(S.loc.lat, S.loc.lon);
    if (off && !outsideConfirmed) { // warn first; "send anyway" comes back here confirmed
      $("m-outside-text").textContent = tx("m.report.outside.text", { d: distText(off) });
      $("m-outside").hidden = false; $("m-outside").setAttribute("data-onsite", onsite ? "1" : "0");
      $("m-outside-send").focus();
      return;
    }
    var item = { key: GCDom.newKey("m"), created: Date.now(), photos: S.photos.slice(), after: onsite ? S.after.slice() : [],
                 tokens: null, afterTokens: null, direct: navigator.onLine ? Date.now() : 0,
                 body: { category_code: code, description: desc, lat: S.loc.lat, lon: S.loc.lon, onsite: !!onsite } };
    if (off) { item.body.note = "上报人已确认：位置在街道范围外"; } // timeline data (read in the center), not page text
    queuePut(item).then(function () {
      updateNet();
      if (!navigator.onLine) { resetReport(); toast(tx("m.report.queued"), "warn"); return; }
      busy(true);
      return sendNow(item).then(function (c) {
        S.sent.push(c.code);
        resetReport();
        toast(off ? tx("m.report.outside_sent", { code: c.code })
          : tx(c.handled_onsite ? "m.report.sent_onsite" : "m.report.sent_escalated", { code: c.code }), "ok");
        return queueDel(item.key);
      }, function (e) {
        if (retryable(e) || e.status === 401) { // kept in the queue: the flush sends it when it can
          item.direct = 0; resetReport(); toast(tx("m.report.queued"), "warn"); return queuePut(item);
        }
        // refused: nothing typed is lost; the refused photo is marked and the worker is told why
        return queueDel(item.key).then(function () {
          if (e.photoBlob) { markRefused(e.photoBlob); toast(photoRefusal(e), "bad"); }
          else { toast(tx("m.report.kept", { msg: e.message }), "bad"); }
        });
      });
    }).catch(function (e) { toast(tx("m.error", { msg: e.message }), "bad"); })
      .then(function () { busy(false); updateNet(); });
  }
  function busy(on) {
    S.sending = on;
    ["m-onsite", "m-escalate"].forEach(function (id) { if ($(id)) { $(id).disabled = on; } });
  }
  // the form's own send (the flush leaves an item marked ``direct`` alone)
  function sendNow(item) { return sendOne(item); }

  /* ---- tasks: each card has a small map, the way to the place and a call to the center ---- */
  function here() {
    if (S.gps) { return S.gps; }
    return S.me && S.me.lat != null ? { lat: S.me.lat, lon: S.me.lon } : null;
  }
  function bearing(a, b) {
    var k = Math.PI / 180, dl = (b.lon - a.lon) * k;
    var y = Math.sin(dl) * Math.cos(b.lat * k);
    var x = Math.cos(a.lat * k) * Math.sin(b.lat * k) - Math.sin(a.lat * k) * Math.cos(b.lat * k) * Math.cos(dl);
    return (Math.atan2(y, x) / k + 360) % 360;
  }
  function compass(deg) { return ["n", "ne", "e", "se", "s", "sw", "w", "nw"][Math.round(deg / 45) % 8]; }
  function wayText(c) {
    var h = here();
    if (c.lat == null) { return tx("m.task.no_place"); }
    if (!h) { return tx("m.task.way_unknown"); }
    var d = metres(h.lat, h.lon, c.lat, c.lon);
    if (d < 50) { return tx("m.task.way_here", { d: distText(d) }); }
    return tx("m.task.way", { d: distText(d), dir: tx("m.dir." + compass(bearing(h, c))) });
  }
  function svg(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k === "cls" ? "class" : k, attrs[k]); });
    return e;
  }
  // Web Mercator pixels at zoom z of a stored (WGS-84) point, in the tiles' datum
  function px(lat, lon, z) {
    var p = window.GCGeo ? GCGeo.toMap(S.tileCrs, lat, lon) : [lat, lon];
    var n = 256 * Math.pow(2, z), s = Math.sin(p[0] * Math.PI / 180);
    return [(p[1] + 180) / 360 * n, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * n];
  }
  function miniMap(c) {
    var W = 320, H = 140, h = here(), g = S.me && S.me.grid;
    var ring = g ? (g.boundary.type === "Polygon" ? g.boundary.coordinates[0] : g.boundary.coordinates[0][0]) : [];
    var pts = [[c.lat, c.lon]].concat(h ? [[h.lat, h.lon]] : ring.map(function (q) { return [q[1], q[0]]; }));
    var z = 18, a, b, box;
    for (; z > 10; z--) { // the largest zoom that shows the place and me (or my grid)
      box = pts.map(function (q) { return px(q[0], q[1], z); });
      a = [Math.min.apply(null, box.map(function (q) { return q[0]; })), Math.min.apply(null, box.map(function (q) { return q[1]; }))];
      b = [Math.max.apply(null, box.map(function (q) { return q[0]; })), Math.max.apply(null, box.map(function (q) { return q[1]; }))];
      if (b[0] - a[0] <= W - 36 && b[1] - a[1] <= H - 36) { break; }
    }
    var ox = (a[0] + b[0]) / 2 - W / 2, oy = (a[1] + b[1]) / 2 - H / 2;
    var at = function (lat, lon) { var q = px(lat, lon, z); return [q[0] - ox, q[1] - oy]; };
    var m = svg("svg", { viewBox: "0 0 " + W + " " + H, cls: "m-task-map", role: "img", "aria-label": tx("m.task.map") });
    if (S.tileUrl) { // tiles from the configured server only
      for (var tx0 = Math.floor(ox / 256); tx0 * 256 < ox + W; tx0++) {
        for (var ty0 = Math.floor(oy / 256); ty0 * 256 < oy + H; ty0++) {
          var url = S.tileUrl.split("{z}").join(z).split("{x}").join(tx0).split("{y}").join(ty0);
          m.appendChild(svg("image", { href: url, x: tx0 * 256 - ox, y: ty0 * 256 - oy, width: 256, height: 256 }));
        }
      }
    }
    if (ring.length) {
      m.appendChild(svg("polygon", { points: ring.map(function (q) { return at(q[1], q[0]).join(","); }).join(" "),
                                     cls: "m-map-grid", fill: "rgba(11,61,107,0.10)", stroke: "#0b3d6b", "stroke-width": 2 }));
    }
    var cp = at(c.lat, c.lon);
    if (h) {
      var hp = at(h.lat, h.lon);
      m.appendChild(svg("line", { x1: hp[0], y1: hp[1], x2: cp[0], y2: cp[1], stroke: "#1a73e8", "stroke-width": 3,
                                  "stroke-dasharray": "6 5" }));
      m.appendChild(svg("circle", { cx: hp[0], cy: hp[1], r: 7, fill: "#1a73e8", stroke: "#fff", "stroke-width": 2,
                                    "data-mark": "me" }));
    }
    m.appendChild(svg("circle", { cx: cp[0], cy: cp[1], r: 9, fill: "#d7263d", stroke: "#fff", "stroke-width": 3,
                                  "data-mark": "task" }));
    return m;
  }
  function taskPlace(c) {
    var box = el("div", { cls: "m-task-place" });
    if (c.lat != null) { box.appendChild(miniMap(c)); }
    box.appendChild(el("div", { cls: "m-task-way", text: wayText(c) }));
    if (S.phone) {
      box.appendChild(el("a", { cls: "m-btn m-call", href: "tel:" + S.phone.replace(/[^0-9+]/g, ""),
                                text: "☎ " + tx("m.task.call_center") + " " + S.phone }));
    }
    return box;
  }
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
        el("div", { cls: "m-task-meta", text: (c.grid_name || "") + (c.sla_due_at ? " · " + tx("m.task.due", { t: c.sla_due_at.slice(5, 16).replace("T", " ") }) : "") }),
        taskPlace(c)
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
      S.taskItems = r.items;
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
      if (photos.some(function (b) { return b.gcBox && b.gcBox.classList.contains("m-thumb-bad"); })) {
        toast(tx("m.photo.remove_bad"), "bad"); return;
      }
      send.disabled = true;
      uploadAll(photos).then(function (tokens) {
        return taskAction(c.id, "finish", { note: note.value || "", photos: tokens });
      }).then(function () { toast(tx("m.task.done"), "ok"); }, function (e) {
        send.disabled = false; // the note and the other photos stay as they are
        if (e.network) { toast(tx("m.error", { msg: tx("m.offline") }), "bad"); }
        else if (e.photoBlob) { markRefused(e.photoBlob); toast(photoRefusal(e), "bad"); }
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
  function refreshWays() { // the way on each card follows my GPS (no re-render: a feedback form stays open)
    (S.taskItems || []).forEach(function (c) {
      var li = S.root.querySelector('.m-task[data-case-id="' + c.id + '"] .m-task-place');
      if (li && li.parentNode) { li.parentNode.replaceChild(taskPlace(c), li); }
    });
  }
  function onFix(pos) {
    var c = pos.coords, buf = fixBuffer();
    S.gps = { lat: c.latitude, lon: c.longitude };
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
        .then(function (u) {
          if (!u.worker_id) { throw new Error("not a grid worker account"); }
          if (u.must_change_password) {  // a one-time or reset password: its change comes before the phone page
            var lang = (S.root.getAttribute("data-lang") || document.documentElement.lang || "").slice(0, 2) === "en" ? "&lang=en" : "";
            window.location.assign("/password?next=" + encodeURIComponent(window.location.pathname + window.location.search) + lang);
            return null;
          }
          return loadMe();
        })
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
    on("m-relocate", "click", function () { locate(true); });
    on("m-outside-send", "click", function () { submit($("m-outside").getAttribute("data-onsite") === "1", true); });
    on("m-outside-back", "click", function () { $("m-outside").hidden = true; });
    on("m-desc", "input", function () { $("m-desc").classList.remove("m-missing"); });
    on("m-onsite", "click", function () { submit(true); });
    on("m-escalate", "click", function () { submit(false); });
    on("m-patrol-toggle", "click", togglePatrol);
  }
  function init(root) {
    S = { root: root, texts: JSON.parse(root.getAttribute("data-texts") || "{}"),
          cats: JSON.parse(root.getAttribute("data-categories") || "[]"), me: null, loc: null, photos: [], after: [],
          taskIds: {}, sent: [], ownCenters: [], queued: 0, fixesSent: 0, patrolling: false, watchId: null,
          street: JSON.parse(root.getAttribute("data-street") || "[]"), phone: root.getAttribute("data-center-phone") || "",
          tileUrl: root.getAttribute("data-tile-url") || "", tileCrs: root.getAttribute("data-tile-crs") || "wgs84",
          gps: null, taskItems: [], sending: false };
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
    if (window.GCLive && !listening) {
      listening = true;
      window.GCLive.on("events", onEvents);
      // the task list is read at sign-in, not from the live snapshot: a task pushed while the snapshot loaded is
      // dropped as already counted by it, and a phone's feed has no gap test across a reconnect — so the list is
      // read again when the snapshot lands and on every (re)connect
      var reread = function () { if (S && S.me) { clearTimeout(S.taskTimer); S.taskTimer = setTimeout(loadTasks, 150); } };
      window.GCLive.on("snapshot", reread);
      window.GCLive.on("status", function (s) { if (s === "connected") { reread(); } });
    }
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
