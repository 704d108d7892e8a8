"""Case photos: uploads checked by magic bytes and size, re-encoded with Pillow, thumbnailed, stored on disk.

A phone uploads a photo first (``store_upload`` → a token) and names the token in its
report; ``attach`` then records it as a CasePhoto of the case. Files live under
``settings.uploads_dir/photos/<2 hex>/<token>.jpg`` (+ ``.thumb.jpg``); the database
keeps paths relative to the uploads folder.
"""
from __future__ import annotations

import io
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Case, CasePhoto
from ..timeutil import iso, utcnow

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 50_000_000          # refuse decompression bombs before decoding
MAX_SIDE, THUMB_SIDE = 2048, 320
TOKEN_RE = re.compile(r"^u_[0-9a-f]{32}$")
STAGES = ("before", "after")


class PhotoError(ValueError):
    """A refused upload: ``status`` 413 (too big), 415 (not an image), 422 (bad token/stage)."""

    def __init__(self, status: int, message: str, field: str = "photo") -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


@dataclass(frozen=True)
class StoredPhoto:
    token: str
    path: str        # relative to the uploads folder
    thumb_path: str
    size: int
    width: int
    height: int
    content_type: str = "image/jpeg"


def sniff(head: bytes) -> str | None:
    """The image type from the first bytes, or None (the client's Content-Type is not trusted)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _rel(token: str) -> tuple[str, str]:
    return f"photos/{token[2:4]}/{token}.jpg", f"photos/{token[2:4]}/{token}.thumb.jpg"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _jpeg(img: Image.Image, side: int, quality: int) -> bytes:
    img = img.copy()
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True)  # a fresh file: no EXIF (GPS, device) kept
    return buf.getvalue()


def store_upload(root: Path, stream: BinaryIO, *, max_bytes: int = MAX_BYTES) -> StoredPhoto:
    """Check, re-encode and store one upload; returns its token. Nothing is written for a refused file."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PhotoError(413, f"photo larger than {max_bytes // (1024 * 1024)} MB")
    if not data:
        raise PhotoError(422, "empty file")
    kind = sniff(data[:16])
    if kind is None:
        raise PhotoError(415, "not a JPEG, PNG or WebP image")
    try:
        img = Image.open(io.BytesIO(data))
        if img.width * img.height > MAX_PIXELS:
            raise PhotoError(413, f"image of {img.width}×{img.height} pixels is too large")
        img.load()
        img = ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, PhotoError):
            raise
        raise PhotoError(415, f"the {kind} file cannot be decoded")
    token = "u_" + secrets.token_hex(16)
    rel, rel_thumb = _rel(token)
    full = _jpeg(img, MAX_SIDE, 85)
    _write_atomic(root / rel, full)
    _write_atomic(root / rel_thumb, _jpeg(img, THUMB_SIDE, 75))
    w, h = min(img.width, MAX_SIDE), min(img.height, MAX_SIDE)
    return StoredPhoto(token=token, path=rel, thumb_path=rel_thumb, size=len(full), width=w, height=h)


def attach(session: Session, root: Path, case: Case, tokens: list[str], *, stage: str) -> list[CasePhoto]:
    """Record staged uploads as photos of ``case``; an unknown or already used token is refused."""
    if stage not in STAGES:
        raise PhotoError(422, f"stage must be one of {', '.join(STAGES)}", "stage")
    out = []
    for token in tokens:
        if not TOKEN_RE.match(token):
            raise PhotoError(422, f"not a photo token: {token!r}", "photos")
        rel, rel_thumb = _rel(token)
        if not (root / rel).is_file():
            raise PhotoError(422, f"no uploaded photo {token}", "photos")
        if session.scalar(select(CasePhoto.id).where(CasePhoto.path == rel)) is not None:
            raise PhotoError(422, f"photo {token} already belongs to a case", "photos")
        p = CasePhoto(stage=stage, path=rel, thumb_path=rel_thumb, content_type="image/jpeg",
                      size=(root / rel).stat().st_size, created_at=utcnow())
        case.photos.append(p)
        out.append(p)
    session.flush()
    return out


def photo_public(p: CasePhoto) -> dict:
    """A photo as the API shows it, with the URLs to fetch it."""
    return {"id": p.id, "case_id": p.case_id, "stage": p.stage, "content_type": p.content_type, "size": p.size,
            "created_at": iso(p.created_at), "url": f"/api/v1/photos/{p.id}",
            "thumb_url": f"/api/v1/photos/{p.id}/thumb"}


def file_of(root: Path, p: CasePhoto, *, thumb: bool = False) -> Path | None:
    """The file behind a photo row (None if missing or outside the uploads folder)."""
    rel = p.thumb_path if thumb and p.thumb_path else p.path
    path = (root / rel).resolve()
    if not str(path).startswith(str(root.resolve())) or not path.is_file():
        return None
    return path
