/* GCGeo: WGS-84 ⇄ GCJ-02 in the browser, the one copy every map page uses.
 *
 * Coordinates are stored and pushed in WGS-84; tiles from 高德/腾讯/天地图-GCJ are drawn in GCJ-02
 * (GC_TILE_CRS=gcj02). The server projects what it puts in a figure (layouts/map_style.py Projector) and
 * says which datum the figure is in (layout.meta.crs); what a page adds later (a GPS fix, a pushed worker, a
 * case) goes through mapPoint(gd, …), and a point read off the map (the /m cross-hair) through wgsPoint(gd, …).
 * The formulas are dashboard/geo/coords.py's, term for term; tests/unit/test_coords_js.py checks that both
 * give the same numbers (≤ 1e-9°).
 */
(function () {
  "use strict";
  var A = 6378245.0, EE = 0.006693421622965943;  // Krasovsky 1940, as coords.py (_A, _EE)
  var INVERSE_TOL_DEG = 1e-9, INVERSE_MAX_ITER = 10;

  function outOfChina(lat, lon) {
    return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }

  // the GCJ-02 shift (dlat, dlon) in degrees at a WGS-84 point (coords.py _gcj_offset)
  function offset(lat, lon) {
    var x = lon - 105.0, y = lat - 35.0, sx = Math.sqrt(Math.abs(x)), PI = Math.PI;
    var common = (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0;
    var dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx;
    dlat = dlat + common;
    dlat = dlat + (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0;
    dlat = dlat + (160.0 * Math.sin(y / 12.0 * PI) + 320.0 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    var dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx;
    dlon = dlon + common;
    dlon = dlon + (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0;
    dlon = dlon + (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    var rad = lat / 180.0 * PI, s = Math.sin(rad), magic = 1.0 - EE * s * s, sm = Math.sqrt(magic);
    return [(dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sm) * PI), (dlon * 180.0) / (A / sm * Math.cos(rad) * PI)];
  }

  // WGS-84 → GCJ-02 as [lat, lon]; outside China's box the point is returned unchanged
  function wgsToGcj(lat, lon) {
    if (outOfChina(lat, lon)) { return [lat, lon]; }
    var d = offset(lat, lon);
    return [lat + d[0], lon + d[1]];
  }

  // GCJ-02 → WGS-84 by the fixed-point iteration of coords.py (< 1e-9° or 10 steps)
  function gcjToWgs(lat, lon) {
    if (outOfChina(lat, lon)) { return [lat, lon]; }
    var wLat = lat, wLon = lon;
    for (var i = 0; i < INVERSE_MAX_ITER; i++) {
      var g = wgsToGcj(wLat, wLon), eLat = g[0] - lat, eLon = g[1] - lon;
      wLat -= eLat; wLon -= eLon;
      if (Math.max(Math.abs(eLat), Math.abs(eLon)) < INVERSE_TOL_DEG) { break; }
    }
    return [wLat, wLon];
  }

  // the datum a Plotly map figure is drawn in: the server writes it into layout.meta.crs
  function crsOf(gd) {
    var meta = gd && gd.layout && gd.layout.meta;
    return (meta && meta.crs) || "wgs84";
  }

  // a stored (WGS-84) point as the map draws it: [lat, lon]
  function toMap(crs, lat, lon) {
    if (lat == null || lon == null) { return null; }
    return crs === "gcj02" ? wgsToGcj(lat, lon) : [lat, lon];
  }

  // a point read off the map back to WGS-84 (what the server stores): [lat, lon]
  function fromMap(crs, lat, lon) {
    return crs === "gcj02" ? gcjToWgs(lat, lon) : [lat, lon];
  }

  // GeoJSON-ordered [[lon, lat], …] in WGS-84 → the same ring as the map draws it
  function ringToMap(crs, ring) {
    return crs === "gcj02" ? ring.map(function (p) { var q = wgsToGcj(p[1], p[0]); return [q[1], q[0]]; }) : ring;
  }

  var GCGeo = {
    outOfChina: outOfChina, wgsToGcj: wgsToGcj, gcjToWgs: gcjToWgs, crsOf: crsOf, toMap: toMap, fromMap: fromMap,
    ringToMap: ringToMap,
    mapPoint: function (gd, lat, lon) { return toMap(crsOf(gd), lat, lon); },
    wgsPoint: function (gd, lat, lon) { return fromMap(crsOf(gd), lat, lon); },
    mapRing: function (gd, ring) { return ringToMap(crsOf(gd), ring); }
  };
  if (typeof window !== "undefined") { window.GCGeo = GCGeo; }
  if (typeof module !== "undefined" && module.exports) { module.exports = GCGeo; }  // node --test (tests/js)
})();
