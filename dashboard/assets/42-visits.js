/* /m — the visits tab (走访, issue 31): record a household or place visit in her grids, list her recent ones,
 * and make a promised follow-up a case with one tap (POST /api/v1/visits/<id>/case; once — the button then shows
 * the case's code). Does nothing unless #m-pane-visits is on the page; 40-mobile.js signs in and hides the other
 * panes when this tab is chosen, this script shows or hides its own pane.
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
  function toast(msg, kind) {
    var t = $("m-toast");
    if (!t) { return; }
    t.textContent = msg; t.className = "m-toast show " + (kind || "");
    clearTimeout(S && S.toastTimer);
    if (S) { S.toastTimer = setTimeout(function () { t.className = "m-toast"; }, 5000); }
  }
  function call(method, url, body) {
    var opts = { method: method, credentials: "same-origin", cache: "no-store", headers: {} };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(url, opts).catch(function () {
      var err = new Error(GCDom.errorText({ code: "network" })); err.network = true; throw err;
    }).then(function (r) {
      return r.text().then(function (text) {
        var j = null;
        try { j = text ? JSON.parse(text) : null; } catch { j = null; }
        if (!r.ok) { var err = new Error(GCDom.errorText(j, r.status)); err.status = r.status; err.body = j; throw err; }
        return j;
      });
    });
  }

  /* the body a visit is sent as, from the form (pure: tests/js/visits.test.js) */
  function visitBody(form, loc) {
    var body = { kind: form.kind === "place" ? "place" : "household" };
    ["whom", "place", "needs", "opinions", "follow_up"].forEach(function (k) {
      var v = (form[k] || "").trim();
      if (v) { body[k] = v; }
    });
    if (loc && typeof loc.lat === "number" && typeof loc.lon === "number") { body.lat = loc.lat; body.lon = loc.lon; }
    return body;
  }

  function item(v) {
    var el = GCDom.el;
    var when = v.at ? TIME.format(new Date(v.at)) : "";
    var head = [when, tx("m.visit.kind." + (v.kind === "place" ? "place" : "household")), v.whom, v.place]
      .filter(Boolean).join(" · ");
    var lines = [el("div", { cls: "m-visit-title", text: head })];
    if (v.needs) { lines.push(el("div", { cls: "m-visit-text", text: tx("m.visit.line", { label: tx("m.visit.needs"), text: v.needs }) })); }
    if (v.opinions) { lines.push(el("div", { cls: "m-visit-text", text: tx("m.visit.line", { label: tx("m.visit.opinions"), text: v.opinions }) })); }
    if (v.follow_up) { lines.push(el("div", { cls: "m-visit-text", text: tx("m.visit.line", { label: tx("m.visit.follow_up"), text: v.follow_up }) })); }
    if (v.follow_up_case_id) {
      lines.push(el("div", { cls: "m-visit-case-made", text: tx("m.visit.case_made", { code: v.follow_up_case_code || v.follow_up_case_id }) }));
    } else if (v.follow_up || v.needs || v.opinions) {
      lines.push(el("button", { cls: "m-btn m-small m-visit-case", "data-id": String(v.id), type: "button",
                                text: tx("m.visit.to_case") }));
    }
    return el("li", { cls: "m-visit", "data-id": String(v.id) }, lines);
  }

  function render(list) {
    var ul = $("m-visits");
    if (!ul) { return; }
    ul.textContent = "";
    if (!list.length) { ul.appendChild(GCDom.el("li", { cls: "m-hint", text: tx("m.visit.none") })); return; }
    list.forEach(function (v) { ul.appendChild(item(v)); });
  }

  function load() {
    return call("GET", "/api/v1/visits?limit=20").then(function (j) { S.visits = j.visits || []; render(S.visits); })
      .catch(function (e) { if (e.status !== 401 && e.status !== 403) { toast(tx("m.visit.failed", { msg: e.message }), "bad"); } });
  }

  function save() {
    if (S.sending) { return; }
    var form = { kind: $("m-visit-kind").value, whom: $("m-visit-whom").value, place: $("m-visit-place").value,
                 needs: $("m-visit-needs").value, opinions: $("m-visit-opinions").value,
                 follow_up: $("m-visit-follow").value };
    var st = window.GCMobile && window.GCMobile.state && window.GCMobile.state();
    S.sending = true; $("m-visit-save").disabled = true;
    call("POST", "/api/v1/visits", visitBody(form, st && st.loc)).then(function (v) {
      ["m-visit-whom", "m-visit-place", "m-visit-needs", "m-visit-opinions", "m-visit-follow"].forEach(function (id) {
        $(id).value = "";
      });
      S.visits = [v].concat(S.visits || []);
      render(S.visits);
      toast(tx("m.visit.saved"), "ok");
    }).catch(function (e) { toast(tx("m.visit.failed", { msg: e.message }), "bad"); })
      .then(function () { S.sending = false; $("m-visit-save").disabled = false; });
  }

  function toCase(btn) {
    var id = btn.getAttribute("data-id");
    btn.disabled = true;
    call("POST", "/api/v1/visits/" + encodeURIComponent(id) + "/case", {}).then(function (j) {
      S.visits = (S.visits || []).map(function (v) { return String(v.id) === id ? j.visit : v; });
      render(S.visits);
      toast(tx("m.visit.case_made", { code: j.case.code }), "ok");
    }).catch(function (e) {
      if (e.status === 409) { load(); return; }  // made already (another tap, another phone): show its case
      btn.disabled = false;
      toast(tx("m.visit.failed", { msg: e.message }), "bad");
    });
  }

  function show(on) {
    var pane = $("m-pane-visits");
    if (pane) { pane.hidden = !on; }
    if (on) { load(); }
  }

  function init(root) {
    S = { root: root, texts: JSON.parse(root.getAttribute("data-texts") || "{}"), visits: [], sending: false };
    Array.prototype.forEach.call(root.querySelectorAll(".m-tab"), function (b) {
      b.addEventListener("click", function () { show(b.getAttribute("data-tab") === "visits"); });
    });
    $("m-visit-save").addEventListener("click", function (e) { e.preventDefault(); save(); });
    $("m-visits").addEventListener("click", function (e) {
      var btn = e.target.closest && e.target.closest(".m-visit-case");
      if (btn && !btn.disabled) { e.preventDefault(); toCase(btn); }
    });
  }

  setInterval(function () {
    var root = $("m-root");
    if (root && $("m-pane-visits") && (!S || S.root !== root)) { init(root); }
    if (!root && S) { S = null; }
  }, 300);

  window.GCVisits = { visitBody: visitBody, load: function () { return S ? load() : Promise.resolve(); } };
})();
