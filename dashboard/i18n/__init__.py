"""Translations: zh-CN by default, English one switch away.

Each feature keeps its own catalogue file ``dashboard/i18n/<feature>.json`` mapping a
key to ``{"zh-CN": ..., "en": ...}``; all files are merged at start-up.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """All keys of all feature files (read once; the files are part of the code)."""
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(_DIR.glob("*.json")):
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            if key in merged and merged[key] != texts:
                raise ValueError(f"i18n key {key!r} defined differently in {path.name}")
            merged[key] = texts
    return merged


def normalise_lang(lang: str | None) -> str:
    """Map 'en', 'en-US', 'zh', 'zh-CN' … to one of LANGS."""
    if not lang:
        return DEFAULT_LANG
    return "en" if lang.lower().startswith("en") else "zh-CN"


def t(key: str, lang: str | None = None, **fmt) -> str:
    """The text for ``key`` in ``lang``; falls back to Chinese, then to the key itself."""
    texts = catalogue().get(key)
    if texts is None:
        return key
    text = texts.get(normalise_lang(lang)) or texts.get(DEFAULT_LANG) or key
    return text.format(**fmt) if fmt else text


def texts_for(lang: str | None, prefix: str = "") -> dict[str, str]:
    """Every key (optionally under a prefix) in one language, for clientside code."""
    lang = normalise_lang(lang)
    return {k: v.get(lang) or v.get(DEFAULT_LANG, k) for k, v in catalogue().items() if k.startswith(prefix)}
