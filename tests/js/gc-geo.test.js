// GCGeo (assets/09-gc-geo.js): the browser's WGS-84 ⇄ GCJ-02. tests/unit/test_coords_js.py checks it against
// dashboard/geo/coords.py point for point; here: published pairs, the inverse, and the per-figure datum.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const GCGeo = require("../../dashboard/assets/09-gc-geo.js");

// googollee/eviltransform's test suite (WGS-84 → GCJ-02), as tests/unit/test_coords.py
const PUBLISHED = [
  [[31.1774276, 121.5272106], [31.17530398364597, 121.531541859215]],  // Shanghai
  [[22.543847, 113.912316], [22.540796131694766, 113.9171764808363]],  // Shenzhen
  [[39.911954, 116.377817], [39.91334545536069, 116.38404722455657]],  // Beijing
];
const close = (a, b, tol) => Math.abs(a[0] - b[0]) <= tol && Math.abs(a[1] - b[1]) <= tol;

test("WGS-84 → GCJ-02 gives the published pairs to 1e-9°", () => {
  for (const [wgs, gcj] of PUBLISHED) {
    assert.ok(close(GCGeo.wgsToGcj(wgs[0], wgs[1]), gcj, 1e-9), `${wgs} → ${GCGeo.wgsToGcj(wgs[0], wgs[1])}`);
  }
});

test("GCJ-02 → WGS-84 undoes it to 1e-9°, and the shift is real (hundreds of metres in Xi'an)", () => {
  for (const [wgs, gcj] of PUBLISHED) { assert.ok(close(GCGeo.gcjToWgs(gcj[0], gcj[1]), wgs, 1e-8)); }
  const bell = [34.2610, 108.9423];
  const g = GCGeo.wgsToGcj(bell[0], bell[1]);
  const metres = Math.hypot((g[0] - bell[0]) * 111320, (g[1] - bell[1]) * 111320 * Math.cos(bell[0] * Math.PI / 180));
  assert.ok(metres > 300 && metres < 700, `${metres} m`);
  assert.ok(close(GCGeo.gcjToWgs(g[0], g[1]), bell, 1e-9));
});

test("outside China's box points stay as they are", () => {
  assert.deepEqual(Array.from(GCGeo.wgsToGcj(48.8566, 2.3522)), [48.8566, 2.3522]);
  assert.deepEqual(Array.from(GCGeo.gcjToWgs(48.8566, 2.3522)), [48.8566, 2.3522]);
});

test("a figure says its datum in layout.meta.crs; WGS-84 figures and missing points pass through", () => {
  const gcjFig = { layout: { meta: { crs: "gcj02" } } }, plain = { layout: {} };
  assert.equal(GCGeo.crsOf(gcjFig), "gcj02");
  assert.equal(GCGeo.crsOf(plain), "wgs84");
  assert.equal(GCGeo.crsOf(null), "wgs84");
  assert.deepEqual(GCGeo.mapPoint(plain, 34.26, 108.94), [34.26, 108.94]);
  assert.deepEqual(GCGeo.mapPoint(gcjFig, 34.26, 108.94), GCGeo.wgsToGcj(34.26, 108.94));
  assert.equal(GCGeo.mapPoint(gcjFig, null, 108.94), null);
  const back = GCGeo.wgsPoint(gcjFig, ...GCGeo.mapPoint(gcjFig, 34.26, 108.94));
  assert.ok(close(back, [34.26, 108.94], 1e-9));
  const ring = [[108.94, 34.26], [108.95, 34.27]];
  const moved = GCGeo.mapRing(gcjFig, ring);
  assert.deepEqual(moved[1], [GCGeo.wgsToGcj(34.27, 108.95)[1], GCGeo.wgsToGcj(34.27, 108.95)[0]]);
  assert.equal(GCGeo.mapRing(plain, ring), ring);
});
