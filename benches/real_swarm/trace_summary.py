"""Summarises a real run's connection trace by group: where each group's upload goes
and whom its peers unchoke, per time window. For finding out why a real swarm and its
simulation differ.

Usage: trace_summary.py RUN_DIR [WINDOW_S]

RUN_DIR is a run folder kept by `REAL_SWARM_TRACE=1 cargo bench --bench real_swarm`
(it holds spec.json and trace.jsonl, see libtorrent_swarm.py's Trace), or the `sim`
folder beside the runs, the simulation traced alike (sim_trace.rs). For each window
(default 4 s) it prints, per sending group, the payload rate to each receiving group
(libtorrent's own smoothed estimates, kB/s, averaged over the trace instants in the
window), the group's upload as a share of its limits, the share of that upload going
to peers it chokes (BEP 6 allowed-fast pieces; see libtorrent_swarm.py), and the mean
number of its peers' unchoke slots held by each group.
"""

import collections
import json
import os
import sys


def load(run_dir):
    with open(os.path.join(run_dir, "spec.json")) as f:
        spec = json.load(f)
    with open(os.path.join(run_dir, "trace.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    return spec, rows


def window_rows(rows, window_s):
    """The trace lines grouped by window index, each window by trace instant."""
    windows = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in rows:
        windows[int(r["t"] // window_s)][r["t"]].append(r)
    return windows


def summarise_window(spec, instants):
    """Per sending group: rate to each group (bytes/s), upload share of its limits and
    unchoke slots per peer held by each group, averaged over the instants; and the
    share of its upload sent to peers it chokes."""
    group = [p["group"] for p in spec["peers"]]
    limit = [p["upload_bytes_per_s"] for p in spec["peers"]]
    rates = collections.defaultdict(float)
    slots = collections.defaultdict(float)
    sent = collections.defaultdict(float)
    to_choked = collections.defaultdict(float)
    capacity = collections.defaultdict(float)
    senders = collections.defaultdict(float)
    for lines in instants.values():
        for r in lines:
            g = group[r["peer"]]
            senders[g] += 1
            capacity[g] += limit[r["peer"]]
            for c in r["connections"]:
                if c["remote"] is None:
                    continue
                h = group[c["remote"]]
                rates[(g, h)] += c["up"]
                sent[g] += c["up"]
                if c["we_choke"]:
                    to_choked[g] += c["up"]
                if not c["we_choke"] and c["they_interested"]:
                    slots[(g, h)] += 1
    n = len(instants)
    return {
        g: {
            "to": {h: rates[(g2, h)] / n for (g2, h) in rates if g2 == g},
            "upload_share": sent[g] / capacity[g] if capacity[g] else 0.0,
            "to_choked": to_choked[g] / sent[g] if sent[g] else 0.0,
            "slots": {h: slots[(g2, h)] / senders[g] for (g2, h) in slots if g2 == g},
        }
        for g in senders
    }


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    window_s = float(argv[2]) if len(argv) == 3 else 4.0
    spec, rows = load(argv[1])
    for w, instants in sorted(window_rows(rows, window_s).items()):
        print("%g-%g s" % (w * window_s, (w + 1) * window_s))
        for g, s in sorted(summarise_window(spec, instants).items()):
            to = ", ".join("%s %.0f" % (h, v / 1000) for h, v in sorted(s["to"].items()))
            slots = ", ".join("%s %.1f" % (h, v) for h, v in sorted(s["slots"].items()))
            print("  %-8s sends kB/s: %-40s upload %3.0f %% of limit, %3.0f %% of it to "
                  "choked peers; unchoked per peer: %s"
                  % (g, to, 100 * s["upload_share"], 100 * s["to_choked"], slots))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
