#!/usr/bin/env python3
"""Draws the add-on's icon.png (128x128) and logo.png (250x100): a sun over a camera.
Python's standard library only (zlib PNG writer), so anyone can redraw them:
    python3 packaging/home-assistant/make-images.py
"""
import math
import struct
import zlib
from pathlib import Path

SUN = (250, 176, 5)
BODY = (38, 50, 56)
LENS = (3, 169, 244)
WHITE = (255, 255, 255)


def png(path, w, h, pixel):
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(w)) for y in range(h)
    )

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )
    Path(path).write_bytes(data)


def mark(x, y, s, ox=0, oy=0):
    """The drawing in a square of side s at (ox, oy); None where it is transparent."""
    u, v = (x - ox) / s, (y - oy) / s
    if not (0 <= u < 1 and 0 <= v < 1):
        return None
    # Sun: a disc with rays, top right.
    cx, cy, r = 0.70, 0.28, 0.14
    d = math.hypot(u - cx, v - cy)
    if d < r:
        return SUN
    angle = math.atan2(v - cy, u - cx)
    if r + 0.03 < d < r + 0.11 and abs(math.sin(4 * angle)) > 0.85:
        return SUN
    # Camera body with a lens, bottom left.
    if 0.10 < u < 0.74 and 0.44 < v < 0.86:
        lens = math.hypot(u - 0.42, v - 0.65)
        if lens < 0.09:
            return LENS
        if lens < 0.14:
            return WHITE
        return BODY
    if 0.22 < u < 0.40 and 0.36 < v < 0.45:
        return BODY
    return None


def icon(x, y):
    c = mark(x, y, 128)
    return (*c, 255) if c else (0, 0, 0, 0)


def logo(x, y):
    c = mark(x, y, 100)
    if c:
        return (*c, 255)
    # "SC211" bars to the right: a simple, font-free wordmark.
    if 110 <= x < 240 and 38 <= y < 62 and (x - 110) % 26 < 20:
        return (*BODY, 255)
    return (0, 0, 0, 0)


here = Path(__file__).resolve().parent / "solarcam-bridge"
png(here / "icon.png", 128, 128, icon)
png(here / "logo.png", 250, 100, logo)
print("wrote", here / "icon.png", "and", here / "logo.png")
