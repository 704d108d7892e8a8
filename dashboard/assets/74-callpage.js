/* /call: the worker picker searches /api/v1/workers (code or device id; the API keeps a community caller to its
 * own community) instead of listing every worker; picking one fills the id the call button reads. */
(function () {
  "use strict";
  var timer = null, seq = 0;

  function texts() {
    var box = document.querySelector(".gc-callpage-form");
    return box ? JSON.parse(box.getAttribute("data-texts") || "{}") : {};
  }

  function fill(text, T) {
    var mine = ++seq;
    var list = document.getElementById("call-page-results");
    var q = "/api/v1/workers?page_size=20" + (text ? "&q=" + encodeURIComponent(text) : "");
    fetch(q, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    }).then(function (data) {
      if (mine !== seq) { return; }  // a later search answered first
      list.replaceChildren();
      data.items.forEach(function (w) {
        var label = w.code + " " + (w.name || "") + (w.grid_code ? " · " + w.grid_code : "");
        var li = GCDom.el("li", { role: "option", "data-worker-id": String(w.id), tabindex: "0", text: label });
        li.addEventListener("click", function () { choose(w.id, label, T); });
        li.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { choose(w.id, label, T); } });
        list.appendChild(li);
      });
      if (!data.items.length) { list.appendChild(GCDom.el("li", { cls: "gc-callpage-none", text: T["call.search_none"] })); }
      if (data.total > data.items.length) {
        list.appendChild(GCDom.el("li", { cls: "gc-callpage-none",
                                          text: (T["call.search_more"] || "").replace("{n}", String(data.total)) }));
      }
    }).catch(function () {
      if (mine === seq) { list.replaceChildren(GCDom.el("li", { cls: "gc-callpage-none", text: T["call.search_failed"] })); }
    });
  }

  function choose(id, label, T) {
    document.getElementById("call-page-worker-select").value = String(id);
    document.getElementById("call-page-chosen").textContent = (T["call.chosen"] || "") + label;
    document.querySelectorAll("#call-page-results li").forEach(function (li) {
      li.setAttribute("aria-selected", li.getAttribute("data-worker-id") === String(id) ? "true" : "false");
    });
  }

  document.addEventListener("input", function (ev) {
    if (!ev.target || ev.target.id !== "call-page-worker-search") { return; }
    var text = ev.target.value.trim(), T = texts();
    clearTimeout(timer);
    timer = setTimeout(function () { fill(text, T); }, 200);
  });

  // the first page of the caller's workers once the frame is there
  var tries = 0;
  (function wait() {
    if (document.getElementById("call-page-results")) { fill("", texts()); return; }
    if (tries++ < 600) { setTimeout(wait, 50); }
  })();
})();
