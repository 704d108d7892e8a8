/* Grid drill-down panel (人地事物情组织). Active only where #gc-drill is on the page.
 *
 * A click on a grid of a Plotly map inside [data-drilldown] (choropleth locations are grid
 * ids), a .gc-drill-btn[data-grid-id] button, or GCDrill.open(gridId) loads /api/v1/grids/<id>/register (masked on the server;
 * scope "wall" on wall screens) and renders it: residents (counts), places, cases, cameras
 * (snapshots refreshed while open), organisations, workers with today's track, contacts.
 */
(function () {
  "use strict";
  var P = null;

  function tx(key, fmt) {
    var s = (P && P.texts[key]) || GCDom.miss(key);
    Object.keys(fmt || {}).forEach(function (k) { s = s.replace("{" + k + "}", fmt[k]); });
    return s;
  }
  var el = window.GCDom.el; // 08-gc-dom.js
  function section(key, count, body) {
    return el("section", { cls: "gc-drill-sec", "data-sec": key }, [
      el("h3", {}, [tx("drill." + key), count !== null && count !== undefined ? el("span", { cls: "n", text: String(count) }) : null]),
      body]);
  }
  function list(items, fn) {
    if (!items.length) { return el("p", { cls: "gc-drill-none", text: tx("drill.none") }); }
    return el("ul", {}, items.map(function (x) { return el("li", {}, fn(x)); }));
  }

  // today's track as an SVG polyline inside the grid outline, no map needed
  function trackSvg(boundary, workers) {
    var ring = (boundary && boundary.coordinates && boundary.coordinates[0]) || [];
    var pts = ring.map(function (c) { return [c[1], c[0]]; });
    workers.forEach(function (w) { (w.track || []).forEach(function (p) { pts.push([p[0], p[1]]); }); });
    if (!pts.length) { return null; }
    var lat0 = Math.min.apply(null, pts.map(function (p) { return p[0]; })), lat1 = Math.max.apply(null, pts.map(function (p) { return p[0]; }));
    var lon0 = Math.min.apply(null, pts.map(function (p) { return p[1]; })), lon1 = Math.max.apply(null, pts.map(function (p) { return p[1]; }));
    var c = Math.cos((lat0 + lat1) / 2 * Math.PI / 180); // east-west metres per degree shrink with latitude
    var W = 300, H = 150, k = Math.min(W / (((lon1 - lon0) * c) || 1e-6), H / ((lat1 - lat0) || 1e-6)) * 0.92;
    var xy = function (lat, lon) { return ((lon - lon0) * c * k + 6).toFixed(1) + "," + (H - (lat - lat0) * k + 4).toFixed(1); };
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + (W + 12) + " " + (H + 8)); svg.setAttribute("class", "gc-drill-track");
    var poly = function (coords, cls) {
      var e = document.createElementNS(ns, "polyline");
      e.setAttribute("points", coords.map(function (p) { return xy(p[0], p[1]); }).join(" "));
      e.setAttribute("class", cls); svg.appendChild(e);
    };
    poly(ring.map(function (c) { return [c[1], c[0]]; }), "outline");
    workers.forEach(function (w, i) { if ((w.track || []).length > 1) { poly(w.track, "track t" + (i % 4)); } });
    return svg;
  }

  function stopSnapshots() { (P && P.timers || []).forEach(clearInterval); if (P) { P.timers = []; } }
  function camera(c) {
    var p = c.play || {}, src = p.snapshot || (p.type === "snapshot" ? p.url : null);
    var img = src ? el("img", { src: src, alt: c.name, loading: "lazy" }) : el("div", { cls: "nocam", text: "—" });
    if (src) { P.timers.push(setInterval(function () { img.src = src + (src.indexOf("?") < 0 ? "?" : "&") + "_t=" + Date.now(); }, 5000)); }
    var fig = el("figure", { cls: "gc-drill-cam", "data-camera-id": String(c.id), title: tx("drill.cam.open"),
                             tabindex: "0", role: "button" }, [img, el("figcaption", { text: c.code + " " + c.name })]);
    fig.addEventListener("click", function () { openCamera(c.id); });  // its live picture and whom to call
    fig.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { openCamera(c.id); } });
    return fig;
  }

  // every place of the grid, kind by kind (compounds with their households): shops and companies too
  function places(pl) {
    var all = pl.all || pl.compounds || [], kinds = [], by = {};
    all.forEach(function (p) {
      var k = p.kind || "compound";
      if (!by[k]) { by[k] = []; kinds.push(k); }
      by[k].push(p);
    });
    if (!kinds.length) { return el("p", { cls: "gc-drill-none", text: tx("drill.none") }); }
    return el("div", { cls: "gc-drill-places" }, kinds.map(function (k) {
      return el("div", { cls: "gc-drill-kind", "data-kind": k }, [
        el("b", { text: tx("drill.kind." + k) + " " + by[k].length }),
        el("ul", {}, by[k].map(function (p) {
          return el("li", { "data-place": p.code }, [p.name, p.households ? " · " + tx("drill.households", { n: p.households }) : ""]);
        }))]);
    }));
  }

  /* ---- a camera's live picture and whom to call (a click on a camera of the wall's map or of this panel) ---- */
  var C = null;  // {root, timers, token}
  function camRoot() {
    if (C && C.root.isConnected) { return C.root; }
    var root = el("div", { id: "gc-cam", cls: "gc-cam", role: "dialog" }, [
      el("div", { cls: "gc-cam-head" }, [el("span", { cls: "gc-cam-title", "data-role": "title" }),
        el("button", { cls: "gc-cam-close", title: tx("drill.close"), "data-role": "close", text: "×" })]),
      el("div", { cls: "gc-cam-body", "data-role": "body" })]);
    root.hidden = true;
    P.root.parentNode.insertBefore(root, P.root.nextSibling);  // over the same map as the register panel
    root.querySelector('[data-role="close"]').addEventListener("click", closeCamera);
    C = { root: root, timers: [], hls: null };
    return root;
  }
  function stopCamera() {
    if (!C) { return; }
    C.timers.forEach(clearInterval); C.timers = [];
    if (C.hls) { try { C.hls.destroy(); } catch { /* gone */ } C.hls = null; }
    C.root.querySelectorAll("img").forEach(function (img) { img.src = "data:,"; });  // closes an MJPEG stream
  }
  function closeCamera() {
    if (!C) { return; }
    stopCamera(); C.root.hidden = true; C.root.removeAttribute("data-loaded"); C.token = null;
  }
  function media(cam) {
    var p = cam.play || {}, m;
    if (p.type === "mjpeg" || p.type === "snapshot") {
      m = el("img", { cls: "gc-cam-media", src: p.url, alt: cam.name, "data-kind": p.type });
      if (p.type === "snapshot") {
        C.timers.push(setInterval(function () { m.src = p.url + (p.url.indexOf("?") < 0 ? "?" : "&") + "_t=" + Date.now(); }, 3000));
      }
    } else if (p.type === "hls") {
      m = el("video", { cls: "gc-cam-media", muted: "", autoplay: "", playsinline: "", "data-kind": "hls" });
      m.muted = true;
      var useHls = function () {
        if (window.Hls && window.Hls.isSupported()) { C.hls = new window.Hls(); C.hls.loadSource(p.url); C.hls.attachMedia(m); }
        else { m.src = p.url; }
      };
      if (window.Hls) { useHls(); } else {
        var sc = el("script", { src: "/vendor/hls.min.js" });
        sc.onload = useHls; sc.onerror = function () { m.src = p.url; };
        document.head.appendChild(sc);
      }
    } else {
      m = el("div", { cls: "gc-cam-media none", text: tx("drill.cam.no_stream") });
    }
    return m;
  }
  function camWorker(w, canCall) {
    var where = w.distance_m == null ? tx("drill.cam.no_fix") : tx("drill.cam.distance", { m: w.distance_m });
    var call = canCall ? el("button", { cls: "gc-call-btn", "data-worker-id": String(w.id),
                                        "data-worker-label": w.name + " " + w.code, text: tx("drill.call") }) : null;
    return el("li", { "data-worker-id": String(w.id) }, [el("b", { text: w.name }), " ", el("code", { text: w.code }),
      " · " + tx("drill.state." + w.state) + " · " + where + " ", call]);
  }
  function renderCamera(d) {
    var root = camRoot(), body = root.querySelector('[data-role="body"]'), cam = d.camera;
    stopCamera();
    body.innerHTML = "";
    root.querySelector('[data-role="title"]').textContent = tx("drill.cam.title") + " · " + cam.code + " " + cam.name;
    body.appendChild(el("figure", { cls: "gc-cam-fig" + (cam.online ? "" : " offline") }, [media(cam),
      el("figcaption", { text: (d.grid ? d.grid.name : tx("drill.cam.no_grid")) + (cam.online ? "" : " · " + tx("drill.cam.offline")) })]));
    // a call needs a dispatcher (the server says) and the call widget on this page
    var canCall = !!d.can_call && !!document.querySelector(".gc-call--console");
    body.appendChild(el("h3", {}, [tx(d.grid ? "drill.cam.workers" : "drill.cam.street_workers"),
                                   el("span", { cls: "n", text: String(d.workers.length) })]));
    body.appendChild(d.workers.length
      ? el("ol", { cls: "gc-cam-workers" }, d.workers.map(function (w) { return camWorker(w, canCall); }))
      : el("p", { cls: "gc-drill-none", text: tx("drill.cam.no_workers") }));
    if (!d.can_call) { body.appendChild(el("p", { cls: "gc-drill-none", text: tx("drill.cam.call_hint") })); }
  }
  function openCamera(cameraId) {
    if (!P) { return Promise.resolve(null); }
    var root = camRoot(), token = C.token = {};
    stopCamera();
    if (window.Plotly && window.Plotly.Fx) {  // the camera's hover label would stay up beside the panel
      document.querySelectorAll("[data-drilldown] .js-plotly-plot").forEach(function (gd) { window.Plotly.Fx.unhover(gd); });
    }
    root.hidden = false;
    root.setAttribute("data-camera-id", String(cameraId));
    root.removeAttribute("data-loaded");
    root.querySelector('[data-role="body"]').textContent = tx("drill.loading");
    return fetch("/api/v1/cameras/" + cameraId + "/view", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (d) {
        if (C && C.token === token) { renderCamera(d); root.setAttribute("data-loaded", String(cameraId)); }
        return d;
      })
      .catch(function (e) { if (C && C.token === token) { root.querySelector('[data-role="body"]').textContent = "× " + e.message; } });
  }

  function render(d) {
    var body = P.root.querySelector('[data-role="body"]');
    body.innerHTML = "";
    stopSnapshots();
    P.root.querySelector('[data-role="title"]').textContent = d.grid.name + " · " + (d.grid.community || "");
    var r = d.residents;
    body.appendChild(section("people", r.total, el("div", { cls: "chips" }, Object.keys(r.by_category).map(function (k) {
      return el("span", { cls: "chip" }, [k + " ", el("b", { text: String(r.by_category[k]) })]);
    }))));
    var counts = d.places.counts;
    body.appendChild(section("places", null, el("div", {}, [
      el("div", { cls: "chips" }, Object.keys(counts).map(function (k) {
        return el("span", { cls: "chip" }, [tx("drill.kind." + k) + " ", el("b", { text: String(counts[k]) })]);
      })),
      places(d.places)
    ])));
    body.appendChild(section("cases", d.cases.open_count, list(d.cases.open.slice(0, 10), function (c) {
      return [el("code", { text: c.code }), " " + (c.category || "") + " · " + (c.state ? tx("case.state." + c.state) : ""),
              el("span", { cls: "t", text: " " + (c.created_at || "").slice(5, 16).replace("T", " ") })];
    })));
    body.appendChild(section("things", d.cameras.length, el("div", { cls: "gc-drill-cams" }, d.cameras.slice(0, 4).map(camera))));
    body.appendChild(section("orgs", d.organisations.length, list(d.organisations, function (o) {
      return [o.name, " · " + (o.kind || "") + " · " + tx("drill.members", { n: o.members })];
    })));
    body.appendChild(section("workers", d.workers.length, el("div", {}, [
      list(d.workers, function (w) {
        var call = P.calls ? el("button", { cls: "gc-call-btn", "data-worker-id": String(w.id), "data-worker-label": w.name, text: tx("drill.call") }) : null;
        return [el("b", { text: w.name }), " " + tx("drill.state." + w.state) + (w.phone ? " · " + w.phone : "") +
                " · " + tx("drill.fixes", { n: (w.track || []).length }) + " ", call];
      }),
      trackSvg(d.grid.boundary, d.workers)
    ])));
    body.appendChild(section("contacts", d.contacts.length, list(d.contacts, function (c) {
      return [tx("drill.level." + c.level) + " · " + c.title + " ", el("b", { text: c.name || "" }), c.phone ? " " + c.phone : ""];
    })));
  }

  function open(gridId) {
    if (!P) { return Promise.resolve(null); }
    P.root.hidden = false;
    P.root.setAttribute("data-grid-id", String(gridId));
    P.root.querySelector('[data-role="body"]').textContent = tx("drill.loading");
    var token = P.token = {};
    return fetch("/api/v1/grids/" + gridId + "/register?scope=" + P.scope, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (d) { if (P && P.token === token) { render(d); P.root.setAttribute("data-loaded", String(gridId)); } return d; })
      .catch(function (e) { if (P) { P.root.querySelector('[data-role="body"]').textContent = "× " + e.message; } });
  }
  function close() { if (P) { stopSnapshots(); P.root.hidden = true; P.root.removeAttribute("data-loaded"); } }

  function bindMaps() {
    document.querySelectorAll("[data-drilldown] .js-plotly-plot").forEach(function (gd) {
      if (gd.__gcDrill || !gd.on) { return; }
      gd.__gcDrill = true;
      gd.on("plotly_click", function (ev) {
        var pt = ev && ev.points && ev.points[0];
        if (pt && pt.data && pt.data.meta === "gc-cameras" && pt.customdata) { openCamera(pt.customdata[0]); }
        else if (pt && pt.data && pt.data.meta === "gc-communities") { return; }  // a city wall's community: it zooms in
        else if (pt && pt.data && String(pt.data.type).indexOf("choropleth") === 0 && pt.location !== undefined) { open(pt.location); }
      });
    });
  }
  function init(root) {
    P = { root: root, scope: root.getAttribute("data-scope") || "console", calls: root.getAttribute("data-calls") === "1",
          texts: JSON.parse(root.getAttribute("data-texts") || "{}"), timers: [] };
    root.querySelector('[data-role="close"]').addEventListener("click", close);
  }
  // 网格档案 buttons anywhere on the page: <button class="gc-drill-btn" data-grid-id="7">
  document.addEventListener("click", function (ev) {
    var b = ev.target && ev.target.closest && ev.target.closest(".gc-drill-btn");
    if (!b || !P) { return; }
    ev.preventDefault();
    var id = parseInt(b.getAttribute("data-grid-id") || "0", 10);
    if (id) { open(id); }
  });
  setInterval(function () {
    var root = document.getElementById("gc-drill");
    if (root && (!P || P.root !== root)) { init(root); }
    if (!root && P) { stopSnapshots(); P = null; }
    if (C && !C.root.isConnected) { stopCamera(); C = null; }
    if (P) { bindMaps(); }
  }, 400);
  window.GCDrill = { open: open, close: close, camera: openCamera, closeCamera: closeCamera };
})();
