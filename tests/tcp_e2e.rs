//! End to end over loopback: `swarmlab tracker` + `swarmlab seed` + `swarmlab get`, byte
//! for byte; resuming a killed download; hostile peers that the seed must drop while it
//! keeps serving. Every process is killed by its PID when its test ends, and bounded in
//! time.

mod common;

use common::*;
use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn single_file_download_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("random.bin");
    fs::write(&data, random_bytes(5 * 1024 * 1024 + 12345, 1)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let (_seed, _) = start_seed(&torrent, &data, d, "seed");
    let out = d.join("out");
    let (status, stdout, stderr) = run(get(&torrent, &out, &[]), d, "get", LIMIT);
    assert!(status.success(), "get failed: {stderr}");
    assert!(stdout.contains("downloaded"), "no summary: {stdout}");
    assert_same_file(&data, &out.join("random.bin"));
}

#[test]
fn multi_file_folder_download_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let folder = d.join("album");
    fs::create_dir_all(folder.join("sub/deeper")).unwrap();
    let files = [
        ("a.bin", 3 * 1024 * 1024 + 7),
        ("sub/b.bin", 100_000),
        ("sub/deeper/c.bin", 1),
        ("sub/empty.txt", 0),
        ("z.bin", 2 * 1024 * 1024),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        fs::write(folder.join(name), random_bytes(*len, i as u64 + 10)).unwrap();
    }
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&folder, &url, "64KiB", d);
    let (_seed, _) = start_seed(&torrent, &folder, d, "seed");
    let out = d.join("out");
    let (status, _, stderr) = run(get(&torrent, &out, &[]), d, "get", LIMIT);
    assert!(status.success(), "get failed: {stderr}");
    for (name, _) in files {
        assert_same_file(&folder.join(name), &out.join("album").join(name));
    }
}

#[test]
fn killed_download_resumes_keeping_verified_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("resume.bin");
    fs::write(&data, random_bytes(6 * 1024 * 1024, 3)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let (_seed, _) = start_seed(&torrent, &data, d, "seed");
    let out = d.join("out");
    // Slow enough (2 MiB/s) to be killed midway.
    let mut first = spawn(get(&torrent, &out, &["--download", "16 Mbit/s"]), d, "get1");
    let start = Instant::now();
    let verified = |log: &str| log.matches("verified ok").count();
    while verified(&first.stderr_text()) < 4 {
        assert!(
            start.elapsed() < LIMIT,
            "no progress: {}",
            first.stderr_text()
        );
        assert!(first.child.try_wait().unwrap().is_none(), "get ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill();
    let (status, stdout, stderr) = run(get(&torrent, &out, &[]), d, "get2", LIMIT);
    assert!(status.success(), "resumed get failed: {stderr}");
    let kept: u32 = stdout
        .split(" of ")
        .nth(1)
        .and_then(|s| s.rsplit(", ").next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no summary: {stdout}"));
    assert!(kept >= 4, "only {kept} pieces kept: {stdout}");
    assert!(kept < 24, "all pieces were there already: {stdout}");
    assert_same_file(&data, &out.join("resume.bin"));
}

/// A valid handshake for `info_hash`.
fn handshake(info_hash: &[u8]) -> Vec<u8> {
    let mut h = vec![19];
    h.extend_from_slice(b"BitTorrent protocol");
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(info_hash);
    h.extend_from_slice(b"-XX0000-hostile12345");
    h
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn frame(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
    f.push(id);
    f.extend_from_slice(payload);
    f
}

#[test]
fn seed_drops_hostile_peers_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("target.bin");
    fs::write(&data, random_bytes(2 * 1024 * 1024, 4)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let hash = unhex(&show_hash(&torrent));
    let (seed, port) = start_seed(&torrent, &data, d, "seed");
    let good = handshake(&hash);
    let mut wrong_pstr = good.clone();
    wrong_pstr[5] = b'X';
    let mut wrong_hash = good.clone();
    wrong_hash[28] ^= 0xff;
    let big_request = {
        let mut p = Vec::new();
        for v in [0u32, 0, 256 * 1024] {
            p.extend_from_slice(&v.to_be_bytes());
        }
        frame(6, &p)
    };
    let unrequested_piece = {
        let mut p = vec![0u8; 8];
        p.extend_from_slice(&vec![0xAB; 16 * 1024]);
        frame(7, &p)
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("wrong protocol string", wrong_pstr),
        ("wrong info hash", wrong_hash),
        (
            "length prefix 2^31",
            [good.clone(), vec![0x80, 0, 0, 0, 7]].concat(),
        ),
        (
            "bitfield of the wrong length",
            [good.clone(), frame(5, &[0xff; 3])].concat(),
        ),
        (
            "bitfield with spare bits set",
            [good.clone(), frame(5, &[0xff, 0xff])].concat(),
        ),
        (
            "request over 128 KiB",
            [good.clone(), frame(2, &[]), big_request].concat(),
        ),
        (
            "garbage after the handshake",
            [good.clone(), vec![0, 0, 0, 3, 4, 0, 0, 0xde, 0xad]].concat(),
        ),
        (
            "a piece nobody requested",
            [good.clone(), unrequested_piece].concat(),
        ),
        ("pure garbage", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
    ];
    for (what, bytes) in &cases {
        let mut s = TcpStream::connect(local(port)).unwrap();
        s.write_all(bytes).unwrap();
        assert!(
            closed_within(&mut s, Duration::from_secs(5)),
            "{what}: the seed kept the connection; its log:\n{}",
            seed.stderr_text()
        );
    }
    // A connection that never handshakes is dropped after 10 s.
    let mut silent = TcpStream::connect(local(port)).unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(15)),
        "silent connection kept"
    );
    // The seed logs the drop just after closing; give the line a moment to land.
    seed.wait_for_log("no handshake within", Duration::from_secs(5));
    let log = seed.stderr_text();
    for reason in [
        "protocol string",
        "another torrent",
        "length prefix 2147483648 exceeds limit",
        "bad bitfield",
        "request outside the torrent",
        "bad message",
        "a block nobody requested",
        "pstrlen is 71",
        "no handshake within",
    ] {
        assert!(
            log.contains(reason),
            "no drop logged for {reason:?}:\n{log}"
        );
    }
    // And it still serves a real download.
    let out = d.join("out");
    let (status, _, stderr) = run(get(&torrent, &out, &[]), d, "get", LIMIT);
    assert!(status.success(), "get after hostile peers failed: {stderr}");
    assert_same_file(&data, &out.join("target.bin"));
}

/// Connections that never finish their handshake, held open against one seed: `silent`
/// of them send nothing, the rest send one byte of a handshake every 0.2 s, and any the
/// seed closes is opened again at once, so the seed always faces all of them.
struct HalfOpenFlood {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<(usize, usize)>>,
}

impl HalfOpenFlood {
    /// Starts holding `count` connections to `port`, and returns once they are all open.
    fn start(port: u16, count: usize, hash: Vec<u8>, limit: Duration) -> HalfOpenFlood {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let stop = Arc::new(AtomicBool::new(false));
        let opened = Arc::new(AtomicUsize::new(0));
        let (flag, seen) = (stop.clone(), opened.clone());
        let thread = std::thread::spawn(move || {
            let hs = handshake(&hash);
            let open = || {
                let s = TcpStream::connect(local(port)).ok()?;
                s.set_nonblocking(true).ok()?;
                Some(s)
            };
            let mut held: Vec<Option<TcpStream>> = (0..count).map(|_| open()).collect();
            seen.store(held.iter().flatten().count(), Ordering::SeqCst);
            let (mut reopened, mut least_held) = (0, count);
            let start = Instant::now();
            let mut round = 0usize;
            // Bounded in time, whatever the test does.
            while !flag.load(Ordering::SeqCst) && start.elapsed() < limit {
                for (i, slot) in held.iter_mut().enumerate() {
                    let alive = slot.as_mut().is_some_and(|s| {
                        let mut b = [0u8; 256];
                        let read_ok = match std::io::Read::read(s, &mut b) {
                            Ok(0) => false,
                            Ok(_) => true,
                            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                        };
                        // The trickling half: one more byte of the first 67 (never all 68).
                        let trickle = i % 2 == 1;
                        read_ok && (!trickle || s.write(&hs[round % 67..round % 67 + 1]).is_ok())
                    });
                    if !alive {
                        *slot = open();
                        reopened += 1;
                    }
                }
                least_held = least_held.min(held.iter().flatten().count());
                round += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            (reopened, least_held)
        });
        let start = Instant::now();
        while opened.load(Ordering::SeqCst) < count {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "could not open {count} connections"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        HalfOpenFlood {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops, and returns how many connections were opened again and the fewest held
    /// after any round of reopening.
    fn stop(mut self) -> (usize, usize) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread
            .take()
            .map_or((0, 0), |t| t.join().expect("the flood thread"))
    }
}

impl Drop for HalfOpenFlood {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A seed at its connection cap (85) facing 500 connections that never finish their
/// handshake still serves a real peer: each newcomer takes the slot of the oldest
/// half-open connection, and half-open connections time out after 5 s.
#[test]
fn a_peer_is_served_while_500_half_open_connections_are_held() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("besieged.bin");
    fs::write(&data, random_bytes(2 * 1024 * 1024 + 9, 17)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let hash = unhex(&show_hash(&torrent));
    let (seed, port) = start_seed(&torrent, &data, d, "seed");
    let flood = HalfOpenFlood::start(port, 500, hash, Duration::from_secs(120));
    // Let the flood fill every slot and the first half-open connections time out.
    std::thread::sleep(Duration::from_secs(6));
    let out = d.join("out");
    let started = Instant::now();
    let (status, _, stderr) = run(get(&torrent, &out, &[]), d, "get", LIMIT);
    let took = started.elapsed();
    let (reopened, least_held) = flood.stop();
    eprintln!(
        "get took {took:?} under the flood; {reopened} flood connections reopened, at least {least_held} held"
    );
    assert!(
        status.success(),
        "get under the flood failed ({took:?}):\n{stderr}"
    );
    assert_same_file(&data, &out.join("besieged.bin"));
    // The flood was real: the seed was at its cap throughout and pushed flood
    // connections out, and the flood kept its 500 open.
    assert!(
        reopened >= 500 - 85,
        "only {reopened} flood connections were dropped"
    );
    assert_eq!(
        least_held, 500,
        "the flood could not hold its 500 connections"
    );
    let log = seed.stderr_text();
    assert!(
        log.contains("evicted: oldest"),
        "no eviction logged:\n{}",
        &log[log.len().saturating_sub(3000)..]
    );
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let junk = d.join("junk.torrent");
    fs::write(&junk, b"not bencode").unwrap();
    for args in [
        vec!["torrent", "show", junk.to_str().unwrap()],
        vec!["get", junk.to_str().unwrap(), "--out", d.to_str().unwrap()],
        vec![
            "seed",
            junk.to_str().unwrap(),
            "--data",
            d.to_str().unwrap(),
        ],
    ] {
        let o = output(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let data = d.join("x.bin");
    fs::write(&data, random_bytes(1000, 5)).unwrap();
    let t = make_torrent(&data, "http://127.0.0.1:1/announce", "16KiB", d);
    let o = output(&[
        "get",
        t.to_str().unwrap(),
        "--out",
        d.join("o").to_str().unwrap(),
        "--download",
        "10 Mbps/s",
    ]);
    assert_eq!(o.status.code(), Some(2));
    // Data that does not match the torrent is bad input for a seed.
    fs::write(&data, random_bytes(1000, 6)).unwrap();
    let o = output(&[
        "seed",
        t.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn upload_and_download_limits_slow_the_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("slow.bin");
    // 3 MiB at 1 MB/s: about 3 s, well above the unlimited time on loopback.
    fs::write(&data, random_bytes(3 * 1024 * 1024, 11)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let (_seed, _) = start_seed_with(&torrent, &data, d, "seed", &["--upload", "8 Mbit/s"]);
    let start = Instant::now();
    let (status, _, stderr) = run(get(&torrent, &d.join("a"), &[]), d, "get-up", LIMIT);
    let upload_limited = start.elapsed();
    assert!(status.success(), "{stderr}");
    assert!(
        upload_limited >= Duration::from_secs_f64(2.5),
        "3 MiB at --upload 8 Mbit/s took only {upload_limited:?}"
    );
    assert_same_file(&data, &d.join("a/slow.bin"));

    let (_seed2, _) = start_seed(&torrent, &data, d, "seed2");
    let start = Instant::now();
    let (status, _, stderr) = run(
        get(&torrent, &d.join("b"), &["--download", "1 MB/s"]),
        d,
        "get-down",
        LIMIT,
    );
    let download_limited = start.elapsed();
    assert!(status.success(), "{stderr}");
    assert!(
        download_limited >= Duration::from_secs_f64(2.5),
        "3 MiB at --download 1 MB/s took only {download_limited:?}"
    );
    assert_same_file(&data, &d.join("b/slow.bin"));
}

#[test]
fn connections_beyond_the_cap_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("cap.bin");
    fs::write(&data, random_bytes(1024 * 1024, 12)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let hash = unhex(&show_hash(&torrent));
    let (seed, port) = start_seed(&torrent, &data, d, "seed");
    // A standalone seed keeps the scenario default of neighbours, and accepts a few more
    // connections for handshakes in flight; the core refuses those past its limit.
    let max = swarmlab::core::Neighbourhood::default().max_neighbours as usize;
    let cap = max + swarmlab::tcp::host::CONNECTION_MARGIN;
    let opened = cap + 15;
    let mut streams = Vec::new();
    for i in 0..opened {
        let mut s = TcpStream::connect(local(port)).unwrap();
        let mut h = handshake(&hash);
        h[66..68].copy_from_slice(&u16::try_from(i).unwrap().to_be_bytes()); // distinct peer ids
        s.write_all(&h).unwrap();
        streams.push(s);
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_secs(1));
    let closed = streams
        .iter_mut()
        .map(|s| closed_within(s, Duration::from_millis(100)))
        .filter(|c| *c)
        .count();
    // Those past the cap are refused at once; those past `max` after their handshake.
    assert!(
        (opened - cap..=opened - max).contains(&closed),
        "{closed} of {opened} connections closed (max_neighbours {max}, cap {cap}); log:\n{}",
        seed.stderr_text()
    );
    drop(streams);
    std::thread::sleep(Duration::from_millis(500));
    let out = d.join("out");
    let (status, _, stderr) = run(get(&torrent, &out, &[]), d, "get", LIMIT);
    assert!(status.success(), "get after the flood failed: {stderr}");
    assert_same_file(&data, &out.join("cap.bin"));
}

#[test]
fn tracker_answers_over_http_compact_dict_and_failure() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let (_tracker, url) = start_tracker(dir.path());
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/announce")
        .to_string();
    let get = |path: &str| -> Vec<u8> {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut v = Vec::new();
        s.read_to_end(&mut v).unwrap();
        assert!(v.starts_with(b"HTTP/1.1 200") || v.starts_with(b"HTTP/1.0 200"));
        v
    };
    let hash = "%AA".repeat(20);
    let a = get(&format!(
        "/announce?info_hash={hash}&peer_id=AAAAAAAAAAAAAAAAAAAA&port=5000&left=0&compact=1&event=started"
    ));
    assert!(
        contains(&a, b"5:peers0:"),
        "{}",
        String::from_utf8_lossy(&a)
    );
    let b = get(&format!(
        "/announce?info_hash={hash}&peer_id=BBBBBBBBBBBBBBBBBBBB&port=6000&left=5&compact=1"
    ));
    // 127.0.0.1:5000 as 6 compact bytes.
    assert!(contains(&b, &[b'6', b':', 127, 0, 0, 1, 0x13, 0x88]));
    let c = get(&format!(
        "/announce?info_hash={hash}&peer_id=CCCCCCCCCCCCCCCCCCCC&port=7000&left=5&compact=0"
    ));
    assert!(
        contains(&c, b"2:ip9:127.0.0.1"),
        "{}",
        String::from_utf8_lossy(&c)
    );
    assert!(contains(&c, b"7:peer id20:"));
    let bad = get("/announce?info_hash=short&port=1");
    assert!(contains(&bad, b"failure reason"));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn seed_after_keeps_serving_once_the_seed_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("relay.bin");
    fs::write(&data, random_bytes(2 * 1024 * 1024 + 1, 13)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "256KiB", d);
    let (mut seed, _) = start_seed(&torrent, &data, d, "seed");
    let relay_out = d.join("relay");
    let relay = spawn(get(&torrent, &relay_out, &["--seed-after"]), d, "relay");
    let start = Instant::now();
    while !fs::read_to_string(d.join("relay.out"))
        .unwrap_or_default()
        .contains("downloaded")
    {
        assert!(
            start.elapsed() < LIMIT,
            "relay never completed: {}",
            relay.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    seed.kill();
    let out = d.join("out");
    let (status, _, stderr) = run(get(&torrent, &out, &[]), d, "get", LIMIT);
    assert!(
        status.success(),
        "get from the --seed-after peer failed: {stderr}"
    );
    assert_same_file(&data, &out.join("relay.bin"));
    let mut relay = relay;
    assert!(
        relay.child.try_wait().unwrap().is_none(),
        "--seed-after exited"
    );
}

#[test]
fn swarm_of_one_slow_seed_and_four_leechers_completes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("swarm.bin");
    fs::write(&data, random_bytes(4 * 1024 * 1024, 14)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "128KiB", d);
    // A slow seed (2 MB/s) makes the leechers trade pieces among themselves.
    let (seed, _) = start_seed_with(&torrent, &data, d, "seed", &["--upload", "16 Mbit/s"]);
    let mut leechers: Vec<Proc> = (0..4)
        .map(|i| {
            let out = d.join(format!("l{i}"));
            spawn(get(&torrent, &out, &[]), d, &format!("leecher{i}"))
        })
        .collect();
    for (i, l) in leechers.iter_mut().enumerate() {
        let status = l.wait(LIMIT);
        assert!(status.success(), "leecher {i} failed: {}", l.stderr_text());
        assert_same_file(&data, &d.join(format!("l{i}/swarm.bin")));
    }
    // The leechers served each other (the seed is slow; rarest-first spreads pieces).
    let uploaded: u64 = (0..4)
        .map(|i| {
            let log = fs::read_to_string(d.join(format!("leecher{i}.err"))).unwrap_or_default();
            log.split("uploaded ")
                .nth(1)
                .and_then(|s| s.split(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    let traded = uploaded > 0;
    assert!(
        traded,
        "no leecher uploaded anything; seed log:\n{}",
        seed.stderr_text()
    );
}

/// A fake seed that claims every piece and answers every request with junk.
fn serve_junk(mut s: TcpStream, hash: Vec<u8>, pieces: usize) -> std::io::Result<()> {
    use std::io::Read;
    let mut hs = [0u8; 68];
    s.read_exact(&mut hs)?;
    s.write_all(&handshake(&hash))?;
    let mut bits = vec![0xffu8; pieces.div_ceil(8)];
    if !pieces.is_multiple_of(8) {
        *bits.last_mut().unwrap() = 0xff << (8 - pieces % 8);
    }
    s.write_all(&[frame(5, &bits), frame(1, &[])].concat())?;
    loop {
        let mut len = [0u8; 4];
        s.read_exact(&mut len)?;
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body)?;
        if body.first() == Some(&6) && body.len() == 13 {
            let length = u32::from_be_bytes([body[9], body[10], body[11], body[12]]);
            let mut p = body[1..9].to_vec();
            p.extend(std::iter::repeat_n(0x5a, length as usize));
            s.write_all(&frame(7, &p))?;
        }
    }
}

#[test]
fn get_cuts_off_a_peer_sending_corrupt_pieces_then_completes() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("honest.bin");
    fs::write(&data, random_bytes(2 * 1024 * 1024, 16)).unwrap();
    let (_tracker, url) = start_tracker(d);
    let torrent = make_torrent(&data, &url, "128KiB", d);
    let hash = unhex(&show_hash(&torrent));
    // The liar announces itself as a seed and serves one connection, with junk. (Who is
    // blamed when honest and junk blocks share a piece is the core's policy; here the
    // liar is alone first, so the outcome is certain.)
    let liar = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let liar_port = liar.local_addr().unwrap().port();
    let h = hash.clone();
    std::thread::spawn(move || {
        if let Ok((s, _)) = liar.accept() {
            let _ = serve_junk(s, h, 16);
        }
    });
    let enc: String = hash.iter().map(|b| format!("%{b:02X}")).collect();
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/announce");
    let mut t = TcpStream::connect(addr).unwrap();
    write!(
        t,
        "GET /announce?info_hash={enc}&peer_id=-XX0000-liar12345678&port={liar_port}&left=0&compact=1&event=started HTTP/1.0\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    t.read_to_end(&mut reply).unwrap();
    let out = d.join("out");
    let mut getter = spawn(get(&torrent, &out, &[]), d, "get");
    let start = Instant::now();
    while !getter
        .stderr_text()
        .contains("banned: proven twice to have sent bad data")
    {
        assert!(
            start.elapsed() < LIMIT,
            "the liar was not cut off:\n{}",
            getter.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Now an honest seed; `get` finds it at its next (early, starving) announce.
    let (_seed, _) = start_seed(&torrent, &data, d, "seed");
    let status = getter.wait(LIMIT);
    let log = getter.stderr_text();
    assert!(status.success(), "get failed:\n{log}");
    assert!(log.contains("failed its hash check"), "{log}");
    assert_same_file(&data, &out.join("honest.bin"));
}
