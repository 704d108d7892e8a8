// GCLive (assets/10-gc-live.js): seq order, gaps, catch-up and resync, driven through a fake socket, a fake
// fetch and a fake clock; the page script itself runs unchanged.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { loadAssets } = require("./load");

function harness({ snapshotSeq = 10, events = () => ({ events: [], last_seq: snapshotSeq, more: false }) } = {}) {
  const timers = [];
  let now = 0;
  const fetched = [];
  const handlers = {};
  const h = {
    fetched, applied: [], snapshots: [], now: () => now,
    socket: { on: (name, fn) => { handlers[name] = fn; }, io: { on: () => {} } },
    push: (msg) => handlers.events(msg),
    fire: (name) => handlers[name](),
    // advance the fake clock, running the timers that fall due
    tick(ms) {
      now += ms;
      for (;;) {
        const due = timers.filter((t) => !t.done && t.at <= now).sort((a, b) => a.at - b.at)[0];
        if (!due) { return; }
        due.done = true;
        due.fn();
      }
    },
  };
  const fetch = (url) => {
    fetched.push(url);
    let body;
    if (url.startsWith("/api/v1/snapshot")) { body = { seq: snapshotSeq }; } else {
      const after = Number(new URL(url, "http://x").searchParams.get("after"));
      body = events(after, url);
    }
    return Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(body) });
  };
  h.ctx = loadAssets(["10-gc-live.js"], {
    fetch,
    io: () => h.socket,
    setTimeout: (fn, ms) => { const t = { fn, at: now + (ms || 0), done: false }; timers.push(t); return t; },
    clearTimeout: (t) => { if (t) { t.done = true; } },
  });
  h.live = h.ctx.GCLive;
  h.live.on("events", (evs) => h.applied.push(...evs.map((e) => e.seq)));
  h.live.on("snapshot", (s) => h.snapshots.push(s.seq));
  return h;
}

const settle = async () => { for (let i = 0; i < 10; i++) { await new Promise((r) => setImmediate(r)); } };
const batch = (...seqs) => ({ events: seqs.map((seq) => ({ seq, type: "case" })) });
const eventFetches = (h) => h.fetched.filter((u) => u.startsWith("/api/v1/events"));

test("batches in seq order are applied once each, after the snapshot's seq", async () => {
  const h = harness();
  h.live.start({});
  h.push(batch(11, 12));  // pushed before the snapshot answered: held, not lost
  await settle();
  assert.deepEqual(h.snapshots, [10]);
  h.push(batch(13));
  h.push(batch(12, 13));  // a repeat (a resync overlapping a push) is dropped
  h.push(batch(9, 10));
  h.push(batch(14, 15));
  await settle();
  assert.deepEqual(h.applied, [11, 12, 13, 14, 15]);
  assert.equal(h.live.lastSeq(), 15);
  assert.deepEqual(eventFetches(h), [], "no gap, nothing fetched");
});

test("while live an overtaken batch gets GAP_WAIT_MS to arrive and then goes first", async () => {
  const h = harness();
  h.live.start({});
  await settle();
  h.push(batch(11));  // live now
  h.push(batch(14, 15));  // 12–13 are late (another process's publish)
  h.tick(100);
  assert.deepEqual(h.applied, [11]);
  h.push(batch(12, 13));
  await settle();
  assert.deepEqual(h.applied, [11, 12, 13, 14, 15]);
  h.tick(1000);  // the cancelled gap timer does not fetch afterwards
  await settle();
  assert.deepEqual(eventFetches(h), []);
});

test("a gap that stays open past the wait is fetched, then the held batch follows", async () => {
  const h = harness({
    // the server has everything committed up to its head, the pushed 14–15 included
    events: (after) => ({ events: [12, 13, 14, 15].filter((s) => s > after).map((seq) => ({ seq })), last_seq: 15,
                          more: false }),
  });
  h.live.start({});
  await settle();
  h.push(batch(11));
  h.push(batch(14, 15));
  h.tick(249);
  await settle();
  assert.deepEqual(eventFetches(h), [], "still waiting");
  h.tick(1);
  await settle();
  assert.deepEqual(eventFetches(h), ["/api/v1/events?after=11&limit=5000"]);
  assert.deepEqual(h.applied, [11, 12, 13, 14, 15], "the held 14–15 are not applied twice");
});

test("a gap right after the snapshot is fetched at once (it will never be pushed)", async () => {
  const h = harness({ events: () => ({ events: [{ seq: 11 }], last_seq: 11, more: false }) });
  h.live.start({});
  await settle();
  h.push(batch(12));
  await settle();
  assert.deepEqual(eventFetches(h), ["/api/v1/events?after=10&limit=5000"]);
  assert.deepEqual(h.applied, [11, 12]);
});

test("seqs the catch-up says do not exist (rolled back) are skipped, not waited for", async () => {
  const h = harness({ events: () => ({ events: [], last_seq: 12, more: false }) });
  h.live.start({});
  await settle();
  h.push(batch(13));
  await settle();
  assert.deepEqual(h.applied, [13]);
  assert.equal(h.live.lastSeq(), 13);
});

test("a community screen's gap is told by prev: other communities' seqs are no gap", async () => {
  const h = harness();
  h.live.start({ community: 3 });
  await settle();
  assert.ok(h.fetched[0].endsWith("/api/v1/snapshot?community_id=3"));
  h.push({ prev: 10, events: [{ seq: 17 }] });  // 11–16 were another community's
  h.push({ prev: 17, events: [{ seq: 20 }] });
  await settle();
  assert.deepEqual(h.applied, [17, 20]);
  assert.deepEqual(eventFetches(h), []);
  h.push({ prev: 25, events: [{ seq: 30 }] });  // 21–25 had one of ours: a real gap
  h.tick(250);
  await settle();
  assert.deepEqual(eventFetches(h), ["/api/v1/events?after=20&limit=5000&community_id=3"]);
});

test("a reconnect fetches what happened while away before taking new batches", async () => {
  const h = harness({ events: (after) => ({ events: [{ seq: after + 1 }, { seq: after + 2 }], last_seq: after + 2,
                                            more: false }) });
  h.live.start({});
  await settle();
  h.push(batch(11));
  h.fire("disconnect");
  h.fire("connect");
  h.push(batch(14));
  await settle();
  assert.deepEqual(eventFetches(h), ["/api/v1/events?after=11&limit=5000"]);
  assert.deepEqual(h.applied, [11, 12, 13, 14]);
});

test("a catch-up longer than five pages takes a new snapshot instead", async () => {
  let page = 0;
  const h = harness({ events: (after) => { page++; return { events: [{ seq: after + 1 }], last_seq: 999, more: true }; } });
  h.live.start({});
  await settle();
  h.push(batch(500));
  await settle();
  assert.equal(page, 5);
  assert.deepEqual(h.snapshots, [10, 10]);
  assert.deepEqual(h.applied.slice(0, 5), [11, 12, 13, 14, 15]);
});

test("a phone's own feed (scope worker) is applied as it comes: its seqs skip the street's, no fetch", async () => {
  const h = harness();
  h.live.start({});
  await settle();
  h.push({ events: [{ seq: 57, type: "case" }], scope: "worker" });  // 11…56 were other people's events
  h.push({ events: [{ seq: 203, type: "case" }], scope: "worker" });
  h.tick(1000);
  await settle();
  assert.deepEqual(h.applied, [57, 203]);
  assert.equal(eventFetches(h).length, 0);
  h.push({ events: [{ seq: 300, type: "case" }] });  // a street batch with a gap is still fetched
  h.tick(1000);
  await settle();
  assert.equal(eventFetches(h).length, 1);
});
