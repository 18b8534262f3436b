//! The tcp backend used as a library, without the command line: an in-process HTTP
//! tracker, a seed session and a get session over loopback, checked byte for byte.
//! Also aria2c downloading from such a seed (needs `apt-get install -y aria2`; fails, not
//! skips, without it). These run without the command line's dispatch; the tests that run
//! the `swarmlab` binary are in `tcp_e2e.rs` and `tcp_interop.rs`.

mod common;

use common::{random_bytes, require, run};
use std::fs;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;
use swarmlab::core::Role;
use swarmlab::tcp::metainfo::{self, Metainfo};
use swarmlab::tcp::session::{self, SessionConfig};
use swarmlab::tcp::storage::{open_download_storage, open_seed_storage};
use swarmlab::tcp::tracker_http::{TrackerConfig, TrackerServer};

fn config(role: Role) -> SessionConfig {
    SessionConfig {
        role,
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        upload: None,
        download: None,
        keep_serving: false,
        progress: false,
        swarm: None,
    }
}

/// An in-process tracker serving until the test process ends; its announce URL.
fn tracker() -> String {
    let tracker = TrackerServer::bind(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        TrackerConfig::default(),
    )
    .unwrap();
    let url = format!("http://{}/announce", tracker.local_addr().unwrap());
    std::thread::spawn(move || tracker.run());
    url
}

#[test]
fn seed_and_get_sessions_over_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = tracker();
    // The seed serves until the test process ends.

    let data = d.join("lib.bin");
    fs::write(&data, random_bytes(3 * 1024 * 1024 + 321, 21)).unwrap();
    let meta = Metainfo::from_bytes(&metainfo::create(&data, &url, 128 * 1024).unwrap()).unwrap();

    let mut seed_storage = open_seed_storage(&meta, &data).unwrap();
    assert!(seed_storage.recheck().unwrap().iter().all(|ok| *ok));
    let seed_meta = meta.clone();
    std::thread::spawn(move || session::run(seed_meta, seed_storage, config(Role::Seed)));

    let out = d.join("out");
    let mut storage = open_download_storage(&meta, &out).unwrap();
    assert!(storage.recheck().unwrap().iter().all(|ok| !*ok));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(session::run(meta, storage, config(Role::Leecher)));
    });
    let summary = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("get did not finish within 60 s")
        .expect("get failed");
    assert_eq!(summary.pieces_at_start, 0);
    assert!(summary.downloaded >= 3 * 1024 * 1024 + 321);
    assert_eq!(
        fs::read(&data).unwrap(),
        fs::read(out.join("lib.bin")).unwrap()
    );
}

#[test]
fn aria2c_downloads_from_a_library_seed() {
    let aria2c = require("aria2c", "aria2");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = tracker();
    let data = d.join("lib-aria.bin");
    fs::write(&data, random_bytes(2 * 1024 * 1024 + 9, 22)).unwrap();
    let bytes = metainfo::create(&data, &url, 256 * 1024).unwrap();
    let torrent = d.join("t.torrent");
    fs::write(&torrent, &bytes).unwrap();
    let meta = Metainfo::from_bytes(&bytes).unwrap();
    let mut storage = open_seed_storage(&meta, &data).unwrap();
    storage.recheck().unwrap();
    std::thread::spawn(move || session::run(meta, storage, config(Role::Seed)));
    let out = d.join("aria");
    let c = common::aria2c_leecher(&aria2c, &out, &torrent);
    let (status, stdout, _) = run(c, d, "aria2c", Duration::from_secs(60));
    assert!(status.success(), "aria2c failed:\n{stdout}");
    assert_eq!(
        fs::read(&data).unwrap(),
        fs::read(out.join("lib-aria.bin")).unwrap()
    );
}
