"""A swarm of real libtorrent peers on loopback, the reference the simulator is checked
against (driven by benches/real_swarm.rs; run with Debian's /usr/bin/python3, which has
python3-libtorrent: `apt-get install -y python3-libtorrent`).

Usage: libtorrent_swarm.py SPEC.json

SPEC.json (written by the bench) names the torrent, the seeds' data folder, a work
folder for the leechers' downloads, a wall-clock limit, and every peer: its group (a
name, for trace_summary.py), its role ("seed" or "leecher"), upload and download limit
in bytes/s (0: unlimited), join time and linger in seconds (linger null: stays forever;
0: leaves the moment it completes), optional abort time, and its choking policy
(regular and optimistic unchoke slots, rechoke and optimistic intervals in whole
seconds, seed choker) and connection limit.
With `trace_path`, it also writes a trace of every connection there (see Trace).

Every peer is its own lt.session listening on 127.0.0.1 (port chosen by the kernel),
created before the clock starts; its torrent is added at its join time, so a peer is
known to the tracker from then on. A leecher's torrent is removed (a `stopped`
announce, its connections closed) once its linger after completion has passed. The
script prints one JSON object on stdout: the libtorrent version, the wall time, and per
peer the times it joined, completed and left (seconds from the start, null if it did
not), its payload bytes up and down, and samples of its payload byte counters every
SAMPLE_S seconds ([time, uploaded, downloaded]), from which the caller checks that the
limits held. Progress goes to stderr. Exit status 0 when the JSON was printed (incomplete peers have complete_s null
if the wall-clock limit struck), 2 on a bad spec.

The session settings, and why (libtorrent 2.0.8, Debian bookworm):

* `enable_outgoing_utp` / `enable_incoming_utp` False: TCP only, the transport the
  simulator models (one stream per connection); uTP's delay-based congestion control
  also crawls on loopback (5 MB/s in benches/transfer.rs).
* `enable_dht`, `enable_lsd`, `enable_upnp`, `enable_natpmp` False, and the session made
  without libtorrent's default plugins (NO_PLUGINS): peers meet only through
  swarmlab's tracker, as in the simulator. With ut_pex on, peers also learnt of each
  other by peer exchange, and a loopback peer kept dialling its own address.
* `allow_multiple_connections_per_ip` True: every peer is 127.0.0.1; without it
  libtorrent keeps one connection per IP and the swarm collapses to a star.
* `allowed_fast_set_size` 0 (default 5): BEP 6's allowed-fast set, the pieces a peer
  may fetch while choked, is drawn from a hash of the receiver's IP address, so on
  loopback every leecher gets the same five pieces from every sender. About half the
  seed's upload then went to peers it choked, all of it copies of those five pieces
  (50-53 % in the 4-16 s traces of the mixed swarm), new pieces reached the leechers
  slowly, and leechers had little to fetch from one another (their interested,
  unchoked connections had nothing pickable in 55-89 % of snapshots). On the Internet
  each peer's set differs; the simulator models no allowed-fast set at all, so none is
  the comparable setting. docs/findings.md, entry 72.
* Rate limits apply to loopback peers: libtorrent 2.0 puts peers on local networks
  (127/8 included) into the "local" peer class *instead of* the global one, and the
  session's `upload_rate_limit` / `download_rate_limit` are the global class's limits,
  so by default a loopback swarm is unlimited. Worse, the local class has
  `ignore_unchoke_slots`, so local peers are never choked and the 4 + 1 choker does
  nothing. `set_peer_class_filter` with one rule mapping every IPv4 and IPv6 address to
  the global class puts loopback peers under the limits and the choker
  (`limit_loopback_peers`). Measured with one limited sender and one receiver on
  loopback, 4 MiB at a 500 kB/s limit: without the filter 0.26 s (33x the limit), with
  it 16 MiB arrive at 1.01-1.03x the limit from the first byte on. The bench checks
  every run from the samples (no peer's bytes run ahead of its limit by more than
  libtorrent's 3 s quota bank), and the calibration swarms limit-upload.toml and
  limit-download.toml must take the time their one binding limit implies.
* `tick_interval` 100 ms (default 500): libtorrent's limiter hands out quota once per
  tick, and only to peers queued for it at that moment. At 500 ms a limited sender's
  5-s rates wandered between 0.90 and 1.10 of its limit; at 100 ms between 0.975 and
  1.05. Choking and connection timers run once per second whatever the tick.
* `rate_limit_ip_overhead` False: the limits count the bytes libtorrent writes and reads
  (payload plus BitTorrent message headers, < 0.1 % over 16 KiB blocks), not an
  estimate of IP and TCP headers on top, as the simulator's capacities carry payload.
* `min_reconnect_time` 5 s (default 60 s): on loopback, TCP autotuning grows a slow
  receiver's window to hundreds of kB (Recv-Q up to 350 kB on one connection, 3.7 MB
  over the mixed swarm), so a CHOKE waits seconds behind buffered blocks at a
  download-limited peer, and libtorrent drops a peer still requesting 2 s after it was
  choked (peer_connection.cpp, too_many_requests_when_choked). Over 9 runs of
  mixed-leave.toml 38 connections were dropped, 4 of them a thin peer's to the seed;
  redialled only after 60 s, that made one thin peer finish some 45 s after the rest
  in 2 of 21 runs. On a real access link the congestion window bounds what is in
  flight, and the simulator keeps connections, so a dropped one is redialled soon.
  (Shrinking the socket buffers instead, to 16 kB, stalled TCP on loopback: half the
  calibration runs took 27 s instead of 8.6 s. The buffers stay at the kernel's.)
* `mixed_mode_algorithm` prefer_tcp: no throttling of TCP peers on behalf of uTP peers.
* `choking_algorithm` fixed_slots_choker, `unchoke_slots_limit` = regular + optimistic,
  `num_optimistic_unchoke_slots` = optimistic: libtorrent counts optimistic unchokes
  *inside* `unchoke_slots_limit` (session_impl.cpp, recalculate_unchoke_slots: the
  regular set is `allowed_upload_slots - num_opt_unchoke`), so 4 + 1 is a limit of 5
  with 1 optimistic. Its fixed-slots choker ranks peers by bytes received from them
  since the last rechoke (choker.cpp, compare_peers), i.e. tit-for-tat over one rechoke
  interval, not a 20 s window.
* `unchoke_interval` / `optimistic_unchoke_interval`: the scenario's rechoke (10 s)
  and optimistic (30 s) intervals (libtorrent takes whole seconds).
* `seed_choking_algorithm` fastest_upload: a seed unchokes the peers it uploads to
  fastest, the scenario's `seed_choker = "fastest-upload"` (libtorrent's default is
  round-robin).
* `connections_limit`: the scenario's `max_neighbours`.
* `min_announce_interval`: 10 s, so the interval the tracker asks for is honoured
  (libtorrent's default floor is 5 min); the swarm is a full mesh from the first
  announces anyway.
* `stop_tracker_timeout` 1 s: a leaving or shutting-down peer does not wait long for
  the tracker's reply to `stopped`.
* Torrents are added without `auto_managed` (no queueing, no share-ratio pausing) and
  unpaused; seeds in `seed_mode` (no hash check of the data at start).

Left at libtorrent's defaults, and so different from the simulator: request queues
sized to `request_queue_time` (3 s of the connection's rate) rather than a fixed
pipeline; rarest-first with the first `initial_picker_threshold` (4) pieces random;
libtorrent's end-game; peers unchoked at once when a slot is free rather than at the
next rechoke; completed peers dropping connections to other seeds.
"""

import json
import sys
import time

try:
    import libtorrent as lt
except ImportError:
    sys.exit("python3-libtorrent is not installed: apt-get install -y python3-libtorrent")

POLL_S = 0.05
"""How often the peers' states are polled (the resolution of completion times)."""

SAMPLE_S = 1.0
"""How often each peer's payload byte counters are sampled (for the rate check)."""

TICK_INTERVAL_MS = 100
"""libtorrent's tick, at which its rate limiter hands out quota (see the docstring)."""

MIN_RECONNECT_TIME_S = 5
"""How long libtorrent waits before redialling a peer that dropped it (see the
docstring; libtorrent's default is 60 s)."""

PROGRESS_S = 5.0
"""How often a progress line goes to stderr."""

TRACE_S = 2.0
"""How often the connections are traced when the spec asks for a trace."""

NO_PLUGINS = 0
"""Session flags: no default plugins (ut_pex, ut_metadata, smart_ban) and no default
features (DHT, LSD, UPnP and NAT-PMP are off anyway); see the docstring."""

MIN_ANNOUNCE_INTERVAL_S = 10
STOP_TRACKER_TIMEOUT_S = 1
MAX_RATE = 2**31 - 1
"""libtorrent's limits are ints; anything above is treated as unlimited."""


def log(message):
    print("libtorrent_swarm: %s" % message, file=sys.stderr, flush=True)


def read_spec(path):
    """The spec as a dict, with the fields every peer needs checked."""
    with open(path) as f:
        spec = json.load(f)
    for key in ("torrent", "seed_dir", "work_dir", "time_limit_s", "peers"):
        if key not in spec:
            raise ValueError("spec has no %r" % key)
    for i, peer in enumerate(spec["peers"]):
        for key in ("role", "upload_bytes_per_s", "download_bytes_per_s", "join_s", "linger_s",
                    "upload_slots", "optimistic_slots", "rechoke_interval_s",
                    "optimistic_interval_s", "seed_choker", "max_connections"):
            if key not in peer:
                raise ValueError("peer %d has no %r" % (i, key))
        if peer["role"] not in ("seed", "leecher"):
            raise ValueError("peer %d: role %r is neither seed nor leecher" % (i, peer["role"]))
        if peer["seed_choker"] not in ("fastest-upload", "round-robin"):
            raise ValueError("peer %d: seed choker %r is not supported" % (i, peer["seed_choker"]))
    return spec


def rate_limit(bytes_per_s):
    """A limit libtorrent takes: bytes/s, 0 meaning unlimited."""
    limit = int(bytes_per_s)
    return 0 if limit <= 0 or limit > MAX_RATE else limit


def seed_choker(name):
    if name == "fastest-upload":
        return int(lt.seed_choking_algorithm_t.fastest_upload)
    return int(lt.seed_choking_algorithm_t.round_robin)


def session_settings(peer):
    """The settings of one peer's session (see the module docstring for why)."""
    return {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "allowed_fast_set_size": 0,
        "upload_rate_limit": rate_limit(peer["upload_bytes_per_s"]),
        "download_rate_limit": rate_limit(peer["download_bytes_per_s"]),
        "rate_limit_ip_overhead": False,
        "mixed_mode_algorithm": int(lt.bandwidth_mixed_algo_t.prefer_tcp),
        "choking_algorithm": int(lt.choking_algorithm_t.fixed_slots_choker),
        "seed_choking_algorithm": seed_choker(peer["seed_choker"]),
        "unchoke_slots_limit": peer["upload_slots"] + peer["optimistic_slots"],
        "num_optimistic_unchoke_slots": peer["optimistic_slots"],
        "unchoke_interval": peer["rechoke_interval_s"],
        "optimistic_unchoke_interval": peer["optimistic_interval_s"],
        "connections_limit": peer["max_connections"],
        "min_announce_interval": MIN_ANNOUNCE_INTERVAL_S,
        "stop_tracker_timeout": STOP_TRACKER_TIMEOUT_S,
        "tick_interval": TICK_INTERVAL_MS,
        "min_reconnect_time": MIN_RECONNECT_TIME_S,
        "alert_mask": 0,
    }


def limit_loopback_peers(session):
    """Puts every peer address, loopback included, into the global peer class (whose
    limits the settings set and which obeys the unchoke slots) instead of libtorrent's
    default "local" class, which is unlimited and never choked."""
    everyone = lt.ip_filter()
    global_class = 1 << lt.session.global_peer_class_id
    everyone.add_rule("0.0.0.0", "255.255.255.255", global_class)
    everyone.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", global_class)
    session.set_peer_class_filter(everyone)


class Peer:
    """One peer: its spec, its session, its torrent once joined, and what happened."""

    def __init__(self, index, spec):
        self.index = index
        self.spec = spec
        self.session = lt.session(session_settings(spec), NO_PLUGINS)
        limit_loopback_peers(self.session)
        self.handle = None
        self.joined = None
        self.completed = None
        self.left = None
        self.samples = []
        self.uploaded = 0
        self.downloaded = 0

    def is_seed(self):
        return self.spec["role"] == "seed"

    def join(self, info, save_path, now):
        params = lt.add_torrent_params()
        params.ti = info
        params.save_path = save_path
        flags = lt.torrent_flags.update_subscribe
        if self.is_seed():
            flags |= lt.torrent_flags.seed_mode
        params.flags = flags
        self.handle = self.session.add_torrent(params)
        self.joined = now
        if self.is_seed():
            self.completed = now

    def present(self):
        return self.handle is not None and self.left is None

    def poll(self, now):
        """Notes its payload counters, and its completion the first time it seeds."""
        status = self.handle.status()
        self.uploaded = status.total_payload_upload
        self.downloaded = status.total_payload_download
        if self.completed is None and status.is_seeding:
            self.completed = now

    def sample(self, now):
        self.samples.append((now, self.uploaded, self.downloaded))

    def due_to_leave(self, now):
        if self.is_seed():
            return False
        if self.completed is None:
            abort = self.spec.get("abort_s")
            return abort is not None and now >= abort
        linger = self.spec["linger_s"]
        return linger is not None and now >= self.completed + linger

    def leave(self, now):
        self.sample(now)
        self.session.remove_torrent(self.handle)
        self.left = now

    def result(self):
        return {
            "index": self.index,
            "role": self.spec["role"],
            "join_s": self.joined,
            "complete_s": None if self.is_seed() else self.completed,
            "leave_s": self.left,
            "uploaded": self.uploaded,
            "downloaded": self.downloaded,
            "samples": [[round(t, 3), up, down] for t, up, down in self.samples],
        }


def leechers_done(peers):
    """Every leecher has completed or left (the scenario's stop = all-complete)."""
    return all(p.is_seed() or p.completed is not None or p.left is not None for p in peers)


def save_path(spec, peer):
    if peer.is_seed():
        return spec["seed_dir"]
    return "%s/peer-%d" % (spec["work_dir"], peer.index)


def run_swarm(spec):
    """Runs the swarm until every leecher is done or the wall-clock limit passes;
    returns the peers."""
    info = lt.torrent_info(spec["torrent"])
    peers = [Peer(i, p) for i, p in enumerate(spec["peers"])]
    trace = Trace(spec.get("trace_path"))
    start = time.monotonic()
    next_sample = 0.0
    next_progress = PROGRESS_S
    next_trace = 0.0
    while True:
        now = time.monotonic() - start
        for p in peers:
            if p.handle is None and now >= p.spec["join_s"]:
                p.join(info, save_path(spec, p), now)
        for p in peers:
            if p.present():
                p.poll(now)
        if now >= next_sample:
            for p in peers:
                if p.present():
                    p.sample(now)
            next_sample += SAMPLE_S
        for p in peers:
            if p.present() and p.due_to_leave(now):
                p.leave(now)
        if now >= next_trace:
            trace.write(peers, now)
            next_trace += TRACE_S
        if now >= next_progress:
            done = sum(1 for p in peers if not p.is_seed() and p.completed is not None)
            leechers = sum(1 for p in peers if not p.is_seed())
            log("%.0f s: %d of %d leechers complete" % (now, done, leechers))
            next_progress += PROGRESS_S
        if leechers_done(peers):
            break
        if now > spec["time_limit_s"]:
            log("wall-clock limit of %s s reached" % spec["time_limit_s"])
            break
        time.sleep(POLL_S)
    for p in peers:
        if p.present():
            p.sample(time.monotonic() - start)
    trace.close()
    return peers, time.monotonic() - start


class Trace:
    """Optional JSON lines, one per present peer every TRACE_S: its connections, each
    with the remote peer's index, who chokes whom, interest, payload rates (bytes/s)
    and queue lengths; for finding out why a swarm behaves as it does."""

    def __init__(self, path):
        self.file = open(path, "w") if path else None

    def write(self, peers, now):
        if self.file is None:
            return
        present = [p for p in peers if p.present()]
        infos = {p.index: p.handle.get_peer_info() for p in present}
        owners = connection_owners(present, infos)
        for p in present:
            self.file.write(json.dumps({
                "t": round(now, 2),
                "peer": p.index,
                "connections": [connection_line(c, owners) for c in infos[p.index]],
            }) + "\n")

    def close(self):
        if self.file is not None:
            self.file.close()


def connection_owners(peers, infos):
    """Every loopback port in use, mapped to the peer using it: its listen port and
    the local ports of its connections (an incoming connection's remote port is the
    other peer's local port)."""
    owners = {}
    for p in peers:
        owners[p.session.listen_port()] = p.index
        for c in infos[p.index]:
            owners[c.local_endpoint[1]] = p.index
    return owners


def connection_line(c, owners):
    return {
        "remote": owners.get(c.ip[1]),
        "we_choke": bool(c.flags & c.choked),
        "they_choke": bool(c.flags & c.remote_choked),
        "we_interested": bool(c.flags & c.interesting),
        "they_interested": bool(c.flags & c.remote_interested),
        "optimistic": bool(c.flags & c.optimistic_unchoke),
        "up": c.payload_up_speed,
        "down": c.payload_down_speed,
        "requests_out": c.download_queue_length,
        "requests_in": c.upload_queue_length,
    }


def shut_down(peers):
    """Pauses every session first, so they stop trading together, then drops them."""
    for p in peers:
        p.session.pause()
    for p in peers:
        p.handle = None
        p.session = None


def main(argv):
    if len(argv) != 2:
        print("usage: libtorrent_swarm.py SPEC.json", file=sys.stderr)
        return 2
    try:
        spec = read_spec(argv[1])
    except (OSError, ValueError) as e:
        print("libtorrent_swarm: bad spec %s: %s" % (argv[1], e), file=sys.stderr)
        return 2
    peers, wall = run_swarm(spec)
    results = [p.result() for p in peers]
    shut_down(peers)
    print(json.dumps({
        "libtorrent_version": lt.__version__,
        "wall_s": wall,
        "sample_interval_s": SAMPLE_S,
        "peers": results,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
