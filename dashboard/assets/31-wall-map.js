/* GCWallMap: the wall map's live layers.
 *
 * Plotly draws the server-built figure once (grid outlines, community boundaries, cameras)
 * on a transparent MapLibre map. The grid shading is a 2D canvas *under* that map, and
 * workers, cases and alerts two 2D canvases over it; all are placed with the map's own
 * projection (map.project) and repainted when they change or the map moves (cases and alerts only
 * in the boxes of what changed: patchCanvas). Why not WebGL:
 * without a GPU, every MapLibre frame is rasterised by SwiftShader and then read back
 * (glReadPixels) for the software compositor, and that read-back blocks the page's main
 * thread for 300–600 ms when ten walls share two cores — a pushed event waits behind it.
 * So the WebGL map redraws only when the operator pans or zooms; a shading change (every
 * few seconds) and a position frame (every second) cost a few milliseconds of canvas.
 * The shading canvas is opaque (it paints the map's background): the compositor then skips what lies under it.
 * The map instance is Plotly's (fullLayout.map._subplot.map); everything after that
 * is MapLibre's public API. Until MapLibre has started (SwiftShader compiling its shaders takes 0.6–1.5 s
 * on a cold load), the canvases paint with the same Web Mercator projection computed here (mercator()),
 * so the live markers and shading show as soon as the snapshot is in; the outlines follow with the map.
 * Coordinates arrive in WGS-84; with GCJ-02 tiles they are shifted by GCGeo (09-gc-geo.js), as the server shifts the static layers.
 */
(function () {
  "use strict";
  var DUTY_COLORS = { patrolling: "#22c55e", available: "#38bdf8", dispatched: "#f59e0b", en_route: "#fbbf24",
                      on_scene: "#f97316", handling: "#fb923c", offline: "#64748b" };
  var PRIORITY_COLORS = { 1: "#ff2d55", 2: "#ff8a00", 3: "#ffd60a", 4: "#4cc9f0" };
  var OPEN = { reported: 1, registered: 1, dispatched: 1, handling: 1, feedback: 1 };
  var ZMAX = { open: 3, today: 4, workers: 3 };
  var SHADES = ["#0f2a44", "#1d5a8c", "#e0a43a", "#e8662f", "#d7263d"];
  var SHADE_RGB = SHADES.map(function (h) { return [1, 3, 5].map(function (i) { return parseInt(h.substr(i, 2), 16); }); });
  var SHADE_ALPHA = 0.62;
  var MAX_RINGS = 20;
  var MAX_PATCH = 40;  // more changed markers than this in one draw: the whole canvas is painted again
  // two marker canvases: the workers (repainted once a second) under the events (repainted when a case or an
  // alert comes): a new case does not redraw 490 workers, a position frame does not redraw the cases
  var CANVASES = { workers: ["workers"], events: ["cases", "alerts"] };  // drawing order: alerts on top
  var STYLE = { workers: [0.6, "#04101e"], cases: [1.2, "#ffffff"], alerts: [3, "#ffe4e6"] };  // stroke width, colour

  // a grid's fill for value v on a scale 0..zmax: the SHADES stops evenly spread, linear in RGB, clamped
  function shadeColor(v, zmax) {
    var n = SHADES.length - 1, t = Math.max(0, Math.min(1, (v || 0) / (zmax || 1))) * n;
    var i = Math.min(Math.floor(t), n - 1), f = t - i, a = SHADE_RGB[i], b = SHADE_RGB[i + 1];
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); }).join(",") + ")";
  }

  // Web Mercator as MapLibre projects with no bearing or pitch (512-px world at zoom 0, the centre in the middle of
  // a w×h canvas): what the canvases use before MapLibre is ready; the wall test checks it against map.project
  function mercator(center, zoom, w, h) {
    var world = 512 * Math.pow(2, zoom);
    function px(lon, lat) {
      var s = Math.sin(Math.max(-85.051129, Math.min(85.051129, lat)) * Math.PI / 180);
      return [(lon + 180) / 360 * world, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * world];
    }
    var c = px(center.lon, center.lat);
    return {
      project: function (ll) { var p = px(ll[0], ll[1]); return { x: p[0] - c[0] + w / 2, y: p[1] - c[1] + h / 2 }; },
      unproject: function (xy) {  // a pixel back to [lon, lat] (as MapLibre's map.unproject, whose answer has .lng/.lat)
        var X = (xy[0] - w / 2 + c[0]) / world, Y = (xy[1] - h / 2 + c[1]) / world;
        return { lng: X * 360 - 180, lat: Math.atan(Math.sinh(Math.PI * (1 - 2 * Y))) * 180 / Math.PI };
      },
    };
  }

  // -- viewport culling: what the shading and the grids' outlines draw is what meets the view ----------------------
  // a shape's box [west, south, east, north] from its rings ([[lon, lat], …] each)
  function ringsBox(rings) {
    var b = [Infinity, Infinity, -Infinity, -Infinity];
    for (var r = 0; r < rings.length; r++) {
      var ring = rings[r];
      for (var i = 0; i < ring.length; i++) {
        var x = ring[i][0], y = ring[i][1];
        if (x < b[0]) { b[0] = x; } if (y < b[1]) { b[1] = y; } if (x > b[2]) { b[2] = x; } if (y > b[3]) { b[3] = y; }
      }
    }
    return b;
  }
  function boxesMeet(a, b) { return a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1]; }
  function boxInside(inner, outer) {
    return inner[0] >= outer[0] && inner[1] >= outer[1] && inner[2] <= outer[2] && inner[3] <= outer[3];
  }
  // the view's box in map coordinates: the w×h canvas's corners unprojected (north up, no bearing)
  function viewBounds(view, w, h) {
    var a = view.unproject([0, 0]), b = view.unproject([w, h]);
    return [Math.min(a.lng, b.lng), Math.min(a.lat, b.lat), Math.max(a.lng, b.lng), Math.max(a.lat, b.lat)];
  }
  // the entries ([id, rings, box]) whose box meets the view's
  function cull(entries, bounds) {
    var out = [];
    for (var i = 0; i < entries.length; i++) { if (boxesMeet(entries[i][2], bounds)) { out.push(entries[i]); } }
    return out;
  }
  // a box grown by `f` of its size on every side
  function padBox(b, f) {
    var dx = (b[2] - b[0]) * f, dy = (b[3] - b[1]) * f;
    return [b[0] - dx, b[1] - dy, b[2] + dx, b[3] + dy];
  }
  // The top of a shading scale: the measure's own (a grid's: 3 open cases is red) or, for communities of a few dozen
  // grids, the 90th percentile of their values rounded up to 5, 10, 20, 50, … so that not every community is red
  function levelZmax(values, base) {
    var vs = values.filter(function (v) { return v > 0; }).sort(function (a, b) { return a - b; });
    if (!vs.length) { return base; }
    var p90 = vs[Math.min(vs.length - 1, Math.floor(vs.length * 0.9))], top = 5;
    while (top < p90) { top = /^[15]/.test(String(top)) ? top * 2 : top * 5 / 2; }
    return Math.max(base, top);
  }

  // one marker: where, how it looks (radius and stroke in design pixels, scaled by the wall), what it is (k, d)
  function point(p, props) {
    return { lon: p[1], lat: p[0], props: props };
  }

  // a placed marker's box, one pixel wider and on whole device pixels (so clearing and clipping leave no seam)
  function box(p, dpr) {
    var R = p[2] + 1;
    return [Math.floor((p[0] - R) * dpr) / dpr, Math.floor((p[1] - R) * dpr) / dpr,
            Math.ceil((p[0] + R) * dpr) / dpr, Math.ceil((p[1] + R) * dpr) / dpr];
  }

  function touches(p, rects) {
    var R = p[2] + 1;
    for (var i = 0; i < rects.length; i++) {
      var r = rects[i];
      if (p[0] + R >= r[0] && p[0] - R <= r[2] && p[1] + R >= r[1] && p[1] - R <= r[3]) { return true; }
    }
    return false;
  }

  function GCWallMap(wall) {
    this.wall = wall;
    this.cfg = wall.cfg;
    this.gd = null;
    this.map = null;    // MapLibre, once Plotly has plotted the figure and the map is idle
    this.view = null;   // what the canvases project with: mercator() until the map is ready, then the map
    this.scale = 1;
    this.chain = Promise.resolve();
    this.shaded = {};   // grid (or community) id → value the shading canvas shows
    this.rings = [];    // [grid id, [[lon, lat], …] per ring, box] of every grid, as the figure has them (a wide
                        // wall's figure has its communities instead)
    this.gridRings = [];  // a wide wall zoomed in: the grids of its view, from /api/v1/wall/grids
    this.gridBox = null;  // … and the box they cover
    this.drawMs = [];   // recent redraw times, for diagnostics and the bench
    this.points = { workers: [], cases: [], alerts: [] };
    this.memo = { cases: new Map(), alerts: new Map() };  // record → its marker (see recordPoints)
    this.marks = {};    // canvas name → {el, ctx, placed: [[x, y, r, layer, props], …] as last painted}
                        // (GCWallMap.prototype.placed: both canvases' together, topmost last)
    this.shade = null; this.sctx = null;  // the shading canvas, under the map
    this.still = null;  // a copy of MapLibre's canvas while the map stands still (see freeze), or null
  }

  GCWallMap.prototype.pt = function (lat, lon) {
    return window.GCGeo.toMap(this.cfg.gcj ? "gcj02" : "wgs84", lat, lon);
  };

  GCWallMap.prototype.ready = function () { return !!this.map; };  // MapLibre is up (pan, zoom, hover, clicks)
  GCWallMap.prototype.live = function () { return !!this.view; };  // the canvases can paint

  // the live canvases at once (cb: they can paint); then plot the server-built figure at the size and zoom of this
  // screen and move the canvases onto MapLibre's camera
  GCWallMap.prototype.whenReady = function (cb) {
    var self = this;
    var timer = setInterval(function () {
      var div = document.getElementById("wall-map"), layer = document.querySelector(".wall-map-layer");
      if (!div || !layer || !layer.clientWidth) { return; }
      if (!self.view) {
        self.addCanvases(self.cfg.figure.data[self.cfg.traces.grids].geojson, layer);
        self.provisional(layer);
        cb();
      }
      if (!window.Plotly) { return; }  // Plotly arrives with the 五治 panel's chart
      clearInterval(timer);
      self.wall.timing.plotly = Math.round(performance.now());
      var fig = self.cfg.figure, lay = Object.assign({}, fig.layout, { width: layer.clientWidth,
        height: layer.clientHeight, map: Object.assign({}, fig.layout.map, { zoom: self.zoomFor(self.scale) }) });
      self.gd = div;
      Plotly.newPlot(div, fig.data, lay, { displayModeBar: false, scrollZoom: true, responsive: false })
        .then(function () {
          var map = div._fullLayout.map._subplot.map;
          self.wall.timing.plotted = Math.round(performance.now());
          var go = function () {
            self.wall.timing.map_idle = Math.round(performance.now());
            self.attach(map);
            self.map = self.view = map;
            self.repaint();
            map.triggerRepaint();  // a frame whose "idle" is heard: the map is then copied and hidden (freeze)
          };
          if (map.loaded()) { go(); } else { map.once("idle", go); }
        }).catch(function (e) { console.warn("wall map plot failed", e); });
    }, 50);
  };

  GCWallMap.prototype.zoomFor = function (s) { return this.cfg.base_zoom + Math.log2(s || 1); };

  // the shading canvas under the map and the two marker canvases over it; rings: every grid's outline
  GCWallMap.prototype.addCanvases = function (grids, layer) {
    var self = this;
    this.rings = grids.features.map(function (f) {
      var g = f.geometry, polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
      var rings = [].concat.apply([], polys);
      return [f.id, rings, ringsBox(rings)];
    });
    var sh = document.createElement("canvas");
    sh.className = "wall-shade";
    layer.insertBefore(sh, layer.firstChild);  // under the (transparent) map: Plotly's outlines stay on top
    // Opaque: it paints the map's background itself, so the compositor knows nothing under it shows and skips
    // the page's layers there (the screen-wide gradient and the page background). In software compositing each
    // layer drawn over the map's area costs about a millisecond, and worker moves redraw that area every second.
    this.shadeBg = getComputedStyle(layer).backgroundColor;
    this.shade = sh; this.sctx = sh.getContext("2d", { alpha: false });
    Object.keys(CANVASES).forEach(function (name) {
      var c = document.createElement("canvas");
      c.className = "wall-points wall-points-" + name;
      layer.insertBefore(c, document.getElementById("wall-overlay"));
      self.marks[name] = { el: c, ctx: c.getContext("2d"), placed: [] };
    });
  };

  // MapLibre is up: the canvases follow its camera and the pointer
  GCWallMap.prototype.attach = function (map) {
    var self = this;
    map.on("movestart", function () { self.thaw(); });
    map.on("move", function () { self.repaint(); });
    map.on("resize", function () { self.thaw(); self.repaint(); });
    map.on("idle", function () { self.freeze(); });
    map.on("moveend", function () { self.viewChanged(); });
    if (this.wall.wide && this.gd && this.gd.on) {  // a click on a community zooms in to its grids
      this.gd.on("plotly_click", function (ev) {
        var pt = ev && ev.points && ev.points[0];
        if (!pt || !pt.data || pt.data.meta !== "gc-communities") { return; }
        var hit = self.rings.filter(function (r) { return String(r[0]) === String(pt.location); })[0];
        if (hit) { map.fitBounds([[hit[2][0], hit[2][1]], [hit[2][2], hit[2][3]]], { padding: 40, maxZoom: 16 }); }
      });
    }
    this.hover(map);
  };

  // The map stands still (a wall's map does for days): its WebGL canvas is copied onto the shading canvas and
  // hidden. Composited in software, that canvas cost 4–5 ms of the GPU process on each frame touching the map
  // (worker moves, every second), where a 2D canvas costs a few tenths. Called on MapLibre's "idle", in the task
  // that rendered the frame, so the drawing buffer still holds it. Made transparent (opacity 0: the compositor
  // skips it), not hidden or removed: the canvas still takes the pointer for MapLibre (hover, click, pan, zoom),
  // and the first move shows it again (thaw).
  GCWallMap.prototype.freeze = function () {
    var c = this.map && this.map.getCanvas();
    if (!c || !c.width || !c.height) { return; }
    var still = this.still || document.createElement("canvas");
    still.width = c.width; still.height = c.height;  // also clears it
    still.getContext("2d").drawImage(c, 0, 0);
    this.still = still;
    c.style.opacity = "0";
    this.paintShade();
  };

  GCWallMap.prototype.thaw = function () {
    if (!this.still) { return; }
    this.still = null;
    this.map.getCanvas().style.opacity = "";
    this.paintShade();
  };

  // until MapLibre is up: the canvases at the layer's size, projected with mercator() at this screen's zoom
  GCWallMap.prototype.provisional = function (layer) {
    var w = layer.clientWidth, h = layer.clientHeight;
    this.sizeCanvas(w, h);
    this.view = mercator(this.cfg.figure.layout.map.center, this.zoomFor(this.scale), w, h);
  };

  // everything on the canvases again (camera moved, canvas resized, projection swapped); the map's canvas size
  // once MapLibre is up
  GCWallMap.prototype.repaint = function () {
    if (this.map) { this.sizeCanvas(this.map.getCanvas().clientWidth, this.map.getCanvas().clientHeight); }
    this.paintShade(); this.paint(); this.placeRings();
  };

  GCWallMap.prototype.sizeCanvas = function (w, h) {
    var dpr = window.devicePixelRatio || 1;
    if (w === this.cssW && h === this.cssH && dpr === this.dpr) { return; }
    this.dpr = dpr;
    var all = [[this.shade, this.sctx]], marks = this.marks;
    Object.keys(marks).forEach(function (name) { all.push([marks[name].el, marks[name].ctx]); });
    all.forEach(function (cc) {
      cc[0].style.width = w + "px"; cc[0].style.height = h + "px";
      cc[0].width = Math.round(w * dpr); cc[0].height = Math.round(h * dpr);
      cc[1].setTransform(dpr, 0, 0, dpr, 0, 0);
    });
    this.cssW = w; this.cssH = h;
    this.sctx.fillStyle = this.shadeBg; this.sctx.fillRect(0, 0, w, h);  // a resized opaque canvas is black
  };

  // -- a wide wall (a district or a city): communities until zoomed in past cfg.wide.grid_zoom, then the grids of
  // the view (fetched for a padded box of it, again when the view leaves that box)
  GCWallMap.prototype.zoom = function () { return this.map ? this.map.getZoom() : this.zoomFor(this.scale); };
  GCWallMap.prototype.level = function () {
    var wide = this.wall.wide;
    return !wide || this.zoom() >= wide.grid_zoom - 1e-6 ? "grids" : "communities";
  };
  // the shapes the shading draws now: [id, rings, box] each
  GCWallMap.prototype.shapes = function () {
    return this.wall.wide && this.level() === "grids" ? this.gridRings : this.rings;
  };
  GCWallMap.prototype.bounds = function () {
    return this.view && this.view.unproject ? viewBounds(this.view, this.cssW, this.cssH) : null;
  };
  // the top of the shading scale in use (the legend shows it)
  GCWallMap.prototype.zmax = function () {
    var base = ZMAX[this.wall.measure] || 5;
    return this.wall.wide && this.level() === "communities" ? (this.levelTop || base) : base;
  };

  // the camera stopped: a wide wall switches level or asks for the grids of its new view
  GCWallMap.prototype.viewChanged = function () {
    var wide = this.wall.wide;
    if (!wide) { return; }
    var level = this.level();
    if (level !== this.lastLevel) {
      this.lastLevel = level;
      this.wall.markDirty("workers", "grids");
      this.wall.showScale();
    }
    if (level === "grids") {
      var b = this.bounds();
      if (b && !(this.gridBox && boxInside(b, this.gridBox))) { this.loadView(padBox(b, 0.25)); }
    }
  };

  GCWallMap.prototype.loadView = function (box) {
    var self = this, wall = this.wall, key = box.map(function (v) { return v.toFixed(5); }).join(",");
    if (this.loadingKey === key) { return; }
    this.loadingKey = key;
    fetch("/api/v1/wall/grids?bbox=" + key, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("wall grids → " + r.status); }
      return r.json();
    }).then(function (res) {
      if (self.loadingKey !== key) { return; }  // a newer view was asked for
      self.loadingKey = null;
      self.gridBox = box;
      self.gridRings = res.grids.map(function (g) {
        wall.openByGrid[g.id] = g.open; wall.todayByGrid[g.id] = g.today;
        return [g.id, g.rings, ringsBox(g.rings)];
      });
      Object.assign(self.cfg.people, res.people);
      res.workers.forEach(function (w) { if (!wall.workers.has(w[0])) { wall.workers.set(w[0], w); } });
      self.loadedAt = performance.now();
      self.shaded = {};
      wall.lastShade = 0;
      wall.markDirty("workers", "grids");
    }).catch(function (e) { self.loadingKey = null; console.warn("wall grids failed", e); });
  };

  // every shape in view filled with the colour of its value; one path per colour (a handful), projected with the
  // camera. Only what meets the view is projected (a city's 10,000 grids took ~0.4 s per repaint); a wide wall's
  // grids get their outline here too (its figure outlines the communities only)
  GCWallMap.prototype.paintShade = function () {
    if (this.wall.wide && this.shadedLevel !== this.level()) { this.syncShaded(); }  // zoomed across the threshold
    var map = this.view, ctx = this.sctx, shaded = this.shaded, zmax = this.zmax(), groups = {};
    if (!map || !ctx) { return; }
    var t0 = performance.now(), bounds = this.bounds(), all = this.shapes();
    var shapes = bounds ? cull(all, bounds) : all;
    shapes.forEach(function (g) {
      var col = shadeColor(shaded[g[0]] || 0, zmax);
      (groups[col] = groups[col] || []).push(g[1]);
    });
    var outline = !!this.wall.wide && this.level() === "grids";
    ctx.fillStyle = this.shadeBg; ctx.fillRect(0, 0, this.cssW, this.cssH);
    ctx.globalAlpha = SHADE_ALPHA;
    Object.keys(groups).forEach(function (col) {
      ctx.beginPath();
      groups[col].forEach(function (rings) {
        rings.forEach(function (ring) {
          for (var i = 0; i < ring.length; i++) {
            var xy = map.project(ring[i]);
            if (i) { ctx.lineTo(xy.x, xy.y); } else { ctx.moveTo(xy.x, xy.y); }
          }
          ctx.closePath();
        });
      });
      ctx.fillStyle = col; ctx.fill("evenodd");
      if (outline) { ctx.globalAlpha = 1; ctx.lineWidth = 0.6; ctx.strokeStyle = "#3d6a93"; ctx.stroke(); ctx.globalAlpha = SHADE_ALPHA; }
    });
    ctx.globalAlpha = 1;
    this.shadeDrawn = shapes.length;
    this.shadeMs = performance.now() - t0;
    if (this.still) { ctx.drawImage(this.still, 0, 0, this.cssW, this.cssH); }  // the map's outlines, standing still
    this.shadedFor = this.wall.measure;
  };

  // the markers of one canvas ("workers" or "events"; both when none is named), projected with the map's camera
  GCWallMap.prototype.paint = function (which) {
    var self = this;
    if (!this.view) { return; }
    (which ? [which] : Object.keys(CANVASES)).forEach(function (name) { self.paintCanvas(name); });
  };

  // both canvases' placed markers, topmost last (hover and tests read them)
  Object.defineProperty(GCWallMap.prototype, "placed", { get: function () {
    return this.marks.workers ? this.marks.workers.placed.concat(this.marks.events.placed) : [];
  } });

  // where a canvas's markers go: [x, y, r + stroke, layer, props] in drawing order, off-screen ones left out;
  // `reuse` (props → entry) keeps the entries of markers unchanged since the last paint with this camera
  GCWallMap.prototype.place = function (name, reuse) {
    var map = this.view, s = this.scale || 1, pts = this.points, cw = this.cssW, h = this.cssH, out = [];
    CANVASES[name].forEach(function (layer) {
      var list = pts[layer], lw = STYLE[layer][0] * s;
      for (var i = 0; i < list.length; i++) {
        var m = list[i], old = reuse && reuse.get(m.props);
        if (old) { out.push(old); continue; }
        var xy = map.project([m.lon, m.lat]), r = m.props.r * s;
        if (xy.x < -r || xy.y < -r || xy.x > cw + r || xy.y > h + r) { continue; }
        out.push([xy.x, xy.y, r + lw, layer, m.props]);
      }
    });
    return out;
  };

  // the placed markers onto ctx; with `rects`, only those that reach into one of them
  GCWallMap.prototype.drawMarks = function (ctx, placed, rects) {
    var s = this.scale || 1, style = null;
    for (var i = 0; i < placed.length; i++) {
      var p = placed[i], lw = STYLE[p[3]][0] * s;
      if (rects && !touches(p, rects)) { continue; }
      if (style !== p[3]) { style = p[3]; ctx.lineWidth = lw; ctx.strokeStyle = STYLE[p[3]][1]; }
      ctx.beginPath(); ctx.arc(p[0], p[1], p[2] - lw, 0, 2 * Math.PI);
      ctx.globalAlpha = p[4].o || 1; ctx.fillStyle = p[4].c; ctx.fill();
      ctx.globalAlpha = 1; if (lw > 0) { ctx.stroke(); }
    }
  };

  GCWallMap.prototype.paintCanvas = function (name) {
    var c = this.marks[name];
    c.placed = this.place(name, null);
    c.ctx.clearRect(0, 0, this.cssW, this.cssH);
    this.drawMarks(c.ctx, c.placed, null);
    this.fullPaints = (this.fullPaints || 0) + 1;
  };

  // A case or an alert came, changed or went: only the boxes of what changed are cleared and drawn again (every
  // marker reaching into them, in order). The work per event no longer grows with the cases kept (a wall holds
  // hundreds after a day; each new case drew them all), and the frame's damage is a few small rectangles.
  // Markers are matched by their props object: caseData and alertData keep it while the wall keeps the same record.
  GCWallMap.prototype.patchCanvas = function (name) {
    var c = this.marks[name], before = new Map(), rects = [], dpr = this.dpr || 1;
    c.placed.forEach(function (p) { before.set(p[4], p); });
    var placed = this.place(name, before), kept = new Set();
    placed.forEach(function (p) {
      if (before.get(p[4]) === p) { kept.add(p); } else { rects.push(box(p, dpr)); }
    });
    c.placed.forEach(function (p) { if (!kept.has(p)) { rects.push(box(p, dpr)); } });
    if (rects.length > MAX_PATCH) { this.paintCanvas(name); return; }
    c.placed = placed;
    if (!rects.length) { return; }
    var ctx = c.ctx;
    ctx.save();
    ctx.beginPath();
    rects.forEach(function (r) { ctx.rect(r[0], r[1], r[2] - r[0], r[3] - r[1]); });
    ctx.clip();
    rects.forEach(function (r) { ctx.clearRect(r[0], r[1], r[2] - r[0], r[3] - r[1]); });
    this.drawMarks(ctx, placed, rects);
    ctx.restore();
    this.patches = (this.patches || 0) + 1;
  };

  // hover: masked details of the topmost marker under the pointer, shown as text (never as HTML)
  GCWallMap.prototype.hover = function (map) {
    var tip = document.createElement("div"), self = this;
    tip.className = "wall-tip"; tip.hidden = true;
    document.querySelector(".wall-map-layer").appendChild(tip);
    map.on("mousemove", function (e) {
      var hit = null, pl = self.placed;
      for (var i = pl.length - 1; i >= 0 && !hit; i--) {
        var dx = pl[i][0] - e.point.x, dy = pl[i][1] - e.point.y;
        if (dx * dx + dy * dy <= (pl[i][2] + 2) * (pl[i][2] + 2)) { hit = pl[i]; }
      }
      if (!hit) { if (!tip.hidden) { tip.hidden = true; map.getCanvas().style.cursor = ""; } return; }
      tip.textContent = self.hoverText(hit[4]); tip.hidden = false;
      tip.style.left = (e.point.x + 14) + "px"; tip.style.top = (e.point.y + 14) + "px";
      map.getCanvas().style.cursor = "pointer";
    });
    map.on("mouseout", function () { tip.hidden = true; });
  };

  GCWallMap.prototype.fit = function (s) {
    var legend = document.querySelector(".wall-map-layer .wall-legend");
    if (legend) { legend.style.transform = "scale(" + s + ")"; }
    var changed = s !== this.scale;
    this.scale = s;
    if (this.map && changed) {  // only after a resize: the first plot already has the right size
      this.applyZoom();  // placeRings follows the relayout; the map's resize event repaints the markers
    } else if (this.view && changed) {  // resized before MapLibre was up: the provisional camera follows
      this.provisional(document.querySelector(".wall-map-layer"));
      this.repaint();
    }
  };

  // Plotly calls on the map go through one queue: a relayout racing another breaks the style
  GCWallMap.prototype.queue = function (fn) {
    var run = this.chain.then(fn);
    this.chain = run.catch(function (e) { console.warn("wall map update failed", e); });
    return run;
  };

  // the layer follows the window in CSS; after a window resize the plot follows here (a wall rarely resizes)
  GCWallMap.prototype.applyZoom = function () {
    var gd = this.gd, self = this, layer = document.querySelector(".wall-map-layer");
    return this.queue(function () {
      var fl = gd._fullLayout, z = self.zoomFor(self.scale), upd = {};
      if (fl.width !== layer.clientWidth || fl.height !== layer.clientHeight) {
        upd.width = layer.clientWidth; upd.height = layer.clientHeight;
      }
      if (Math.abs((fl.map.zoom || 0) - z) > 0.01) { upd["map.zoom"] = z; }
      return Object.keys(upd).length ? Plotly.relayout(gd, upd) : null;
    }).then(function () { self.placeRings(); });
  };

  GCWallMap.prototype.workerData = function () {
    var feats = [];
    if (this.wall.wide && this.level() === "communities") { return feats; }  // a city's 20,000: counted, not dotted
    // zoomed in on a city: only the workers in (a padded box of) the view are projected and placed
    var near = this.wall.wide && this.bounds() ? padBox(this.bounds(), 0.1) : null;
    this.wall.workers.forEach(function (w) {
      var p = w[3] === "offline" ? null : this.pt(w[1], w[2]);
      if (!p || (near && (p[1] < near[0] || p[1] > near[2] || p[0] < near[1] || p[0] > near[3]))) { return; }
      feats.push(point(p, { r: 3.6, o: 0.95, c: DUTY_COLORS[w[3]] || "#94a3b8", k: "worker", d: w }));
    }, this);
    return feats;
  };

  // a case's or an alert's marker, made once per record the wall keeps (a changed case or alert is a new record):
  // an unchanged marker stays the same object, which is how patchCanvas tells what changed
  GCWallMap.prototype.recordPoints = function (layer, records, make) {
    var memo = this.memo[layer], next = new Map(), feats = [];
    records.forEach(function (rec) {
      var pt = memo.has(rec) ? memo.get(rec) : make.call(this, rec);
      next.set(rec, pt);
      if (pt) { feats.push(pt); }
    }, this);
    this.memo[layer] = next;
    return feats;
  };

  GCWallMap.prototype.caseData = function () {
    return this.recordPoints("cases", this.wall.cases, function (c) {
      var p = this.pt(c.lat, c.lon);
      if (!p) { return null; }
      var open = !!OPEN[c.state];
      return point(p, { id: c.id, code: c.code, c: open ? (PRIORITY_COLORS[c.priority] || "#ffd60a") : "#5b6b7c",
        r: open ? (c.priority <= 2 ? 7.5 : 5.5) : 4, k: "case", d: c });
    });
  };

  GCWallMap.prototype.alertData = function () {
    return this.recordPoints("alerts", this.wall.alerts, function (a) {
      var p = this.pt(a.lat, a.lon);
      return p ? point(p, { id: a.id, r: 9, c: a.state === "new" ? "#ff1f3d" : "#ff8a00", k: "alert", d: a }) : null;
    });
  };

  // a marker's hover text, built when the pointer is on it (not for every marker on every repaint: the
  // workers alone repaint once a second); the data is the server's, already masked
  GCWallMap.prototype.hoverText = function (props) {
    var t = this.wall.t, d = props.d;
    if (props.k === "worker") {  // the worker's masked name and code (cfg.people), not the database id
      var who = (this.cfg.people || {})[d[0]];
      return (t["wall.hover.worker"] || "") + " " + (who ? who[1] + " · " + who[0] : "#" + d[0]) + "\n" +
        (t["duty." + d[3]] || d[3]) + "\n" + (t["wall.hover.fix"] || "") + " " + (d[4] || "").slice(11, 19);
    }
    if (props.k === "case") {
      return d.code + " " + (t["priority." + d.priority] || "") + "\n" + (d.major || "") + "/" + (d.category || "") +
        "\n" + (t["case.state." + d.state] || d.state) + " · " + (d.grid_name || "") + "\n" +
        (t["wall.hover.reporter"] || "") + ": " + (d.reporter || "—") +
        (d.assigned_worker ? "\n" + (t["wall.hover.assigned"] || "") + ": " + d.assigned_worker : "") +
        "\n" + (d.description || "").slice(0, 40);
    }
    return d.title + "\n" + (t["wall.severity." + d.severity] || d.severity) + " · " +
      (t["alert.state." + d.state] || d.state) + (d.worker_name ? "\n" + d.worker_name : "");
  };

  // the shading follows the wall's chosen measure; repainted only when a value (or the measure) changed
  GCWallMap.prototype.shadeGrids = function () {
    if (this.syncShaded()) { this.paintShade(); }
  };

  // the values the shading shows brought up to date (a new level starts afresh: grid and community ids overlap);
  // true when one changed
  GCWallMap.prototype.syncShaded = function () {
    var vals = this.wall.gridValues(), level = this.level(), changed = this.shadedFor !== this.wall.measure;
    if (level !== this.shadedLevel) { this.shaded = {}; this.shadedLevel = level; changed = true; }
    var shaded = this.shaded;
    var ids = this.wall.wide ? this.shapes().map(function (g) { return g[0]; }) : this.cfg.grids;
    ids.forEach(function (g) {
      var v = vals[g] || 0;
      if (shaded[g] !== v) { shaded[g] = v; changed = true; }
    });
    if (this.wall.wide && level === "communities") {
      var top = levelZmax(Object.keys(vals).map(function (k) { return vals[k]; }), ZMAX[this.wall.measure] || 5);
      if (top !== this.levelTop) { this.levelTop = top; changed = true; this.wall.showScale(); }
    }
    return changed;
  };

  // the value and colour the shading shows for a grid (what a viewer sees; tests read it)
  GCWallMap.prototype.shadeOf = function (gid) {
    var v = this.shaded[gid] || 0;
    return { v: v, color: shadeColor(v, this.zmax()), alpha: SHADE_ALPHA };
  };

  // resolves once a frame with the new markers has been painted (both canvases are drawn synchronously)
  GCWallMap.prototype.draw = function (dirty) {
    var self = this, t0 = performance.now();
    if (dirty.workers) { this.points.workers = this.workerData(); }
    if (dirty.cases) { this.points.cases = this.caseData(); }
    if (dirty.alerts) { this.points.alerts = this.alertData(); }
    if (this.view) {
      if (dirty.workers) { this.paintCanvas("workers"); }
      if (dirty.cases || dirty.alerts) { this.patchCanvas("events"); }
    }
    if (dirty.alerts) { this.placeRings(); }
    // worker moves already repaint the whole map: the shading joins their frame. A case's or an alert's frame
    // (snapshot, map ready) never waits for it: the shading follows in the next frame
    var urgent = dirty.cases || dirty.alerts;
    if (dirty.grids && !urgent) { this.shadeGrids(); }
    return new Promise(function (resolve) {
      requestAnimationFrame(function () {  // the frame after the canvas changed has it on screen
        self.drawMs.push(Math.round(performance.now() - t0));
        if (self.drawMs.length > 100) { self.drawMs.shift(); }
        resolve();
        if (dirty.grids && urgent) { setTimeout(function () { self.shadeGrids(); }, 0); }
      });
    });
  };

  // markers currently painted on the canvas (what is on screen, not what we meant to draw)
  GCWallMap.prototype.loaded = function (layer) {
    return this.placed.filter(function (p) { return p[3] === layer; }).map(function (p) { return p[4]; });
  };

  // a ring around each of the newest alerts (every alert keeps its marker): dozens of rings pulsing together
  // would hide the map, and each is a DOM layer repainted every beat
  GCWallMap.prototype.placeRings = function () {
    var box = document.getElementById("wall-overlay"), map = this.view;
    if (!box || !map) { return; }
    box.textContent = "";
    var size = Math.round(56 * (this.scale || 1)), all = Array.from(this.wall.alerts.values());
    all.slice(Math.max(0, all.length - MAX_RINGS)).forEach(function (a) {
      var p = this.pt(a.lat, a.lon);
      if (!p) { return; }
      var xy = map.project([p[1], p[0]]);
      var d = document.createElement("div");
      d.className = "wall-ring wall-ring-" + a.state + " wall-ring-" + a.severity;
      d.style.left = xy.x + "px"; d.style.top = xy.y + "px";
      d.style.width = d.style.height = size + "px";
      box.appendChild(d);
    }, this);
  };

  window.GCWallMap = GCWallMap;
  window.GCWallMap.shadeColor = shadeColor;
  window.GCWallMap.mercator = mercator;
  window.GCWallMap.ringsBox = ringsBox;
  window.GCWallMap.boxesMeet = boxesMeet;
  window.GCWallMap.viewBounds = viewBounds;
  window.GCWallMap.cull = cull;
  window.GCWallMap.padBox = padBox;
  window.GCWallMap.levelZmax = levelZmax;
})();
