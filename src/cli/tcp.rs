//! The real-BitTorrent subcommands: `torrent create|show`, `tracker`, `seed`, `get`.
//! Thin: parse arguments, call `crate::tcp`, map errors to exit statuses.

use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

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
}

/// Runs `torrent …`; returns the exit status.
pub fn torrent(cmd: TorrentCommand) -> i32 {
    let _ = cmd;
    eprintln!("swarmlab: torrent: not implemented yet");
    1
}

/// Runs `tracker`; returns the exit status.
pub fn tracker(args: TrackerArgs) -> i32 {
    let _ = args;
    eprintln!("swarmlab: tracker: not implemented yet");
    1
}

/// Runs `seed`; returns the exit status.
pub fn seed(args: SeedArgs) -> i32 {
    let _ = args;
    eprintln!("swarmlab: seed: not implemented yet");
    1
}

/// Runs `get`; returns the exit status.
pub fn get(args: GetArgs) -> i32 {
    let _ = args;
    eprintln!("swarmlab: get: not implemented yet");
    1
}
