//! One seed → one leecher transfer speed on loopback, for three BitTorrent
//! implementations measured in the same run so that their figures are comparable on a
//! noisy shared machine:
//!
//! 1. `swarmlab seed` → `swarmlab get`,
//! 2. aria2c seeding → aria2c downloading (`--seed-time=0`, so it exits when done),
//! 3. python3-libtorrent seeding → python3-libtorrent downloading (polls until seeding;
//!    TCP only, see [`LT_SCRIPT`]).
//!
//! Each case gets its own `swarmlab tracker` on a free loopback port and its own torrent
//! (`swarmlab torrent create`, 256 KiB pieces) of one payload of pseudo-random bytes,
//! written once into a temporary folder. The seed is started, and the leecher only once
//! the seed has announced itself to the tracker; the time measured runs from starting the
//! leecher to its exit. The downloaded file's SHA-1 must equal the payload's. Every
//! process is bounded in time ([`LIMIT`]) and killed by its PID.
//!
//! Run: `cargo bench --bench transfer` (payload size in bytes from `TRANSFER_BYTES`,
//! default 1 GiB). Prints MB/s (10^6 bytes per second) of each case and the ratios
//! swarmlab/aria2 and swarmlab/libtorrent, with the load average before and after.
//!
//! Set `TRANSFER_KEEP=1` to keep the temporary folder (every process's stdout and
//! stderr, the torrents, the payload) for a look afterwards.
//!
//! Needs (Debian): `apt-get install -y aria2 python3-libtorrent`. A missing client fails
//! the benchmark with that instruction; nothing is skipped.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Proc, free_port, make_torrent, spawn, start_tracker, wait_for_port};
use sha1::{Digest, Sha1};
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// The longest any process (a seed starting up, a leecher downloading) may take.
const LIMIT: Duration = Duration::from_secs(600);

/// Payload size when `TRANSFER_BYTES` is not set.
const DEFAULT_BYTES: u64 = 1 << 30;

/// The payload's file name, and so the torrent's name.
const PAYLOAD: &str = "payload.bin";

/// Debian's interpreter, which has the `libtorrent` module.
const PYTHON: &str = "/usr/bin/python3";

/// A python3-libtorrent peer: `seed` serves `save/<name>`; `get` downloads into `save`
/// and, once every piece is verified, shuts the session down and exits 0.
///
/// uTP is off, so libtorrent uses TCP like the other two: with it on, the leecher
/// connects over uTP and 256 MiB took 50 s on loopback (5 MB/s) instead of 2 s.
const LT_SCRIPT: &str = r#"
import sys, time
import libtorrent as lt
mode, torrent, save, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = lt.session({
    'listen_interfaces': '127.0.0.1:%d' % port,
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False,
    'enable_natpmp': False, 'allow_multiple_connections_per_ip': True,
    'enable_outgoing_utp': False, 'enable_incoming_utp': False,
})
h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save})
last = 0.0
while True:
    st = h.status()
    if time.time() - last >= 1.0:
        print(mode, st.state, st.progress, st.num_peers, flush=True)
        last = time.time()
    if mode == 'get' and st.is_seeding:
        print(mode, 'done', flush=True)
        del h
        del s
        sys.exit(0)
    time.sleep(0.01)
"#;

/// The three implementations compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    Swarmlab,
    Aria2,
    Libtorrent,
}

impl Client {
    /// A short name for folders, logs and the report.
    fn name(self) -> &'static str {
        match self {
            Client::Swarmlab => "swarmlab",
            Client::Aria2 => "aria2",
            Client::Libtorrent => "libtorrent",
        }
    }
}

/// The external clients, found on this machine.
struct Tools {
    aria2c: PathBuf,
}

/// Finds aria2c and python3-libtorrent; otherwise the apt-get line that installs them.
fn find_tools() -> Result<Tools, String> {
    let mut missing = Vec::new();
    let aria2c = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| Path::new(dir).join("aria2c"))
        .find(|p| p.is_file());
    if aria2c.is_none() {
        missing.push("aria2");
    }
    let libtorrent = Command::new(PYTHON)
        .args(["-c", "import libtorrent"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !libtorrent {
        missing.push("python3-libtorrent");
    }
    match aria2c {
        Some(aria2c) if missing.is_empty() => Ok(Tools { aria2c }),
        _ => Err(format!(
            "this benchmark needs {}: run `apt-get install -y {}`",
            missing.join(" and "),
            missing.join(" ")
        )),
    }
}

/// Payload size from `TRANSFER_BYTES`, or [`DEFAULT_BYTES`].
fn payload_bytes() -> Result<u64, String> {
    match std::env::var("TRANSFER_BYTES") {
        Err(_) => Ok(DEFAULT_BYTES),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "TRANSFER_BYTES must be a positive number of bytes, not {v:?}"
            )),
        },
    }
}

/// Writes `len` pseudo-random bytes (xorshift, fixed seed) to `path`, 1 MiB at a time,
/// and returns their SHA-1.
fn write_payload(path: &Path, len: u64) -> std::io::Result<[u8; 20]> {
    let mut out = BufWriter::new(File::create(path)?);
    let mut hash = Sha1::new();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        out.write_all(&buf[..n])?;
        hash.update(&buf[..n]);
        left -= n as u64;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(hash.finalize().into())
}

/// The SHA-1 of a file's bytes.
fn file_sha1(path: &Path) -> std::io::Result<[u8; 20]> {
    let mut file = File::open(path)?;
    let mut hash = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hash.finalize().into());
        }
        hash.update(&buf[..n]);
    }
}

/// Waits for `p` to exit, at most `limit`, checking every 2 ms (so the time measured is
/// not rounded up by much); kills it and fails if it does not exit in time.
fn wait_exit(p: &mut Proc, limit: Duration) -> Result<ExitStatus, String> {
    let start = Instant::now();
    loop {
        match p.child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            Err(e) => return Err(format!("{}: {e}", p.name)),
        }
        if start.elapsed() > limit {
            p.kill();
            return Err(format!(
                "{} did not finish within {limit:?}; its stderr:\n{}",
                p.name,
                tail(&p.stderr_text())
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until the tracker logged an announce (the seed's, as the tracker is fresh) or
/// the seed exited, at most [`LIMIT`].
fn wait_for_announce(tracker: &Proc, seed: &mut Proc) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        if tracker.stderr_text().contains("/announce?") {
            return Ok(());
        }
        if let Ok(Some(status)) = seed.child.try_wait() {
            return Err(format!(
                "{} exited ({status}) before announcing; its stderr:\n{}",
                seed.name,
                tail(&seed.stderr_text())
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("{} did not announce within {LIMIT:?}", seed.name))
}

/// The last lines of a log, for error messages.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A path as a `&str` (the temporary folder's paths are UTF-8).
fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// A python3-libtorrent peer (`mode` is `seed` or `get`) listening on `port`; its script
/// is written into `dir`.
fn libtorrent(mode: &str, torrent: &Path, save: &Path, port: u16, dir: &Path) -> Command {
    let script = dir.join("lt_peer.py");
    fs::write(&script, LT_SCRIPT).expect("write the libtorrent script");
    let mut c = Command::new(PYTHON);
    c.args([s(&script), mode, s(torrent), s(save), &port.to_string()]);
    c
}

/// The swarmlab binary with logging off, as a user would run it.
fn quiet_swarmlab() -> Command {
    let mut c = Command::new(common::bin());
    c.env_remove("SWARMLAB_VERBOSE");
    c
}

/// aria2c with the peer-finding extras off, listening on `port`, downloading `torrent`
/// into `dir` (or seeding it from there).
fn aria2c(tools: &Tools, torrent: &Path, dir: &Path, port: u16, seed: bool) -> Command {
    let mut c = Command::new(&tools.aria2c);
    c.args([
        "--dir",
        s(dir),
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--summary-interval=0",
        "--bt-tracker-connect-timeout=5",
        &format!("--listen-port={port}"),
    ]);
    if seed {
        c.args(["--check-integrity=true", "--seed-ratio=0.0"]);
    } else {
        c.arg("--seed-time=0");
    }
    c.arg(s(torrent));
    c
}

/// Runs one case in `case_dir`: a tracker, a seed of `payload`, then a leecher, timed
/// from its start to its exit. Returns the time after checking the downloaded bytes.
fn run_case(
    client: Client,
    tools: &Tools,
    payload: &Path,
    digest: &[u8; 20],
    case_dir: &Path,
) -> Result<Duration, String> {
    fs::create_dir_all(case_dir).map_err(|e| format!("{}: {e}", case_dir.display()))?;
    let (tracker, url) = start_tracker(case_dir);
    let torrent = make_torrent(payload, &url, "256KiB", case_dir);
    let payload_dir = payload.parent().expect("the payload is in a folder");
    let seed_port = free_port();
    let mut seed = match client {
        Client::Swarmlab => {
            let mut c = quiet_swarmlab();
            c.args([
                "seed",
                s(&torrent),
                "--data",
                s(payload),
                "--bind",
                &format!("127.0.0.1:{seed_port}"),
            ]);
            spawn(c, case_dir, "swarmlab-seed")
        }
        Client::Aria2 => spawn(
            aria2c(tools, &torrent, payload_dir, seed_port, true),
            case_dir,
            "aria2c-seed",
        ),
        Client::Libtorrent => spawn(
            libtorrent("seed", &torrent, payload_dir, seed_port, case_dir),
            case_dir,
            "libtorrent-seed",
        ),
    };
    wait_for_announce(&tracker, &mut seed)?;
    wait_for_port(seed_port, Duration::from_secs(20));

    let out = case_dir.join("out");
    fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let leecher = match client {
        Client::Swarmlab => {
            let mut c = quiet_swarmlab();
            c.args([
                "get",
                s(&torrent),
                "--out",
                s(&out),
                "--bind",
                "127.0.0.1:0",
            ]);
            c
        }
        Client::Aria2 => aria2c(tools, &torrent, &out, free_port(), false),
        Client::Libtorrent => libtorrent("get", &torrent, &out, free_port(), case_dir),
    };
    let start = Instant::now();
    let mut p = spawn(leecher, case_dir, &format!("{}-get", client.name()));
    let status = wait_exit(&mut p, LIMIT)?;
    let elapsed = start.elapsed();
    if !status.success() {
        let out_log =
            fs::read_to_string(case_dir.join(format!("{}.out", p.name))).unwrap_or_default();
        return Err(format!(
            "{} failed ({status}):\n{}\n{}",
            p.name,
            tail(&out_log),
            tail(&p.stderr_text())
        ));
    }
    drop(seed);
    drop(tracker);
    let got = out.join(PAYLOAD);
    let got_digest = file_sha1(&got).map_err(|e| format!("{}: {e}", got.display()))?;
    if &got_digest != digest {
        return Err(format!(
            "{}: the downloaded bytes differ from the payload",
            got.display()
        ));
    }
    // The next case should not pay for this one's gigabyte on disk.
    let _ = fs::remove_dir_all(&out);
    Ok(elapsed)
}

/// The load average, for reading the figures of a shared machine.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let bytes = payload_bytes().unwrap_or_else(|e| {
        eprintln!("transfer bench: {e}");
        std::process::exit(2);
    });
    let tools = find_tools().unwrap_or_else(|e| {
        eprintln!("transfer bench: {e}");
        std::process::exit(2);
    });
    let dir = tempfile::tempdir().expect("create a temporary folder");
    if std::env::var_os("TRANSFER_KEEP").is_some() {
        println!("keeping the logs in {}", dir.path().display());
    }
    let payload = dir.path().join("seed").join(PAYLOAD);
    fs::create_dir_all(payload.parent().expect("payload folder")).expect("payload folder");
    let digest = write_payload(&payload, bytes).expect("write the payload");
    println!(
        "transfer: {bytes} bytes ({:.1} MiB), 256 KiB pieces, one seed -> one leecher on loopback",
        bytes as f64 / 1048576.0
    );
    println!("load average before: {}", load_average());

    let mut speeds = Vec::new();
    let mut failed = false;
    for client in [Client::Swarmlab, Client::Aria2, Client::Libtorrent] {
        let case_dir = dir.path().join(client.name());
        match run_case(client, &tools, &payload, &digest, &case_dir) {
            Ok(t) => {
                let mbps = bytes as f64 / 1e6 / t.as_secs_f64();
                println!(
                    "{:<11} {:>8.3} s  {:>8.1} MB/s",
                    client.name(),
                    t.as_secs_f64(),
                    mbps
                );
                speeds.push((client, mbps));
            }
            Err(e) => {
                println!("{:<11} FAILED: {e}", client.name());
                failed = true;
            }
        }
    }
    println!("load average after: {}", load_average());
    let speed = |c: Client| speeds.iter().find(|(k, _)| *k == c).map(|(_, v)| *v);
    if let Some(ours) = speed(Client::Swarmlab) {
        for other in [Client::Aria2, Client::Libtorrent] {
            if let Some(theirs) = speed(other) {
                println!("swarmlab/{}: {:.2}", other.name(), ours / theirs);
            }
        }
    }
    if std::env::var_os("TRANSFER_KEEP").is_some() {
        // Leaves the folder (logs, torrents, the payload) on disk for a look.
        let _ = dir.keep();
    }
    if failed {
        std::process::exit(1);
    }
}
