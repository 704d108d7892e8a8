/* /r — the grid's notices (网格通知, issue 31) in #r-notices: urgent first, then newest, expired ones dropped.
 *
 * The list comes from GET /api/v1/r/grids/<id>/notices (anonymous; an open is counted by the server once per
 * address, grid and hour), with a resident ticket: a socket opened with it (?resident=<ticket>) joins this grid's
 * notices room and nothing else, and the server pushes {type: "published", notice} / {type: "withdrawn", id}
 * there. When the socket drops, the page asks for the list again (count=0) — it catches what it missed and a fresh
 * ticket — and opens a new socket. Push, not polling: the one timer only drops notices whose time has passed.
 */
(function () {
  "use strict";
  var S = null;
  var TIME = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit",
                                                 hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

  function $(id) { return document.getElementById(id); }
  function tx(key, fmt) {
    return GCDom.fill((S && S.texts[key]) || GCDom.miss(key), fmt);
  }

  /* the notices a page shows at ``nowMs``: live ones, urgent first, then newest (pure: tests/js/notices.test.js) */
  function visible(list, nowMs) {
    return (list || []).filter(function (n) {
      return !n.valid_until || Date.parse(n.valid_until) > nowMs;
    }).sort(function (a, b) {
      if (!!a.urgent !== !!b.urgent) { return a.urgent ? -1 : 1; }
      var d = Date.parse(b.created_at || 0) - Date.parse(a.created_at || 0);
      return d || (b.id - a.id);
    });
  }
  /* a pushed message applied to a list (pure) */
  function applyMessage(list, msg) {
    var out = (list || []).slice();
    if (!msg || typeof msg !== "object") { return out; }
    if (msg.type === "published" && msg.notice && typeof msg.notice.id === "number") {
      out = out.filter(function (n) { return n.id !== msg.notice.id; });
      out.push(msg.notice);
    } else if (msg.type === "withdrawn") {
      out = out.filter(function (n) { return n.id !== msg.id; });
    }
    return out;
  }

  function when(iso) { return iso ? TIME.format(new Date(iso)) : ""; }

  function item(n) {
    var el = GCDom.el;
    var head = [el("b", { cls: "r-notice-title", text: n.title })];
    if (n.urgent) { head.unshift(el("span", { cls: "r-notice-tag", text: tx("r.notices.urgent") })); }
    if (S.fresh[n.id]) { head.push(el("span", { cls: "r-notice-new-tag", text: tx("r.notices.new") })); }
    var parts = [el("div", { cls: "r-notice-head" }, head)];
    if (n.body) { parts.push(el("p", { cls: "r-notice-body", text: n.body })); }
    if (n.picture_url) {
      parts.push(el("a", { href: n.picture_url, target: "_blank", rel: "noopener" }, [
        el("img", { cls: "r-notice-img", src: n.picture_url + "?thumb=1", alt: tx("r.notices.picture"),
                    loading: "lazy" })]));
    }
    var meta = [tx("r.notices.posted", { t: when(n.created_at) })];
    if (n.valid_until) { meta.push(tx("r.notices.until", { t: when(n.valid_until) })); }
    parts.push(el("div", { cls: "r-notice-meta", text: meta.join(" · ") }));
    var cls = "r-notice" + (n.urgent ? " r-notice-urgent" : "") + (S.fresh[n.id] ? " r-notice-fresh" : "");
    return el("li", { cls: cls, "data-id": String(n.id), "data-urgent": n.urgent ? "1" : "0" }, parts);
  }

  function render() {
    var box = $("r-notices");
    if (!box || !S) { return; }
    var shown = visible(S.items, Date.now());
    box.textContent = "";
    box.classList.add("r-card");
    box.appendChild(GCDom.el("h2", { text: tx("r.notices.title") }));
    if (S.failed && !shown.length) {
      box.appendChild(GCDom.el("p", { cls: "r-hint", text: tx("r.notices.failed") }));
      return;
    }
    if (!shown.length) {
      box.appendChild(GCDom.el("p", { cls: "r-hint r-notices-none", text: tx("r.notices.none") }));
      return;
    }
    box.appendChild(GCDom.el("ul", { cls: "r-notice-list" }, shown.map(item)));
  }

  function load(count) {
    // the poster link's g= lets the server count this as an open of its grid (a bare grid number is not counted)
    var url = "/api/v1/r/grids/" + encodeURIComponent(S.grid) + "/notices?g=" + encodeURIComponent(S.g) +
      (count ? "" : "&count=0");
    return fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (j) {
      S.items = j.items || []; S.failed = false; S.live = j.live || null;
      render();
      connect();
    }).catch(function () { S.failed = true; render(); retry(); });
  }

  function retry() {
    if (!S || S.retryTimer) { return; }
    S.backoff = Math.min(30000, (S.backoff || 1000) * 2);
    S.retryTimer = setTimeout(function () { S.retryTimer = null; if (S) { load(false); } }, S.backoff);
  }

  function connect() {
    if (!window.io || !S.live || !S.live.ticket || S.socket) { return; }
    var query = {};
    query[S.live.param || "resident"] = S.live.ticket;
    var socket = window.io({ transports: ["websocket"], query: query, reconnection: false, forceNew: true });
    S.socket = socket;
    socket.on("connect", function () { S.backoff = 1000; S.connected = true; });
    socket.on("notice", function (msg) {
      if (msg && msg.type === "published" && msg.notice) { S.fresh[msg.notice.id] = true; }
      S.items = applyMessage(S.items, msg);
      render();
    });
    function dropped() {
      if (S && S.socket === socket) {
        S.socket = null; S.connected = false;
        socket.close();
        retry();  // the list again (what was missed) and a fresh ticket, then a new socket
      }
    }
    socket.on("disconnect", dropped);
    socket.on("connect_error", dropped);
  }

  function init(root) {
    if (S && S.socket) { S.socket.close(); }
    S = { root: root, grid: root.getAttribute("data-grid-id"), g: root.getAttribute("data-g") || "", texts: JSON.parse(root.getAttribute("data-texts") || "{}"),
          items: [], fresh: {}, socket: null, live: null, failed: false, backoff: 1000, retryTimer: null };
    load(true);
  }

  setInterval(function () {
    var root = $("r-root");
    var grid = root && root.getAttribute("data-grid-id");
    if (root && grid && $("r-notices") && (!S || S.root !== root)) { init(root); }
    if (!root && S) { if (S.socket) { S.socket.close(); } S = null; }
  }, 300);
  setInterval(function () { if (S && S.items.length) { render(); } }, 30000);  // drop what has expired meanwhile

  window.GCResidentNotices = {
    visible: visible, applyMessage: applyMessage,
    state: function () { return S ? { connected: !!S.connected, ids: visible(S.items, Date.now()).map(function (n) { return n.id; }) } : null; }
  };
})();
