//! The real-BitTorrent subcommands: `torrent create|show`, `tracker`, `seed`, `get`.
//! Thin: parse arguments, call `crate::tcp`, map errors to exit statuses.

use crate::core::Role;
use crate::tcp::metainfo::{self, Metainfo};
use crate::tcp::session::{self, SessionConfig};
use crate::tcp::storage;
use crate::tcp::tracker_http::{TrackerConfig, TrackerServer};
use crate::units::{Bytes, Rate};
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `swarmlab torrent …`
#[derive(Debug, Subcommand)]
pub enum TorrentCommand {
    /// Make a .torrent from a file or folder.
    Create {
        /// The file or folder to share.
        path: PathBuf,
        /// Announce URL of the tracker.
        #[arg(long)]
        tracker: String,
        /// Piece size, e.g. 256KiB.
        #[arg(long, default_value = "256KiB")]
        piece_size: String,
        /// Where to write the torrent.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Print a torrent's name, size, pieces, files and info hash.
    Show {
        /// The .torrent file.
        file: PathBuf,
    },
}

/// `swarmlab tracker`
#[derive(Debug, Args)]
pub struct TrackerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6969")]
    pub bind: SocketAddr,
    /// Seconds between announces asked of peers.
    #[arg(long, default_value_t = 60)]
    pub interval: u64,
}

/// `swarmlab seed`
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The .torrent file.
    pub torrent: PathBuf,
    /// The file or folder that was given to `torrent create`.
    #[arg(long)]
    pub data: PathBuf,
    /// Address to listen on for peers.
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Upload limit, e.g. "10 Mbit/s".
    #[arg(long)]
    pub upload: Option<String>,
}

/// `swarmlab get`
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The .torrent file.
    pub torrent: PathBuf,
    /// Folder to download into (the torrent's name is created inside it).
    #[arg(long)]
    pub out: PathBuf,
    /// Address to listen on for peers.
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Download limit, e.g. "10 Mbit/s".
    #[arg(long)]
    pub download: Option<String>,
    /// Keep seeding after the download completes.
    #[arg(long)]
    pub seed_after: bool,
    /// Upload limit (while seeding after), e.g. "10 Mbit/s".
    #[arg(long)]
    pub upload: Option<String>,
}

/// A failure with its exit status: 1 at run time, 2 for bad input.
struct Failure(i32, String);

fn bad(msg: impl Into<String>) -> Failure {
    Failure(2, msg.into())
}

fn runtime(msg: impl Into<String>) -> Failure {
    Failure(1, msg.into())
}

/// Prints the error as one line and returns its status.
fn finish(cmd: &str, r: Result<(), Failure>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(Failure(code, msg)) => {
            eprintln!("swarmlab {cmd}: {msg}");
            code
        }
    }
}

fn load_torrent(path: &Path) -> Result<Metainfo, Failure> {
    let bytes = std::fs::read(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    Metainfo::from_bytes(&bytes).map_err(|e| bad(format!("{}: {e}", path.display())))
}

/// Parses a rate such as "10 Mbit/s" into bytes per second.
fn parse_rate(flag: &str, text: Option<&str>) -> Result<Option<u64>, Failure> {
    let Some(text) = text else { return Ok(None) };
    let rate: Rate = text.parse().map_err(|e| bad(format!("--{flag}: {e}")))?;
    if rate.0 < 8 {
        return Err(bad(format!("--{flag}: {text:?} is below 1 B/s")));
    }
    Ok(Some(rate.0 / 8))
}

fn default_bind() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}

/// Runs `torrent …`; returns the exit status.
pub fn torrent(cmd: TorrentCommand) -> i32 {
    match cmd {
        TorrentCommand::Create {
            path,
            tracker,
            piece_size,
            output,
        } => finish(
            "torrent create",
            create(&path, &tracker, &piece_size, &output),
        ),
        TorrentCommand::Show { file } => finish(
            "torrent show",
            load_torrent(&file).map(|m| print!("{}", m.show())),
        ),
    }
}

fn create(path: &Path, tracker: &str, piece_size: &str, output: &Path) -> Result<(), Failure> {
    let size: Bytes = piece_size
        .parse()
        .map_err(|e| bad(format!("--piece-size: {e}")))?;
    if !path.exists() {
        return Err(bad(format!("{}: no such file or folder", path.display())));
    }
    // `create` names the path in its messages about the input itself.
    let bytes = metainfo::create(path, tracker, size.0).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => bad(e.to_string()),
        std::io::ErrorKind::NotFound => bad(format!("{}: {e}", path.display())),
        _ => runtime(format!("{}: {e}", path.display())),
    })?;
    std::fs::write(output, &bytes).map_err(|e| runtime(format!("{}: {e}", output.display())))
}

/// Runs `tracker`; returns the exit status.
pub fn tracker(args: TrackerArgs) -> i32 {
    let cfg = TrackerConfig {
        interval: Duration::from_secs(args.interval.max(1)),
        ..TrackerConfig::default()
    };
    let r = TrackerServer::bind(args.bind, cfg)
        .map_err(|e| runtime(format!("cannot listen on {}: {e}", args.bind)))
        .and_then(|server| {
            if let Some(addr) = server.local_addr() {
                tracing::info!("tracker listening on http://{addr}/announce");
            }
            server.run().map_err(|e| runtime(e.to_string()))
        });
    finish("tracker", r)
}

/// Runs `seed`; returns the exit status.
pub fn seed(args: SeedArgs) -> i32 {
    finish("seed", run_seed(&args))
}

fn run_seed(args: &SeedArgs) -> Result<(), Failure> {
    let meta = load_torrent(&args.torrent)?;
    let upload = parse_rate("upload", args.upload.as_deref())?;
    let mut storage =
        storage::open_seed_storage(&meta, &args.data).map_err(|e| bad(e.to_string()))?;
    let verified = storage
        .recheck()
        .map_err(|e| runtime(format!("{}: {e}", args.data.display())))?;
    let bad_pieces = verified.iter().filter(|ok| !**ok).count();
    if bad_pieces > 0 {
        return Err(bad(format!(
            "{}: {bad_pieces} of {} pieces do not match the torrent",
            args.data.display(),
            verified.len()
        )));
    }
    let cfg = SessionConfig {
        role: Role::Seed,
        bind: args.bind.unwrap_or_else(default_bind),
        upload,
        download: None,
        keep_serving: true,
        progress: false,
        swarm: None,
    };
    session::run(meta, storage, cfg).map_err(|e| runtime(e.to_string()))?;
    Ok(())
}

/// Runs `get`; returns the exit status.
pub fn get(args: GetArgs) -> i32 {
    finish("get", run_get(&args))
}

fn run_get(args: &GetArgs) -> Result<(), Failure> {
    let meta = load_torrent(&args.torrent)?;
    let download = parse_rate("download", args.download.as_deref())?;
    let upload = parse_rate("upload", args.upload.as_deref())?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| runtime(format!("{}: {e}", args.out.display())))?;
    let mut storage =
        storage::open_download_storage(&meta, &args.out).map_err(|e| runtime(e.to_string()))?;
    // Resume: pieces already on disk and matching their hash are kept.
    let verified = storage
        .recheck()
        .map_err(|e| runtime(format!("{}: {e}", args.out.display())))?;
    // The session starts the core peer with exactly these pieces.
    let kept = verified.iter().filter(|ok| **ok).count();
    tracing::info!(
        "{}: {kept} of {} pieces already verified",
        meta.info.name,
        verified.len()
    );
    let cfg = SessionConfig {
        role: Role::Leecher,
        bind: args.bind.unwrap_or_else(default_bind),
        upload,
        download,
        keep_serving: args.seed_after,
        progress: true,
        swarm: None,
    };
    let s = session::run(meta, storage, cfg).map_err(|e| runtime(e.to_string()))?;
    // A download that was already complete never reached the session's summary.
    if s.pieces_at_start == s.pieces {
        println!("{}", s.line());
    }
    Ok(())
}
