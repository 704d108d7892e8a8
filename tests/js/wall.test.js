// The wall's pure parts (assets/31-wall-map.js, 32-wall-panels.js): Web Mercator, patchCanvas's boxes,
// the count axis and the shading colours, with the page scripts loaded unchanged.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { loadAssets } = require("./load");

const ctx = loadAssets(["09-gc-geo.js", "31-wall-map.js", "32-wall-panels.js"], {});
const { GCWallMap } = ctx;

// -- mercator -------------------------------------------------------------------------------
test("mercator puts the centre in the middle and scales by 2 per zoom level", () => {
  const c = { lat: 34.2685, lon: 108.9545 };
  const v = GCWallMap.mercator(c, 14.75, 800, 600);
  const mid = v.project([c.lon, c.lat]);
  assert.ok(Math.abs(mid.x - 400) < 1e-6 && Math.abs(mid.y - 300) < 1e-6);
  // a 0.01° step east at zoom z: 512·2^z·0.01/360 px, whatever the latitude
  const east = v.project([c.lon + 0.01, c.lat]);
  assert.ok(Math.abs(east.x - 400 - 512 * 2 ** 14.75 * 0.01 / 360) < 1e-6);
  assert.ok(Math.abs(east.y - 300) < 1e-9);
  const up = GCWallMap.mercator(c, 15.75, 800, 600).project([c.lon + 0.01, c.lat]);
  assert.ok(Math.abs((up.x - 400) / (east.x - 400) - 2) < 1e-9);
});

test("mercator matches Web Mercator's closed form: the world is 512 px at zoom 0, north up", () => {
  const v = GCWallMap.mercator({ lat: 0, lon: 0 }, 0, 512, 512);
  const at = (lon, lat) => { const p = v.project([lon, lat]); return [p.x, p.y]; };
  assert.deepEqual(at(0, 0), [256, 256]);
  assert.ok(Math.abs(at(90, 0)[0] - 384) < 1e-9);
  assert.ok(Math.abs(at(-180, 0)[0]) < 1e-9);
  assert.ok(Math.abs(at(0, 85.051129)[1]) < 1e-3, "the clamp latitude is the top edge");
  assert.ok(Math.abs(at(0, 89.9)[1] - at(0, 85.051129)[1]) < 1e-9, "beyond it the point is clamped");
  // y = 256 − 256·ln(tan(π/4 + φ/2))/π at φ = 45°
  const want = 256 - 256 * Math.log(Math.tan(Math.PI / 4 + Math.PI / 8)) / Math.PI;
  assert.ok(Math.abs(at(0, 45)[1] - want) < 1e-9);
});

// -- patchCanvas ----------------------------------------------------------------------------
function recorder() {
  const calls = [];
  const rec = (name) => (...args) => calls.push([name, ...args]);
  return {
    calls,
    clearRect: rec("clearRect"), rect: rec("rect"), arc: rec("arc"), fill: rec("fill"), stroke: rec("stroke"),
    beginPath: () => {}, clip: rec("clip"), save: () => {}, restore: () => {},
  };
}

// a wall map with a provisional (mercator) camera, a w×h canvas at dpr, and case markers at given pixels
function wallMap({ dpr = 1 } = {}) {
  const m = new GCWallMap({ cfg: { gcj: false, figure: { layout: { map: { center: { lat: 0, lon: 0 } } } } } });
  m.view = { project: (ll) => ({ x: ll[0], y: ll[1] }) };  // lon, lat are pixels here: boxes are easy to read
  m.cssW = 1000; m.cssH = 800; m.dpr = dpr; m.scale = 1;
  m.marks.events = { el: {}, ctx: recorder(), placed: [] };
  return m;
}
const marker = (x, y, r = 5) => ({ lon: x, lat: y, props: { r, c: "#f00" } });
const rects = (calls) => calls.filter((c) => c[0] === "clearRect").map((c) => c.slice(1));
const arcs = (calls) => calls.filter((c) => c[0] === "arc").map((c) => [c[1], c[2]]);

test("patchCanvas clears and redraws only the boxes of what changed", () => {
  const m = wallMap();
  const a = marker(100, 100), b = marker(300, 300), c = marker(106, 100);  // c overlaps a's box
  m.points.cases = [a, b, c];
  m.paintCanvas("events");
  const ctx2d = m.marks.events.ctx;
  ctx2d.calls.length = 0;
  const moved = marker(500, 500);  // a new record for b: b's old box and its new box
  m.points.cases = [a, moved, c];
  m.patchCanvas("events");
  // case radius 5 + stroke 1.2 + 1 px margin = 7.2, floored and ceiled to whole pixels
  assert.deepEqual(rects(ctx2d.calls), [[492, 492, 16, 16], [292, 292, 16, 16]]);
  assert.deepEqual(arcs(ctx2d.calls), [[500, 500]], "only the marker in a changed box is drawn");
  assert.equal(m.patches, 1);
});

test("a marker reaching into a changed box is drawn again, in order, so nothing is cut", () => {
  const m = wallMap();
  const a = marker(100, 100), c = marker(110, 100);
  m.points.cases = [a, c];
  m.paintCanvas("events");
  m.marks.events.ctx.calls.length = 0;
  m.points.cases = [a];  // c went: its box [102.8, 92.8, 117.2, 107.2] overlaps a's
  m.patchCanvas("events");
  assert.deepEqual(rects(m.marks.events.ctx.calls), [[102, 92, 16, 16]]);
  assert.deepEqual(arcs(m.marks.events.ctx.calls), [[100, 100]]);
});

test("boxes sit on whole device pixels; nothing changed draws nothing; many changes repaint all", () => {
  const m = wallMap({ dpr: 2 });
  const a = marker(100.3, 100.3);
  m.points.cases = [a];
  m.paintCanvas("events");
  m.points.cases = [a, marker(200.3, 200.3)];
  m.marks.events.ctx.calls.length = 0;
  m.patchCanvas("events");
  const [r] = rects(m.marks.events.ctx.calls);
  r.forEach((v) => assert.equal(v * 2, Math.round(v * 2), "half-pixel grid at dpr 2"));
  assert.deepEqual(r, [193, 193, 14.5, 14.5]);  // 200.3 ∓ 7.2 → 193.1, 207.5 → 193, 207.5
  m.marks.events.ctx.calls.length = 0;
  m.patchCanvas("events");
  assert.deepEqual(m.marks.events.ctx.calls, [], "unchanged records: no clear, no draw");
  const full = m.fullPaints;
  m.points.cases = Array.from({ length: 41 }, (_, i) => marker(10 + i * 20, 50));
  m.patchCanvas("events");
  assert.equal(m.fullPaints, full + 1, "more than MAX_PATCH boxes: one full paint instead");
});

test("markers off the canvas are not placed", () => {
  const m = wallMap();
  m.points.cases = [marker(-50, 10), marker(10, 10), marker(1100, 10)];
  m.paintCanvas("events");
  assert.deepEqual(Array.from(m.marks.events.placed, (p) => p[0]), [10]);  // (arrays of the page's realm)
});

// -- axis and shading -----------------------------------------------------------------------
test("the count axis ends at 5, 10, 20, 50, 100, 200, 500 … (layouts/wall/panels.py axis_top)", () => {
  function Wall() {}
  ctx.GCWallPanels(Wall);
  const top = Wall.prototype.axisTop;
  const got = [0, 1, 5, 6, 10, 11, 20, 21, 50, 51, 100, 101, 499, 501, 1999].map(top);
  assert.deepEqual(got, [5, 5, 5, 10, 10, 20, 20, 50, 50, 100, 100, 200, 500, 1000, 2000]);
});

test("the shading goes from the first to the last stop and is clamped", () => {
  assert.equal(GCWallMap.shadeColor(0, 4), "rgb(15,42,68)");
  assert.equal(GCWallMap.shadeColor(4, 4), "rgb(215,38,61)");
  assert.equal(GCWallMap.shadeColor(40, 4), "rgb(215,38,61)");
  assert.equal(GCWallMap.shadeColor(0.5, 4), "rgb(22,66,104)");  // halfway: (15+29)/2, (42+90)/2, (68+140)/2
});
