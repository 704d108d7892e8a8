/* /r — the residents' page (no account), opened from a compound's QR code.
 *
 * Does nothing unless #r-root is on the page. "我要反映": a category chip, a description, up to 3 photos (shrunk
 * on the phone as /m does), the location from the phone or the map's cross-hair, an optional call-back number.
 * The report goes in one multipart POST with an idempotency key made when the form is first sent and kept until
 * it is answered or the form changes, so a retry (a flaky network, a double tap) never makes a second case. After a few reports from one address the
 * server asks a small sum (a signed challenge) before it takes the next. A tracking link (/r?t=…) shows the steps
 * in plain words, the center's reply and after-photo, and after closure asks whether the resident is satisfied.
 * The grid's notices (#r-notices) are another script's.
 */
(function () {
  "use strict";
  var S = null;
  var MAX_PHOTOS = 3;
  var STEPS = ["received", "dispatched", "handling", "closed"];

  function $(id) { return document.getElementById(id); }
  var el = window.GCDom.el; // 08-gc-dom.js
  function tx(key, fmt) {
    return GCDom.fill((S && S.texts[key]) || GCDom.miss(key), fmt);
  }
  function toast(msg, kind) {
    var t = $("r-toast");
    if (!t) { return; }
    t.textContent = msg; t.className = "r-toast show " + (kind || "");
    clearTimeout(S && S.toastTimer);
    if (S) { S.toastTimer = setTimeout(function () { t.className = "r-toast"; }, 6000); }
  }

  /* ---- HTTP: a network failure rejects with .network = true; an HTTP error with .status and .body ---- */
  function call(method, url, body) {
    var opts = { method: method, credentials: "same-origin", cache: "no-store", headers: {} };
    if (body instanceof FormData) { opts.body = body; }
    else if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(url, opts).catch(function () {
      var err = new Error(GCDom.errorText({ code: "network" })); err.network = true; throw err;
    }).then(function (r) {
      return r.text().then(function (text) {
        var j = null;
        try { j = text ? JSON.parse(text) : null; } catch { j = null; }
        if (!r.ok) {
          var err = new Error(GCDom.errorText(j, r.status)); // the page's language (code + field)
          err.status = r.status; err.body = j; throw err;
        }
        return j;
      });
    });
  }
  function retryable(e) { return e.network || e.status >= 500 || e.status === 408; }

  /* ---- photos: shrunk on the phone before sending, as /m does (1600 px, JPEG 0.85) ---- */
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
  function thumb(b) {
    var x = el("button", { type: "button", cls: "r-thumb-x", text: "×", title: tx("r.photo.remove"),
                          "aria-label": tx("r.photo.remove") });
    var box = el("span", { cls: "r-thumb-box" }, [el("img", { src: URL.createObjectURL(b), cls: "r-thumb", alt: "" }), x]);
    x.addEventListener("click", function (ev) {
      ev.preventDefault();
      var i = S.photos.indexOf(b);
      if (i >= 0) { S.photos.splice(i, 1); }
      if (box.parentNode) { box.parentNode.removeChild(box); }
      S.pendingKey = null; // a different report now: a new idempotency key
    });
    b.gcBox = box;
    return box;
  }
  function makeFileInput() {
    var slot = $("r-photo-slot");
    if (!slot || slot.firstChild) { return; }
    var input = el("input", { type: "file", accept: "image/*", capture: "environment", id: slot.getAttribute("data-input") });
    input.addEventListener("change", function () {
      Array.prototype.forEach.call(input.files || [], function (f) {
        if (S.photos.length + S.shrinking >= MAX_PHOTOS) { toast(tx("r.report.too_many_photos"), "bad"); return; }
        S.shrinking += 1;
        shrink(f).then(function (b) {
          S.shrinking -= 1;
          if (S.photos.length >= MAX_PHOTOS) { return; }
          S.photos.push(b); S.pendingKey = null;
          $("r-photo-preview").appendChild(thumb(b));
        });
      });
      input.value = "";
    });
    slot.appendChild(input);
  }

  /* ---- location: the phone's fix, or the cross-hair the resident drags the map under ---- */
  function mapDiv() { var m = $("r-map"); return m && (m.querySelector(".js-plotly-plot") || null); }
  function showLoc() {
    var t = $("r-loc-text");
    if (!t) { return; }
    t.textContent = S.loc ? S.loc.lat.toFixed(5) + ", " + S.loc.lon.toFixed(5) + " · " +
      tx(S.loc.src === "gps" ? "r.report.located_gps" : "r.report.located_map") : tx("r.report.no_location");
  }
  function centerMap(lat, lon) {
    var gd = mapDiv();
    if (gd && window.Plotly) {
      var p = GCGeo.mapPoint(gd, lat, lon);
      S.ownCenters.push(p); S.ownCenters = S.ownCenters.slice(-5); // the relayout this causes is ours
      Plotly.relayout(gd, { "map.center": { lat: p[0], lon: p[1] } });
      Plotly.restyle(gd, { lat: [[p[0]]], lon: [[p[1]]] }, [2]);
    }
  }
  function locate() {
    if (!navigator.geolocation) { toast(tx("r.report.locate_failed"), "bad"); return; }
    $("r-loc-text").textContent = tx("r.report.locating");
    navigator.geolocation.getCurrentPosition(function (pos) {
      S.loc = { lat: pos.coords.latitude, lon: pos.coords.longitude, src: "gps" };
      showLoc(); centerMap(S.loc.lat, S.loc.lon);
    }, function () { showLoc(); toast(tx("r.report.locate_failed"), "bad"); },
    { enableHighAccuracy: true, timeout: 10000, maximumAge: 30000 });
  }
  function mapMoved(r) {
    if (!S || !r || !r["map.center"]) { return; }
    var c = r["map.center"];
    var ours = S.ownCenters.some(function (o) { return Math.abs(o[0] - c.lat) < 1e-7 && Math.abs(o[1] - c.lon) < 1e-7; });
    if (ours) { return; }
    var w = GCGeo.wgsPoint(mapDiv(), c.lat, c.lon); // the cross-hair in the map's datum, sent as WGS-84
    S.loc = { lat: w[0], lon: w[1], src: "map" };
    showLoc();
  }

  /* ---- the report ---- */
  function fillCategories() {
    var box = $("r-cats");
    if (!box || box.firstChild) { return; }
    S.cats.forEach(function (c) {
      var b = el("button", { type: "button", cls: "r-cat", role: "radio", "aria-checked": "false", "data-key": c.key,
                             text: c.label });
      b.addEventListener("click", function (ev) {
        ev.preventDefault();
        S.category = c.key; S.pendingKey = null;
        Array.prototype.forEach.call(box.children, function (x) { x.setAttribute("aria-checked", String(x === b)); });
        box.classList.remove("r-missing");
      });
      box.appendChild(b);
    });
  }
  function showChallenge(ch) {
    S.challenge = ch;
    var box = $("r-challenge");
    box.hidden = !ch;
    if (ch) {
      box.querySelector(".r-label").textContent = tx("r.challenge.prompt", { q: ch.question });
      $("r-challenge-answer").value = ""; $("r-challenge-answer").focus();
    }
  }
  function reportForm() {
    var fd = new FormData();
    var data = { category: S.category, description: ($("r-desc").value || "").trim(), lat: S.loc.lat, lon: S.loc.lon,
                 location_source: S.loc.src, phone: ($("r-phone").value || "").trim() || null, g: S.g, lang: S.lang };
    if (S.challenge) { data.challenge = S.challenge.token; data.challenge_answer = ($("r-challenge-answer").value || "").trim(); }
    fd.append("report", JSON.stringify(data));
    S.photos.forEach(function (b, i) { fd.append("photo", b, "photo" + (i + 1) + ".jpg"); });
    return fd;
  }
  function send(attempt) {
    var fd = reportForm();
    return fetchReport(fd).then(done, function (e) {
      if (retryable(e) && attempt < 3) { // the same key: the server answers a retry with the first report
        toast(tx("r.report.retrying"));
        return new Promise(function (r) { setTimeout(r, 1500 * (attempt + 1)); }).then(function () { return send(attempt + 1); });
      }
      throw e;
    });
  }
  function fetchReport(fd) {
    var opts = { method: "POST", credentials: "same-origin", cache: "no-store", body: fd,
                 headers: { "Idempotency-Key": S.pendingKey } };
    return fetch("/api/v1/r/reports", opts).catch(function () {
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
  function submit() {
    if (S.sending) { return; }
    if (!S.category) { $("r-cats").classList.add("r-missing"); toast(tx("r.report.need_category"), "bad"); return; }
    var desc = ($("r-desc").value || "").trim();
    if (!desc && !S.photos.length) {
      $("r-desc").classList.add("r-missing"); $("r-desc").focus(); toast(tx("r.report.need_desc_or_photo"), "bad"); return;
    }
    if (!S.loc) { toast(tx("r.report.need_location"), "bad"); return; }
    S.pendingKey = S.pendingKey || GCDom.newKey("r");
    S.sending = true;
    var btn = $("r-submit");
    btn.disabled = true; btn.textContent = tx("r.report.sending");
    send(0).catch(function (e) {
      var err = (e.body && e.body.error) || {};
      if (err.challenge) { // 429: answer the sum first; 400: the answer was wrong (a new sum comes with it)
        showChallenge(err.challenge);
        toast(tx(e.status === 400 ? "r.challenge.wrong" : "r.challenge.ask"), "bad");
        return;
      }
      if (err.field === "photo" && typeof err.index === "number" && S.photos[err.index]) {
        var box = S.photos[err.index].gcBox;
        if (box) { box.classList.add("r-thumb-bad"); box.appendChild(el("span", { cls: "r-thumb-flag", text: tx("r.photo.bad") })); }
        toast(tx("r.photo.rejected", { n: err.index + 1 }), "bad"); return;
      }
      toast(tx("r.report.failed", { msg: e.message }), "bad");
    }).then(function () {
      S.sending = false; btn.disabled = false; btn.textContent = tx("r.report.submit");
    });
  }
  function done(r) {
    S.pendingKey = null; showChallenge(null);
    var link = "/r?t=" + encodeURIComponent(r.token) + (S.lang === "en" ? "&lang=en" : "");
    $("r-report-box").hidden = true;
    $("r-done").hidden = false;
    $("r-done-code").textContent = tx("r.done.code", { code: r.tracking_code });
    $("r-done-link").setAttribute("href", link);
    window.scrollTo(0, 0);
  }

  /* ---- following a report ---- */
  function stepIndex(step) { return STEPS.indexOf(step); }
  function renderTrack(v) {
    $("r-track").hidden = false;
    $("r-track-code").textContent = tx("r.track.code", { code: v.tracking_code, category: tx("r.cat." + v.category) });
    var ol = $("r-steps");
    ol.innerHTML = "";
    var cur = v.state === "void" ? -1 : stepIndex(v.step);
    STEPS.forEach(function (s, i) {
      var at = v.steps && v.steps[s];
      ol.appendChild(el("li", { cls: "r-step" + (i < cur ? " done" : i === cur ? " current" : ""), "data-step": s }, [
        document.createTextNode(tx("r.step." + s)),
        el("span", { cls: "r-step-at", text: at ? at.slice(5, 16).replace("T", " ") : "" })]));
    });
    if (v.state === "void") { ol.appendChild(el("li", { cls: "r-step current", "data-step": "void", text: tx("r.step.void") })); }
    var reply = $("r-reply");
    reply.hidden = !v.reply;
    reply.innerHTML = "";
    if (v.reply) { reply.appendChild(el("b", { text: tx("r.reply.label", { label: tx("r.reply.title") }) })); reply.appendChild(document.createTextNode(v.reply)); }
    var after = $("r-after");
    after.innerHTML = "";
    if ((v.after_photos || []).length) { after.appendChild(el("p", { cls: "r-label r-after-label", text: tx("r.reply.after") })); }
    (v.after_photos || []).forEach(function (url) {
      after.appendChild(el("a", { href: url, target: "_blank", rel: "noopener" }, [el("img", { src: url, cls: "r-thumb", alt: tx("r.reply.after") })]));
    });
    var rated = $("r-rated");
    $("r-rate").hidden = !v.can_rate;
    rated.hidden = !v.satisfaction;
    if (v.satisfaction) {
      rated.textContent = tx("r.rate.thanks", { value: tx("r.rate." + v.satisfaction) }) + (v.reopened ? " " + tx("r.rate.reopened") : "");
    }
    var again = $("r-new-report");
    if (v.g) { again.hidden = false; again.setAttribute("href", "/r?g=" + encodeURIComponent(v.g) + (S.lang === "en" ? "&lang=en" : "")); }
  }
  function loadTrack() {
    return call("GET", "/api/v1/r/tickets/" + encodeURIComponent(S.token)).then(function (v) { S.view = v; renderTrack(v); },
      function (e) { if (e.status === 404) { $("r-bad-link").hidden = false; $("r-bad-link").textContent = tx("r.track.not_found"); }
                     else { toast(tx("r.error", { msg: e.message }), "bad"); } });
  }
  function wireRating() {
    Array.prototype.forEach.call(document.querySelectorAll(".r-rate-btn"), function (b) {
      b.addEventListener("click", function (ev) {
        ev.preventDefault();
        S.rating = b.getAttribute("data-value");
        Array.prototype.forEach.call(document.querySelectorAll(".r-rate-btn"), function (x) { x.setAttribute("aria-pressed", String(x === b)); });
      });
    });
    $("r-rate-submit").addEventListener("click", function (ev) {
      ev.preventDefault();
      var comment = ($("r-rate-comment").value || "").trim();
      if (!S.rating) { toast(tx("r.rate.need_value"), "bad"); return; }
      if (S.rating === "unsatisfied" && !comment) { $("r-rate-comment").classList.add("r-missing"); toast(tx("r.rate.need_comment"), "bad"); return; }
      $("r-rate-submit").disabled = true;
      call("POST", "/api/v1/r/tickets/" + encodeURIComponent(S.token) + "/satisfaction", { value: S.rating, comment: comment })
        .then(function (v) { S.view = v; renderTrack(v); }, function (e) { toast(tx("r.error", { msg: e.message }), "bad"); })
        .then(function () { $("r-rate-submit").disabled = false; });
    });
  }

  /* ---- the worker's service number: asked for when the resident taps, never in the page ---- */
  function callWorker() {
    call("GET", "/api/v1/r/grids/" + encodeURIComponent(S.g) + "/call").then(function (r) {
      if (r && r.tel) { window.location.href = "tel:" + r.tel; }
    }, function (e) { toast(tx("r.grid.call_failed", { msg: e.message }), "bad"); });
  }

  function wire() {
    var on = function (id, ev, fn) { var b = $(id); if (b) { b.addEventListener(ev, function (e) { if (ev === "click") { e.preventDefault(); } fn(e); }); } };
    on("r-submit", "click", submit);
    on("r-locate", "click", locate);
    on("r-call", "click", callWorker);
    on("r-desc", "input", function () { $("r-desc").classList.remove("r-missing"); S.pendingKey = null; });
    on("r-phone", "input", function () { S.pendingKey = null; });
    on("r-rate-comment", "input", function () { $("r-rate-comment").classList.remove("r-missing"); });
    wireRating();
  }
  function init(root) {
    S = { root: root, texts: JSON.parse(root.getAttribute("data-texts") || "{}"),
          cats: JSON.parse(root.getAttribute("data-categories") || "[]"), lang: root.getAttribute("data-lang") || "zh-CN",
          g: root.getAttribute("data-g") || "", token: root.getAttribute("data-token") || "", photos: [], shrinking: 0,
          loc: null, ownCenters: [], category: null, pendingKey: null, challenge: null, sending: false, rating: null };
    wire();
    if (S.token) { loadTrack(); return; }
    if (S.g) { fillCategories(); makeFileInput(); showLoc(); }
  }

  setInterval(function () {
    var root = $("r-root");
    if (root && (!S || S.root !== root)) { init(root); }
    if (!root && S) { S = null; }
  }, 300);

  window.GCResidents = {
    mapMoved: mapMoved,
    state: function () {
      return S ? { category: S.category, loc: S.loc, photos: S.photos.length, pendingKey: S.pendingKey,
                   challenge: S.challenge, view: S.view || null } : null;
    }
  };
})();
