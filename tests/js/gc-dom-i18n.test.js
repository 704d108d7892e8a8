// GCDom's language helpers (assets/08-gc-dom.js): enum labels, API errors and names in the page's language from
// the texts layouts/lang.py puts into #gc-texts; a key with no text never shows as itself.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const { loadAssets } = require("./load.js");

const TEXTS = {
  "case.state.closed": "Closed", "alert.kind.other": "Other alert", "error.required": "{field} is required",
  "error.required.any": "A required value is missing", "error.invalid": "{field}: this value is not valid",
  "error.invalid.any": "The input is not valid", "error.forbidden": "You may not change {field}",
  "error.forbidden.any": "This account may not do this", "error.network.any": "Network error", "error.network": "x",
  "field.title": "Title", "name.兴乐社区": "Xingle Community", "name.市容环境": "City appearance",
  "name.乱贴广告": "Illegal posters"
};
const quiet = { warn() {}, log() {}, error() {} };
const ctx = loadAssets(["08-gc-dom.js"], {
  console: quiet,
  document: { getElementById: (id) => (id === "gc-texts" ? { textContent: JSON.stringify(TEXTS) } : null) }
});
const D = ctx.GCDom;

test("labels: the text, or the family's other, never the code", () => {
  assert.strictEqual(D.label("case.state", "closed"), "Closed");
  assert.strictEqual(D.label("alert.kind", "brand_new"), "Other alert");
  assert.strictEqual(D.label("duty", "x"), "");
});

test("API errors in the page's language, naming a known field only", () => {
  assert.strictEqual(D.errorText({ error: { status: 400, code: "required", field: "title", message: "title is required" } }),
    "Title is required");
  assert.strictEqual(D.errorText({ error: { status: 400, code: "invalid", field: "grid_code" } }), "The input is not valid");
  assert.strictEqual(D.errorText({}, 403), "This account may not do this");  // no code: from the status
  assert.strictEqual(D.errorText({ ok: false, error: "not allowed", code: "forbidden" }), "This account may not do this");
  assert.strictEqual(D.errorText({ code: "network" }), "Network error");
});

test("names: catalogue, grid as community + number, 大类/小类, else as stored", () => {
  assert.strictEqual(D.name("兴乐社区"), "Xingle Community");
  assert.strictEqual(D.name("兴乐社区第04网格"), "Xingle 04");
  assert.strictEqual(D.name("市容环境/乱贴广告"), "City appearance/Illegal posters");
  assert.strictEqual(D.name("无名小区"), "无名小区");
});

test("a missing key shows its family's other or nothing, never the key or a code", () => {
  assert.strictEqual(D.miss("alert.kind.brand_new"), "Other alert");
  assert.strictEqual(D.miss("wall.action.brand_new", "brand_new"), "");
  assert.strictEqual(D.miss("wall.alerts.more", "+{n}"), "+{n}");
  assert.strictEqual(D.miss("case.state.closed"), "Closed");
});

test("CSV cells: formulas, full-width ones too, are quoted out; commas and quotes escaped", () => {
  assert.strictEqual(D.csvCell("=1+1"), "'=1+1");
  assert.strictEqual(D.csvCell("\uff1d1+1"), "'\uff1d1+1");   // ＝ typed by a Chinese IME
  assert.strictEqual(D.csvCell("\uff20SUM(A1)"), "'\uff20SUM(A1)");
  assert.strictEqual(D.csvCell("-3"), "'-3");
  assert.strictEqual(D.csvCell("普通, \"文本\""), "\"普通, \"\"文本\"\"\"");
  assert.strictEqual(D.csvCell(null), "");
  assert.strictEqual(D.csvCell("a=b"), "a=b");
});

test("one beep for every page: n tones, the context resumed for them and suspended after the last", async () => {
  const made = [];
  const ctx = {
    state: "suspended", currentTime: 10, destination: {},
    resume() { this.state = "running"; return Promise.resolve(); },
    suspend() { this.state = "suspended"; },
    createGain() { return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect() {} }; },
    createOscillator() { const o = { frequency: {}, connect() {}, start(t) { o.t = t; }, stop() {} }; made.push(o); return o; }
  };
  const holder = { audio: ctx };
  assert.strictEqual(D.beep({}, 3), false);  // no context (sound never allowed): silent, no error
  assert.strictEqual(D.beep(holder, 3), true);
  await Promise.resolve();
  assert.deepStrictEqual(made.map((o) => o.frequency.value), [988, 660, 988]);
  assert.deepStrictEqual(made.map((o) => Math.round((o.t - 10) * 100)), [0, 28, 56]);
  assert.strictEqual(ctx.state, "running");
  made[2].onended();
  assert.strictEqual(ctx.state, "suspended");
  assert.strictEqual(holder.beeping, 0);
});

test("fill: every {name} placeholder filled, unknown ones left", () => {
  assert.strictEqual(D.fill("{n} of {total}, {n} again {x}", { n: 3, total: 5 }), "3 of 5, 3 again {x}");
  assert.strictEqual(D.fill("plain"), "plain");
});
