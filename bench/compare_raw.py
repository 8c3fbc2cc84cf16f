#!/usr/bin/python3
"""Compare two safetensors files' `samples` tensors: max abs difference and relative L2 (vs the second).

usage: compare_raw.py CANDIDATE REFERENCE [--tensor NAME] [--json | --row LABEL]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_dit import read_safetensors  # noqa: E402  (one reader for the whole bench)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("candidate")
    ap.add_argument("reference")
    ap.add_argument("--tensor", default="samples")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--row", metavar="LABEL", help="print a markdown table row: | LABEL | max abs | rel L2 |")
    args = ap.parse_args()
    tensors = []
    for path in (args.candidate, args.reference):
        found = read_safetensors(path)[0]
        if args.tensor not in found:
            sys.exit(f"{path}: no tensor '{args.tensor}' (has: {', '.join(found) or 'none'})")
        tensors.append(found[args.tensor].double())
    a, b = tensors
    if a.shape != b.shape:
        sys.exit(f"shape mismatch: {args.candidate} {list(a.shape)} vs {args.reference} {list(b.shape)}")
    max_abs = (a - b).abs().max().item()
    rel_l2 = ((a - b).norm() / b.norm()).item()
    if args.json:
        print(json.dumps({"max_abs": max_abs, "rel_l2": rel_l2}))
    elif args.row:
        print(f"| {args.row} | {max_abs:.3e} | {rel_l2:.3e} |")
    else:
        print(f"max_abs {max_abs:.3e}  rel_l2 {rel_l2:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
