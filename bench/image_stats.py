#!/usr/bin/python3
"""Contrast statistics of sample sets against a reference set of the same seeds, and of the data.

Why: FD against the test set ranked uniform reuse above ERTACache at 2x, though ERTACache's
images are closer to full compute's. These numbers show what moved: mean, standard deviation,
mean absolute neighbour difference (sharpness), saturated fraction, and against the reference
(the first file: full compute) the per-pixel RMS error and the RMS of the mean difference image
(a systematic shift shared by all images).

usage: image_stats.py REFERENCE.safetensors [OTHER.safetensors ...] [--data t10k-images-idx3-ubyte.gz]
"""
import argparse
import gzip
import json
import struct

import numpy as np


def samples(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    t = json.loads(b[8:8 + n])["samples"]
    s, e = t["data_offsets"]
    return np.frombuffer(b[8 + n + s:8 + n + e], dtype=np.float32).reshape(t["shape"])[:, 0]


def idx_images(path):
    b = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    return np.frombuffer(b[16:], dtype=np.uint8).reshape(-1, 28, 28).astype(np.float32) / 127.5 - 1


def row(name, x, ref=None):
    grad = 0.5 * (np.abs(np.diff(x, axis=2)).mean() + np.abs(np.diff(x, axis=1)).mean())
    cells = [name, f"{x.mean():+.4f}", f"{x.std():.4f}", f"{grad:.4f}", f"{np.mean(x > 0.9):.4f}"]
    if ref is not None:
        d = x - ref
        cells += [f"{np.sqrt((d ** 2).mean()):.4f}", f"{np.sqrt((d.mean(0) ** 2).mean()):.4f}"]
    else:
        cells += ["", ""]
    print("| " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--data")
    a = ap.parse_args()
    print("| set | mean | std | sharpness | > 0.9 | RMS error | RMS mean shift |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    if a.data:
        row("data (" + a.data.split("/")[-1] + ")", idx_images(a.data))
    ref = samples(a.files[0])
    for p in a.files:
        row(p.split("/")[-1], samples(p), ref)


if __name__ == "__main__":
    main()
