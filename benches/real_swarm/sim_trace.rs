//! The simulated run traced the way a real run is: a `trace.jsonl` in the schema of
//! `libtorrent_swarm.py`'s Trace (every peer's connections every 2 s: who chokes whom
//! and the payload rate each way) and the `spec.json` fields `trace_summary.py` reads,
//! so that one script sums up the simulation and the real swarm alike and the two can
//! be read side by side.
//!
//! What the simulator cannot say the way libtorrent does: its rates are the bytes of
//! the blocks delivered over the last 2 s (libtorrent's are smoothed estimates), and
//! interest is not observed, so an unchoked neighbour counts as interested
//! (trace_summary.py counts a slot as unchoked and interested): a neighbour left
//! unchoked after it lost interest is counted as holding a slot. Requests and
//! optimistic unchokes are not recorded: those fields are `null`, not zero.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use swarmlab::metrics::{LeaveReason, Observer, PeerIndex, PeerInfo};
use swarmlab::scenario::Scenario;
use swarmlab::sim::Simulation;
use swarmlab::units::{Bytes, Rate, SimTime};

/// Seconds between snapshots, as in the real trace.
const SNAPSHOT_S: f64 = 2.0;

/// What happened, in the order the simulator reported it.
enum Event {
    Joined(PeerIndex),
    Left(PeerIndex),
    Connected(PeerIndex, PeerIndex),
    Disconnected(PeerIndex, PeerIndex),
    /// `by` choked (true) or unchoked `peer`.
    Choke {
        by: PeerIndex,
        peer: PeerIndex,
        choked: bool,
    },
    /// Bytes delivered whole from the first to the second.
    Block(PeerIndex, PeerIndex, u64),
}

/// Records every event with its time; the snapshots are built after the run.
#[derive(Default)]
struct Tracer {
    /// Per peer: its group's index and its upload capacity, bytes per second.
    peers: BTreeMap<PeerIndex, (usize, f64)>,
    events: Vec<(SimTime, Event)>,
}

impl Observer for Tracer {
    fn peer_joined(&mut self, now: SimTime, info: &PeerInfo) {
        let upload = info.upload.bytes_per_sec_f64();
        self.peers.insert(info.peer, (info.group, upload));
        self.events.push((now, Event::Joined(info.peer)));
    }
    fn piece_verified(&mut self, _: SimTime, _: PeerIndex, _: u32) {}
    fn peer_completed(&mut self, _: SimTime, _: PeerIndex) {}
    fn peer_left(&mut self, now: SimTime, peer: PeerIndex, _: &[u32], _: LeaveReason) {
        self.events.push((now, Event::Left(peer)));
    }
    fn flow(&mut self, _: PeerIndex, _: PeerIndex, _: SimTime, _: SimTime, _: Rate) {}
    fn block_delivered(&mut self, now: SimTime, from: PeerIndex, to: PeerIndex, bytes: Bytes) {
        self.events.push((now, Event::Block(from, to, bytes.0)));
    }
    fn connected(&mut self, now: SimTime, dialler: PeerIndex, dialled: PeerIndex) {
        self.events.push((now, Event::Connected(dialler, dialled)));
    }
    fn disconnected(&mut self, now: SimTime, dialler: PeerIndex, dialled: PeerIndex) {
        self.events
            .push((now, Event::Disconnected(dialler, dialled)));
    }
    fn choke_changed(&mut self, now: SimTime, by: PeerIndex, peer: PeerIndex, choked: bool) {
        self.events.push((now, Event::Choke { by, peer, choked }));
    }
}

/// The state the snapshots read, advanced event by event.
#[derive(Default)]
struct State {
    present: BTreeSet<PeerIndex>,
    /// Each peer's neighbours.
    neighbours: BTreeMap<PeerIndex, BTreeSet<PeerIndex>>,
    /// Directed pairs (by, peer) where `by` has `peer` unchoked.
    unchoked: BTreeSet<(PeerIndex, PeerIndex)>,
    /// Bytes delivered per directed pair since the last snapshot.
    sent: BTreeMap<(PeerIndex, PeerIndex), u64>,
}

impl State {
    fn apply(&mut self, e: &Event) {
        match *e {
            Event::Joined(p) => {
                self.present.insert(p);
            }
            Event::Left(p) => {
                self.present.remove(&p);
            }
            Event::Connected(a, b) => {
                self.neighbours.entry(a).or_default().insert(b);
                self.neighbours.entry(b).or_default().insert(a);
            }
            Event::Disconnected(a, b) => {
                self.neighbours.entry(a).or_default().remove(&b);
                self.neighbours.entry(b).or_default().remove(&a);
                self.unchoked.remove(&(a, b));
                self.unchoked.remove(&(b, a));
            }
            Event::Choke { by, peer, choked } => {
                if choked {
                    self.unchoked.remove(&(by, peer));
                } else {
                    self.unchoked.insert((by, peer));
                }
            }
            Event::Block(from, to, bytes) => *self.sent.entry((from, to)).or_default() += bytes,
        }
    }

    /// One trace line per present peer, then the byte counts start again.
    fn snapshot(&mut self, t: f64, out: &mut impl Write) -> std::io::Result<()> {
        for &p in &self.present {
            let connections: Vec<serde_json::Value> = self
                .neighbours
                .get(&p)
                .into_iter()
                .flatten()
                .map(|&r| {
                    let up = self.sent.get(&(p, r)).copied().unwrap_or(0) as f64 / SNAPSHOT_S;
                    let down = self.sent.get(&(r, p)).copied().unwrap_or(0) as f64 / SNAPSHOT_S;
                    let we_choke = !self.unchoked.contains(&(p, r));
                    let they_choke = !self.unchoked.contains(&(r, p));
                    serde_json::json!({
                        "remote": r,
                        "we_choke": we_choke,
                        "they_choke": they_choke,
                        "we_interested": !they_choke,
                        "they_interested": !we_choke,
                        "optimistic": null,
                        "up": up.round(),
                        "down": down.round(),
                        "requests_out": null,
                        "requests_in": null,
                    })
                })
                .collect();
            let line = serde_json::json!({"t": t, "peer": p, "connections": connections});
            writeln!(out, "{line}")?;
        }
        self.sent.clear();
        Ok(())
    }
}

/// Simulates `scenario` with `seed` and writes `dir/trace.jsonl` and `dir/spec.json`.
pub fn write(scenario: &Scenario, seed: u64, dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let sim = Simulation::new(scenario, seed, Tracer::default()).map_err(|e| e.to_string())?;
    let (_, tracer) = sim.run(|_| {});
    // Indexed by peer, as the trace's `peer` and `remote` are; a peer that never joined
    // (the run stopped first) appears in no trace line and gets a null entry.
    let count = tracer
        .peers
        .keys()
        .next_back()
        .map_or(0, |&p| p as usize + 1);
    let mut peers = vec![serde_json::Value::Null; count];
    for (&p, &(g, upload)) in &tracer.peers {
        peers[p as usize] =
            serde_json::json!({"group": scenario.groups[g].name, "upload_bytes_per_s": upload});
    }
    let spec = serde_json::json!({"peers": peers});
    fs::write(dir.join("spec.json"), spec.to_string()).map_err(|e| e.to_string())?;
    let path = dir.join("trace.jsonl");
    let file = fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::new(file);
    let mut state = State::default();
    let mut next = 0.0;
    for (t, e) in &tracer.events {
        while t.as_secs_f64() > next {
            state.snapshot(next, &mut out).map_err(|e| e.to_string())?;
            next += SNAPSHOT_S;
        }
        state.apply(e);
    }
    state.snapshot(next, &mut out).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())
}
