/* /console — the notices panel (网格通知, issue 31): the center publishes to a community or the street
 * (POST /api/v1/notices; a community-bound user is offered its own community only, and the server refuses any
 * other), lists the notices it may see with their opens (GET /api/v1/notices), opens one to see the opens per
 * grid (GET /api/v1/notices/<id>) and withdraws a live one. Counts are read when the list is (re)loaded or a notice
 * is opened: they are not live data worth a push.
 */
(function () {
  "use strict";
  var S = null;
  var DAY_MS = 86400000;
  var TIME = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit",
                                                 hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

  function $(id) { return document.getElementById(id); }
  function tx(key, fmt) {
    return GCDom.fill((S && S.texts[key]) || GCDom.miss(key), fmt);
  }
  function say(text, bad) {
    var m = $("cn-msg");
    if (m) { m.textContent = text || ""; m.style.color = bad ? "#c62828" : ""; }
  }
  function call(method, url, body, headers) {
    var opts = { method: method, credentials: "same-origin", cache: "no-store", headers: Object.assign({}, headers) };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(url, opts).catch(function () {
      var err = new Error(GCDom.errorText({ code: "network" })); throw err;
    }).then(function (r) {
      return r.text().then(function (text) {
        var j = null;
        try { j = text ? JSON.parse(text) : null; } catch { j = null; }
        if (!r.ok) { var err = new Error(GCDom.errorText(j, r.status)); err.status = r.status; throw err; }
        return j;
      });
    });
  }

  function item(n) {
    var el = GCDom.el;
    var tags = [el("span", { cls: "cn-tag", text: tx("cn.scope_tag." + n.scope) })];
    if (n.urgent) { tags.push(el("span", { cls: "cn-tag cn-tag-urgent", text: tx("cn.urgent_tag") })); }
    tags.push(el("span", { text: n.created_at ? TIME.format(new Date(n.created_at)) : "" }));
    tags.push(el("span", { text: tx("cn.state." + n.state) }));
    tags.push(el("span", { cls: "cn-reads", text: tx("cn.reads", { n: n.reads || 0 }) }));
    if (n.state === "live") {
      tags.push(el("button", { type: "button", cls: "console-btn small cn-withdraw", "data-id": String(n.id),
                               text: tx("cn.withdraw") }));
    }
    var kids = [el("div", { cls: "cn-item-title", text: n.title }), el("div", { cls: "cn-meta" }, tags)];
    if (S.open === n.id && S.detail && S.detail.id === n.id) {
      kids.push(el("div", { cls: "cn-meta", text: tx("cn.reads_by_grid") }));
      kids.push(el("ul", { cls: "cn-grids" }, (S.detail.reads_by_grid || []).map(function (g) {
        return el("li", { "data-grid": String(g.grid_id), text: GCDom.name(g.name) + " · " + tx("cn.reads", { n: g.reads }) });
      })));
    }
    return el("li", { cls: "cn-item", "data-id": String(n.id) }, kids);
  }
  function render() {
    var ul = $("cn-list");
    if (!ul) { return; }
    ul.textContent = "";
    if (!S.items.length) { ul.appendChild(GCDom.el("li", { cls: "cn-meta", text: tx("cn.none") })); return; }
    S.items.forEach(function (n) { ul.appendChild(item(n)); });
  }
  function load() {
    return call("GET", "/api/v1/notices?limit=20").then(function (j) { S.items = j.items || []; render(); })
      .catch(function (e) { say(tx("cn.failed", { msg: e.message }), true); });
  }
  function openNotice(id) {
    if (S.open === id) { S.open = null; render(); return; }
    S.open = id;
    call("GET", "/api/v1/notices/" + encodeURIComponent(id)).then(function (n) {
      S.detail = n;
      S.items = S.items.map(function (x) { return x.id === n.id ? Object.assign({}, x, { reads: n.reads, state: n.state }) : x; });
      render();
    }).catch(function (e) { say(tx("cn.failed", { msg: e.message }), true); });
  }

  function publish() {
    var scope = $("cn-scope").value === "street" ? "street" : "community";
    var title = $("cn-title").value.trim();
    if (!title) { say(tx("cn.missing_title"), true); $("cn-title").focus(); return; }
    var days = Number($("cn-days").value) || 7;
    var body = { scope: scope, title: title, urgent: $("cn-urgent").value === "1",
                 valid_until: new Date(Date.now() + days * DAY_MS).toISOString() };
    var text = $("cn-body").value.trim();
    if (text) { body.body = text; }
    if (scope === "community") { body.community_id = Number($("cn-community").value); }
    $("cn-publish").disabled = true;
    // one Idempotency-Key per composed notice, kept until it is published: pressing 发布 again after a lost answer
    // is a retry the server answers with the notice it already made, not a second notice to the whole street
    var sig = JSON.stringify([scope, body.community_id || null, title, text, body.urgent, days]);
    if (!S.pending || S.pending.sig !== sig) {
      S.pending = { sig: sig, key: GCDom.newKey("cn") };
    }
    var key = S.pending.key;
    call("POST", "/api/v1/notices", body, { "Idempotency-Key": key }).then(function (n) {
      if (S.pending && S.pending.key === key) { S.pending = null; }
      $("cn-title").value = ""; $("cn-body").value = "";
      $("cn-form").hidden = true;
      say(tx("cn.published"));
      S.items = [n].concat(S.items.filter(function (x) { return x.id !== n.id; }));
      render();
    }).catch(function (e) { say(tx("cn.failed", { msg: e.message }), true); })
      .then(function () { $("cn-publish").disabled = false; });
  }
  function withdraw(btn) {
    var id = Number(btn.getAttribute("data-id"));
    btn.disabled = true;
    call("POST", "/api/v1/notices/" + id + "/withdraw", {}).then(function (n) {
      S.items = S.items.map(function (x) { return x.id === id ? Object.assign({}, x, { state: n.state }) : x; });
      render();
      say(tx("cn.withdrawn"));
    }).catch(function (e) { btn.disabled = false; say(tx("cn.failed", { msg: e.message }), true); });
  }

  function init(panel) {
    S = { panel: panel, texts: JSON.parse(panel.getAttribute("data-texts") || "{}"), items: [], open: null, detail: null };
    $("cn-new").addEventListener("click", function () { $("cn-form").hidden = !$("cn-form").hidden; say(""); });
    $("cn-cancel").addEventListener("click", function () { $("cn-form").hidden = true; });
    $("cn-refresh").addEventListener("click", function () { say(""); load(); });
    $("cn-scope").addEventListener("change", function () {
      $("cn-community").disabled = $("cn-scope").value === "street";
    });
    $("cn-publish").addEventListener("click", publish);
    $("cn-list").addEventListener("click", function (e) {
      var btn = e.target.closest && e.target.closest(".cn-withdraw");
      if (btn) { if (!btn.disabled) { withdraw(btn); } return; }
      var li = e.target.closest && e.target.closest(".cn-item");
      if (li) { openNotice(Number(li.getAttribute("data-id"))); }
    });
    load();
  }

  setInterval(function () {
    var panel = $("cn-panel");
    if (panel && (!S || S.panel !== panel)) { init(panel); }
    if (!panel && S) { S = null; }
  }, 300);
})();
