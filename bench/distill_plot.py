#!/usr/bin/env python3
"""distill_plot.py - FD against iteration for `leap distill` runs (DMD and
DisBack, several seeds each): a PNG with each method's mean and its min-max
band over seeds, a markdown table of the same, and the convergence figure of
issue 13 (the iteration at which DisBack's mean FD first reaches DMD's final
mean FD, as a fraction of DMD's iterations; linear between evaluations).

Reads each run's DIR/log.jsonl (the lines with "fd"); the method is taken
from the folder name's prefix (dmd_*, disback_*). Optional horizontal
reference lines: --ref LABEL=FD (e.g. the teacher at 4 steps).
Standard library only; the drawing is lcsc_plot.py's.

usage: distill_plot.py OUT.png RUN_DIR [RUN_DIR ...] [--ref LABEL=FD ...]
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lcsc_plot import Canvas, grid, W, H, L, R, T, B  # noqa: E402

PALETTE = [((31, 119, 180), (198, 219, 239)), ((214, 39, 40), (250, 205, 205)),
           ((44, 160, 44), (199, 233, 192)), ((148, 103, 189), (218, 203, 230))]


def colors(names):
    """dmd first (blue), then the others in name order."""
    order = sorted(names, key=lambda m: (m != 'dmd', m))
    return {m: PALETTE[k % len(PALETTE)] for k, m in enumerate(order)}


def read_run(d):
    pts = {}
    with open(os.path.join(d, 'log.jsonl')) as f:
        for line in f:
            line = line.strip()
            if line.startswith('{'):
                r = json.loads(line)
                if 'fd' in r:
                    pts[int(r['iter'])] = float(r['fd'])
    return pts


def method_of(d):
    """The series a run belongs to: its folder name up to the seed suffix
    (dmd_s0 -> dmd, disback_short_s2 -> disback_short)."""
    base = os.path.basename(os.path.normpath(d))
    name = base.rsplit('_s', 1)[0] if '_s' in base else base
    if not name.startswith(('dmd', 'disback')):
        raise SystemExit('distill_plot.py: %s: the folder name must start with dmd or disback' % d)
    return name


def summarise(runs):
    """{iter: (mean, sd, min, max, n)} over the iterations every run has."""
    common = set.intersection(*(set(r) for r in runs))
    out = {}
    for it in sorted(common):
        v = [r[it] for r in runs]
        m = sum(v) / len(v)
        sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
        out[it] = (m, sd, min(v), max(v), len(v))
    return out


def first_reach(curve, level):
    """First iteration (linear between evaluations) where curve <= level."""
    its = sorted(curve)
    for a, b in zip(its, its[1:]):
        fa, fb = curve[a][0], curve[b][0]
        if fa <= level:
            return a
        if fb <= level:
            return a + (b - a) * (fa - level) / (fa - fb)
    return its[0] if its and curve[its[0]][0] <= level else None


def plot(out, stats, refs):
    allv = [v for s in stats.values() for (m, sd, lo, hi, n) in s.values() for v in (lo, hi)]
    allv += [f for _, f in refs]
    its = sorted({i for s in stats.values() for i in s})
    x0, x1 = its[0], its[-1]
    y0, y1 = 0.0, max(allv) * 1.08
    px = lambda i: L + (i - x0) / max(x1 - x0, 1) * (W - L - R)
    py = lambda f: H - B - (f - y0) / (y1 - y0) * (H - T - B)
    col = colors(stats)
    c = Canvas()
    black = (0, 0, 0)
    grid(c, its, y0, y1, px, py)
    for m, s in stats.items():  # bands first, lines over them
        xs = sorted(s)
        for a, b in zip(xs, xs[1:]):
            for k in range(int(px(a)), int(px(b)) + 1):
                t = (k - px(a)) / max(px(b) - px(a), 1)
                lo = s[a][2] + t * (s[b][2] - s[a][2])
                hi = s[a][3] + t * (s[b][3] - s[a][3])
                c.rect(k, py(hi), k, py(lo), col[m][1])
    for label, f in refs:
        for k in range(L, W - R, 8):
            c.line(k, py(f), k + 4, py(f), (120, 120, 120), 1)
        c.text(W - R - 4 - 12 * len(label), py(f) - 18, label, (90, 90, 90))
    for k, (m, s) in enumerate(sorted(stats.items())):
        xs = sorted(s)
        for a, b in zip(xs, xs[1:]):
            c.line(px(a), py(s[a][0]), px(b), py(s[b][0]), col[m][0], 2)
        for a in xs:
            c.rect(px(a) - 3, py(s[a][0]) - 3, px(a) + 3, py(s[a][0]) + 3, col[m][0])
        c.rect(W - R + 8, T + 10 + 24 * k, W - R + 20, T + 24 + 24 * k, col[m][0])
        c.text(W - R + 24, T + 10 + 24 * k, m[:12])
    c.line(L, T, L, H - B, black, 1)
    c.line(L, H - B, W - R, H - B, black, 1)
    c.text((W - R + L) // 2 - 54, H - 18, 'iteration')
    c.text(8, T - 22, 'FD')
    c.png(out)


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        raise SystemExit(__doc__)
    out, refs, dirs = args[0], [], []
    k = 1
    while k < len(args):
        if args[k] == '--ref':
            label, f = args[k + 1].split('=')
            refs.append((label, float(f)))
            k += 2
        else:
            dirs.append(args[k])
            k += 1
    runs = {}
    for d in dirs:
        runs.setdefault(method_of(d), []).append(read_run(d))
    stats = {m: summarise(r) for m, r in runs.items()}
    plot(out, stats, refs)
    its = sorted(set.union(*(set(s) for s in stats.values())))
    methods = sorted(stats)
    print('| iteration | ' + ' | '.join('%s FD: mean +- sd (min..max)' % m for m in methods) + ' |')
    print('| --- |' + ' --- |' * len(methods))
    for i in its:
        cells = []
        for m in methods:
            if i in stats[m]:
                mean, sd, lo, hi, n = stats[m][i]
                cells.append('%.1f +- %.1f (%.1f..%.1f)' % (mean, sd, lo, hi))
            else:
                cells.append('')
        print('| %d | %s |' % (i, ' | '.join(cells)))
    if 'dmd' in stats:
        last = max(stats['dmd'])
        level = stats['dmd'][last][0]
        for m in methods:
            if m == 'dmd':
                continue
            reach = first_reach(stats[m], level)
            if reach is None:
                print('\n%s: its mean FD never reaches DMD\'s final mean FD %.2f (iteration %d).' % (m, level, last))
            else:
                print('\n%s: its mean FD reaches DMD\'s final mean FD %.2f (iteration %d) at iteration %.0f: '
                      '%.0f%% of DMD\'s iterations.' % (m, level, last, reach, 100.0 * reach / last))


if __name__ == '__main__':
    main()
