//! Interoperability with ordinary BitTorrent software over loopback: aria2c and a
//! python3-libtorrent leecher download from `swarmlab seed`; `swarmlab get` downloads
//! from an aria2c seed and from a python3-libtorrent seed; all find each other through
//! `swarmlab tracker`;
//! a mixed swarm (swarmlab seed, aria2c and swarmlab get leeching at once) completes;
//! `swarmlab seed` + `get` through opentracker; and the info hash of `swarmlab torrent
//! show` equals libtorrent's and transmission-show's.
//!
//! Needs (Debian): `apt-get install -y aria2 python3-libtorrent transmission-cli
//! opentracker`. A missing tool FAILS the test with that instruction; nothing is skipped.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// A python3-libtorrent peer: `seed` serves `save/<name>`, `get` downloads into `save`
/// and exits 0 once complete. Debian's /usr/bin/python3 has the module.
const LT_SCRIPT: &str = r#"
import sys, time
try:
    import libtorrent as lt
except ImportError:
    sys.exit("python3-libtorrent is not installed: apt-get install -y python3-libtorrent")
mode, torrent, save, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = lt.session({
    'listen_interfaces': '127.0.0.1:%d' % port,
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False,
    'enable_natpmp': False, 'allow_multiple_connections_per_ip': True,
})
h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': save})
while True:
    st = h.status()
    print(mode, st.state, st.progress, st.num_peers, flush=True)
    if mode == 'get' and st.is_seeding:
        sys.exit(0)
    time.sleep(0.2)
"#;

fn python() -> &'static str {
    if !Path::new("/usr/bin/python3").is_file() {
        panic!("/usr/bin/python3 is missing: apt-get install -y python3-libtorrent");
    }
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import libtorrent"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3-libtorrent is not installed: run `apt-get install -y python3-libtorrent`"
    );
    "/usr/bin/python3"
}

fn libtorrent_peer(mode: &str, torrent: &Path, save: &Path, port: u16, dir: &Path) -> Proc {
    let script = dir.join("lt_peer.py");
    fs::write(&script, LT_SCRIPT).unwrap();
    let mut c = Command::new(python());
    c.args([
        script.to_str().unwrap(),
        mode,
        torrent.to_str().unwrap(),
        save.to_str().unwrap(),
        &port.to_string(),
    ]);
    spawn(c, dir, &format!("libtorrent-{mode}"))
}

#[test]
fn info_hash_matches_libtorrent_and_transmission() {
    python();
    let show = require("transmission-show", "transmission-cli");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let folder = d.join("pack");
    fs::create_dir_all(folder.join("inner")).unwrap();
    fs::write(folder.join("one.bin"), random_bytes(300_000, 1)).unwrap();
    fs::write(folder.join("inner/two.bin"), random_bytes(70_000, 2)).unwrap();
    for data in [folder.clone(), folder.join("one.bin")] {
        let t = make_torrent(&data, "http://127.0.0.1:1/announce", "32KiB", d);
        let ours = show_hash(&t);
        assert_eq!(ours.len(), 40);
        let lt = Command::new(python())
            .args([
                "-c",
                "import sys, libtorrent as lt; print(lt.torrent_info(sys.argv[1]).info_hash())",
                t.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            lt.status.success(),
            "{}",
            String::from_utf8_lossy(&lt.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&lt.stdout).trim(), ours);
        let tr = Command::new(&show).arg(&t).output().unwrap();
        let text = String::from_utf8_lossy(&tr.stdout).into_owned();
        let theirs = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Hash:")
                    .or(l.trim().strip_prefix("Hash v1:"))
            })
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|| panic!("no hash in transmission-show output:\n{text}"));
        assert_eq!(theirs, ours);
    }
}

#[test]
fn aria2c_downloads_from_swarmlab_seed_via_swarmlab_tracker() {
    let aria2c = require("aria2c", "aria2");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("payload.bin");
    fs::write(&data, random_bytes(4 * 1024 * 1024 + 999, 7)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let (_seed, _) = start_seed(&torrent, &data, d, "seed");
    let out = d.join("aria");
    let c = aria2c_leecher(&aria2c, &out, &torrent);
    let (status, stdout, _) = run(c, d, "aria2c", LIMIT);
    assert!(status.success(), "aria2c failed:\n{stdout}");
    assert_same_file(&data, &out.join("payload.bin"));
}

#[test]
fn swarmlab_get_downloads_from_libtorrent_seed_via_swarmlab_tracker() {
    python();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let seed_dir = d.join("lt");
    fs::create_dir_all(&seed_dir).unwrap();
    let data = seed_dir.join("from-lt.bin");
    fs::write(&data, random_bytes(3 * 1024 * 1024 + 5, 8)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "128KiB", d);
    let port = free_port();
    let _lt = libtorrent_peer("seed", &torrent, &seed_dir, port, d);
    wait_for_port(port, Duration::from_secs(20));
    let out = d.join("out");
    let leech = get(&torrent, &out, &[]);
    // libtorrent announces once its check is done; `get` re-announces while starving.
    let (status, _, stderr) = run(leech, d, "get", LIMIT);
    assert!(status.success(), "get from libtorrent failed:\n{stderr}");
    assert_same_file(&data, &out.join("from-lt.bin"));
}

#[test]
fn libtorrent_downloads_from_swarmlab_seed_via_swarmlab_tracker() {
    python();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("to-lt.bin");
    fs::write(&data, random_bytes(3 * 1024 * 1024 + 77, 9)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let (_seed, _) = start_seed(&torrent, &data, d, "seed");
    let out = d.join("lt-out");
    fs::create_dir_all(&out).unwrap();
    let mut lt = libtorrent_peer("get", &torrent, &out, free_port(), d);
    let status = lt.wait(LIMIT);
    assert!(
        status.success(),
        "libtorrent leecher failed:\n{}",
        lt.stderr_text()
    );
    assert_same_file(&data, &out.join("to-lt.bin"));
}

#[test]
fn swarmlab_seed_and_get_through_opentracker() {
    let ot = require("opentracker", "opentracker");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("ot.bin");
    fs::write(&data, random_bytes(2 * 1024 * 1024 + 3, 10)).unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/announce");
    let torrent = make_torrent(&data, &url, "256KiB", d);
    // Debian builds opentracker with a whitelist: allow our torrent.
    let wl = d.join("whitelist");
    fs::write(&wl, format!("{}\n", show_hash(&torrent))).unwrap();
    let conf = d.join("opentracker.conf");
    fs::write(&conf, format!("access.whitelist {}\n", wl.display())).unwrap();
    let mut c = Command::new(ot);
    c.args(["-f", conf.to_str().unwrap(), "-i", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .arg("-P")
        .arg(port.to_string());
    let _tracker = spawn(c, d, "opentracker");
    wait_for_port(port, Duration::from_secs(10));
    let (_seed, _) = start_seed(&torrent, &data, d, "seed");
    let out = d.join("out");
    let leech = get(&torrent, &out, &[]);
    let (status, _, stderr) = run(leech, d, "get", LIMIT);
    assert!(status.success(), "get via opentracker failed:\n{stderr}");
    assert_same_file(&data, &out.join("ot.bin"));
}

#[test]
fn swarmlab_get_downloads_from_aria2c_seed_via_swarmlab_tracker() {
    let aria2c = require("aria2c", "aria2");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let seed_dir = d.join("aria-seed");
    fs::create_dir_all(&seed_dir).unwrap();
    let data = seed_dir.join("from-aria.bin");
    fs::write(&data, random_bytes(2 * 1024 * 1024 + 17, 15)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let port = free_port();
    let mut c = Command::new(aria2c);
    c.args([
        "--dir",
        seed_dir.to_str().unwrap(),
        "--check-integrity=true",
        "--seed-ratio=0.0",
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--summary-interval=0",
        &format!("--listen-port={port}"),
        torrent.to_str().unwrap(),
    ]);
    let _aria = spawn(c, d, "aria2c-seed");
    wait_for_port(port, Duration::from_secs(20));
    let out = d.join("out");
    let leech = get(&torrent, &out, &[]);
    let (status, _, stderr) = run(leech, d, "get", LIMIT);
    assert!(status.success(), "get from aria2c failed:\n{stderr}");
    assert_same_file(&data, &out.join("from-aria.bin"));
}

/// A mixed swarm: `swarmlab seed`, an aria2c leecher and a `swarmlab get` leecher at the
/// same time, through `swarmlab tracker`; both leechers complete with the exact bytes.
#[test]
fn mixed_swarm_of_swarmlab_and_aria2c_completes() {
    let aria2c = require("aria2c", "aria2");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("mixed.bin");
    fs::write(&data, random_bytes(6 * 1024 * 1024 + 321, 11)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let (_seed, _) = start_seed(&torrent, &data, d, "seed");
    let aria_out = d.join("aria");
    let c = aria2c_leecher(&aria2c, &aria_out, &torrent);
    let aria = std::thread::spawn({
        let d = d.to_path_buf();
        move || run(c, &d, "aria2c", LIMIT)
    });
    let get_out = d.join("get");
    let leech = get(&torrent, &get_out, &[]);
    let (status, _, stderr) = run(leech, d, "get", LIMIT);
    assert!(status.success(), "swarmlab get failed:\n{stderr}");
    let (aria_status, aria_stdout, _) = aria.join().expect("the aria2c thread");
    assert!(aria_status.success(), "aria2c failed:\n{aria_stdout}");
    assert_same_file(&data, &get_out.join("mixed.bin"));
    assert_same_file(&data, &aria_out.join("mixed.bin"));
}
