"""The page language across a visit: ``?lang=`` on any page is remembered (a cookie), ``<html lang>`` follows it,
and every page gets the shared texts its scripts need to name codes and API errors in that language.

- ``?lang=en`` (or ``zh-CN``) on a page request sets the ``gc_lang`` cookie; a later page without ``?lang=``
  (a link, a typed URL, a redirect through the sign-in page) is served in the same language.
- The index page says ``<html lang="en">`` or ``<html lang="zh-CN">``.
- ``<script type="application/json" id="gc-texts">`` holds the enum texts (``case.state.closed`` …) and the API
  error texts (``error.required`` …, ``field.title`` …) of that language; ``GCDom.label`` and ``GCDom.errorText``
  (assets/08-gc-dom.js) read it; on an English page also the English of place and category names
  (``name.兴乐社区`` …) for ``GCDom.name``, which names pushed data (the wall's ticker) as the API answers do.
- The JSON a page reads (``/api/…`` and Dash's callback answers) names places and categories in the visitor's
  language (``localize_json``: whole-string names under name-like keys only, never inside free text).
"""
from __future__ import annotations

import json
from html import escape
from urllib.parse import urlparse

from dashboard.i18n import LANG_COOKIE, labels_for, localize_json, names_for, normalise_lang, request_lang, texts_for

COOKIE_MAX_AGE = 365 * 24 * 3600


def shared_texts(lang: str) -> dict[str, str]:
    """The texts every page script may need: enum labels and API error texts."""
    return {**labels_for(lang), **texts_for(lang, "error."), **texts_for(lang, "field."), **names_for(lang)}


def install(app, server, is_page) -> None:
    """Hook ``app``'s index page and ``server``'s responses; ``is_page(path)`` says whether a path is a page."""
    from flask import request

    base = app.interpolate_index

    def interpolate_index(**kw):
        html = base(**kw)
        lang = request_lang()
        data = json.dumps(shared_texts(lang), ensure_ascii=False).replace("</", "<\\/")
        html = html.replace('<html lang="zh-CN">', f'<html lang="{escape(lang)}">', 1)
        return html.replace("</head>", f'<script type="application/json" id="gc-texts">{data}</script></head>', 1)

    app.interpolate_index = interpolate_index

    @server.after_request
    def _names_in_lang(resp):
        """A page's English view of the data: the place and category names in the JSON a page reads (its API
        calls and Dash's callback answers carry the visitor's cookie) in English where the catalogue has it."""
        if not _localizable(request, resp):
            return resp
        lang = request_lang()
        if lang == "zh-CN":
            return resp
        try:
            data = json.loads(resp.get_data())
        except ValueError:
            return resp
        hits: list[str] = []
        data = localize_json(data, lang, hits=hits)
        if not hits:  # nothing to name differently: the answer as it was (and its ETag)
            return resp
        resp.set_data(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        resp.headers.pop("ETag", None)
        resp.headers.add("Vary", "Cookie")
        return resp

    @server.after_request
    def _remember_lang(resp):
        chosen = request.args.get("lang")
        if chosen and request.method == "GET" and is_page(request.path):
            lang = normalise_lang(chosen)
            if request.cookies.get(LANG_COOKIE) != lang:
                resp.set_cookie(LANG_COOKIE, lang, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=False,
                                secure=request.is_secure)
        return resp


MAX_LOCALIZED_BYTES = 4_000_000  # a larger answer (a whole day's fixes) holds no names worth the walk


# pages that edit the stored names read them as stored (an English name in an edit box would be saved over the
# Chinese one): the referring page's path, which the same-origin Referrer-Policy sends with each fetch
EDITING_PAGES = ("/admin",)


def _localizable(request, resp) -> bool:
    if request.method != "GET" and request.path != "/_dash-update-component":
        return False
    referrer = urlparse(request.referrer or "").path
    if any(referrer == p or referrer.startswith(p + "/") for p in EDITING_PAGES):
        return False
    if resp.direct_passthrough or resp.is_streamed or resp.status_code != 200 or resp.mimetype != "application/json":
        return False
    if not (request.path.startswith("/api/") or request.path == "/_dash-update-component"):
        return False
    if not (request.args.get("lang") or request.cookies.get(LANG_COOKIE)):
        return False  # no choice made: Chinese, as stored (API clients)
    return (resp.content_length or 0) <= MAX_LOCALIZED_BYTES
