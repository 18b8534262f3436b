//! The analytical lower bound on the time to distribute a file (Kurose & Ross,
//! "Computer Networking", section 2.5, P2P file distribution):
//!
//! ```text
//! D >= max( F/u_s , F/d_min , N·F/(u_s + Σu_i) )
//! ```
//!
//! * `F`: the file size (in bits, since rates are bits per second);
//! * `u_s`: the "server" upload: the sum of the upload capacities of seed-role peers;
//! * `d_min`: the slowest download capacity among the `N` downloaders;
//! * `N`: the number of downloaders (every non-seed peer, free-riders included);
//! * `u_i`: the downloaders' uploads; free-riders never upload, so they count 0.
//!
//! The bound assumes a fluid model (any bit can be forwarded as soon as it arrives) and
//! ignores latency and churn, so a real or simulated swarm can only be slower;
//! `bound / makespan` is the efficiency reported in `summary.csv`.

use crate::core::Role;
use crate::units::{Bytes, Rate};
use std::fmt::Write as _;

/// Which of the three terms is the largest, i.e. what limits distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Term {
    /// The seeds cannot push one copy out faster: `F/u_s`.
    Server,
    /// The slowest downloader cannot receive faster: `F/d_min`.
    Download,
    /// The swarm's total upload must carry `N` copies: `N·F/(u_s + Σu_i)`.
    Swarm,
}

impl Term {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Term::Server => "server",
            Term::Download => "download",
            Term::Swarm => "swarm",
        }
    }
}

/// The lower bound and its three terms, in seconds, with the numbers it came from.
///
/// A term is `f64::INFINITY` when its divisor is zero (no seed upload at all: the file
/// can never be distributed); every term is 0 when there are no downloaders.
#[derive(Clone, Debug, PartialEq)]
pub struct Bound {
    /// The bound: the largest of the three terms.
    pub seconds: f64,
    /// `F / u_s`.
    pub server_term: f64,
    /// `F / d_min`.
    pub download_term: f64,
    /// `N·F / (u_s + Σu_i)`.
    pub swarm_term: f64,
    /// The term equal to `seconds` (the first one in the order server, download,
    /// swarm if several are equal).
    pub which_binds: Term,
    /// `F`.
    pub file_size: Bytes,
    /// `N`: the number of downloaders.
    pub downloaders: u64,
    /// `u_s`: the total seed upload.
    pub seed_upload: Rate,
    /// `Σu_i`: the total upload of the downloaders (free-riders count 0).
    pub peer_upload: Rate,
    /// `d_min`, if there is any downloader.
    pub slowest_download: Option<Rate>,
}

/// Computes the bound for a file of `file_size` shared by `peers`, given as
/// `(role, upload, download)` per peer.
pub fn bound(file_size: Bytes, peers: &[(Role, Rate, Rate)]) -> Bound {
    let mut seed_upload = 0u64;
    let mut peer_upload = 0u64;
    let mut downloaders = 0u64;
    let mut slowest: Option<Rate> = None;
    for &(role, up, down) in peers {
        match role {
            Role::Seed => seed_upload = seed_upload.saturating_add(up.0),
            Role::Leecher | Role::FreeRider => {
                downloaders += 1;
                if role == Role::Leecher {
                    peer_upload = peer_upload.saturating_add(up.0);
                }
                slowest = Some(slowest.map_or(down, |s| s.min(down)));
            }
        }
    }
    let bits = file_size.bits() as f64;
    // x / 0 is +inf in IEEE arithmetic, which is exactly the meaning we want, but
    // 0 / 0 would be NaN: with no downloaders nothing needs to be distributed.
    let div = |num: f64, den: u64| {
        if downloaders == 0 {
            0.0
        } else if den == 0 {
            f64::INFINITY
        } else {
            num / den as f64
        }
    };
    let server_term = div(bits, seed_upload);
    let download_term = div(bits, slowest.map_or(0, |r| r.0));
    let swarm_term = div(
        downloaders as f64 * bits,
        seed_upload.saturating_add(peer_upload),
    );
    let (which_binds, seconds) = [
        (Term::Server, server_term),
        (Term::Download, download_term),
        (Term::Swarm, swarm_term),
    ]
    .into_iter()
    .fold((Term::Server, f64::NEG_INFINITY), |best, (t, v)| {
        if v > best.1 { (t, v) } else { best }
    });
    Bound {
        seconds,
        server_term,
        download_term,
        swarm_term,
        which_binds,
        file_size,
        downloaders,
        seed_upload: Rate(seed_upload),
        peer_upload: Rate(peer_upload),
        slowest_download: slowest,
    }
}

impl Bound {
    /// A few lines explaining the bound: each term with its numbers, and which binds.
    pub fn explain(&self) -> String {
        let f = self.file_size;
        let d_min = self
            .slowest_download
            .map_or_else(|| "none".to_string(), |r| r.to_string());
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            s,
            "Lower bound on distribution time (Kurose & Ross 2.5): D >= max(F/u_s, F/d_min, N*F/(u_s + sum u_i))"
        );
        let _ = writeln!(
            s,
            "  F = {f} ({} bits), N = {} downloaders, u_s = {}, sum u_i = {}, d_min = {d_min}",
            f.bits(),
            self.downloaders,
            self.seed_upload,
            self.peer_upload
        );
        let mark = |t: Term| {
            if t == self.which_binds {
                "  <- binds"
            } else {
                ""
            }
        };
        let _ = writeln!(
            s,
            "  server   F/u_s              = {} / {} = {}{}",
            f,
            self.seed_upload,
            secs(self.server_term),
            mark(Term::Server)
        );
        let _ = writeln!(
            s,
            "  download F/d_min            = {} / {} = {}{}",
            f,
            d_min,
            secs(self.download_term),
            mark(Term::Download)
        );
        let _ = writeln!(
            s,
            "  swarm    N*F/(u_s + sum u_i) = {} x {} / {} = {}{}",
            self.downloaders,
            f,
            Rate(self.seed_upload.0.saturating_add(self.peer_upload.0)),
            secs(self.swarm_term),
            mark(Term::Swarm)
        );
        let _ = write!(
            s,
            "  D >= {} ({} term)",
            secs(self.seconds),
            self.which_binds.name()
        );
        s
    }
}

fn secs(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.1} s")
    } else {
        "infinite (no seed upload)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flash_crowd() -> Vec<(Role, Rate, Rate)> {
        let mut peers = vec![(Role::Seed, Rate::mbit(10), Rate::mbit(100))];
        peers.extend((0..200).map(|_| (Role::Leecher, Rate::mbit(2), Rate::mbit(20))));
        peers
    }

    #[test]
    fn flash_crowd_is_swarm_bound_at_262_s() {
        let b = bound(Bytes(64 << 20), &flash_crowd());
        assert_eq!(b.which_binds, Term::Swarm);
        assert!((b.seconds - 261.88).abs() < 0.01, "{}", b.seconds);
        assert_eq!(format!("{:.0}", b.seconds), "262");
        assert!((b.server_term - 53.687).abs() < 0.001);
        assert!((b.download_term - 26.844).abs() < 0.001);
        let text = b.explain();
        assert!(text.contains("261.9 s"), "{text}");
        assert!(text.contains("swarm term"), "{text}");
        assert!(text.contains("N = 200"), "{text}");
    }

    #[test]
    fn free_riders_download_but_do_not_upload() {
        let mut peers = flash_crowd();
        peers.push((Role::FreeRider, Rate::mbit(50), Rate::mbit(1)));
        let b = bound(Bytes(64 << 20), &peers);
        assert_eq!(b.downloaders, 201);
        assert_eq!(b.peer_upload, Rate::mbit(400));
        assert_eq!(b.slowest_download, Some(Rate::mbit(1)));
        assert_eq!(b.which_binds, Term::Download);
    }

    #[test]
    fn no_seed_is_infinite_and_no_downloader_is_zero() {
        let b = bound(
            Bytes(1 << 20),
            &[(Role::Leecher, Rate::mbit(1), Rate::mbit(1))],
        );
        assert!(b.seconds.is_infinite());
        assert!(b.explain().contains("infinite"));
        let b = bound(
            Bytes(1 << 20),
            &[(Role::Seed, Rate::mbit(1), Rate::mbit(1))],
        );
        assert_eq!(b.seconds, 0.0);
    }
}
