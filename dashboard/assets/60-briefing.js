/* /briefing: the day replay runs here — the slider indexes into the day's arrays, no request per step.
   Does nothing unless the briefing page (#brief-root) is shown. */
(function () {
  "use strict";
  var TRACE = {trails: 1, workers: 2, cases: 3};
  var COLORS = ["#d7263d", "#e0a43a", "#e8662f", "#1d5a8c", "#7c3aed", "#3aa76d", "#9aa7b5"];
  var state = {timer: null, minute: 0, speed: 15, playing: false, lastClicks: 0, max: 1439, pending: null, retry: null};

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function hhmm(m) { return pad(Math.floor(m / 60)) + ":" + pad(m % 60); }

  // index of the last element of a sorted array <= v, or -1
  function lastAtOrBefore(arr, v) {
    var lo = 0, hi = arr.length - 1, ans = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (arr[mid] <= v) { ans = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return ans;
  }

  function caseStateAt(c, v) {
    var st = c[5], steps = c[6];  // init_state (null when reported this day), [[minute, state]...]
    for (var i = 0; i < steps.length; i++) {
      if (steps[i][0] <= v) { st = steps[i][1]; } else { break; }
    }
    return st;
  }

  /* What the map shows at minute v: exported for tests and for the page. */
  function frame(data, v) {
    var out = {cases: {lat: [], lon: [], color: [], text: [], state: []},
               workers: {lat: [], lon: [], text: []}, trails: {lat: [], lon: []}};
    (data.cases || []).forEach(function (c) {
      var st = caseStateAt(c, v);
      if (st === null || st === undefined || st === 6) { return; }  // not yet reported, or void
      out.cases.lat.push(c[2]); out.cases.lon.push(c[3]); out.cases.color.push(COLORS[st]);
      out.cases.text.push(c[1] + " " + c[4] + " · " + data.states[st]); out.cases.state.push(st);
    });
    var w = data.workers || {ids: []}, trail = data.trail_min || 30;
    for (var i = 0; i < w.ids.length; i++) {
      var t = w.t[i], k = lastAtOrBefore(t, v);
      if (k < 0 || v - t[k] > trail) { continue; }  // not out yet, or no fix lately
      out.workers.lat.push(w.lat[i][k]); out.workers.lon.push(w.lon[i][k]); out.workers.text.push(w.names[i] || "");
      for (var j = k; j >= 0 && v - t[j] <= trail; j--) {
        out.trails.lat.push(w.lat[i][j]); out.trails.lon.push(w.lon[i][j]);
      }
      out.trails.lat.push(null); out.trails.lon.push(null);
    }
    return out;
  }

  // The graph may not be on the page yet (its plotly chunk loads lazily, sometimes after the day's data) and MapLibre
  // refuses new sources until its style has loaded: hold the newest frame and retry shortly until both are there.
  function mapReady(gd) {
    var sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    return !!(sub && sub.map && sub.map.isStyleLoaded && sub.map.isStyleLoaded());
  }
  function restyleWhenReady() {
    var gd = document.querySelector("#brief-replay-map .js-plotly-plot");
    var f = state.pending;
    if (!f) { return; }
    if (!gd || !window.Plotly || !mapReady(gd)) {
      if (!state.retry) { state.retry = setTimeout(function () { state.retry = null; restyleWhenReady(); }, 150); }
      return;
    }
    state.pending = null;
    window.Plotly.restyle(gd, {
      lat: [f.trails.lat, f.workers.lat, f.cases.lat], lon: [f.trails.lon, f.workers.lon, f.cases.lon],
      text: [[], f.workers.text, f.cases.text], "marker.color": ["#38bdf8", "#0b3d6b", f.cases.color]
    }, [TRACE.trails, TRACE.workers, TRACE.cases]);
    // what the map now shows, for people reading the DOM (and tests): set once it is drawn, not when asked for
    var root = document.getElementById("brief-replay-map");
    if (root) { root.setAttribute("data-minute", f.minute); root.setAttribute("data-cases", f.cases.lat.length);
                root.setAttribute("data-workers", f.workers.lat.length); }
  }

  function draw(v, data) {
    var nu = window.dash_clientside.no_update;
    if (!data || !document.getElementById("brief-root")) { return [nu, nu]; }
    // today's replay ends now: play stops there and the slider shows nothing later than it
    state.max = (typeof data.until === "number") ? data.until : 1439;
    v = Math.min(v || 0, state.max);
    state.minute = v;
    var f = frame(data, v);
    f.minute = v;
    // restyle the three live layers in place (the grid outlines stay): no figure round trip through Dash
    state.pending = f;
    restyleWhenReady();
    var lab = document.getElementById("brief-replay-counts");  // texts come from the i18n catalogue via the layout
    var counts = (lab ? lab.getAttribute("data-cases-label") : "") + " " + f.cases.lat.length + " · " +
                 (lab ? lab.getAttribute("data-workers-label") : "") + " " + f.workers.lat.length;
    return [hhmm(v), counts];
  }

  function jump(value) {
    if (!value) { return window.dash_clientside.no_update; }
    return parseInt(String(value).split(":")[1], 10);
  }

  function tick() {
    var next = state.minute + state.speed / 4;  // speed n = n minutes of the day per second, 4 ticks a second
    if (next >= state.max) { next = state.max; stop(); }
    state.minute = next;
    window.dash_clientside.set_props("brief-replay-slider", {value: Math.round(next)});
  }
  function stop() {
    state.playing = false;
    if (state.timer) { clearInterval(state.timer); state.timer = null; }
    var b = document.getElementById("brief-replay-play");
    if (b) { b.textContent = b.getAttribute("data-play"); }
  }

  function play(nClicks, speed, value) {
    var b = document.getElementById("brief-replay-play");
    state.speed = speed || 15;
    if ((nClicks || 0) !== state.lastClicks) {  // a click toggles; a speed change keeps playing
      state.lastClicks = nClicks || 0;
      state.playing = !state.playing;
      state.minute = value || 0;
      if (state.playing && state.minute >= state.max) { state.minute = 0; }
    }
    if (state.timer) { clearInterval(state.timer); state.timer = null; }
    if (state.playing) { state.timer = setInterval(tick, 250); }
    return b ? b.getAttribute(state.playing ? "data-pause" : "data-play") : window.dash_clientside.no_update;
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.gcBrief = {draw: draw, jump: jump, play: play};
  window.GCBrief = {frame: frame, state: state};
})();
