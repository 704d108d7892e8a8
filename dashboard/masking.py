"""Masking of personal data before it leaves the server (PROTOCOLS.md Part E).

Free text (descriptions, notes, alert texts, comments) is masked by pattern (phone and ID
numbers), for the record's own people, and for every person the system knows: a
``NameMatcher`` over the name index (``services/name_index.py``) finds all known names in one
pass of one compiled pattern.

Which names are matched in free text, and the trade-off for short ones:

- At least ``MIN_NAME_LEN`` (2) characters. A one-character "name" is a bare surname (王, 张),
  and matching it would star out half of any sentence.
- Only names in the index, never "anything that looks like a name": 安全隐患 or 文明劝导 stay
  readable because nobody in the registers is called that, and a name nobody registered is
  not caught (the phone next to it still is).
- Two-character names are kept, although some are also ordinary words (高明, 金华, 平安, 江南):
  when someone in the registers has such a name, the word is starred wherever it appears in
  free text ("方法高明" → "方法高*"). Over-masking a word costs readability; dropping 2-character
  names would leave about a quarter of the people (565 of 2,036 in the 西一路 demo) unmasked in
  free text, so readability loses. None of the demo's 565 two-character names occurs in its
  place, activity, category or organisation texts.
- ``NOT_NAMES`` are values that turn up in name fields without being anyone's name (管理员 as
  a display name, 匿名 as a reporter): those are never matched.
- Longest name first: 欧阳娜娜 is masked as 欧**娜, not as 欧*娜娜 via a known 欧阳. A Latin name
  matches only as a whole word (Li does not match inside Lily); Chinese text has no word
  boundaries, so a CJK name matches wherever its characters appear in a row.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable


def mask_name(name: str | None) -> str | None:
    """张三 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜; Latin names keep the first letter."""
    if not name:
        return name
    name = normalise_name(name)
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str | None) -> str | None:
    """13812345678 → 138****5678; other numbers keep their first 3 and last 4 digits."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_id_number(value: str | None) -> str | None:
    """18-digit ID → first 6 + 8 stars + last 4."""
    if not value:
        return value
    v = value.strip()
    if len(v) <= 10:
        return "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


# The number formats people type (tests/security/test_round2_masking.py holds the table). Digit groups may be
# split by one space or hyphen; a number glued to letters or other digits is not one of these.
_SEP = r"[ \-\u3000]?"
_ID_RE = re.compile(r"(?<![\dA-Za-z])(?:\d{17}[\dXx]|\d{15})(?![\dA-Za-z])")  # resident ID: 18 digits, or 15 (pre-1999)
# a mainland mobile number, 3-4-4 grouped or not, with an optional +86 / 0086 country code
_MOBILE_RE = re.compile(r"(?<!\d)(?P<cc>(?:\+|00)86[ \-]?)?(?P<num>1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4})(?!\d)")
# a landline with its area code: 029-87654321, 029 87654321, (029)87654321, （029）87654321, +86 29 87654321
_LANDLINE_RE = re.compile(r"(?<!\d)(?:(?:\+|00)86[ \-]?(?:\(0?\d{2,3}\)|0?\d{2,3})|\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3})"
                          r"[ \-\u3000]?\d{3,4}-?\d{4}(?!\d)")
_EMAIL_RE = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])", re.ASCII)
_DIGITS = re.compile(r"\d{3}")  # every number pattern above holds 3 digits in a row (138 0013 8000)
_SPACES = re.compile(r"[\s\u3000]+")
_LATIN = re.compile(r"[A-Za-z]")


def normalise_name(name: str) -> str:
    """A name as it is compared and masked: 周 子涵 → 周子涵 (CJK names have no spaces); Latin ones keep one."""
    name = name.strip()
    return _SPACES.sub(" ", name) if _LATIN.search(name) else _SPACES.sub("", name)


def mask_email(value: str | None) -> str | None:
    """zhang.san@example.com → z***@example.com (the mailbox says who; the domain rarely does)."""
    if not value or "@" not in value:
        return value
    local, _, domain = value.rpartition("@")
    return (local[:1] or "*") + "***@" + domain


def _mask_mobile(m: re.Match) -> str:
    cc = re.sub(r"[ \-]", "", m.group("cc") or "")
    return (cc if cc.startswith("+") else "") + (mask_phone(m.group("num")) or "")


def _mask_landline(m: re.Match) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    if digits.startswith("0086"):
        digits = "0" + digits[4:].lstrip("0")
    elif m.group(0).startswith("+86"):
        digits = "0" + digits[2:].lstrip("0")
    return mask_phone(digits) or ""


@lru_cache(maxsize=4096)
def _own_name_pattern(names: tuple[str, ...]) -> re.Pattern | None:
    """One pattern for the record's own people, matching each name however it is spaced (王小明, 王 小明)."""
    parts = set()
    for raw in names:
        name = normalise_name(raw)
        if len(name) <= 1:
            continue
        if _LATIN.search(name):
            parts.add(r"[\s\u3000]+".join(re.escape(w) for w in name.split(" ")))
        else:
            parts.add(r"[\s\u3000]?".join(re.escape(ch) for ch in name))
    if not parts:
        return None
    return re.compile("|".join(sorted(parts, key=len, reverse=True)))


MIN_NAME_LEN = 2   # see the module docstring: a single character is a surname, not a name
MAX_NAME_LEN = 32  # longer values in a name field are not a person's name (and would slow the matcher)
# values found in name fields that are roles, placeholders or handles, never someone's name
NOT_NAMES = frozenset({
    "管理员", "系统管理员", "值班员", "调度员", "网格员", "网格长", "领导", "系统", "匿名", "市民", "热心市民",
    "居民", "群众", "先生", "女士", "用户", "未知", "无", "测试", "admin", "system", "anonymous",
})
_NOT_NAME_CHARS = re.compile(r"[\d*@/\\<>]")  # digits, stars (already masked), mail, paths
_LATIN_EDGE = "A-Za-z0-9"


def indexable_name(value: str | None) -> str | None:
    """The form of ``value`` the name index keeps, or None when it is not matched in free text."""
    if not value:
        return None
    name = normalise_name(value)
    if not MIN_NAME_LEN <= len(name) <= MAX_NAME_LEN or name in NOT_NAMES or name.lower() in NOT_NAMES:
        return None
    if _NOT_NAME_CHARS.search(name) or not any(ch.isalpha() for ch in name):
        return None
    return name


def _trie_pattern(names: Iterable[str]) -> str:
    """One regex source matching any of ``names``, shared prefixes factored out (longest match first)."""
    trie: dict = {}
    for name in names:
        node = trie
        for ch in name:
            node = node.setdefault(ch, {})
        node[""] = {}

    def walk(node: dict) -> str:
        branches = [re.escape(ch) + walk(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        if len(branches) == 1:
            body = branches[0]
        elif all(len(b) == 1 for b in branches):
            body = "[" + "".join(branches) + "]"
        else:
            body = "(?:" + "|".join(branches) + ")"
        if "" in node:  # a name ends here: the longer names through this node are tried first (greedy)
            return (body if len(branches) == 1 and len(body) == 1 else f"(?:{body})") + "?"
        return body

    return walk(trie)


class NameMatcher:
    """Every occurrence of a known name in a text, found in one pass of one compiled pattern.

    CJK names match anywhere (Chinese has no word boundaries); names with Latin letters match
    only as whole words. Immutable: the name index swaps in a new matcher when names change.
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        kept = {n for n in (indexable_name(x) for x in names) if n}
        self.names = frozenset(kept)
        latin = {n for n in kept if re.search(f"[{_LATIN_EDGE}]", n)}
        parts = []
        if kept - latin:
            parts.append(_trie_pattern(kept - latin))
        if latin:
            parts.append(f"(?<![{_LATIN_EDGE}])(?:{_trie_pattern(latin)})(?![{_LATIN_EDGE}])")
        self._pattern = re.compile("|".join(parts)) if parts else None

    def __len__(self) -> int:
        return len(self.names)

    def mask(self, text: str | None) -> str | None:
        """``text`` with every known name masked like ``mask_name`` (张伟 → 张*)."""
        if not text or self._pattern is None:
            return text
        return self._pattern.sub(_mask_match, text)


def _mask_match(m: re.Match) -> str:
    return mask_name(m.group(0)) or ""


class LayeredMatcher(NameMatcher):
    """A large matcher and a small one of names added since it was built, masking exactly as one ``NameMatcher``
    of both sets would: at each step the leftmost match of either, the longer where both start at once (each
    layer's trie already gives its longest there). Compiling 160,000 names takes ~0.2 s; a name or two joining
    (a new reporter, a visited person) rebuilds only the small layer, on the request that next masks a text."""

    def __init__(self, base: NameMatcher, recent: Iterable[str]) -> None:  # noqa: D107 — no super(): no pattern
        self.base: NameMatcher = base.base if isinstance(base, LayeredMatcher) else base
        self.recent = NameMatcher(recent)
        self.names = self.base.names | self.recent.names
        self._pattern = None

    def mask(self, text: str | None) -> str | None:
        a, b = self.base._pattern, self.recent._pattern
        if not text:
            return text
        if a is None or b is None:
            return self.recent.mask(text) if a is None else self.base.mask(text)
        out, i = [], 0
        ma, mb = a.search(text, i), b.search(text, i)
        while ma or mb:
            m: re.Match[str]
            if ma is not None and mb is not None:
                m = ma if (ma.start(), -ma.end()) <= (mb.start(), -mb.end()) else mb
            else:
                m = ma if ma is not None else mb  # type: ignore[assignment]  # one of them is a match (loop test)
            out.append(text[i:m.start()])
            out.append(_mask_match(m))
            i = m.end()
            if ma and ma.start() < i:
                ma = a.search(text, i)
            if mb and mb.start() < i:
                mb = b.search(text, i)
        out.append(text[i:])
        return "".join(out)


NO_NAMES = NameMatcher()


def mask_text(text: str | None, names=(), known: NameMatcher | None = None) -> str | None:  # noqa: ANN001
    """Free text with ID numbers, phone numbers, the record's own ``names`` and every ``known`` name masked.

    Screens get free text only through this (with ``known`` from ``services.name_index.known_names``).
    """
    if not text:
        return text
    out = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)) or "", text) if "@" in text else text
    if _DIGITS.search(out):  # most texts hold no run of digits: skip the number patterns
        out = _MOBILE_RE.sub(_mask_mobile, out)  # before IDs: 008613800138000 is a phone, not a 15-digit ID
        out = _ID_RE.sub(lambda m: mask_id_number(m.group(0)) or "", out)
        out = _LANDLINE_RE.sub(_mask_landline, out)
    own = _own_name_pattern(tuple(sorted({n for n in names if n})))
    if own is not None:
        out = own.sub(_mask_match, out)
    return known.mask(out) if known is not None else out
