// The /m visits tab (assets/42-visits.js): the body a visit is sent as — the kind always one the API knows, empty
// fields left out, the phone's location only when it has both coordinates.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const { loadAssets } = require("./load.js");

const ctx = loadAssets(["42-visits.js"], {
  Intl, setInterval: () => 0, clearTimeout: () => {}, document: { getElementById: () => null }
});
const V = ctx.GCVisits;

test("a visit's body: trimmed texts, empty ones left out, a known kind", () => {
  const body = V.visitBody({ kind: "place", whom: " ", place: " 便民超市 ", needs: "", opinions: "门前停车乱",
                             follow_up: "  " }, null);
  assert.deepStrictEqual(JSON.parse(JSON.stringify(body)), { kind: "place", place: "便民超市", opinions: "门前停车乱" });
  assert.strictEqual(V.visitBody({ kind: "party" }, null).kind, "household");
});

test("the location only when both coordinates are numbers", () => {
  assert.deepStrictEqual(JSON.parse(JSON.stringify(V.visitBody({ whom: "王" }, { lat: 34.26, lon: 108.95 }))),
                         { kind: "household", whom: "王", lat: 34.26, lon: 108.95 });
  assert.strictEqual(V.visitBody({ whom: "王" }, { lat: 34.26 }).lat, undefined);
});
