"""The page language across a visit: ``?lang=`` on any page is remembered (a cookie), ``<html lang>`` follows it,
and every page gets the shared texts its scripts need to name codes and API errors in that language.

- ``?lang=en`` (or ``zh-CN``) on a page request sets the ``gc_lang`` cookie; a later page without ``?lang=``
  (a link, a typed URL, a redirect through the sign-in page) is served in the same language.
- The index page says ``<html lang="en">`` or ``<html lang="zh-CN">``.
- ``<script type="application/json" id="gc-texts">`` holds the enum texts (``case.state.closed`` …) and the API
  error texts (``error.required`` …, ``field.title`` …) of that language; ``GCDom.label`` and ``GCDom.errorText``
  (assets/08-gc-dom.js) read it.
"""
from __future__ import annotations

import json
from html import escape

from dashboard.i18n import LANG_COOKIE, labels_for, normalise_lang, request_lang, texts_for

COOKIE_MAX_AGE = 365 * 24 * 3600


def shared_texts(lang: str) -> dict[str, str]:
    """The texts every page script may need: enum labels and API error texts."""
    return {**labels_for(lang), **texts_for(lang, "error."), **texts_for(lang, "field.")}


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
    def _remember_lang(resp):
        chosen = request.args.get("lang")
        if chosen and request.method == "GET" and is_page(request.path):
            lang = normalise_lang(chosen)
            if request.cookies.get(LANG_COOKIE) != lang:
                resp.set_cookie(LANG_COOKIE, lang, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=False,
                                secure=request.is_secure)
        return resp
