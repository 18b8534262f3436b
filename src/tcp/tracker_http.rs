//! The HTTP tracker (BEP 3, with BEP 23 compact peer lists) and the announce client.
//!
//! The server is a thin HTTP shell around [`core::Tracker`](crate::core::Tracker): it
//! parses `/announce` queries, keeps one swarm per info hash, remembers each member's
//! address, and forgets members not heard from in two announce intervals (peers that
//! were killed never say `stopped`; a minute of grace is added). Requests are served one at a time on one thread:
//! an announce is a few microseconds of work, and a tracker for a laboratory swarm never
//! sees enough load to need more. The HTTP layer is `tiny_http`, a small synchronous
//! server, so no request parsing is written by hand here.
//!
//! The client is a single HTTP/1.0 GET over a tokio `TcpStream`: a tracker answer is one
//! small bencoded body, which needs neither keep-alive, TLS, nor chunked transfer.

use super::bencode::{self, Value};
use super::member::index_of_peer_id;
use crate::core::{AnnounceEvent, Bias, Dice, PeerId, RegionIndex, Tracker};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Peers returned per announce at most.
pub const PEERS_PER_ANNOUNCE: u32 = 50;

/// Largest tracker response body the client accepts.
const MAX_RESPONSE: usize = 1 << 20;

/// Settings of the HTTP tracker.
#[derive(Clone, Debug)]
pub struct TrackerConfig {
    /// Interval between announces that the tracker asks peers to keep.
    pub interval: Duration,
    /// Seed of the tracker's random peer sampling.
    pub seed: u64,
    /// How it picks the peers it returns.
    pub bias: Bias,
    /// In a laboratory swarm, the region of each member by index (its peer id names
    /// it); any other client is in region 0.
    pub regions: Vec<RegionIndex>,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            interval: Duration::from_secs(60),
            seed: 1,
            bias: Bias::Random,
            regions: Vec::new(),
        }
    }
}

/// A member of one swarm.
#[derive(Debug)]
struct Member {
    id: PeerId,
    peer_id: [u8; 20],
    addr: SocketAddr,
    last_seen: Instant,
    /// Bytes it still lacks (0: a seed).
    left: u64,
}

/// One torrent's swarm.
#[derive(Debug)]
struct Swarm {
    tracker: Tracker,
    members: Vec<Member>,
}

/// The tracker's state, independent of HTTP (unit-testable).
pub struct TrackerState {
    cfg: TrackerConfig,
    swarms: HashMap<[u8; 20], Swarm>,
    dice: Dice,
    next_id: u64,
}

/// One parsed announce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceQuery {
    /// The torrent.
    pub info_hash: [u8; 20],
    /// The announcing client's peer id.
    pub peer_id: [u8; 20],
    /// Its listening port.
    pub port: u16,
    /// The address it reports (`ip`), if any.
    pub ip: Option<IpAddr>,
    /// Bytes left to download.
    pub left: u64,
    /// Why it announces.
    pub event: AnnounceEvent,
    /// Whether it wants a compact peer list.
    pub compact: bool,
    /// How many peers it wants.
    pub numwant: usize,
}

/// Decodes `%XX` escapes and `+` of a query component into raw bytes.
pub fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad percent escape in {s:?}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Encodes raw bytes for a query string (unreserved characters kept, the rest `%XX`).
pub fn percent_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for &c in bytes {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~') {
            s.push(c as char);
        } else {
            let _ = write!(s, "%{c:02X}");
        }
    }
    s
}

impl AnnounceQuery {
    /// Parses the query string of an `/announce` URL.
    pub fn parse(query: &str) -> Result<AnnounceQuery, String> {
        let mut params: HashMap<&str, Vec<u8>> = HashMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(k, percent_decode(v)?);
        }
        let bytes20 = |key: &str| -> Result<[u8; 20], String> {
            let v = params.get(key).ok_or_else(|| format!("missing {key}"))?;
            <[u8; 20]>::try_from(v.as_slice())
                .map_err(|_| format!("{key} must be 20 bytes, got {}", v.len()))
        };
        let text = |key: &str| -> Option<String> {
            params
                .get(key)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let number = |key: &str| -> Result<Option<u64>, String> {
            match text(key) {
                None => Ok(None),
                Some(t) => t
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| format!("{key} is not a number: {t:?}")),
            }
        };
        let info_hash = bytes20("info_hash")?;
        let peer_id = bytes20("peer_id")?;
        let port = number("port")?.ok_or("missing port")?;
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("port {port} out of range"))?;
        let event = match text("event").as_deref() {
            None | Some("") | Some("empty") => AnnounceEvent::Periodic,
            Some("started") => AnnounceEvent::Started,
            Some("completed") => AnnounceEvent::Completed,
            Some("stopped") => AnnounceEvent::Stopped,
            Some(other) => return Err(format!("unknown event {other:?}")),
        };
        let ip = text("ip").and_then(|t| t.parse::<IpAddr>().ok());
        Ok(AnnounceQuery {
            info_hash,
            peer_id,
            port,
            ip,
            left: number("left")?.unwrap_or(0),
            event,
            compact: text("compact").as_deref() == Some("1"),
            numwant: number("numwant")?
                .unwrap_or(u64::from(PEERS_PER_ANNOUNCE))
                .min(u64::from(PEERS_PER_ANNOUNCE))
                .try_into()
                .unwrap_or(PEERS_PER_ANNOUNCE as usize),
        })
    }
}

/// A bencoded `failure reason` reply.
pub fn failure(reason: &str) -> Vec<u8> {
    let mut d = BTreeMap::new();
    d.insert(
        b"failure reason".to_vec(),
        Value::Bytes(reason.as_bytes().to_vec()),
    );
    bencode::encode(&Value::Dict(d))
}

/// The peers of a reply: BEP 23's compact string (IPv4 only), or BEP 3's list of
/// dictionaries.
fn peer_list(peers: &[&Member], compact: bool) -> Value {
    if compact {
        let mut b = Vec::with_capacity(peers.len() * 6);
        for m in peers {
            if let IpAddr::V4(ip) = m.addr.ip() {
                b.extend_from_slice(&ip.octets());
                b.extend_from_slice(&m.addr.port().to_be_bytes());
            }
        }
        return Value::Bytes(b);
    }
    let dict = |m: &&Member| {
        let mut p = BTreeMap::new();
        p.insert(b"peer id".to_vec(), Value::Bytes(m.peer_id.to_vec()));
        let ip = m.addr.ip().to_string().into_bytes();
        p.insert(b"ip".to_vec(), Value::Bytes(ip));
        p.insert(b"port".to_vec(), Value::Int(i64::from(m.addr.port())));
        Value::Dict(p)
    };
    Value::List(peers.iter().map(dict).collect())
}

impl TrackerState {
    /// An empty tracker.
    pub fn new(cfg: TrackerConfig) -> TrackerState {
        let dice = Dice::new(cfg.seed, 0);
        TrackerState {
            cfg,
            swarms: HashMap::new(),
            dice,
            next_id: 0,
        }
    }

    /// Number of members of the swarm of `info_hash`.
    pub fn swarm_len(&self, info_hash: &[u8; 20]) -> usize {
        self.swarms.get(info_hash).map_or(0, |s| s.members.len())
    }

    /// Handles one announce from `remote` (the TCP peer address) at `now`; returns the
    /// bencoded reply body.
    pub fn announce(&mut self, q: &AnnounceQuery, remote: IpAddr, now: Instant) -> Vec<u8> {
        // Two intervals, and a minute's grace for announces that are a little late
        // (ours re-announce every minute whatever the interval).
        let ttl = self.cfg.interval * 2 + Duration::from_secs(60);
        let swarm = self.swarms.entry(q.info_hash).or_insert_with(|| Swarm {
            tracker: Tracker::biased(PEERS_PER_ANNOUNCE, self.cfg.bias),
            members: Vec::new(),
        });
        // Forget the silent: a killed peer never says `stopped`.
        swarm.members.retain(|m| {
            let alive = now.saturating_duration_since(m.last_seen) <= ttl;
            if !alive {
                swarm.tracker.forget(m.id);
            }
            alive
        });
        // A loopback peer may report 127.0.0.1 (or nothing); trust a reported address
        // only if it parses, else use where the request came from.
        let addr = SocketAddr::new(q.ip.unwrap_or(remote), q.port);
        let id = match swarm.members.iter_mut().find(|m| m.peer_id == q.peer_id) {
            Some(m) => {
                m.last_seen = now;
                m.addr = addr;
                m.left = q.left;
                m.id
            }
            None => {
                let id = PeerId(self.next_id);
                self.next_id += 1;
                if q.event != AnnounceEvent::Stopped {
                    swarm.members.push(Member {
                        id,
                        peer_id: q.peer_id,
                        addr,
                        last_seen: now,
                        left: q.left,
                    });
                }
                id
            }
        };
        let region = index_of_peer_id(&q.peer_id)
            .and_then(|i| self.cfg.regions.get(i as usize).copied())
            .unwrap_or(0);
        let picked = swarm
            .tracker
            .announce_from(id, region, q.event, q.numwant, &mut self.dice);
        if q.event == AnnounceEvent::Stopped {
            swarm.members.retain(|m| m.id != id);
        }
        let peers: Vec<&Member> = picked
            .iter()
            .filter_map(|p| swarm.members.iter().find(|m| m.id == *p))
            .collect();
        let seeds = swarm.members.iter().filter(|m| m.left == 0).count();
        let leechers = swarm.members.len() - seeds;
        let count = |n: usize| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
        let interval = i64::try_from(self.cfg.interval.as_secs()).unwrap_or(i64::MAX);
        let mut d = BTreeMap::new();
        d.insert(b"interval".to_vec(), Value::Int(interval));
        d.insert(b"complete".to_vec(), count(seeds));
        d.insert(b"incomplete".to_vec(), count(leechers));
        d.insert(b"peers".to_vec(), peer_list(&peers, q.compact));
        bencode::encode(&Value::Dict(d))
    }

    /// Handles a request for `url` (path and query) from `remote`: the reply body.
    pub fn handle(&mut self, url: &str, remote: IpAddr, now: Instant) -> Vec<u8> {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        if path != "/announce" {
            return failure(&format!("no such endpoint {path:?} (use /announce)"));
        }
        match AnnounceQuery::parse(query) {
            Ok(q) => self.announce(&q, remote, now),
            Err(e) => failure(&e),
        }
    }
}

/// A running HTTP tracker.
pub struct TrackerServer {
    server: tiny_http::Server,
    state: TrackerState,
}

impl TrackerServer {
    /// Binds the tracker to `addr` (port 0 picks a free one).
    pub fn bind(addr: SocketAddr, cfg: TrackerConfig) -> std::io::Result<TrackerServer> {
        let server = tiny_http::Server::http(addr).map_err(std::io::Error::other)?;
        Ok(TrackerServer {
            server,
            state: TrackerState::new(cfg),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.server_addr().to_ip()
    }

    /// Serves requests forever (until the process ends).
    pub fn run(self) -> std::io::Result<()> {
        self.run_until(&std::sync::atomic::AtomicBool::new(false))
    }

    /// Serves requests until `stop` becomes true (checked every 100 ms).
    pub fn run_until(mut self, stop: &std::sync::atomic::AtomicBool) -> std::io::Result<()> {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let Some(request) = self
                .server
                .recv_timeout(std::time::Duration::from_millis(100))?
            else {
                continue;
            };
            let remote = request
                .remote_addr()
                .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |a| a.ip());
            let body = self.state.handle(request.url(), remote, Instant::now());
            tracing::debug!(
                "tracker: {} {} -> {} bytes",
                remote,
                request.url(),
                body.len()
            );
            let response = tiny_http::Response::from_data(body).with_header(
                tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"text/plain"[..])
                    .map_err(|_| std::io::Error::other("bad header"))?,
            );
            // A client that hung up does not stop the tracker.
            let _ = request.respond(response);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- client

/// What we tell the tracker.
#[derive(Clone, Debug)]
pub struct AnnounceRequest {
    /// The tracker's announce URL (http only).
    pub url: String,
    /// The torrent.
    pub info_hash: [u8; 20],
    /// Our peer id.
    pub peer_id: [u8; 20],
    /// Our listening port.
    pub port: u16,
    /// Bytes uploaded so far.
    pub uploaded: u64,
    /// Bytes downloaded so far.
    pub downloaded: u64,
    /// Bytes left.
    pub left: u64,
    /// Why.
    pub event: AnnounceEvent,
    /// How many peers we want.
    pub numwant: u32,
}

/// The tracker's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// Seconds until the next regular announce.
    pub interval: Option<u64>,
    /// Peers to connect to.
    pub peers: Vec<SocketAddr>,
}

/// Builds the GET URL of an announce.
pub fn announce_url(r: &AnnounceRequest) -> String {
    let event = match r.event {
        AnnounceEvent::Started => "&event=started",
        AnnounceEvent::Completed => "&event=completed",
        AnnounceEvent::Stopped => "&event=stopped",
        AnnounceEvent::Periodic => "",
    };
    let sep = if r.url.contains('?') { '&' } else { '?' };
    format!(
        "{}{sep}info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact=1&numwant={}{event}",
        r.url,
        percent_encode(&r.info_hash),
        percent_encode(&r.peer_id),
        r.port,
        r.uploaded,
        r.downloaded,
        r.left,
        r.numwant
    )
}

/// Parses a tracker reply body (compact or dictionary peers, or `failure reason`).
pub fn parse_response(body: &[u8]) -> Result<AnnounceResponse, String> {
    let v = bencode::decode(body).map_err(|e| format!("tracker reply is not bencode: {e}"))?;
    if v.as_dict().is_none() {
        return Err(format!("tracker reply is {}, not a dictionary", v.kind()));
    }
    if let Some(reason) = v.get(b"failure reason") {
        let text = reason
            .as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| "(unreadable)".to_string());
        return Err(format!("tracker says: {text}"));
    }
    let interval = v
        .get(b"interval")
        .and_then(Value::as_int)
        .and_then(|i| u64::try_from(i).ok());
    let mut peers = Vec::new();
    match v.get(b"peers") {
        None => {}
        Some(Value::Bytes(b)) => {
            if b.len() % 6 != 0 {
                return Err(format!(
                    "compact peers of {} bytes, not a multiple of 6",
                    b.len()
                ));
            }
            for c in b.chunks_exact(6) {
                let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
                let port = u16::from_be_bytes([c[4], c[5]]);
                peers.push(SocketAddr::new(IpAddr::V4(ip), port));
            }
        }
        Some(Value::List(list)) => {
            for p in list {
                let ip = p
                    .get(b"ip")
                    .and_then(Value::as_bytes)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .and_then(|s| s.parse::<IpAddr>().ok());
                let port = p
                    .get(b"port")
                    .and_then(Value::as_int)
                    .and_then(|p| u16::try_from(p).ok());
                // A peer given by host name or with a bad port is skipped, not fatal.
                if let (Some(ip), Some(port)) = (ip, port) {
                    peers.push(SocketAddr::new(ip, port));
                }
            }
        }
        Some(other) => return Err(format!("peers is {}", other.kind())),
    }
    Ok(AnnounceResponse { interval, peers })
}

/// Splits `http://host:port/path?q` into (`host:port`, `/path?q`).
fn split_http_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("tracker URL {url:?} is not http:// (only HTTP trackers are supported)")
    })?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if host.is_empty() {
        return Err(format!("tracker URL {url:?} has no host"));
    }
    let host = if host.contains(':') && !host.ends_with(']') {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    Ok((host, path.to_string()))
}

/// Announces to the tracker (one HTTP GET, bounded by `timeout`).
pub async fn announce(r: &AnnounceRequest, timeout: Duration) -> Result<AnnounceResponse, String> {
    let full = announce_url(r);
    let (host, path) = split_http_url(&full)?;
    let fut = async {
        let mut stream = tokio::net::TcpStream::connect(&host)
            .await
            .map_err(|e| format!("tracker {host}: {e}"))?;
        let req = format!(
            "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: swarmlab\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(req.as_bytes())
            .await
            .map_err(|e| format!("tracker {host}: {e}"))?;
        let mut buf = Vec::new();
        (&mut stream)
            .take(MAX_RESPONSE as u64 + 1)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| format!("tracker {host}: {e}"))?;
        if buf.len() > MAX_RESPONSE {
            return Err(format!(
                "tracker {host}: response over {MAX_RESPONSE} bytes"
            ));
        }
        Ok(buf)
    };
    let raw = tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| format!("tracker {host}: no answer in {timeout:?}"))??;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("tracker {host}: malformed HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("tracker {host}: {status}"));
    }
    parse_response(&raw[split + 4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(peer: u8, port: u16, event: &str, compact: bool) -> String {
        format!(
            "info_hash={}&peer_id={}&port={port}&left=10&event={event}&compact={}",
            percent_encode(&[7u8; 20]),
            percent_encode(&[peer; 20]),
            u8::from(compact)
        )
    }

    #[test]
    fn percent_round_trip() {
        let raw: Vec<u8> = (0..=255).collect();
        assert_eq!(percent_decode(&percent_encode(&raw)).unwrap(), raw);
        assert!(percent_decode("%G1").is_err());
        assert!(percent_decode("%1").is_err());
    }

    #[test]
    fn compact_and_dict_replies_parse_back() {
        let mut t = TrackerState::new(TrackerConfig::default());
        let now = Instant::now();
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let a = format!("/announce?{}", query(1, 1000, "started", true));
        let r = parse_response(&t.handle(&a, lo, now)).unwrap();
        assert!(r.peers.is_empty());
        let b = format!("/announce?{}", query(2, 2000, "started", true));
        let r = parse_response(&t.handle(&b, lo, now)).unwrap();
        assert_eq!(r.peers, vec!["127.0.0.1:1000".parse().unwrap()]);
        assert_eq!(r.interval, Some(60));
        let c = format!("/announce?{}", query(3, 3000, "", false));
        let mut r = parse_response(&t.handle(&c, lo, now)).unwrap();
        r.peers.sort();
        assert_eq!(r.peers.len(), 2);
        assert_eq!(t.swarm_len(&[7; 20]), 3);
        let d = format!("/announce?{}", query(3, 3000, "stopped", false));
        let _ = t.handle(&d, lo, now);
        assert_eq!(t.swarm_len(&[7; 20]), 2);
    }

    #[test]
    fn a_reported_loopback_ip_is_what_others_get() {
        let mut t = TrackerState::new(TrackerConfig::default());
        let now = Instant::now();
        let far = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
        let a = format!("/announce?{}&ip=127.0.0.1", query(1, 1000, "started", true));
        let _ = t.handle(&a, far, now);
        let b = format!("/announce?{}", query(2, 2000, "started", true));
        let r = parse_response(&t.handle(&b, far, now)).unwrap();
        assert_eq!(r.peers, vec!["127.0.0.1:1000".parse().unwrap()]);
        // Without `ip`, the address the request came from.
        let c = format!("/announce?{}", query(3, 3000, "started", true));
        let mut r = parse_response(&t.handle(&c, far, now)).unwrap();
        r.peers.sort();
        assert!(r.peers.contains(&"10.0.0.5:2000".parse().unwrap()));
    }

    #[test]
    fn silent_peers_are_forgotten() {
        let mut t = TrackerState::new(TrackerConfig::default());
        let now = Instant::now();
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let _ = t.handle(
            &format!("/announce?{}", query(1, 1000, "started", true)),
            lo,
            now,
        );
        let later = now + Duration::from_secs(181);
        let r = parse_response(&t.handle(
            &format!("/announce?{}", query(2, 2000, "started", true)),
            lo,
            later,
        ))
        .unwrap();
        assert!(r.peers.is_empty());
        assert_eq!(t.swarm_len(&[7; 20]), 1);
    }

    #[test]
    fn bad_requests_get_a_failure_reason() {
        let mut t = TrackerState::new(TrackerConfig::default());
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for url in [
            "/announce",
            "/announce?info_hash=abc&peer_id=x&port=1",
            "/scrape?x=1",
            &format!("/announce?{}", query(1, 0, "started", true)),
            &format!("/announce?{}", query(1, 5, "bogus", true)),
        ] {
            let err = parse_response(&t.handle(url, lo, Instant::now())).unwrap_err();
            assert!(err.starts_with("tracker says:"), "{url}: {err}");
        }
    }

    #[test]
    fn response_parser_rejects_bad_compact() {
        assert!(parse_response(b"d5:peers5:abcdee").is_err());
        assert!(parse_response(b"le").is_err());
        let r = parse_response(b"d8:intervali30e5:peersld2:ip9:127.0.0.14:porti80eeee").unwrap();
        assert_eq!(r.peers, vec!["127.0.0.1:80".parse().unwrap()]);
    }
}
