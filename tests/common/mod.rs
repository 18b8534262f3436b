//! Helpers shared by the end-to-end tcp tests: free loopback ports, child processes that
//! are always killed (by their PID, on drop) and bounded in time, random files.
#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The swarmlab binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_swarmlab")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Waits until something accepts on `port` (at most `limit`).
pub fn wait_for_port(port: u16, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port} after {limit:?}");
}

/// A child process killed (by its PID) when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
    pub stderr: PathBuf,
}

impl Proc {
    /// Waits for the process to exit, at most `limit`; kills it and panics if it does not.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        self.wait_watching(limit, Duration::from_millis(50), || {})
    }

    /// [`Self::wait`], calling `watch` every `every` while the process runs (to sample
    /// something outside it, such as what a daemon it talks to reports).
    pub fn wait_watching(
        &mut self,
        limit: Duration,
        every: Duration,
        mut watch: impl FnMut(),
    ) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not finish within {limit:?}; its stderr:\n{}",
                    self.name,
                    self.stderr_text()
                );
            }
            watch();
            std::thread::sleep(every);
        }
    }

    /// What it wrote on stderr so far.
    pub fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits up to `limit` for its stderr to contain `text` (a process may log a
    /// dropped connection just after closing it); whether it did.
    pub fn wait_for_log(&self, text: &str, limit: Duration) -> bool {
        let start = Instant::now();
        loop {
            if self.stderr_text().contains(text) {
                return true;
            }
            if start.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `cmd` with stdout to `dir/<name>.out` and stderr to `dir/<name>.err`.
pub fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Proc {
    let out = dir.join(format!("{name}.out"));
    let err = dir.join(format!("{name}.err"));
    let child = cmd
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).expect("stdout file"))
        .stderr(fs::File::create(&err).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    Proc {
        child,
        name: name.to_string(),
        stderr: err,
    }
}

/// A swarmlab command with `args`, logging on.
pub fn swarmlab(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args).env("SWARMLAB_VERBOSE", "1");
    c
}

/// Runs `cmd` to completion within `limit` and returns its output.
pub fn run(cmd: Command, dir: &Path, name: &str, limit: Duration) -> (ExitStatus, String, String) {
    let mut p = spawn(cmd, dir, name);
    let status = p.wait(limit);
    let out = fs::read_to_string(dir.join(format!("{name}.out"))).unwrap_or_default();
    (status, out, p.stderr_text())
}

/// Runs a quick command (torrent create/show) and returns its output.
pub fn output(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run swarmlab")
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.extend_from_slice(&s.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Creates a torrent of `data` announcing to `tracker` and returns its path.
pub fn make_torrent(data: &Path, tracker: &str, piece: &str, dir: &Path) -> PathBuf {
    let t = dir.join("t.torrent");
    let o = output(&[
        "torrent",
        "create",
        data.to_str().unwrap(),
        "--tracker",
        tracker,
        "--piece-size",
        piece,
        "-o",
        t.to_str().unwrap(),
    ]);
    assert!(
        o.status.success(),
        "torrent create failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    t
}

/// The info hash printed by `swarmlab torrent show`.
pub fn show_hash(torrent: &Path) -> String {
    let o = output(&["torrent", "show", torrent.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("info hash:"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| panic!("no info hash in:\n{text}"))
}

/// A running swarmlab tracker on a free port; its announce URL.
pub fn start_tracker(dir: &Path) -> (Proc, String) {
    let port = free_port();
    let p = spawn(
        swarmlab(&["tracker", "--bind", &format!("127.0.0.1:{port}")]),
        dir,
        "tracker",
    );
    wait_for_port(port, Duration::from_secs(10));
    (p, format!("http://127.0.0.1:{port}/announce"))
}

/// `swarmlab get` of `torrent` into `out` on a free port, with `extra` arguments.
pub fn get(torrent: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut args = vec![
        "get",
        torrent.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--bind",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    swarmlab(&args)
}

/// A running swarmlab seed of `torrent` serving `data` on a free port.
pub fn start_seed(torrent: &Path, data: &Path, dir: &Path, name: &str) -> (Proc, u16) {
    start_seed_with(torrent, data, dir, name, &[])
}

/// [`start_seed`] with `extra` arguments (e.g. `--upload`).
pub fn start_seed_with(
    torrent: &Path,
    data: &Path,
    dir: &Path,
    name: &str,
    extra: &[&str],
) -> (Proc, u16) {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut args = vec![
        "seed",
        torrent.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--bind",
        &bind,
    ];
    args.extend_from_slice(extra);
    let p = spawn(swarmlab(&args), dir, name);
    wait_for_port(port, Duration::from_secs(20));
    (p, port)
}

/// Asserts two files have the same bytes.
pub fn assert_same_file(a: &Path, b: &Path) {
    let x = fs::read(a).unwrap_or_else(|e| panic!("{}: {e}", a.display()));
    let y = fs::read(b).unwrap_or_else(|e| panic!("{}: {e}", b.display()));
    assert!(x == y, "{} and {} differ", a.display(), b.display());
}

/// Reads from `s` until the other end closes (true) or `limit` passes (false).
pub fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

/// The address of a local port.
pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Fails with an instruction to install `tool` if it is not on the PATH.
pub fn require(tool: &str, package: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "{tool} is not installed: run `apt-get install -y {package}` (needed by this interop test)"
    );
}

/// aria2c leeching `torrent` into `out` over loopback only (no DHT, LPD or peer
/// exchange), exiting once the download is complete.
pub fn aria2c_leecher(aria2c: &Path, out: &Path, torrent: &Path) -> Command {
    let mut c = Command::new(aria2c);
    c.args([
        "--dir",
        out.to_str().unwrap(),
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--seed-time=0",
        "--summary-interval=0",
        "--bt-tracker-connect-timeout=5",
        &format!("--listen-port={}", free_port()),
        torrent.to_str().unwrap(),
    ]);
    c
}
