/* 网格+五治: refresh the 五治 panel when activities or device alerts arrive (debounced), and
 * start the live connection on the standalone /governance page. Does nothing elsewhere. */
(function () {
  "use strict";
  var timer = null, last = 0;

  function panel() { return document.getElementById("gov-panel"); }

  function refresh() {
    timer = null;
    last = Date.now();
    if (panel() && window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props("gov-panel-refresh", { data: last });
    }
  }

  function relevant(ev) {
    if (ev.type === "activity") { return true; }
    return ev.type === "alert" && ev.payload && ev.payload.alert && ev.payload.alert.source === "device";
  }

  function onEvents(events) {
    var p = panel();
    if (!p || timer || !events.some(relevant)) { return; }
    var minMs = (parseFloat(p.getAttribute("data-refresh-min-s")) || 15) * 1000;
    timer = setTimeout(refresh, Math.max(0, last + minMs - Date.now()));
  }

  function startOnOwnPage() {
    if (document.getElementById("gov-page") && window.GCLive) { window.GCLive.start({}); return true; }
    return false;
  }

  if (!window.GCLive) { return; }
  window.GCLive.on("events", onEvents);
  var obs = new MutationObserver(function () { if (startOnOwnPage()) { obs.disconnect(); } });
  document.addEventListener("DOMContentLoaded", function () {
    if (!startOnOwnPage()) { obs.observe(document.body, { childList: true, subtree: true }); }
  });
})();
