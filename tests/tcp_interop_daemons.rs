//! Interoperability with two more real clients, each its own implementation of the
//! protocol: rtorrent (libtorrent-rakshasa) seeds to `swarmlab get` and leeches from
//! `swarmlab seed`; transmission-daemon (driven by transmission-remote) seeds to
//! `swarmlab get`, which must be at least 0.8× as fast as aria2c from the same seed. All
//! find each other through `swarmlab tracker`; every transfer is checked byte for byte.
//!
//! Not here: transmission-daemon 3.00 leeching from `swarmlab seed`. On loopback it takes
//! the seed's address from the tracker ("Got 1 peers from tracker") but never dials it,
//! whatever its encryption setting; that direction is not covered.
//!
//! Needs (Debian): `apt-get install -y rtorrent transmission-daemon transmission-cli
//! aria2`. A missing tool FAILS the test with that instruction; nothing is skipped.
//!
//! Both daemons are confined to 127.0.0.1 (no DHT, peer exchange, local discovery, uTP
//! or port mapping), use a folder of the test's own, and run as children killed on drop
//! (rtorrent headless with `system.daemon.set`, transmission-daemon with `-f`). rtorrent
//! is also bounded by itself: a watchdog in its configuration ends it once the test
//! process is gone, and after 300 s in any case.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// A seed that has announced, so that a client started next finds it at once: the
/// swarmlab seed logs "tracker:" once its first announce is answered.
fn start_announced_seed(torrent: &Path, data: &Path, dir: &Path) -> Proc {
    let port = free_port();
    let mut c = swarmlab(&[
        "seed",
        torrent.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--bind",
        &format!("127.0.0.1:{port}"),
    ]);
    c.env("SWARMLAB_VERBOSE", "1");
    let seed = spawn(c, dir, "seed");
    wait_for_port(port, Duration::from_secs(20));
    assert!(
        seed.wait_for_log("tracker:", Duration::from_secs(20)),
        "the seed never announced:\n{}",
        seed.stderr_text()
    );
    seed
}

/// An rtorrent daemon of one torrent, saving into (or seeding from) `data_dir`.
struct Rtorrent {
    _daemon: Proc,
    done_file: PathBuf,
}

impl Rtorrent {
    /// Starts rtorrent on `torrent` with its data in `data_dir`.
    fn start(torrent: &Path, data_dir: &Path, dir: &Path) -> Rtorrent {
        let rtorrent = require("rtorrent", "rtorrent");
        let session = dir.join("rtorrent-session");
        fs::create_dir_all(&session).unwrap();
        fs::create_dir_all(data_dir).unwrap();
        let done_file = dir.join("rtorrent.done");
        let port = free_port();
        let me = std::process::id();
        // In a command run by rtorrent, `$PPID` is rtorrent itself.
        let rc = format!(
            r#"system.daemon.set = true
directory.default.set = {data}
session.path.set = {session}
network.bind_address.set = 127.0.0.1
network.local_address.set = 127.0.0.1
network.port_range.set = {port}-{port}
network.port_random.set = no
dht.mode.set = disable
protocol.pex.set = no
trackers.use_udp.set = no
pieces.hash.on_completion.set = yes
method.set_key = event.download.finished, mark_done, "execute.nothrow = touch, {done}"
schedule2 = watchdog, 1, 1, "execute.nothrow = sh, -c, \"kill -0 {me} 2>/dev/null || kill $PPID\""
schedule2 = lifetime, 300, 0, "execute.nothrow = sh, -c, \"kill $PPID\""
schedule2 = start, 1, 0, "load.start = {torrent}"
"#,
            data = data_dir.display(),
            session = session.display(),
            done = done_file.display(),
            torrent = torrent.display(),
        );
        let rc_path = dir.join("rtorrent.rc");
        fs::write(&rc_path, rc).unwrap();
        let mut c = Command::new(rtorrent);
        c.args(["-n", "-o", &format!("import={}", rc_path.display())]);
        let daemon = spawn(c, dir, "rtorrent");
        wait_for_port(port, Duration::from_secs(20));
        Rtorrent {
            _daemon: daemon,
            done_file,
        }
    }

    /// Waits up to `limit` for rtorrent to finish its download (and hash it again).
    fn wait_done(&self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.done_file.exists() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

/// A transmission-daemon in the foreground with its own configuration folder, talked to
/// with transmission-remote over its RPC port.
struct Transmission {
    _daemon: Proc,
    remote: PathBuf,
    rpc_port: u16,
}

impl Transmission {
    /// Starts the daemon with `download_dir` as its folder; returns once its RPC answers.
    fn start(download_dir: &Path, dir: &Path) -> Transmission {
        let daemon = require("transmission-daemon", "transmission-daemon");
        let remote = require("transmission-remote", "transmission-cli");
        let config = dir.join("transmission");
        fs::create_dir_all(&config).unwrap();
        fs::create_dir_all(download_dir).unwrap();
        let (rpc_port, peer_port) = (free_port(), free_port());
        let settings = format!(
            r#"{{
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
  "port-forwarding-enabled": false,
  "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
  "peer-port": {peer_port}, "peer-port-random-on-start": false,
  "rpc-bind-address": "127.0.0.1", "rpc-port": {rpc_port},
  "rpc-authentication-required": false, "rpc-whitelist-enabled": false,
  "rpc-host-whitelist-enabled": false,
  "download-dir": "{download}", "incomplete-dir-enabled": false,
  "blocklist-enabled": false, "ratio-limit-enabled": false,
  "speed-limit-up-enabled": false, "speed-limit-down-enabled": false,
  "message-level": 2
}}"#,
            download = download_dir.display()
        );
        fs::write(config.join("settings.json"), settings).unwrap();
        let mut c = Command::new(daemon);
        c.args(["-f", "-g", config.to_str().unwrap()]);
        let daemon = spawn(c, dir, "transmission-daemon");
        wait_for_port(rpc_port, Duration::from_secs(20));
        wait_for_port(peer_port, Duration::from_secs(20));
        Transmission {
            _daemon: daemon,
            remote,
            rpc_port,
        }
    }

    /// Runs transmission-remote with `args`; its stdout.
    fn remote(&self, args: &[&str]) -> String {
        let o = Command::new(&self.remote)
            .arg(self.rpc_port.to_string())
            .args(args)
            .output()
            .expect("transmission-remote");
        assert!(
            o.status.success(),
            "transmission-remote {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Adds `torrent` and waits up to `limit` for it to be complete (verified against
    /// its data when seeding, downloaded when leeching).
    fn add_and_wait_complete(&self, torrent: &Path, limit: Duration) -> bool {
        self.remote(&["-a", torrent.to_str().unwrap()]);
        let start = Instant::now();
        while start.elapsed() < limit {
            let info = self.remote(&["-t", "all", "-i"]);
            let done = info.lines().any(|l| l.trim() == "Percent Done: 100%");
            let checking = info.lines().any(|l| l.contains("State: Verifying"));
            if done && !checking {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// Runs `cmd` (a client downloading from this daemon) to its end, at most `limit`,
    /// and times it twice: as a whole process, and from the moment the daemon is first
    /// seen uploading to a peer (flag `U` in `transmission-remote -ip`, polled every
    /// 100 ms). The daemon unchokes on a 10 s timer (`RECHOKE_PERIOD_MSEC`), so a client
    /// waits 0-10 s for its first byte depending only on when it connected; the time
    /// after the unchoke is the client's own.
    fn timed_download(&self, cmd: Command, dir: &Path, name: &str, limit: Duration) -> Download {
        let started = Instant::now();
        let mut p = spawn(cmd, dir, name);
        let mut unchoked = None;
        let status = p.wait_watching(limit, Duration::from_millis(100), || {
            if unchoked.is_none() && self.uploading() {
                unchoked = Some(started.elapsed());
            }
        });
        let total = started.elapsed();
        let stdout = fs::read_to_string(dir.join(format!("{name}.out"))).unwrap_or_default();
        Download {
            status,
            stdout,
            stderr: p.stderr_text(),
            total,
            after_unchoke: total.saturating_sub(unchoked.unwrap_or(total)),
        }
    }

    /// Whether the daemon is uploading to some peer now (its peer list's flag `U`:
    /// the peer is interested and unchoked).
    fn uploading(&self) -> bool {
        let peers = self.remote(&["-t", "all", "-ip"]);
        peers
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1))
            .any(|flags| flags.contains('U'))
    }

    /// Waits up to `limit` for the daemon's first announce to be answered, so that a
    /// client started next finds it at once (as `start_announced_seed` does for a
    /// swarmlab seed). Without this a client started as soon as the data is verified
    /// announces about a second before the daemon does, is told of no peer, and waits
    /// for its next announce: `get` did, 30 s of its time (aria2c, run second, never
    /// did).
    fn wait_announced(&self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.remote(&["-t", "all", "-it"]).contains("Got a list of") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }
}

#[test]
fn swarmlab_get_downloads_from_rtorrent_seed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let seed_dir = d.join("rt-seed");
    fs::create_dir_all(&seed_dir).unwrap();
    let data = seed_dir.join("from-rt.bin");
    fs::write(&data, random_bytes(3 * 1024 * 1024 + 41, 21)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let _rt = Rtorrent::start(&torrent, &seed_dir, d);
    let out = d.join("out");
    // rtorrent announces once its check is done; `get` re-announces while starving.
    let (status, _, stderr) = run(get(&torrent, &out, &[]), d, "get", LIMIT);
    assert!(status.success(), "get from rtorrent failed:\n{stderr}");
    assert_same_file(&data, &out.join("from-rt.bin"));
}

#[test]
fn rtorrent_downloads_from_swarmlab_seed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("to-rt.bin");
    fs::write(&data, random_bytes(3 * 1024 * 1024 + 13, 22)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let _seed = start_announced_seed(&torrent, &data, d);
    let out = d.join("rt-out");
    let rt = Rtorrent::start(&torrent, &out, d);
    assert!(
        rt.wait_done(LIMIT),
        "rtorrent did not complete within {LIMIT:?}"
    );
    assert_same_file(&data, &out.join("to-rt.bin"));
}

/// A finished client run of [`Transmission::timed_download`].
struct Download {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
    /// Start to exit.
    total: Duration,
    /// From the daemon's first upload to the client (its unchoke) to the client's exit.
    after_unchoke: Duration,
}

/// A transmission-daemon seed of 16 MiB on loopback behind swarmlab's tracker: the
/// daemon (kept alive by the caller), the torrent and the payload's path.
fn transmission_seed(d: &Path) -> (Proc, Transmission, PathBuf, PathBuf) {
    let seed_dir = d.join("tr-seed");
    fs::create_dir_all(&seed_dir).unwrap();
    let data = seed_dir.join("from-tr.bin");
    fs::write(&data, random_bytes(16 * 1024 * 1024, 24)).unwrap();
    let (tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let tr = Transmission::start(&seed_dir, d);
    assert!(
        tr.add_and_wait_complete(&torrent, LIMIT),
        "transmission did not verify its data:\n{}",
        tr.remote(&["-t", "all", "-i"])
    );
    assert!(
        tr.wait_announced(LIMIT),
        "transmission never announced:\n{}",
        tr.remote(&["-t", "all", "-it"])
    );
    (tracker, tr, torrent, data)
}

/// `swarmlab get` from a transmission-daemon seed, checked byte for byte.
#[test]
fn swarmlab_get_downloads_from_transmission_seed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_tracker, _tr, torrent, data) = transmission_seed(d);
    let out = d.join("get-out");
    let (status, _, stderr) = run(get(&torrent, &out, &[]), d, "get", Duration::from_secs(150));
    assert!(status.success(), "get from transmission failed:\n{stderr}");
    assert_same_file(&data, &out.join("from-tr.bin"));
}

/// The issue's measurement as a test: 16 MiB from one transmission-daemon seed, first
/// to `swarmlab get`, then to aria2c, each checked byte for byte. `get` must reach 0.8×
/// aria2c's speed: the criterion of issue 16. Speed is measured from the daemon's unchoke
/// to the client's exit: before it, each client only waits for the daemon's 10 s rechoke
/// timer, 0-10 s by when it happened to connect, which made whole-process times of two
/// clients run one after the other differ by whole seconds that neither caused (both
/// figures are printed). The daemon sends what a peer has queued every 500 ms, so `get`'s
/// rate follows its queue's depth, sized from the rate it measures since that unchoke
/// (docs/findings.md entries 61 and 69).
#[test]
fn swarmlab_get_from_transmission_is_at_least_0_8x_aria2c() {
    let aria2c = require("aria2c", "aria2");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_tracker, tr, torrent, data) = transmission_seed(d);
    let mb = 16.0 * 1024.0 * 1024.0 / 1e6;
    // Long enough for the slow case to finish and be measured.
    let limit = Duration::from_secs(150);
    let out = d.join("get-out");
    let got = tr.timed_download(get(&torrent, &out, &[]), d, "get", limit);
    assert!(
        got.status.success(),
        "get from transmission failed:\n{}",
        got.stderr
    );
    assert_same_file(&data, &out.join("from-tr.bin"));
    let aria_out = d.join("aria-out");
    let aria = tr.timed_download(
        aria2c_leecher(&aria2c, &aria_out, &torrent),
        d,
        "aria2c",
        limit,
    );
    assert!(
        aria.status.success(),
        "aria2c from transmission failed:\n{}",
        aria.stdout
    );
    assert_same_file(&data, &aria_out.join("from-tr.bin"));
    let rate = |t: Duration| mb / t.as_secs_f64().max(1e-3);
    let (get_rate, aria_rate) = (rate(got.after_unchoke), rate(aria.after_unchoke));
    eprintln!(
        "from transmission-daemon, after its unchoke: swarmlab get {get_rate:.2} MB/s \
         ({:.1} s), aria2c {aria_rate:.2} MB/s ({:.1} s), ratio {:.2}; whole process: \
         get {:.1} s, aria2c {:.1} s",
        got.after_unchoke.as_secs_f64(),
        aria.after_unchoke.as_secs_f64(),
        get_rate / aria_rate,
        got.total.as_secs_f64(),
        aria.total.as_secs_f64(),
    );
    assert!(
        got.after_unchoke < got.total && aria.after_unchoke < aria.total,
        "the daemon was never seen uploading to a client: the measurement is void"
    );
    assert!(
        get_rate >= 0.8 * aria_rate,
        "swarmlab get {get_rate:.2} MB/s < 0.8 × aria2c's {aria_rate:.2} MB/s"
    );
}
