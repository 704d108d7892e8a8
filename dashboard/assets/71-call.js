/* Video dispatch (视频调度): WebRTC calls between the console and a worker's phone page.
 *
 * Active only where a .gc-call widget is on the page. Signalling rides the page's
 * GCLive Socket.IO connection (events call_invite / call_answer / call_decline /
 * call_hangup / call_signal; the server answers with "call" messages). Media goes
 * browser to browser; ICE servers come from the server (none by default: same LAN).
 * Console: any .gc-call-btn[data-worker-id] starts a call. Worker: joins its room,
 * rings, answers or declines. States: idle → calling/ringing → connecting → active →
 * ended | declined | missed | error.
 */
(function () {
  "use strict";
  var RING_TIMEOUT_MS = 30000;
  var W = null; // the widget instance on the page
  var boundSocket = null;

  function q(role) { return W && W.root.querySelector('[data-role="' + role + '"]'); }
  function tx(key, fmt) {
    var s = (W && W.texts[key]) || GCDom.miss(key);
    Object.keys(fmt || {}).forEach(function (k) { s = s.replace("{" + k + "}", fmt[k]); });
    return s;
  }
  function socket() { return window.GCLive && window.GCLive.socket(); }
  function send(event, data) {
    return new Promise(function (ok) {
      var s = socket();
      if (!s) { return ok({ ok: false, error: "no connection" }); }
      s.timeout(10000).emit(event, data, function (err, res) { ok(err ? { ok: false, error: "timeout" } : res); });
    });
  }

  // an audible ring (and a vibration on phones) while a call rings on this side
  function ring(on) {
    if (W.ringer) { clearInterval(W.ringer); W.ringer = null; }
    if (!on) { return; }
    var beep = function () {
      try {
        var Ctx = window.AudioContext || window.webkitAudioContext;
        W.audio = W.audio || (Ctx ? new Ctx() : null);
        if (W.audio) {
          var o = W.audio.createOscillator(), g = W.audio.createGain(), t0 = W.audio.currentTime;
          o.frequency.value = 880; g.gain.setValueAtTime(0.15, t0); g.gain.setValueAtTime(0, t0 + 0.35);
          o.connect(g); g.connect(W.audio.destination); o.start(t0); o.stop(t0 + 0.4);
        }
        if (navigator.vibrate) { navigator.vibrate([300, 150, 300]); }
      } catch { /* no audio: the blinking state still shows */ }
    };
    beep();
    W.ringer = setInterval(beep, 1500);
  }

  function setState(state, peerText) {
    if (!W) { return; }
    ring(state === "ringing");
    W.state = state;
    W.root.setAttribute("data-state", state);
    q("status").textContent = tx("call.state." + state);
    if (peerText !== undefined) { q("peer").textContent = peerText; }
    if (state === "active") {
      W.activeSince = Date.now();
      W.timer = setInterval(function () {
        var s = Math.floor((Date.now() - W.activeSince) / 1000);
        q("timer").textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
      }, 500);
    } else if (W.timer) { clearInterval(W.timer); W.timer = null; }
    if (["ended", "declined", "missed", "error"].indexOf(state) >= 0) {
      var mine = W.callId;
      setTimeout(function () { if (W && W.state === state && W.callId === mine) { setState("idle", ""); } }, 8000);
    }
  }

  function useLocal(st) {
    W.local = st;
    var v = q("local");
    v.playsInline = true; v.muted = true; v.srcObject = st; v.play().catch(function () { /* autoplay */ });
    return st;
  }
  // A console or wall PC often has no camera (a wall: often no microphone either): the caller then sends what it
  // has — its voice, or nothing — and still sees and hears the worker (receive-only). The worker's phone needs both.
  function getMedia() {
    var md = navigator.mediaDevices, caller = W.role === "console";
    if (!md || !md.getUserMedia) {
      return caller ? Promise.resolve(useLocal(null)) : Promise.reject(new Error(tx("call.no_media")));
    }
    return md.getUserMedia({ video: { width: 640, height: 360 }, audio: true }).then(useLocal, function () {
      if (caller) { return md.getUserMedia({ audio: true }).then(useLocal, function () { return useLocal(null); }); }
      // the browser's own reason (NotAllowedError …) is English and technical: say it in the page's words
      throw new Error(tx("call.no_media"));
    });
  }

  function newPeer() {
    var pc = new RTCPeerConnection({ iceServers: W.ice || [] });
    W.pc = pc;
    var sent = W.local ? W.local.getTracks() : [];
    sent.forEach(function (tr) { pc.addTrack(tr, W.local); });
    ["audio", "video"].forEach(function (kind) {  // what this side cannot send, it still receives
      if (!sent.some(function (tr) { return tr.kind === kind; })) { pc.addTransceiver(kind, { direction: "recvonly" }); }
    });
    pc.onicecandidate = function (ev) {
      if (ev.candidate) { send("call_signal", { call_id: W.callId, kind: "ice", data: ev.candidate.toJSON() }); }
    };
    pc.ontrack = function (ev) {
      var v = q("remote");
      if (v.srcObject !== ev.streams[0]) {
        v.playsInline = true; v.srcObject = ev.streams[0]; v.play().catch(function () { /* autoplay */ });
      }
    };
    pc.onconnectionstatechange = function () {
      if (!W || W.pc !== pc) { return; }
      if (pc.connectionState === "connected" && W.state !== "active") { setState("active"); }
      if (pc.connectionState === "failed") { hangup("error"); }
    };
    return pc;
  }
  function flushIce() {
    var list = W.pendingIce || [];
    W.pendingIce = [];
    list.forEach(function (c) { W.pc.addIceCandidate(c).catch(function (e) { console.warn("ICE", e); }); });
  }

  function cleanup() {
    if (!W) { return; }
    if (W.pc) { try { W.pc.close(); } catch { /* closed */ } W.pc = null; }
    if (W.local) { W.local.getTracks().forEach(function (tr) { tr.stop(); }); W.local = null; }
    ["local", "remote"].forEach(function (r) { var v = q(r); if (v) { v.srcObject = null; } });
    if (W.ringTimer) { clearTimeout(W.ringTimer); W.ringTimer = null; }
    W.pendingIce = []; W.muted = false;
    var m = W.root.querySelector('[data-action="mute"]'); if (m) { m.textContent = tx("call.mute"); }
  }

  /* ---- console side ---- */
  function call(workerId, caseId, alertId, label) {
    if (!W || W.role !== "console" || !(W.state === "idle" || isOver())) { return Promise.resolve(null); }
    cleanup();
    W.callId = null;
    setState("calling", tx("call.to", { who: label || ("#" + workerId) }));
    return getMedia().then(function () {
      var body = { worker_id: workerId };
      if (caseId) { body.case_id = caseId; }
      if (alertId) { body.alert_id = alertId; }
      return send("call_invite", body);
    }).then(function (res) {
      if (!res || !res.ok) { throw new Error(GCDom.errorText(res || { code: "network" })); }
      W.callId = res.call.id; W.ice = res.ice_servers || [];
      q("peer").textContent = tx("call.to", { who: res.call.worker_name || ("#" + workerId) });
      W.ringTimer = setTimeout(function () {
        if (W && W.state === "calling") {
          send("call_hangup", { call_id: W.callId, reason: "missed" });
          cleanup(); setState("missed");
        }
      }, RING_TIMEOUT_MS);
      return res.call;
    }).catch(function (e) {
      cleanup(); setState("error", e.message); return null;
    });
  }
  function onAnswered() {
    if (W.ringTimer) { clearTimeout(W.ringTimer); W.ringTimer = null; }
    setState("connecting");
    var pc = newPeer();
    pc.createOffer().then(function (o) { return pc.setLocalDescription(o); }).then(function () {
      send("call_signal", { call_id: W.callId, kind: "offer", data: { type: "offer", sdp: pc.localDescription.sdp } });
    }).catch(function (e) { console.warn("offer", e); hangup("error"); });
  }

  /* ---- worker side ---- */
  function answer() {
    if (!W || W.state !== "ringing") { return; }
    setState("connecting");
    getMedia().then(function () { return send("call_answer", { call_id: W.callId }); }).then(function (res) {
      if (!res || !res.ok) { throw new Error(GCDom.errorText(res || { code: "network" })); }
      W.ice = res.ice_servers || W.ice || [];
    }).catch(function (e) { cleanup(); setState("error", e.message); });
  }
  function decline() {
    if (!W || W.state !== "ringing") { return; }
    send("call_decline", { call_id: W.callId });
    cleanup(); setState("declined");
  }
  function onOffer(desc) {
    var pc = W.pc || newPeer();
    pc.setRemoteDescription(desc).then(function () { flushIce(); return pc.createAnswer(); })
      .then(function (a) { return pc.setLocalDescription(a); })
      .then(function () {
        send("call_signal", { call_id: W.callId, kind: "answer", data: { type: "answer", sdp: pc.localDescription.sdp } });
      }).catch(function (e) { console.warn("answer", e); hangup("error"); });
  }

  /* ---- both ---- */
  function isOver() { return ["ended", "declined", "missed", "error"].indexOf(W.state) >= 0; }
  function hangup(finalState) {
    if (!W || W.state === "idle" || isOver()) { return; }
    if (W.callId) { send("call_hangup", { call_id: W.callId }); }
    cleanup(); setState(finalState || "ended");
  }
  function toggleMute() {
    if (!W || !W.local) { return; }
    W.muted = !W.muted;
    W.local.getAudioTracks().forEach(function (tr) { tr.enabled = !W.muted; });
    W.root.querySelector('[data-action="mute"]').textContent = tx(W.muted ? "call.unmute" : "call.mute");
    W.root.setAttribute("data-muted", W.muted ? "1" : "0");
  }

  function onCall(msg) {
    if (!W || !msg) { return; }
    if (msg.type === "ring") {
      if (W.role !== "worker") { return; }
      if (W.state !== "idle" && !isOver()) { return; } // busy: the caller times out
      cleanup();
      W.callId = msg.call.id; W.ice = msg.ice_servers || [];
      setState("ringing", tx("call.from", { who: msg.call.operator }));
      return;
    }
    if (msg.call_id !== W.callId) { return; }
    if (msg.type === "answered" && W.role === "console") { onAnswered(); }
    else if (msg.type === "taken" || msg.type === "hangup") { cleanup(); setState(msg.state === "missed" ? "missed" : "ended"); }
    else if (msg.type === "declined") { cleanup(); setState("declined"); }
    else if (msg.type === "signal") {
      if (msg.kind === "offer" && W.role === "worker") { onOffer(msg.data); }
      else if (msg.kind === "answer" && W.pc) {
        W.pc.setRemoteDescription(msg.data).then(flushIce).catch(function (e) { console.warn("remote", e); });
      } else if (msg.kind === "ice") {
        if (W.pc && W.pc.remoteDescription) { W.pc.addIceCandidate(msg.data).catch(function (e) { console.warn("ICE", e); }); }
        else { W.pendingIce.push(msg.data); }
      }
    }
  }

  function joinWorker() {
    if (W && W.role === "worker" && W.workerId) {
      var wid = W.workerId, sk = socket();
      if (sk && !sk.connected) { sk.connect(); return; } // refused before sign-in: the connect handler joins
      send("join_worker", { worker_id: wid }).then(function (res) {
        if (!W || W.workerId !== wid) { return; }
        W.joined = !!(res && res.ok);
        W.root.setAttribute("data-joined", W.joined ? "1" : "0");
        if (!W.joined) {
          console.warn("join_worker refused", res && res.error);
          // the socket keeps the session it connected with: after a sign-in, reconnect once to carry it
          var s = socket();
          if (s && !W.reconnected) { W.reconnected = true; s.disconnect(); s.connect(); }
        }
      });
    }
  }
  // a widget without a fixed worker (the /m page signs in on the page): follow /auth/me
  function followIdentity() {
    if (!W || W.role !== "worker" || W.fixedWorker) { return; }
    fetch("/auth/me", { credentials: "same-origin", cache: "no-store" }).then(function (r) { return r.json(); })
      .then(function (who) {
        if (!W) { return; }
        var wid = who && who.signed_in && who.role === "worker" ? who.worker_id : null;
        if (wid === W.workerId) { return; }
        if (W.joined && W.workerId) { send("leave_worker", { worker_id: W.workerId }); }
        W.workerId = wid; W.joined = false; W.reconnected = false;
        W.root.setAttribute("data-joined", "0");
        if (wid) { joinWorker(); }
      }).catch(function () { /* offline: try again later */ });
  }
  function bindSocket() {
    var s = socket();
    if (!s || s === boundSocket) { return; }
    boundSocket = s;
    s.on("call", onCall);
    s.on("connect", joinWorker); // rooms are per connection: join again after a reconnect
    if (s.connected) { joinWorker(); }
  }

  function init(root) {
    if (W) { cleanup(); }
    W = { root: root, role: root.getAttribute("data-role"), texts: JSON.parse(root.getAttribute("data-texts") || "{}"),
          workerId: parseInt(root.getAttribute("data-worker-id") || "0", 10) || null, state: "idle",
          fixedWorker: !!root.getAttribute("data-worker-id"), lastFollow: 0,
          callId: null, pc: null, local: null, pendingIce: [], ice: [], muted: false };
    root.querySelectorAll(".gc-call-action").forEach(function (b) {
      b.addEventListener("click", function (ev) {
        ev.preventDefault();
        var a = b.getAttribute("data-action");
        if (a === "answer") { answer(); } else if (a === "decline") { decline(); }
        else if (a === "mute") { toggleMute(); } else if (a === "hangup") { hangup(); }
        else if (a === "close") { if (W.state === "idle" || isOver()) { setState("idle", ""); } }
      });
    });
    if (root.getAttribute("data-autostart") === "1" && window.GCLive) { window.GCLive.start({}); }
    boundSocket = null;
    bindSocket();
  }

  // 视频通话 buttons anywhere on the page (worker rows, cases, alerts)
  document.addEventListener("click", function (ev) {
    var b = ev.target && ev.target.closest && ev.target.closest(".gc-call-btn");
    if (!b || !W || W.role !== "console") { return; }
    ev.preventDefault();
    var from = function (attr) { var id = b.getAttribute(attr); var e = id && document.getElementById(id); return e ? e.value : null; };
    var wid = parseInt(b.getAttribute("data-worker-id") || from("data-worker-from") || "0", 10);
    var cid = parseInt(b.getAttribute("data-case-id") || from("data-case-from") || "0", 10) || null;
    var aid = parseInt(b.getAttribute("data-alert-id") || "0", 10) || null;
    if (wid) { call(wid, cid, aid, b.getAttribute("data-worker-label")); }
  });

  setInterval(function () {
    var root = document.querySelector(".gc-call");
    if (root && (!W || W.root !== root)) { init(root); }
    if (!root && W) { cleanup(); W = null; }
    if (W) {
      bindSocket();
      var every = W.joined ? 30000 : 5000;
      if (W.role === "worker" && !W.fixedWorker && Date.now() - W.lastFollow > every) {
        W.lastFollow = Date.now(); followIdentity();
      }
    }
  }, 300);

  // leaving the page ends the call for the other side too (a ringing call counts as cancelled/declined)
  window.addEventListener("pagehide", function () {
    if (!W || !W.callId || W.state === "idle" || isOver()) { return; }
    var s = socket();
    if (s) { s.emit(W.state === "ringing" ? "call_decline" : "call_hangup", { call_id: W.callId }); }
  });

  window.GCCall = {
    call: call, answer: answer, decline: decline, hangup: function () { hangup(); }, mute: toggleMute,
    state: function () { return W ? W.state : null; }, callId: function () { return W ? W.callId : null; },
    joined: function () { return !!(W && W.joined); }
  };
})();
