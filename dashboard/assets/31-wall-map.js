/* GCWallMap: the wall map's live layers, drawn with Plotly.restyle on the server-built figure.
 *
 * Trace indices come from the page config (layouts/wall/map.py TRACES). Coordinates
 * arrive in WGS-84; with GCJ-02 tiles they are shifted here exactly as the server
 * shifts the static layers (dashboard/geo/coords.py). Alert rings pulse in a DOM
 * overlay (CSS animation, no map redraw), placed with Web-Mercator maths.
 */
(function () {
  "use strict";
  var A = 6378245.0, EE = 0.00669342162296594323;
  var DUTY_COLORS = { patrolling: "#22c55e", available: "#38bdf8", dispatched: "#f59e0b", en_route: "#fbbf24",
                      on_scene: "#f97316", handling: "#fb923c", offline: "#64748b" };
  var PRIORITY_COLORS = { 1: "#ff2d55", 2: "#ff8a00", 3: "#ffd60a", 4: "#4cc9f0" };
  var OPEN = { reported: 1, registered: 1, dispatched: 1, handling: 1, feedback: 1 };
  var ZMAX = { open: 5, today: 6, workers: 3 };

  function offset(lat, lon) {
    var x = lon - 105.0, y = lat - 35.0, sx = Math.sqrt(Math.abs(x)), PI = Math.PI;
    var common = (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
    var dlat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common +
      (20 * Math.sin(y * PI) + 40 * Math.sin(y / 3 * PI)) * 2 / 3 +
      (160 * Math.sin(y / 12 * PI) + 320 * Math.sin(y * PI / 30)) * 2 / 3;
    var dlon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common +
      (20 * Math.sin(x * PI) + 40 * Math.sin(x / 3 * PI)) * 2 / 3 +
      (150 * Math.sin(x / 12 * PI) + 300 * Math.sin(x / 30 * PI)) * 2 / 3;
    var rad = lat / 180 * PI, magic = 1 - EE * Math.sin(rad) * Math.sin(rad), sm = Math.sqrt(magic);
    return [(dlat * 180) / ((A * (1 - EE)) / (magic * sm) * PI), (dlon * 180) / (A / sm * Math.cos(rad) * PI)];
  }

  function wgsToGcj(lat, lon) {
    if (lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271) { return [lat, lon]; }
    var d = offset(lat, lon);
    return [lat + d[0], lon + d[1]];
  }

  function GCWallMap(wall) {
    this.wall = wall;
    this.cfg = wall.cfg;
    this.T = wall.cfg.traces;
    this.gd = null;
    this.scale = 1;
    this.chain = Promise.resolve();
  }

  GCWallMap.prototype.pt = function (lat, lon) {
    if (lat == null || lon == null) { return null; }
    return this.cfg.gcj ? wgsToGcj(lat, lon) : [lat, lon];
  };

  GCWallMap.prototype.ready = function () { return !!(this.gd && this.gd._fullLayout && window.Plotly); };

  GCWallMap.prototype.whenReady = function (cb) {
    var self = this;
    var timer = setInterval(function () {
      var gd = document.querySelector("#wall-map .js-plotly-plot");
      var sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
      if (!sub || !sub.map || !sub.map.loaded() || !window.Plotly) { return; }  // first plot finished
      clearInterval(timer);
      self.gd = gd;
      gd.on("plotly_relayout", function () { self.placeRings(); });
      gd.on("plotly_relayouting", function () { self.placeRings(); });
      self.applyZoom().then(cb, cb);
    }, 50);
  };

  // the map layer lives outside the scaled stage at real pixels (crisp on a 4K wall); CSS places it,
  // here only the legend follows the scale and the zoom shows the same area at any size
  GCWallMap.prototype.fit = function (s) {
    var legend = document.querySelector(".wall-map-layer .wall-legend");
    if (legend) { legend.style.transform = "scale(" + s + ")"; }
    this.scale = s;
    if (this.ready()) { this.applyZoom(); }
  };

  // every Plotly call on the map goes through one queue: a relayout racing a restyle breaks the style
  GCWallMap.prototype.queue = function (fn) {
    var run = this.chain.then(fn);
    this.chain = run.catch(function (e) { console.warn("wall map update failed", e); });
    return run;
  };

  GCWallMap.prototype.applyZoom = function () {
    var gd = this.gd, self = this;
    return this.queue(function () {
      // the layer follows the window in CSS; the plot follows here, then the zoom
      return Plotly.Plots.resize(gd).then(function () {
        var z = self.cfg.base_zoom + Math.log2(self.scale || 1);
        if (Math.abs((gd._fullLayout.map.zoom || 0) - z) > 0.01) { return Plotly.relayout(gd, { "map.zoom": z }); }
      });
    }).then(function () { self.placeRings(); });
  };

  GCWallMap.prototype.workerLayer = function () {
    var lat = [], lon = [], color = [], text = [], t = this.wall.t;
    this.wall.workers.forEach(function (w) {
      if (w[1] == null || w[3] === "offline") { return; }
      var p = this.pt(w[1], w[2]);
      lat.push(p[0]); lon.push(p[1]); color.push(DUTY_COLORS[w[3]] || "#94a3b8");
      text.push((t["wall.hover.worker"] || "") + " #" + w[0] + "<br>" + (t["duty." + w[3]] || w[3]) +
                "<br>" + (t["wall.hover.fix"] || "") + " " + (w[4] || "").slice(11, 19));
    }, this);
    return { lat: lat, lon: lon, color: color, text: text };
  };

  GCWallMap.prototype.caseLayer = function () {
    var lat = [], lon = [], color = [], size = [], text = [], ids = [], t = this.wall.t;
    this.wall.cases.forEach(function (c) {
      var p = this.pt(c.lat, c.lon);
      if (!p) { return; }
      var open = !!OPEN[c.state];
      lat.push(p[0]); lon.push(p[1]); ids.push(c.id);
      color.push(open ? (PRIORITY_COLORS[c.priority] || "#ffd60a") : "#5b6b7c");
      size.push(open ? (c.priority <= 2 ? 15 : 11) : 8);
      text.push("<b>" + c.code + "</b> " + (t["priority." + c.priority] || "") + "<br>" + (c.major || "") + "/" +
                (c.category || "") + "<br>" + (t["case.state." + c.state] || c.state) + " · " + (c.grid_name || "") +
                "<br>" + (t["wall.hover.reporter"] || "") + ": " + (c.reporter || "—") +
                (c.assigned_worker ? "<br>" + (t["wall.hover.assigned"] || "") + ": " + c.assigned_worker : "") +
                "<br>" + (c.description || "").slice(0, 40));
    }, this);
    return { lat: lat, lon: lon, color: color, size: size, text: text, ids: ids };
  };

  GCWallMap.prototype.alertLayer = function () {
    var lat = [], lon = [], text = [], color = [], t = this.wall.t;
    this.wall.alerts.forEach(function (a) {
      var p = this.pt(a.lat, a.lon);
      if (!p) { return; }
      lat.push(p[0]); lon.push(p[1]);
      color.push(a.state === "new" ? "#ff1f3d" : "#ff8a00");
      text.push("<b>" + a.title + "</b><br>" + (t["wall.severity." + a.severity] || a.severity) + " · " +
                (t["alert.state." + a.state] || a.state) + (a.worker_name ? "<br>" + a.worker_name : ""));
    }, this);
    return { lat: lat, lon: lon, text: text, color: color };
  };

  // one restyle for the point layers, one for the grid shading; resolves once drawn
  GCWallMap.prototype.draw = function (dirty) {
    var gd = this.gd, T = this.T, idx = [], upd = { lat: [], lon: [], text: [], "marker.color": [], "marker.size": [] };
    function add(i, layer, size) {
      idx.push(i); upd.lat.push(layer.lat); upd.lon.push(layer.lon); upd.text.push(layer.text || []);
      upd["marker.color"].push(layer.color); upd["marker.size"].push(size);
    }
    if (dirty.workers) { add(T.workers, this.workerLayer(), 7); }
    if (dirty.cases) { var c = this.caseLayer(); add(T.cases, c, c.size); }
    if (dirty.alerts) {
      var a = this.alertLayer();
      add(T.alert_ring, { lat: a.lat, lon: a.lon, color: a.color }, 34);
      add(T.alerts, a, 16);
      this.placeRings();
    }
    var steps = [];
    if (idx.length) { steps.push(function () { return Plotly.restyle(gd, upd, idx); }); }
    if (dirty.grids) {
      var vals = this.wall.gridValues(), z = this.cfg.grids.map(function (g) { return vals[g] || vals[String(g)] || 0; });
      var m = this.wall.measure;
      steps.push(function () { return Plotly.restyle(gd, { z: [z], zmax: [ZMAX[m] || 5] }, [T.grids]); });
    }
    return this.queue(function () {
      return steps.reduce(function (p, step) { return p.then(step); }, Promise.resolve());
    }).then(function () {
      return new Promise(function (res) { requestAnimationFrame(function () { res(); }); });
    });
  };

  // Web-Mercator: where a point falls in the map layer, from the map's centre and zoom
  GCWallMap.prototype.project = function (lat, lon) {
    var m = this.gd._fullLayout.map, world = 512 * Math.pow(2, m.zoom);
    function xy(la, lo) {
      var s = Math.sin(la * Math.PI / 180);
      return [(lo + 180) / 360 * world, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * world];
    }
    var c = xy(m.center.lat, m.center.lon), p = xy(lat, lon);
    return [this.gd._fullLayout.width / 2 + p[0] - c[0], this.gd._fullLayout.height / 2 + p[1] - c[1]];
  };

  GCWallMap.prototype.placeRings = function () {
    var box = document.getElementById("wall-overlay");
    if (!box || !this.ready()) { return; }
    box.textContent = "";
    var s = this.scale || 1;
    this.wall.alerts.forEach(function (a) {
      var p = this.pt(a.lat, a.lon);
      if (!p) { return; }
      var xy = this.project(p[0], p[1]);
      var d = document.createElement("div");
      d.className = "wall-ring wall-ring-" + a.state + " wall-ring-" + a.severity;
      d.style.left = xy[0] + "px"; d.style.top = xy[1] + "px";
      d.style.width = d.style.height = Math.round(56 * s) + "px";
      box.appendChild(d);
    }, this);
  };

  window.GCWallMap = GCWallMap;
  window.GCWallMap.wgsToGcj = wgsToGcj;
})();
