// The residents' page notices (assets/43-resident-notices.js): which notices a page shows — live ones only, urgent
// first, then newest — and how a pushed message changes the list (a repeat replaces, a withdrawal removes).
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const { loadAssets } = require("./load.js");

const ctx = loadAssets(["43-resident-notices.js"], {
  Intl, setInterval: () => 0, setTimeout: () => 0, document: { getElementById: () => null }
});
const N = ctx.GCResidentNotices;
const NOW = Date.parse("2026-12-07T10:00:00+08:00");
const n = (id, created, extra) => ({ id, title: "n" + id, urgent: false, created_at: created, valid_until: null, ...extra });

test("urgent first, then newest; expired ones are not shown", () => {
  const list = [n(1, "2026-12-07T08:00:00+08:00", { urgent: true }), n(2, "2026-12-07T09:00:00+08:00"),
                n(3, "2026-12-07T09:30:00+08:00"), n(4, "2026-12-07T09:45:00+08:00", { valid_until: "2026-12-07T09:59:00+08:00" }),
                n(5, "2026-12-07T07:00:00+08:00", { urgent: true, valid_until: "2026-12-07T12:00:00+08:00" })];
  assert.deepStrictEqual(N.visible(list, NOW).map((x) => x.id), [1, 5, 3, 2]);
  assert.deepStrictEqual(N.visible(list, Date.parse("2026-12-07T12:00:01+08:00")).map((x) => x.id), [1, 3, 2]);
});

test("a pushed notice is added once; a withdrawal removes it; anything else changes nothing", () => {
  let list = [n(1, "2026-12-07T08:00:00+08:00")];
  list = N.applyMessage(list, { type: "published", notice: n(2, "2026-12-07T09:00:00+08:00", { urgent: true }) });
  list = N.applyMessage(list, { type: "published", notice: n(2, "2026-12-07T09:00:00+08:00", { urgent: true, title: "again" }) });
  assert.deepStrictEqual(list.map((x) => [x.id, x.title]), [[1, "n1"], [2, "again"]]);
  assert.deepStrictEqual(N.applyMessage(list, { type: "withdrawn", id: 1 }).map((x) => x.id), [2]);
  assert.deepStrictEqual(N.applyMessage(list, { type: "bogus" }).map((x) => x.id), [1, 2]);
  assert.deepStrictEqual(N.applyMessage(list, null).map((x) => x.id), [1, 2]);
});

test("/m's notice body: trimmed, grid scope, a known validity, the urgent flag from the select", () => {
  const M = loadAssets(["44-mobile-notices.js"], {
    Intl, setInterval: () => 0, document: { getElementById: () => null }
  }).GCMobileNotices;
  const body = M.noticeBody({ title: " 停水 ", body: "  ", urgent: "1", days: "3", picture: null }, NOW);
  assert.deepStrictEqual(JSON.parse(JSON.stringify(body)), { scope: "grid", title: "停水", urgent: true,
                                                             valid_until: new Date(NOW + 3 * 86400000).toISOString() });
  const other = M.noticeBody({ title: "x", body: "正文", urgent: "0", days: "999", picture: "u_1" }, NOW);
  assert.strictEqual(other.valid_until, new Date(NOW + 7 * 86400000).toISOString());
  assert.strictEqual(other.urgent, false);
  assert.strictEqual(other.body, "正文");
  assert.strictEqual(other.picture, "u_1");
});

test("/m's notice key: one per composed notice, reused on a retry, new once the notice is edited", () => {
  const M = loadAssets(["44-mobile-notices.js"], {
    Intl, setInterval: () => 0, document: { getElementById: () => null }
  }).GCMobileNotices;
  let n = 0;
  const make = () => "key-" + (++n);
  const form = { title: "停水", body: "明天9点", urgent: "1", days: "3", pictureSeq: 0 };
  const first = M.composedKey(null, form, make);
  assert.strictEqual(first.key, "key-1");
  assert.strictEqual(M.composedKey(first, { ...form, title: " 停水 " }, make).key, "key-1");  // the retry
  assert.strictEqual(M.composedKey(first, { ...form, body: "后天9点" }, make).key, "key-2");  // edited
  assert.strictEqual(M.composedKey(first, { ...form, pictureSeq: 1 }, make).key, "key-3");  // another picture
  assert.strictEqual(M.composedKey(null, form, make).key, "key-4");  // published: the next one is new
});
