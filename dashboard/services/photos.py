"""Case photos: uploads checked by magic bytes and size, re-encoded with Pillow, thumbnailed, stored on disk.

A phone uploads a photo first (``store_upload`` → a token) and names the token in its
report; ``attach`` then records it as a CasePhoto of the case. Files live under
``settings.uploads_dir/photos/<2 hex>/<token>.jpg`` (+ ``.thumb.jpg``); the database
keeps paths relative to the uploads folder.
"""
from __future__ import annotations

import io
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Case, CasePhoto
from ..timeutil import iso, utcnow

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
# Refused from the header, before decoding: a 160 KB PNG of 7000×7000 took ~570 MB to decode. 24 MP holds
# any phone's normal photo (12 MP, 4032×3024; the /m page shrinks to 1600 px before sending) and a 6000×4000
# camera; a decode costs at most ~100 MB (RGBA), and JPEGs are decoded at a reduced scale (``draft``).
MAX_PIXELS = 24_000_000
# Pillow's own bomb check for every decode in this process (it warns above this, raises above twice it)
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ORPHAN_AGE = timedelta(days=1)   # a staged upload no case names after this is deleted (``delete_orphans``)
ORPHAN_SWEEP_LIMIT = 5000        # files deleted per sweep at most (the next sweep goes on)
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


def store_upload(root: Path, stream: IO[bytes], *, max_bytes: int = MAX_BYTES) -> StoredPhoto:
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
        img = Image.open(io.BytesIO(data), formats=[kind.split("/")[1].upper()])  # only the sniffed decoder
        _check_pixels(img.width, img.height)  # from the header: nothing is decoded yet
        if kind == "image/jpeg":
            img.draft("RGB", (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale when that is enough
        img.load()
        ImageOps.exif_transpose(img, in_place=True)  # no full-size copy
        if img.mode != "RGB":
            img = img.convert("RGB")
        img.thumbnail((MAX_SIDE, MAX_SIDE), reducing_gap=3.0)  # in place: later copies are of the small image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError(413, f"image has too many pixels ({exc}); at most {MAX_PIXELS:,}")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, PhotoError):
            raise
        raise PhotoError(415, f"the {kind} file cannot be decoded")
    token = "u_" + secrets.token_hex(16)
    rel, rel_thumb = _rel(token)
    full = _jpeg(img, MAX_SIDE, 85)
    _write_atomic(root / rel, full)
    _write_atomic(root / rel_thumb, _jpeg(img, THUMB_SIDE, 75))
    w, h = img.size
    return StoredPhoto(token=token, path=rel, thumb_path=rel_thumb, size=len(full), width=w, height=h)


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise PhotoError(413, f"image of {width}×{height} pixels is too large; at most {MAX_PIXELS:,} pixels")


def delete_orphans(session: Session, root: Path, *, now: datetime | None = None, older_than: timedelta = ORPHAN_AGE,
                   limit: int = ORPHAN_SWEEP_LIMIT) -> int:
    """Delete staged uploads (and their thumbnails) older than ``older_than`` that no case names; returns how many.

    An upload's token is good for a day: a report that names it later gets 422. At most ``limit`` files go per
    call, so a sweep after a flood of uploads stays short (the next sweep goes on).
    """
    cutoff = ((now or utcnow()).timestamp()) - older_than.total_seconds()
    folder = root / "photos"
    if not folder.is_dir():
        return 0
    deleted = 0
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        old = {}
        for f in sub.iterdir():
            name = f.name
            if name.endswith(".jpg") and not name.endswith(".thumb.jpg") and TOKEN_RE.match(name[:-4]):
                if f.stat().st_mtime < cutoff:
                    old[_rel(name[:-4])[0]] = name[:-4]
            elif name.endswith(".part") and f.stat().st_mtime < cutoff:  # a write cut short
                f.unlink(missing_ok=True)
        if not old:
            continue
        paths, used = list(old), set()
        for i in range(0, len(paths), 500):
            used.update(session.scalars(select(CasePhoto.path).where(CasePhoto.path.in_(paths[i:i + 500]))))
        for rel, token in sorted(old.items()):
            if rel in used:
                continue
            for r in _rel(token):
                (root / r).unlink(missing_ok=True)
            deleted += 1
            if deleted >= limit:
                log.info("deleted %d unattached uploads older than %s (limit reached)", deleted, older_than)
                return deleted
    if deleted:
        log.info("deleted %d unattached uploads older than %s", deleted, older_than)
    return deleted


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
