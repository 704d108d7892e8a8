/* GCLive: the one live connection of a page.
 *
 * Starts from a snapshot taken at a known seq, then applies pushed event batches in
 * seq order. A batch whose first event is not lastSeq+1, or a reconnect, makes it
 * fetch /api/v1/events?after=lastSeq first, so nothing is missed and nothing is
 * applied twice. A community screen's batches carry `prev` (the last seq before the
 * batch in its scope): there a gap is prev > lastSeq, so other communities' seqs are
 * no gap. Listeners: GCLive.on("snapshot"|"events"|"status", fn).
 *
 * Pushed batches can arrive out of seq order: with several server processes each
 * one sends its own events to its sockets at once and the others' through the
 * message queue, and two processes publish in the order they finish, not the order
 * they commit. So while the page is live (in step with the pushes), a gap is first
 * given GAP_WAIT_MS for the missing batch to arrive; only then is it fetched. After
 * a snapshot or a reconnect, what is missing may never be pushed: it is fetched at once.
 */
(function () {
  "use strict";
  var listeners = { snapshot: [], events: [], status: [] };
  var lastSeq = null, socket = null, busy = false, queue = [], started = false, opts = {};
  var MAX_CATCHUP_PAGES = 5; // beyond this a fresh snapshot is cheaper than replaying
  var GAP_WAIT_MS = 250; // an overtaken batch comes through the message queue in milliseconds
  var live = false, gapTimer = null; // live: every event after lastSeq will be pushed
  var early = null; // {url, promise}: a snapshot asked for before start() (prefetch)

  function emit(type, arg) {
    listeners[type].forEach(function (fn) {
      try { fn(arg); } catch (e) { console.warn("GCLive listener failed", e); }
    });
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error(url + " → " + r.status); }
      return r.json();
    });
  }

  function scopeQuery(sep) {
    var q = [];
    if (opts.community) { q.push("community_id=" + encodeURIComponent(opts.community)); }
    return q.length ? sep + q.join("&") : "";
  }

  // the snapshot's own options: view=wall (a wall's: a district's or city's without per-grid detail)
  function snapshotUrl() {
    var q = scopeQuery("?");
    return "/api/v1/snapshot" + q + (opts.view ? (q ? "&" : "?") + "view=" + encodeURIComponent(opts.view) : "");
  }

  function takeSnapshot() {
    var url = snapshotUrl();
    var got = early && early.url === url ? early.promise : getJSON(url);
    early = null; // used once: a retry or a re-snapshot asks again
    return got.then(function (snap) {
      lastSeq = snap.seq;
      live = false; // events between the snapshot and the socket joining are never pushed
      emit("snapshot", snap);
    });
  }

  function apply(events) {
    var fresh = events.filter(function (e) { return e.seq > lastSeq; });
    if (!fresh.length) { return; }
    lastSeq = fresh[fresh.length - 1].seq;
    emit("events", fresh);
  }

  // Fetch everything after lastSeq; several pages if need be, else a new snapshot.
  function catchUp(pages) {
    return getJSON("/api/v1/events?after=" + lastSeq + "&limit=5000" + scopeQuery("&")).then(function (res) {
      apply(res.events);
      // seqs up to the head that were not returned do not exist (rolled back): skip them
      if (res.last_seq > lastSeq && !res.more) { lastSeq = res.last_seq; }
      if (res.more) {
        return pages + 1 >= MAX_CATCHUP_PAGES ? takeSnapshot() : catchUp(pages + 1);
      }
    });
  }

  // Fetch what is missing, then go on with the held batches; the page is in step with the pushes after it.
  function fetchMissing(what) {
    clearTimeout(gapTimer);
    gapTimer = null;
    busy = true;
    catchUp(0).catch(function (e) { console.warn("GCLive " + what + " failed", e); })
      .then(function () { busy = false; live = true; drain(); });
  }

  function drain() {
    if (busy || lastSeq === null) { return; }
    while (queue.length) {
      var batch = queue[0].events, prev = queue[0].prev;
      // a phone's own feed (scope "worker") is a few events about itself: no gap test, a reconnect catches up
      var gap = queue[0].scope === "worker" ? false
        : typeof prev === "number" ? prev > lastSeq : batch[0].seq > lastSeq + 1;
      if (gap) {
        if (!live) { fetchMissing("catch-up"); } else if (gapTimer === null) {
          gapTimer = setTimeout(function () { gapTimer = null; if (!busy) { fetchMissing("catch-up"); } }, GAP_WAIT_MS);
        }
        return;
      }
      queue.shift();
      apply(batch);
      live = true;
    }
    clearTimeout(gapTimer);
    gapTimer = null;
  }

  function onBatch(msg) {
    var events = (msg && msg.events) || [];
    if (!events.length) { return; }
    queue.push({ events: events, prev: msg.prev, scope: msg.scope });
    queue.sort(function (a, b) { return a.events[0].seq - b.events[0].seq; }); // an overtaken batch goes first
    drain();
  }

  function connect() {
    socket = window.io({ transports: ["websocket"], reconnectionDelayMax: 5000 });
    socket.on("connect", function () {
      emit("status", "connected");
      live = false;
      if (lastSeq === null) { return; }
      fetchMissing("resync"); // reconnect: fill what happened while we were away before new batches
    });
    socket.on("disconnect", function () { emit("status", "disconnected"); });
    socket.on("events", onBatch);
    socket.io.on("reconnect_attempt", function () { emit("status", "reconnecting"); });
  }

  function start(options) {
    if (started) { return; }
    started = true;
    opts = options || {};
    busy = true; // hold pushed batches until the snapshot sets lastSeq
    connect();
    var boot = function () {
      takeSnapshot().then(function () { busy = false; drain(); }).catch(function (e) {
        console.warn("GCLive snapshot failed, retrying", e);
        setTimeout(boot, 2000);
      });
    };
    boot();
  }

  // A page that will go live asks for its snapshot while Dash still builds the page (the request and the
  // server's work overlap the page's start-up); start() then takes it. An old snapshot is still correct: the
  // first pushed batch shows the gap and the events after it are fetched (catchUp).
  function prefetch(options) {
    if (started || early) { return; }
    opts = options || {};
    var url = snapshotUrl();
    early = { url: url, promise: getJSON(url) };
    early.promise.catch(function () {}); // a failed prefetch is retried by start(); no unhandled rejection
  }

  window.GCLive = {
    start: start,
    prefetch: prefetch,
    on: function (type, fn) { listeners[type].push(fn); },
    lastSeq: function () { return lastSeq; },
    socket: function () { return socket; },
    resnapshot: takeSnapshot
  };
})();
