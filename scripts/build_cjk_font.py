"""Build the PDF briefs' embedded Chinese font: dashboard/fonts/NotoSansSC-GCSubset.ttf.gz (committed).

    pip install fonttools==4.55.0        # build-time only (requirements-dev.txt)
    python scripts/build_cjk_font.py     # needs the Debian package fonts-noto-cjk

reportlab embeds TrueType outlines only, and Noto Sans CJK ships CFF (PostScript) outlines, so this takes
Noto Sans CJK SC (SIL Open Font License 1.1, dashboard/fonts/OFL.txt), keeps the characters a brief can
hold — ASCII and Latin-1, general and CJK punctuation, full-width forms, the 3,755 common hanzi of GB 2312 and every
character of the app's texts (dashboard/i18n) and demo data (data/) — converts the outlines to quadratic
TrueType curves (fontTools cu2qu), drops hinting, and writes it gzip-compressed (the PDF code opens it into
memory; reportlab then embeds only the glyphs a PDF uses). A character outside the subset (a rare name) is
printed in reportlab's built-in CID font (services/exports.py).
"""
from __future__ import annotations

import gzip
import io
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, newTable

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
OUT = ROOT / "dashboard" / "fonts" / "NotoSansSC-GCSubset.ttf.gz"
FAMILY = "Noto Sans SC GC Subset"


def characters() -> set[int]:
    cps = set(range(0x20, 0x7F)) | set(range(0xA0, 0x180)) | set(range(0x2010, 0x2070)) | set(range(0x2190, 0x2200))
    cps |= set(range(0x25A0, 0x2600)) | set(range(0x3000, 0x3040)) | set(range(0xFF01, 0xFF5F)) | {0x00D7, 0x2116}
    for hi in range(0xB0, 0xD8):  # GB 2312 level 1: the 3,755 common hanzi
        for lo in range(0xA1, 0xFF):
            try:
                cps.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    for folder, pattern in ((ROOT / "dashboard" / "i18n", "*.json"), (ROOT / "data", "**/*.csv"),
                            (ROOT / "data", "**/*.geojson")):
        for p in folder.glob(pattern):
            cps |= {ord(c) for c in p.read_text(encoding="utf-8", errors="ignore")}
    return {c for c in cps if c >= 0x20}


def to_truetype(font) -> None:
    """CFF outlines → glyf/loca (quadratic), in place."""
    order = font.getGlyphOrder()
    gs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(gs)
        gs[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["glyf"], font["loca"] = glyf, newTable("loca")
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for a in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
              "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, a, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = 0
    font["head"].indexToLocFormat = 0
    font["post"].formatType = 3.0  # no glyph names: smaller
    font.sfntVersion = "\x00\x01\x00\x00"
    for rec in font["name"].names:
        if rec.nameID in (1, 4, 16):
            rec.string = FAMILY
        elif rec.nameID == 6:
            rec.string = FAMILY.replace(" ", "")


def main() -> None:
    font = TTCollection(str(SOURCE)).fonts[2]  # Noto Sans CJK SC
    assert "SC" in font["name"].getDebugName(4)
    opts = subset.Options()
    opts.hinting = False
    opts.layout_features = []
    opts.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14, 16, 17]
    opts.notdef_outline = True
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=characters())
    sub.subset(font)
    to_truetype(font)
    buf = io.BytesIO()
    font.save(buf)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(gzip.compress(buf.getvalue(), 9, mtime=0))
    print(f"{OUT.relative_to(ROOT)}: {len(font.getGlyphOrder())} glyphs, {len(buf.getvalue()):,} bytes "
          f"({OUT.stat().st_size:,} gzip)")


if __name__ == "__main__":
    main()
