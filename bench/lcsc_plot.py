#!/usr/bin/env python3
"""lcsc_plot.py - FD against NFE for the LCSC model and its baselines, as a
PNG, from the JSON lines of `leap lcsc eval --json` (one object per model
and NFE: {"model": ..., "nfe": ..., "fd": ...}). Standard library only
(zlib + struct write the PNG; a 5x7 bitmap font draws the labels), since
Debian's python3-matplotlib is not installed here.

usage: lcsc_plot.py OUT.png RESULTS.jsonl [MORE.jsonl ...]
"""
import json
import struct
import sys
import zlib

W, H = 720, 480
L, R, T, B = 70, 170, 30, 50  # plot margins

FONT = {  # 5x7, rows top to bottom, bit 4 = leftmost column
    '0': [14, 17, 19, 21, 25, 17, 14], '1': [4, 12, 4, 4, 4, 4, 14], '2': [14, 17, 1, 2, 4, 8, 31],
    '3': [31, 2, 4, 2, 1, 17, 14], '4': [2, 6, 10, 18, 31, 2, 2], '5': [31, 16, 30, 1, 1, 17, 14],
    '6': [6, 8, 16, 30, 17, 17, 14], '7': [31, 1, 2, 4, 8, 8, 8], '8': [14, 17, 17, 14, 17, 17, 14],
    '9': [14, 17, 17, 15, 1, 2, 12], '.': [0, 0, 0, 0, 0, 12, 12], ' ': [0] * 7, '-': [0, 0, 0, 31, 0, 0, 0],
    'a': [0, 0, 14, 1, 15, 17, 15], 'c': [0, 0, 14, 16, 16, 17, 14], 'e': [0, 0, 14, 17, 31, 16, 14],
    'f': [6, 9, 8, 28, 8, 8, 8], 'i': [4, 0, 12, 4, 4, 4, 14], 'l': [12, 4, 4, 4, 4, 4, 14],
    'm': [0, 0, 26, 21, 21, 17, 17], 'n': [0, 0, 22, 25, 17, 17, 17], 'o': [0, 0, 14, 17, 17, 17, 14],
    'r': [0, 0, 22, 25, 16, 16, 16], 's': [0, 0, 14, 16, 14, 1, 30], 't': [8, 8, 28, 8, 8, 9, 6],
    'u': [0, 0, 17, 17, 17, 19, 13], 'v': [0, 0, 17, 17, 17, 10, 4], 'w': [0, 0, 17, 17, 21, 21, 10],
    'D': [28, 18, 17, 17, 17, 18, 28], 'E': [31, 16, 16, 30, 16, 16, 31], 'F': [31, 16, 16, 30, 16, 16, 16],
    'N': [17, 17, 25, 21, 19, 17, 17], 'C': [14, 17, 16, 16, 16, 17, 14], 'S': [15, 16, 16, 14, 1, 1, 30],
    'L': [16, 16, 16, 16, 16, 16, 31], '(': [2, 4, 8, 8, 8, 4, 2], ')': [8, 4, 2, 2, 2, 4, 8],
    'g': [0, 15, 17, 17, 15, 1, 14], 'h': [16, 16, 22, 25, 17, 17, 17], 'p': [0, 0, 30, 17, 30, 16, 16],
    'd': [1, 1, 13, 19, 17, 17, 15], 'b': [16, 16, 22, 25, 17, 17, 30], 'k': [16, 16, 18, 20, 24, 20, 18],
    'y': [0, 0, 17, 17, 15, 1, 14], ',': [0, 0, 0, 0, 12, 4, 8], '=': [0, 0, 31, 0, 31, 0, 0],
}
COLORS = {'lcsc': (214, 39, 40), 'last': (31, 119, 180), 'uniform': (44, 160, 44), 'ema': (148, 103, 189)}


class Canvas:
    def __init__(self):
        self.px = bytearray([255] * (W * H * 3))

    def dot(self, x, y, c):
        if 0 <= x < W and 0 <= y < H:
            i = 3 * (y * W + x)
            self.px[i:i + 3] = bytes(c)

    def rect(self, x0, y0, x1, y1, c):
        for y in range(int(y0), int(y1) + 1):
            for x in range(int(x0), int(x1) + 1):
                self.dot(x, y, c)

    def line(self, x0, y0, x1, y1, c, width=2):
        n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        for k in range(n + 1):
            x = x0 + (x1 - x0) * k / n
            y = y0 + (y1 - y0) * k / n
            self.rect(x - width // 2, y - width // 2, x + width // 2, y + width // 2, c)

    def text(self, x, y, s, c=(0, 0, 0), scale=2):
        for ch in s:
            rows = FONT.get(ch, FONT[' '])
            for r, bits in enumerate(rows):
                for col in range(5):
                    if bits >> (4 - col) & 1:
                        self.rect(x + col * scale, y + r * scale, x + col * scale + scale - 1,
                                  y + r * scale + scale - 1, c)
            x += 6 * scale

    def png(self, path):
        raw = b''.join(b'\x00' + bytes(self.px[3 * W * y:3 * W * (y + 1)]) for y in range(H))

        def chunk(tag, data):
            return struct.pack('>I', len(data)) + tag + data + struct.pack('>I', zlib.crc32(tag + data) & 0xffffffff)

        with open(path, 'wb') as f:
            f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', W, H, 8, 2, 0, 0, 0)) +
                    chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b''))


def grid(c, xs, y0, y1, px, py):
    """Horizontal grid lines with their FD labels (at most 8 steps of 1, 2,
    5, 10, ...) and a tick with its label at each x in xs."""
    grey, black = (200, 200, 200), (0, 0, 0)
    step = [s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if (y1 - y0) / s <= 8][0]
    v = 0.0
    while v <= y1:
        c.line(L, py(v), W - R, py(v), grey, 1)
        c.text(L - 8 - 12 * len('%g' % v), py(v) - 7, '%g' % v)
        v += step
    for x in xs:
        c.line(px(x), H - B, px(x), H - B + 5, black, 1)
        c.text(px(x) - 6 * len(str(x)), H - B + 10, str(x))


def main():
    out, files = sys.argv[1], sys.argv[2:]
    series = {}
    for fn in files:
        for line in open(fn):
            line = line.strip()
            if not line.startswith('{'):
                continue
            r = json.loads(line)
            if 'model' in r and 'nfe' in r and 'fd' in r:
                series.setdefault(r['model'], {})[r['nfe']] = r['fd']
    nfes = sorted({n for s in series.values() for n in s})
    fds = [f for s in series.values() for f in s.values()]
    x0, x1 = min(nfes), max(nfes)
    y0, y1 = 0.0, max(fds) * 1.08
    px = lambda n: L + (n - x0) / max(x1 - x0, 1) * (W - L - R)
    py = lambda f: H - B - (f - y0) / (y1 - y0) * (H - T - B)
    c = Canvas()
    black = (0, 0, 0)
    grid(c, nfes, y0, y1, px, py)
    c.line(L, T, L, H - B, black, 1)
    c.line(L, H - B, W - R, H - B, black, 1)
    c.text((W - R + L) // 2 - 18, H - 18, 'NFE')
    c.text(8, T - 22, 'FD')
    for k, (name, pts) in enumerate(sorted(series.items(), key=lambda kv: list(COLORS).index(kv[0])
                                           if kv[0] in COLORS else 9)):
        col = COLORS.get(name, (0, 0, 0))
        xs = sorted(pts)
        for a, b in zip(xs, xs[1:]):
            c.line(px(a), py(pts[a]), px(b), py(pts[b]), col, 2)
        for a in xs:
            c.rect(px(a) - 3, py(pts[a]) - 3, px(a) + 3, py(pts[a]) + 3, col)
        c.rect(W - R + 15, T + 10 + 24 * k, W - R + 29, T + 24 + 24 * k, col)
        c.text(W - R + 36, T + 10 + 24 * k, name)
    c.png(out)


if __name__ == '__main__':
    main()
