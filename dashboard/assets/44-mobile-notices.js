/* /m — the notices tab (网格通知, issue 31): a worker publishes a notice to the residents' pages of her grids
 * (POST /api/v1/notices, scope "grid": the server takes all her grids and refuses any other), with an optional
 * picture shrunk on the phone and uploaded first (POST /api/v1/photos), and sees the notices reaching her grids
 * with their opens (GET /api/v1/notices), withdrawing her own. Urgent ones reach open residents' pages at once.
 * Does nothing unless #m-pane-notices is on the page; 40-mobile.js signs in and hides the other panes when this
 * tab is chosen, this script shows or hides its own pane.
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
  function toast(msg, kind) {
    var t = $("m-toast");
    if (!t) { return; }
    t.textContent = msg; t.className = "m-toast show " + (kind || "");
    clearTimeout(S && S.toastTimer);
    if (S) { S.toastTimer = setTimeout(function () { t.className = "m-toast"; }, 5000); }
  }
  function answer(r) {
    return r.text().then(function (text) {
      var j = null;
      try { j = text ? JSON.parse(text) : null; } catch { j = null; }
      if (!r.ok) { var err = new Error(GCDom.errorText(j, r.status)); err.status = r.status; err.body = j; throw err; }
      return j;
    });
  }
  function networkError() { var err = new Error(GCDom.errorText({ code: "network" })); err.network = true; throw err; }
  function call(method, url, body, headers) {
    var opts = { method: method, credentials: "same-origin", cache: "no-store", headers: headers || {} };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(url, opts).catch(networkError).then(answer);
  }

  /* the body a notice is published with (pure: tests/js/resident-notices.test.js) */
  function noticeBody(form, nowMs) {
    var days = [1, 3, 7, 30].indexOf(Number(form.days)) >= 0 ? Number(form.days) : 7;
    var body = { scope: "grid", title: (form.title || "").trim(), urgent: form.urgent === "1" || form.urgent === true,
                 valid_until: new Date(nowMs + days * DAY_MS).toISOString() };
    var text = (form.body || "").trim();
    if (text) { body.body = text; }
    if (form.picture) { body.picture = form.picture; }
    return body;
  }

  function newKey() { return GCDom.newKey("n"); }
  /* the Idempotency-Key of a composed notice (pure: tests/js/resident-notices.test.js): the pending one while the
   * form is what was last sent (a retry after a lost answer publishes nothing more), a new one once it is edited */
  function composedKey(pending, form, make) {
    var sig = JSON.stringify([(form.title || "").trim(), (form.body || "").trim(), String(form.urgent),
                              String(form.days), form.pictureSeq || 0]);
    return pending && pending.sig === sig ? pending : { sig: sig, key: make() };
  }
  function retryable(e) { return e.network || e.status >= 500 || e.status === 408; }

  function shrink(file) {
    if (!window.createImageBitmap) { return Promise.resolve(file); }
    return createImageBitmap(file).then(function (bmp) {
      var k = Math.min(1, 1600 / Math.max(bmp.width, bmp.height));
      var c = document.createElement("canvas");
      c.width = Math.round(bmp.width * k); c.height = Math.round(bmp.height * k);
      c.getContext("2d").drawImage(bmp, 0, 0, c.width, c.height);
      return new Promise(function (resolve) { c.toBlob(function (b) { resolve(b || file); }, "image/jpeg", 0.85); });
    }).catch(function () { return file; });
  }
  function upload(blob) {
    var fd = new FormData();
    fd.append("photo", blob, "notice.jpg");
    return fetch("/api/v1/photos", { method: "POST", body: fd, credentials: "same-origin" })
      .catch(networkError).then(answer).then(function (j) { return j.token; });
  }
  function fileInput() {
    var slot = $("m-notice-photo-slot");
    if (!slot || slot.firstChild) { return; }
    var input = GCDom.el("input", { type: "file", accept: "image/*", id: slot.getAttribute("data-input") });
    input.addEventListener("change", function () {
      var f = input.files && input.files[0];
      input.value = "";
      if (!f) { return; }
      shrink(f).then(function (b) {
        S.picture = b; S.pictureSeq += 1;
        var prev = $("m-notice-photo-preview");
        prev.textContent = "";
        var x = GCDom.el("button", { type: "button", cls: "m-thumb-x", text: "×", "aria-label": tx("m.notice.withdraw") });
        x.addEventListener("click", function (e) { e.preventDefault(); S.picture = null; S.pictureSeq += 1; prev.textContent = ""; });
        prev.appendChild(GCDom.el("span", { cls: "m-thumb-box" }, [GCDom.el("img", { src: URL.createObjectURL(b), cls: "m-thumb" }), x]));
      });
    });
    slot.appendChild(input);
  }

  function item(n) {
    var el = GCDom.el;
    var meta = [el("span", { text: n.created_at ? TIME.format(new Date(n.created_at)) : "" }),
                el("span", { text: tx("m.notice.state." + n.state) }),
                el("span", { cls: "m-notice-reads", text: tx("m.notice.reads", { n: n.reads || 0 }) })];
    if (n.state === "live" && S.me !== null && n.author_worker_id === S.me) {
      meta.push(el("button", { type: "button", cls: "m-btn m-small m-notice-withdraw", "data-id": String(n.id),
                               text: tx("m.notice.withdraw") }));
    }
    return el("li", { cls: "m-notice" + (n.urgent ? " m-notice-urgent" : ""), "data-id": String(n.id) }, [
      el("div", { cls: "m-notice-title", text: n.title, "data-tag": tx("m.notice.urgent_tag") }),
      el("div", { cls: "m-notice-meta" }, meta)]);
  }
  function render() {
    var ul = $("m-notices");
    if (!ul) { return; }
    ul.textContent = "";
    if (!S.items.length) { ul.appendChild(GCDom.el("li", { cls: "m-hint", text: tx("m.notice.none") })); return; }
    S.items.forEach(function (n) { ul.appendChild(item(n)); });
  }
  function load() {
    return call("GET", "/auth/me").then(function (me) {
      S.me = me && typeof me.worker_id === "number" ? me.worker_id : null;
      return call("GET", "/api/v1/notices?limit=30");
    }).then(function (j) { S.items = j.items || []; render(); })
      .catch(function (e) { if (e.status !== 401 && e.status !== 403) { toast(tx("m.notice.failed", { msg: e.message }), "bad"); } });
  }

  function publish() {
    if (S.sending) { return; }
    var form = { title: $("m-notice-title").value, body: $("m-notice-body").value, urgent: $("m-notice-urgent").value,
                 days: $("m-notice-days").value, pictureSeq: S.pictureSeq };
    if (!form.title.trim()) { toast(tx("m.notice.missing_title"), "bad"); $("m-notice-title").focus(); return; }
    S.sending = true; $("m-notice-publish").disabled = true;
    // one key per composed notice, kept until it is published: tapping again after a lost answer is a retry
    S.pending = composedKey(S.pending, form, newKey);
    var key = S.pending.key;
    function post(body, attempt) {
      return call("POST", "/api/v1/notices", body, { "Idempotency-Key": key }).catch(function (e) {
        if (!retryable(e) || attempt >= 2) { throw e; }
        return new Promise(function (r) { setTimeout(r, 1500 * (attempt + 1)); }).then(function () {
          return post(body, attempt + 1);
        });
      });
    }
    (S.picture ? upload(S.picture) : Promise.resolve(null)).then(function (token) {
      form.picture = token;
      return post(noticeBody(form, Date.now()), 0);
    }).then(function (n) {
      if (S.pending && S.pending.key === key) { S.pending = null; }
      $("m-notice-title").value = ""; $("m-notice-body").value = "";
      S.picture = null; S.pictureSeq += 1; $("m-notice-photo-preview").textContent = "";
      S.items = [n].concat(S.items.filter(function (x) { return x.id !== n.id; }));
      render();
      toast(tx("m.notice.published"), "ok");
    }).catch(function (e) { toast(tx("m.notice.failed", { msg: e.message }), "bad"); })
      .then(function () { S.sending = false; $("m-notice-publish").disabled = false; });
  }

  function withdraw(btn) {
    var id = btn.getAttribute("data-id");
    btn.disabled = true;
    call("POST", "/api/v1/notices/" + encodeURIComponent(id) + "/withdraw", {}).then(function (n) {
      S.items = S.items.map(function (x) { return String(x.id) === id ? Object.assign({}, x, { state: n.state }) : x; });
      render();
      toast(tx("m.notice.withdrawn"), "ok");
    }).catch(function (e) { btn.disabled = false; toast(tx("m.notice.failed", { msg: e.message }), "bad"); });
  }

  function show(on) {
    var pane = $("m-pane-notices");
    if (pane) { pane.hidden = !on; }
    if (on) { fileInput(); load(); }
  }

  function init(root) {
    S = { root: root, texts: JSON.parse(root.getAttribute("data-texts") || "{}"), items: [], me: null,
          sending: false, picture: null, pictureSeq: 0, pending: null };
    Array.prototype.forEach.call(root.querySelectorAll(".m-tab"), function (b) {
      b.addEventListener("click", function () { show(b.getAttribute("data-tab") === "notices"); });
    });
    $("m-notice-publish").addEventListener("click", function (e) { e.preventDefault(); publish(); });
    $("m-notices").addEventListener("click", function (e) {
      var btn = e.target.closest && e.target.closest(".m-notice-withdraw");
      if (btn && !btn.disabled) { e.preventDefault(); withdraw(btn); }
    });
  }

  setInterval(function () {
    var root = $("m-root");
    if (root && $("m-pane-notices") && (!S || S.root !== root)) { init(root); }
    if (!root && S) { S = null; }
  }, 300);

  window.GCMobileNotices = { noticeBody: noticeBody, composedKey: composedKey };
})();
