//! The flagship scenario over real sockets: `scenarios/flash-crowd.toml` (1 seed, 200
//! leechers, 64 MiB) simulated, then run with `--backend tcp` on this machine, and the
//! two compared against issue 16's criteria: every leecher completes, peak RSS under
//! 4 GiB, mean download time and makespan within 15 % of the simulation (goal 10 %).
//!
//! Run: `cargo bench --bench flash_crowd_tcp`. `FLASH_TIME_SCALE` sets the tcp run's
//! `--time-scale` (default 1: scenario time, about 6–7 minutes of wall time);
//! `FLASH_KEEP=1` keeps the result folders. Prints both runs' figures, the tcp run's
//! wall time and peak RSS (the child's `VmHWM`, read from /proc while it runs), and
//! whether each criterion holds; exits 1 if one does not.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The scenario, from the crate's root.
const SCENARIO: &str = "scenarios/flash-crowd.toml";
/// The longest a run may take (wall time) before the bench gives up on it.
const LIMIT: Duration = Duration::from_secs(3600);
/// Issue 16's bounds.
const MAX_RSS_BYTES: u64 = 4 << 30;
const TOLERANCE: f64 = 0.15;
const GOAL: f64 = 0.10;

/// What a run's summary.csv says.
struct Summary {
    peers: u64,
    completed: u64,
    makespan_s: f64,
    mean_download_s: f64,
}

fn read_summary(folder: &Path) -> Summary {
    let path = folder.join("summary.csv");
    let mut r = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let head = r.headers().expect("summary header").clone();
    let row = r
        .records()
        .next()
        .expect("a summary row")
        .expect("summary row");
    let field = |name: &str| -> f64 {
        let i = head
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column"));
        row[i]
            .parse()
            .unwrap_or_else(|e| panic!("{name} = {:?}: {e}", &row[i]))
    };
    Summary {
        peers: field("peers") as u64,
        completed: field("completed") as u64,
        makespan_s: field("makespan_s"),
        mean_download_s: field("mean_download_s"),
    }
}

/// The child's peak resident set (VmHWM), or 0 once it is gone.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Runs `swarmlab run SCENARIO --out folder --no-plots extra…`; returns its wall time and
/// peak RSS.
fn run(folder: &Path, extra: &[&str]) -> (Duration, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_swarmlab"))
        .args(["run", SCENARIO, "--no-plots", "--out"])
        .arg(folder)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot start swarmlab");
    let start = Instant::now();
    let mut peak = 0;
    loop {
        peak = peak.max(peak_rss(child.id()));
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "swarmlab run {extra:?} failed: {status}");
            return (start.elapsed(), peak);
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("swarmlab run {extra:?} took over {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn main() {
    let scale = std::env::var("FLASH_TIME_SCALE").unwrap_or_else(|_| "1".to_string());
    let dir = tempfile::tempdir().expect("temporary folder");
    let (sim_dir, tcp_dir) = (dir.path().join("sim"), dir.path().join("tcp"));
    let (sim_wall, _) = run(&sim_dir, &[]);
    let (tcp_wall, tcp_rss) = run(&tcp_dir, &["--backend", "tcp", "--time-scale", &scale]);
    let (sim, tcp) = (read_summary(&sim_dir), read_summary(&tcp_dir));
    println!(
        "flash crowd, sim: {} of {} complete, mean download {:.1} s, makespan {:.1} s (wall {:.1} s)",
        sim.completed,
        sim.peers - 1,
        sim.mean_download_s,
        sim.makespan_s,
        sim_wall.as_secs_f64()
    );
    println!(
        "flash crowd, tcp at {scale}x: {} of {} complete, mean download {:.1} s, makespan {:.1} s \
         (wall {:.1} s, peak RSS {} MiB)",
        tcp.completed,
        tcp.peers - 1,
        tcp.mean_download_s,
        tcp.makespan_s,
        tcp_wall.as_secs_f64(),
        tcp_rss >> 20
    );
    let mean = tcp.mean_download_s / sim.mean_download_s - 1.0;
    let makespan = tcp.makespan_s / sim.makespan_s - 1.0;
    let checks = [
        ("every leecher completes", tcp.completed == tcp.peers - 1),
        ("peak RSS < 4 GiB", tcp_rss < MAX_RSS_BYTES),
        ("mean download within 15 %", mean.abs() <= TOLERANCE),
        ("makespan within 15 %", makespan.abs() <= TOLERANCE),
    ];
    println!(
        "tcp/sim: mean download {:+.1} %, makespan {:+.1} % (goal ±{:.0} %, bound ±{:.0} %)",
        100.0 * mean,
        100.0 * makespan,
        100.0 * GOAL,
        100.0 * TOLERANCE
    );
    for (what, ok) in checks {
        println!("  {} {what}", if ok { "holds:" } else { "FAILS:" });
    }
    if std::env::var("FLASH_KEEP").is_ok_and(|v| v == "1") {
        println!("result folders kept in {}", dir.keep().display());
    }
    if checks.iter().any(|(_, ok)| !ok) {
        std::process::exit(1);
    }
}
