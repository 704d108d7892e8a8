// The wall's residents' satisfaction panel (assets/33-wall-satisfaction.js): which live events refetch it, and how a
// figure is written (as layouts/wall/satisfaction_panel.show writes it on the server).
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const { loadAssets } = require("./load.js");

const ctx = loadAssets(["33-wall-satisfaction.js"], {
  setInterval: () => 0, clearInterval: () => {}, document: { getElementById: () => null }
});
const W = ctx.GCWallSatisfaction;
const ev = (action, source) => ({ type: "case", payload: { action, case: { id: 1, source } } });

test("a resident's answer, or a step on a resident's report, refetches; other cases do not", () => {
  assert.strictEqual(W.moves([ev("resident_rating", "resident")]), true);
  assert.strictEqual(W.moves([ev("resident_reopen", "resident")]), true);
  assert.strictEqual(W.moves([ev("created", "resident")]), true);
  assert.strictEqual(W.moves([ev("dispatch", "resident")]), true);
  assert.strictEqual(W.moves([ev("created", "app"), ev("dispatch", "app")]), false);
  assert.strictEqual(W.moves([ev("acknowledge", "resident")]), false);
  assert.strictEqual(W.moves([{ type: "positions", payload: {} }]), false);
  assert.strictEqual(W.moves(undefined), false);
});

test("figures: shares in %, minutes by the page's template, none as a dash", () => {
  assert.strictEqual(W.show("satisfied_share", 0.75), "75.0%");
  assert.strictEqual(W.show("response_median_min", 12.5, "{n} 分钟"), "12.5 分钟");
  assert.strictEqual(W.show("response_median_min", 20, "{n} min"), "20 min");
  assert.strictEqual(W.show("rework", 1234), "1,234");
  assert.strictEqual(W.show("answered_share", null), "—");
});
