"""png_out.py - a PNG grid of images, landed by leap's output rule
(core/output.h) in Python: the bytes go to a unique temporary in the
output's folder (created O_EXCL), are fsynced and renamed onto the output;
an output never names an input of the job (compared by identity), and an
existing file is replaced only when it is a PNG leap wrote (tEXt Software =
leap, the mark `leap sample` writes too). Numpy and zlib only.

The grid is `leap sample`'s (examples/cli/png_grid.c): near-square, 2 px
gaps, pixels [-1, 1] -> 0..255; 1 channel gray, 3 RGB.
"""
import os
import struct
import zlib

import numpy as np

GAP = 2
GAP_VALUE = 128  # png_grid.c: mid gray between tiles
_MAGIC = b"\x89PNG\r\n\x1a\n"
_MARK = b"Software\x00leap"


def grid(images):
    """images [n, C, H, W] floats in [-1, 1] -> uint8 [rows, cols, C]."""
    n, c, h, w = images.shape
    cols = 1
    while cols * cols < n:
        cols += 1
    rows = max(1, -(-n // cols))
    out = np.full((rows * h + (rows - 1) * GAP, cols * w + (cols - 1) * GAP, c), GAP_VALUE, dtype=np.uint8)
    # (v + 1) * 127.5 + 0.5, truncated, clamped: png_grid.c's to_byte (NaN -> 0).
    px = np.nan_to_num((images.astype(np.float32) + 1.0) * 127.5 + 0.5, nan=0.0)
    px = np.clip(px, 0, 255).astype(np.uint8)
    for i in range(n):
        y, x = (i // cols) * (h + GAP), (i % cols) * (w + GAP)
        out[y:y + h, x:x + w] = px[i].transpose(1, 2, 0)
    return out


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode(pixels):
    """uint8 [H, W, C] (C 1 or 3) -> PNG bytes with leap's tEXt mark."""
    h, w, c = pixels.shape
    if c not in (1, 3):
        raise ValueError(f"a PNG grid needs 1 or 3 channels, not {c}")
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))  # filter 0 on every row
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    return _MAGIC + _chunk(b"IHDR", ihdr) + _chunk(b"tEXt", _MARK) + _chunk(b"IDAT", zlib.compress(raw, 6)) + \
        _chunk(b"IEND", b"")


def _leap_png(path):
    # A PNG whose tEXt chunks before the image data hold Software = leap.
    with open(path, "rb") as f:
        if f.read(8) != _MAGIC:
            return False
        while True:
            head = f.read(8)
            if len(head) < 8:
                return False
            n, kind = struct.unpack(">I", head[:4])[0], head[4:]
            if kind in (b"IDAT", b"IEND"):
                return False
            data = f.read(n)
            f.read(4)
            if kind == b"tEXt" and data.startswith(_MARK):
                return True


def check(path, inputs):
    """Raises ValueError naming the file when the rule refuses path as the
    output of a job that reads `inputs`."""
    for i in inputs:
        if i and os.path.exists(path) and os.path.exists(i) and os.path.samefile(path, i):
            raise ValueError(f"{path}: is an input of this job ({i}); choose another output")
    if os.path.lexists(path):
        if not os.path.isfile(path):
            raise ValueError(f"{path}: exists and is not a regular file; left alone")
        if not _leap_png(path):
            raise ValueError(f"{path}: exists and is not a PNG leap wrote; left alone")


def write(path, images, inputs=()):
    """Writes the grid of images [n, C, H, W] to path by the rule above."""
    check(path, inputs)
    data = encode(grid(images))
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    for k in range(1000):
        tmp = os.path.join(folder, f".{base}.tmp{os.getpid()}.{k}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            continue
    else:
        raise OSError(f"{path}: no free temporary name in {folder}")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        check(path, inputs)  # again: the folder may have changed meanwhile
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
