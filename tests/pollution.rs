//! Pollution: peers that corrupt what they send (`corrupt = P`), in both backends.
//!
//! What "banned" means here: a peer proven twice (by the digests of its blocks against
//! the piece's verified version, or as the only sender of a failed piece) to have sent
//! bad data is cut off and never connected to again; `banned_by` in `peers.csv` counts
//! the peers that did so. The claims, each of which a wrong attribution would break:
//!
//! * every honest leecher completes, and over tcp holds the payload byte for byte;
//! * no honest peer is banned by anyone (`banned_by = 0`): the culprit is found, not
//!   every co-sender of a failed piece;
//! * every polluter is banned by at least one peer;
//! * pollution happened (`pieces_failed > 0`, `bytes_discarded` = the failed pieces'
//!   bytes), so the claims above are not vacuous.
//!
//! The simulator runs the shipped `scenarios/pollution.toml`, in 16 KiB blocks and in
//! fast mode; tcp a small swarm of the same shape, on loopback. Run in release.

use std::fs;
use swarmlab::metrics::{Ending, RunResult};
use swarmlab::run::{resolved, simulate};
use swarmlab::scenario::{BlockSize, Scenario};
use swarmlab::tcp::swarm::{SwarmOptions, run_scenario};

/// The checks every polluted run must pass; `polluters` names their group.
fn check_polluted_run(what: &str, r: &RunResult, polluters: &str, leechers: u64) {
    let s = &r.summary;
    assert_eq!(
        s.completed, leechers,
        "{what}: every honest leecher completes"
    );
    assert!(
        s.pieces_failed > 0,
        "{what}: no piece failed: no pollution happened"
    );
    for p in &r.peers {
        if p.group == polluters {
            assert!(p.banned_by > 0, "{what}: polluter {} is not banned", p.peer);
        } else {
            assert_eq!(p.banned_by, 0, "{what}: honest peer {} is banned", p.peer);
        }
    }
    let failed: u64 = r.peers.iter().map(|p| p.pieces_failed).sum();
    assert_eq!(failed, s.pieces_failed, "{what}: per-peer failures add up");
    assert!(
        s.bytes_discarded >= s.pieces_failed && s.bytes_discarded <= s.pieces_failed * (256 << 10),
        "{what}: {} bytes discarded for {} pieces of at most 256 KiB",
        s.bytes_discarded,
        s.pieces_failed
    );
}

#[test]
fn the_shipped_polluted_swarm_bans_the_polluters_only_in_the_simulator() {
    let shipped = Scenario::from_file("scenarios/pollution.toml".as_ref()).expect("parses");
    let leechers = u64::from(shipped.group("leechers").expect("a leechers group").count);
    for block in [shipped.file.block_size, BlockSize::Chunk] {
        let mut scenario = shipped.clone();
        scenario.file.block_size = block;
        for seed in [1, 2] {
            let (outcome, r) = simulate(&resolved(&scenario, seed), seed, |_| {}).expect("runs");
            let what = format!("sim, {block:?}, seed {seed}");
            assert_eq!(outcome.ending, Ending::AllComplete, "{what}");
            check_polluted_run(&what, &r, "polluters", leechers);
            eprintln!(
                "{what}: makespan {:.1} s, {} pieces failed",
                r.summary.makespan.unwrap().as_secs_f64(),
                r.summary.pieces_failed
            );
        }
    }
}

/// A small polluted swarm for tcp: an honest seed, two seeds corrupting half their
/// blocks, eight leechers, 4 MiB in 16 KiB blocks.
const SMALL_POLLUTED: &str = r#"
name = "tcp-pollution"

[file]
size = "4 MiB"
chunk_size = "256 KiB"
block_size = "16 KiB"

[[group]]
name = "seeds"
count = 1
role = "seed"
upload = "8 Mbit/s"
download = "8 Mbit/s"
latency = "10 ms"

[[group]]
name = "polluters"
count = 2
role = "seed"
upload = "8 Mbit/s"
download = "8 Mbit/s"
latency = "10 ms"
corrupt = 0.5

[[group]]
name = "leechers"
count = 8
upload = "4 Mbit/s"
download = "16 Mbit/s"
latency = "20 ms"
join = { uniform = ["0 s", "2 s"] }
linger = "1 min"
"#;

#[test]
fn a_polluted_swarm_over_tcp_bans_the_polluters_only_and_keeps_good_data() {
    let scenario = resolved(
        &Scenario::from_str_named(SMALL_POLLUTED, "small-pollution.toml").unwrap(),
        1,
    );
    let data = tempfile::tempdir().unwrap();
    let tcp = run_scenario(
        &scenario,
        1,
        &SwarmOptions {
            time_scale: 2.0,
            keep_data: Some(data.path().to_path_buf()),
            progress: false,
        },
    )
    .expect("tcp run");
    assert_eq!(tcp.ending, Ending::AllComplete);
    assert_eq!(tcp.result.summary.backend, "tcp");
    check_polluted_run("tcp", &tcp.result, "polluters", 8);
    eprintln!(
        "tcp: makespan {:.1} s, {} pieces failed, {} bytes discarded",
        tcp.result.summary.makespan.unwrap().as_secs_f64(),
        tcp.result.summary.pieces_failed,
        tcp.result.summary.bytes_discarded
    );
    // Bad bytes never end up in a file: every leecher holds the payload exactly.
    let payload = fs::read(data.path().join("payload.bin")).unwrap();
    for p in tcp.result.peers.iter().filter(|p| p.group == "leechers") {
        let got = fs::read(data.path().join(format!("peer-{}/payload.bin", p.peer))).unwrap();
        assert!(
            got == payload,
            "peer {}'s file differs from the payload",
            p.peer
        );
    }
}
