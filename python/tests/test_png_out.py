"""examples/python/png_out.py: the PyTorch host's PNG grid, landed by
leap's output rule (core/output.h)."""
import os
import struct
import sys
import zlib

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python"))
import png_out  # noqa: E402


def decode(path):
    # Enough of PNG for what png_out writes: IHDR, IDAT (filter 0 rows).
    blob = open(path, "rb").read()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(blob):
        (n,) = struct.unpack(">I", blob[pos:pos + 4])
        kind, data = blob[pos + 4:pos + 8], blob[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", blob[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + data) & 0xFFFFFFFF
        chunks.setdefault(kind, []).append(data)
        pos += 12 + n
    w, h, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][0][:10])
    c = 1 if color == 0 else 3
    raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    rows = [raw[y * (w * c + 1):(y + 1) * (w * c + 1)] for y in range(h)]
    assert depth == 8 and all(r[0] == 0 for r in rows)
    return np.frombuffer(b"".join(r[1:] for r in rows), dtype=np.uint8).reshape(h, w, c), chunks


def test_grid_layout_and_pixels(tmp_path):
    imgs = np.full((5, 1, 3, 4), -1.0, dtype=np.float32)
    imgs[4, 0, 2, 3] = 1.0
    imgs[0, 0, 0, 0] = 0.0
    out = str(tmp_path / "g.png")
    png_out.write(out, imgs)
    px, chunks = decode(out)
    # 5 images: 3 columns, 2 rows, 2 px gaps (leap sample's grid).
    assert px.shape == (2 * 3 + 2, 3 * 4 + 2 * 2, 1)
    assert px[0, 0, 0] == 128 and px[3 + 2 + 2, (4 + 2) + 3, 0] == 255 and px[1, 1, 0] == 0
    assert (px[3:5, :, 0] == 128).all() and (px[:, 4:6, 0] == 128).all()  # the gaps
    assert b"Software\x00leap" in chunks[b"tEXt"]
    rgb = np.zeros((2, 3, 2, 2), dtype=np.float32)
    png_out.write(str(tmp_path / "rgb.png"), rgb)
    assert decode(str(tmp_path / "rgb.png"))[0].shape == (2, 2 * 2 + 2, 3)


def test_output_rule(tmp_path):
    imgs = np.zeros((1, 1, 2, 2), dtype=np.float32)
    mine = str(tmp_path / "mine.png")
    png_out.write(mine, imgs)
    png_out.write(mine, imgs + 0.5)  # its own earlier grid: replaced
    assert decode(mine)[0][0, 0, 0] == 191
    other = tmp_path / "notes.png"
    other.write_bytes(b"not leap's")
    with pytest.raises(ValueError, match="not a PNG leap wrote"):
        png_out.write(str(other), imgs)
    assert other.read_bytes() == b"not leap's"
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"x")
    os.symlink(model, tmp_path / "link.png")
    with pytest.raises(ValueError, match="input"):
        png_out.write(str(tmp_path / "link.png"), imgs, inputs=[str(model)])
    assert model.read_bytes() == b"x"
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ValueError, match="not a regular file"):
        png_out.write(str(tmp_path / "dir.png"), imgs)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporaries left
