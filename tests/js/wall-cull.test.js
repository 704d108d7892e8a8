// The city wall's pure parts (assets/31-wall-map.js): viewport culling, the view's box, and the communities'
// shading scale (#26 item 6), with the page script loaded unchanged.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { loadAssets } = require("./load");

const { GCWallMap } = loadAssets(["09-gc-geo.js", "31-wall-map.js"], {});

test("ringsBox spans every ring of a shape", () => {
  const rings = [[[1, 2], [3, 2], [3, 5], [1, 2]], [[0.5, 4], [2, 6], [0.5, 4]]];
  assert.deepEqual(Array.from(GCWallMap.ringsBox(rings)), [0.5, 2, 3, 6]);
});

test("boxesMeet: overlapping and touching boxes meet, separate ones do not", () => {
  assert.equal(GCWallMap.boxesMeet([0, 0, 2, 2], [1, 1, 3, 3]), true);
  assert.equal(GCWallMap.boxesMeet([0, 0, 1, 1], [1, 1, 2, 2]), true);
  assert.equal(GCWallMap.boxesMeet([0, 0, 1, 1], [1.01, 0, 2, 1]), false);
  assert.equal(GCWallMap.boxesMeet([0, 0, 1, 1], [0, 1.01, 1, 2]), false);
  assert.equal(GCWallMap.boxesMeet([-1, -1, 5, 5], [1, 1, 2, 2]), true, "a box inside another meets it");
});

test("cull keeps exactly the shapes whose box meets the view, in order", () => {
  // a 100 × 100 lattice of 0.01° cells; a view of 0.05° × 0.03° in its middle
  const entries = [];
  for (let r = 0; r < 100; r++) {
    for (let c = 0; c < 100; c++) { entries.push([r * 100 + c, null, [c * 0.01, r * 0.01, c * 0.01 + 0.01, r * 0.01 + 0.01]]); }
  }
  const view = [0.505, 0.305, 0.555, 0.335];
  const kept = GCWallMap.cull(entries, view);
  assert.equal(kept.length, 6 * 4, "columns 50–55, rows 30–33");
  assert.deepEqual(Array.from(kept.slice(0, 2), (e) => e[0]), [3050, 3051]);
  const brute = entries.filter((e) => !(e[2][2] < view[0] || e[2][0] > view[2] || e[2][3] < view[1] || e[2][1] > view[3]));
  assert.deepEqual(Array.from(kept, (e) => e[0]), brute.map((e) => e[0]));
});

test("mercator's unproject inverts project, and viewBounds is the canvas's corners", () => {
  const c = { lat: 34.27, lon: 108.95 };
  const v = GCWallMap.mercator(c, 13, 900, 700);
  const p = v.project([108.96, 34.28]), back = v.unproject([p.x, p.y]);
  assert.ok(Math.abs(back.lng - 108.96) < 1e-9 && Math.abs(back.lat - 34.28) < 1e-9);
  const b = GCWallMap.viewBounds(v, 900, 700);
  assert.ok(b[0] < c.lon && c.lon < b[2] && b[1] < c.lat && c.lat < b[3]);
  const sw = v.project([b[0], b[1]]), ne = v.project([b[2], b[3]]);
  assert.ok(Math.abs(sw.x) < 1e-6 && Math.abs(sw.y - 700) < 1e-6 && Math.abs(ne.x - 900) < 1e-6 && Math.abs(ne.y) < 1e-6);
  // a zoom level in: half the span
  const b2 = GCWallMap.viewBounds(GCWallMap.mercator(c, 14, 900, 700), 900, 700);
  assert.ok(Math.abs((b2[2] - b2[0]) * 2 - (b[2] - b[0])) < 1e-9);
});

test("padBox grows a box by a share of its size on each side", () => {
  assert.deepEqual(Array.from(GCWallMap.padBox([0, 0, 4, 2], 0.25)), [-1, -0.5, 5, 2.5]);
});

test("levelZmax: the grids' own top for small values, the 90th percentile rounded up to 5/10/20/50 for communities", () => {
  assert.equal(GCWallMap.levelZmax([], 3), 3);
  assert.equal(GCWallMap.levelZmax([0, 1, 2], 3), 5, "never below 5 once there are values (and never below the base)");
  assert.equal(GCWallMap.levelZmax([1, 1, 1], 8), 8);
  // 334 communities of 200–239 open cases each, ten of 900: the top is the 90th percentile's step (500: the axes'
  // 5, 10, 20, 50, 100, 200, 500 …), not 900 or more
  const vals = Array.from({ length: 334 }, (_, i) => (i < 10 ? 900 : 200 + (i % 40)));
  assert.equal(GCWallMap.levelZmax(vals, 3), 500);
  assert.equal(GCWallMap.levelZmax(vals.map((v) => v / 10), 3), 50);
  assert.equal(GCWallMap.levelZmax([30, 40, 60], 3), 100);
});
