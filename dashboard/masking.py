"""Masking of personal data before it leaves the server (PROTOCOLS.md Part E)."""
from __future__ import annotations

import re


def mask_name(name: str | None) -> str | None:
    """张三 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜; Latin names keep the first letter."""
    if not name:
        return name
    name = name.strip()
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


_ID_RE = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")  # 18-digit resident ID number
_MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")  # a mainland mobile number
_LANDLINE_RE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")  # 029-87654321


def mask_text(text: str | None, names=()) -> str | None:  # noqa: ANN001
    """Free text (a description, a note) with ID numbers, phone numbers and the given names masked."""
    if not text:
        return text
    out = _ID_RE.sub(lambda m: mask_id_number(m.group(0)) or "", text)
    out = _MOBILE_RE.sub(lambda m: mask_phone(m.group(0)) or "", out)
    out = _LANDLINE_RE.sub(lambda m: mask_phone(m.group(0)) or "", out)
    for name in sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len, reverse=True):
        out = out.replace(name, mask_name(name) or "")
    return out
