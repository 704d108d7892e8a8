/* GCDom: the small DOM builder the page scripts share.
 * el("div", {cls: "x", text: "…", "data-id": 3}, [child or "text", …]) → element. */
(function () {
  "use strict";
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; } else if (k === "cls") { e.className = attrs[k]; }
      else { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) {
      if (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); }
    });
    return e;
  }
  window.GCDom = { el: el };
})();
