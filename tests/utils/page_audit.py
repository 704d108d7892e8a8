"""What a person would call broken on a page, in either language: for any browser test to reuse.

    from tests.utils.page_audit import audit_page
    problems = audit_page(page, header=("header.wall-header", 84 * scale))
    assert not problems, "\\n".join(problems)

It reports, for what is visible on the page (text nodes, placeholders, titles, SVG chart text):
- text that looks like an i18n key (``wall.kpi.reported``) or is an internal code (``case_spike``, ``en_route``,
  ``open``): a lookup that fell through;
- an element whose text runs out of its box: clipped (overflow hidden, an ellipsis) or spilling over its edge;
- a Plotly chart whose legend overlaps its plot area, or whose tick labels or title stick out of the chart;
- a header taller than its design height (the title wrapped onto a second line).
"""
from __future__ import annotations

import re

from dashboard.i18n import ENUM_VALUES, catalogue

# a dotted lower-case key of at least two parts whose first part is a catalogue namespace: "wall.kpi.reported"
_NAMESPACES = sorted({k.split(".", 1)[0] for k in catalogue()})
KEY_PATTERN = re.compile(r"\b(?:" + "|".join(map(re.escape, _NAMESPACES)) + r")\.[a-z0-9_]+(?:\.[a-z0-9_]+)*\b")
# internal values that must never be a page's whole text (numbers like priority "1" are fine to show)
INTERNAL_CODES = frozenset(v for vs in ENUM_VALUES.values() for v in vs if not v.isdigit()) | frozenset({
    "open", "ringing", "active", "ended", "declined", "missed", "draft", "running", "paused", "finished",
    "compound", "community", "unit", "door", "smoke", "snapshot", "mjpeg", "hls", "undefined", "null", "NaN",
    "[object Object]"})  # ("None" is the English for an empty list)

_JS = r"""
([internal, keyPattern, allowTruncate, headerSel, headerMax, dataSels]) => {
  const keyRe = new RegExp(keyPattern);
  const out = [];
  const visible = (el) => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.display === "none" || cs.visibility === "hidden" || cs.opacity === "0") return false;
      if (e.hidden) return false;
    }
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const where = (el) => {
    const bits = [];
    for (let e = el; e && e.nodeType === 1 && bits.length < 4; e = e.parentElement) {
      bits.unshift(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
        (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/)[0] : ""));
    }
    return bits.join(" > ");
  };
  const allowed = (el) => allowTruncate.some((sel) => el.closest(sel));
  const checkText = (text, el, what) => {
    const s = (text || "").trim();
    if (!s) return;
    const m = s.match(keyRe);
    if (m) out.push(`i18n key ${JSON.stringify(m[0])} in ${what} of ${where(el)}: ${JSON.stringify(s.slice(0, 80))}`);
    else if (internal.includes(s) && !dataSels.some((sel) => el.closest(sel))) {
      out.push(`internal code ${JSON.stringify(s)} in ${what} of ${where(el)}`);
    }
  };
  // 1. text nodes, placeholders and titles
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const boxes = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || ["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"].includes(el.tagName)) continue;
    if (!n.textContent.trim() || !visible(el)) continue;
    checkText(n.textContent, el, "text");
    if (!(el instanceof SVGElement)) boxes.add(el);
  }
  for (const el of document.querySelectorAll("[placeholder], [title], [aria-label], option")) {
    if (el.tagName === "OPTION") { if (el.parentElement && visible(el.parentElement)) checkText(el.textContent, el, "option"); continue; }
    if (!visible(el)) continue;
    for (const a of ["placeholder", "title", "aria-label"]) if (el.hasAttribute(a)) checkText(el.getAttribute(a), el, a);
  }
  // 2. text that runs out of its box
  for (const el of boxes) {
    if (allowed(el)) continue;
    const cs = getComputedStyle(el);
    const clips = cs.overflowX !== "visible" || cs.overflowY !== "visible" || cs.textOverflow === "ellipsis";
    const scrolls = ["auto", "scroll"].includes(cs.overflowX) || ["auto", "scroll"].includes(cs.overflowY);
    if (scrolls) continue;  // a scrolling list shows the rest on scrolling
    if (clips && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 2) &&
        el.clientWidth > 0) {
      out.push(`text clipped in ${where(el)}: ${JSON.stringify(el.textContent.trim().slice(0, 60))} ` +
               `(${el.scrollWidth}×${el.scrollHeight} in ${el.clientWidth}×${el.clientHeight})`);
      continue;
    }
    if (!clips && !["INPUT", "TEXTAREA", "SELECT", "OPTION", "BUTTON"].includes(el.tagName)) {
      const box = el.getBoundingClientRect();
      // only the element's own text: its direct text nodes
      for (const n of el.childNodes) {
        if (n.nodeType !== 3 || !n.textContent.trim()) continue;
        const range = document.createRange(); range.selectNodeContents(n);
        const r = range.getBoundingClientRect();
        const sx = box.width ? (el.offsetWidth ? box.width / el.offsetWidth : 1) : 1;  // CSS transforms (the wall)
        const tol = 2 * sx;
        // vertically a glyph box is taller than a tight line-height: only half a line out counts
        const vtol = tol + 0.4 * parseFloat(cs.fontSize || "16") * sx;
        if (r.left < box.left - tol || r.right > box.right + tol || r.top < box.top - vtol || r.bottom > box.bottom + vtol) {
          out.push(`text overflows ${where(el)}: ${JSON.stringify(n.textContent.trim().slice(0, 60))} ` +
                   `(text ${Math.round(r.left)}…${Math.round(r.right)}×${Math.round(r.top)}…${Math.round(r.bottom)}, ` +
                   `box ${Math.round(box.left)}…${Math.round(box.right)}×${Math.round(box.top)}…${Math.round(box.bottom)})`);
          break;
        }
      }
    }
  }
  // 3. Plotly charts: the legend off the plot area, tick labels and titles inside the chart
  const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  for (const gd of document.querySelectorAll(".js-plotly-plot")) {
    if (!visible(gd)) continue;
    const svg = gd.querySelector("svg.main-svg"); if (!svg) continue;
    const box = svg.getBoundingClientRect();
    const plot = gd.querySelector(".nsewdrag");
    const legend = gd.querySelector("g.legend");
    if (legend && plot && legend.getBBox().width > 0 && overlap(legend.getBoundingClientRect(), plot.getBoundingClientRect())) {
      out.push(`chart legend overlaps the plot area in ${where(gd)}`);
    }
    for (const t of gd.querySelectorAll(".xtick text, .ytick text, .g-xtitle text, .g-ytitle text, .gtitle, .legendtext, " +
                                        ".angularaxistick text, .radialaxistick text")) {
      if (!t.textContent.trim()) continue;
      const r = t.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1) {
        out.push(`chart text cut at the edge of ${where(gd)}: ${JSON.stringify(t.textContent.slice(0, 40))}`);
      }
    }
  }
  // 3b. hand-drawn SVG charts (the wall's): texts inside the chart, not over each other or a legend's line
  for (const sv of document.querySelectorAll("svg")) {
    if (sv.closest(".js-plotly-plot") || !visible(sv) || sv.parentElement.closest("svg")) continue;
    const box = sv.getBoundingClientRect();
    const texts = Array.from(sv.querySelectorAll("text")).filter((t) => t.textContent.trim() && t.getBoundingClientRect().width > 0);
    for (const t of texts) {
      const r = t.getBoundingClientRect();
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1) {
        out.push(`chart text cut at the edge of ${where(sv)}: ${JSON.stringify(t.textContent.slice(0, 40))}`);
      }
    }
    for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
      if (overlap(texts[i].getBoundingClientRect(), texts[j].getBoundingClientRect())) {
        out.push(`chart texts overlap in ${where(sv)}: ${JSON.stringify(texts[i].textContent.slice(0, 30))} / ` +
                 `${JSON.stringify(texts[j].textContent.slice(0, 30))}`);
      }
    }
    const lines = Array.from(sv.querySelectorAll("line")).filter((l) => !/grid/.test(l.getAttribute("class") || ""));
    for (const t of texts) for (const l of lines) {
      const a = t.getBoundingClientRect(), b = l.getBoundingClientRect();
      if (a.left < b.right - 1 && b.left < a.right - 1 && a.top <= b.bottom && b.top <= a.bottom) {
        out.push(`chart text over a line in ${where(sv)}: ${JSON.stringify(t.textContent.slice(0, 30))}`);
        break;
      }
    }
  }
  // 4. the header's height
  if (headerSel) {
    for (const h of document.querySelectorAll(headerSel)) {
      if (!visible(h)) continue;
      const hh = h.getBoundingClientRect().height;
      if (hh > headerMax + 0.5) out.push(`header ${where(h)} is ${hh.toFixed(1)} px tall, design ${headerMax.toFixed(1)} px`);
      for (const c of h.querySelectorAll("*")) {
        const r = c.getBoundingClientRect(), hb = h.getBoundingClientRect();
        if (visible(c) && r.height > 0 && (r.bottom > hb.bottom + 1 || r.top < hb.top - 1)) {
          out.push(`header item ${where(c)} sticks out of the header (${Math.round(r.top)}…${Math.round(r.bottom)} vs ` +
                   `${Math.round(hb.top)}…${Math.round(hb.bottom)})`);
          break;
        }
      }
    }
  }
  return out;
}
"""


def audit_page(page, *, header: tuple[str, float] | None = None, allow_truncate: tuple[str, ...] = (),
               data: tuple[str, ...] = ()) -> list[str]:
    """The problems on ``page`` as it is now (empty when none).

    ``header``: (CSS selector, design height in CSS pixels as rendered, i.e. after any scaling).
    ``allow_truncate``: selectors of containers whose text may end in an ellipsis by design (a long free-text
    description in a list row), never a label.
    ``data``: selectors of cells that show what a person typed (a user name "admin"), not checked for codes.
    """
    sel, height = header if header else (None, 0.0)
    return page.evaluate(_JS, [sorted(INTERNAL_CODES), KEY_PATTERN.pattern, list(allow_truncate), sel, height,
                               list(data)])
