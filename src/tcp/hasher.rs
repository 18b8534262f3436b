//! SHA-1 checks of received pieces on a thread of their own, off the peer loop.
//!
//! A single download on loopback moves a few hundred MB/s, and SHA-1 runs at about
//! 1.5–2 GB/s on one core: hashed on the peer loop, every piece stops reading, writing
//! and answering requests for the time its hash takes (about half of `get`'s CPU time in
//! a 1 GiB loopback transfer). A [`Hasher`] takes a complete piece's bytes, hashes them
//! (and its grains, for the smart ban, when asked) on its own thread, and hands them
//! back as an [`Event::Hashed`], so the loop goes on meanwhile and a second core does
//! the hashing. The core waits for the answer as it waits for any other input: the
//! piece stays partial, all its blocks received, until then.
//!
//! A laboratory swarm's members, all in one process, hash on their loop instead: one
//! thread per member would be hundreds of threads, and their pieces arrive at the rates
//! of the scenario, not of loopback.

use super::connection::Event;
use super::storage::PieceToCheck;
use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc;

/// A piece to check, and how: the grain size and whether grain digests are wanted
/// when it passes (see [`PieceToCheck::check`]).
struct Job {
    piece: PieceToCheck,
    grain: u32,
    on_pass: bool,
}

/// The hashing thread of one session. Dropping it ends the thread once the pieces
/// already handed over are done (their answers go nowhere if the loop has ended).
pub(super) struct Hasher {
    jobs: std_mpsc::Sender<Job>,
}

impl Hasher {
    /// Starts the thread; answers go to `events`. `None` if no thread can be started
    /// (the caller then hashes on its loop).
    pub(super) fn start(events: mpsc::Sender<Event>) -> Option<Hasher> {
        let (jobs, queue) = std_mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("swarmlab-sha1".to_string())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    let checked = job.piece.check(job.grain, job.on_pass);
                    if events.blocking_send(Event::Hashed(checked)).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Hasher { jobs })
    }

    /// Hands `piece` over to be checked with grains of `grain` bytes (digests of them
    /// when it fails, and when it passes if `on_pass`). Gives the piece back if the
    /// thread has ended.
    pub(super) fn submit(
        &self,
        piece: PieceToCheck,
        grain: u32,
        on_pass: bool,
    ) -> Result<(), PieceToCheck> {
        let job = Job {
            piece,
            grain,
            on_pass,
        };
        self.jobs.send(job).map_err(|e| e.0.piece)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::storage::{Storage, sha1};

    /// A storage of one 8-byte piece, written and ready to be checked.
    fn one_piece(hash: [u8; 20]) -> (tempfile::TempDir, Storage) {
        let dir = tempfile::tempdir().unwrap();
        let layout = [(std::path::PathBuf::from("f"), 8)];
        let mut s = Storage::open(
            dir.path(),
            &layout,
            8,
            vec![hash],
            crate::tcp::storage::OpenMode::Create,
        )
        .unwrap();
        s.write_block(0, 0, b"a piece!").unwrap();
        (dir, s)
    }

    #[test]
    fn answers_say_whether_the_bytes_match_and_give_grain_digests() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let hasher = Hasher::start(tx).unwrap();
        let (_good_dir, mut good) = one_piece(sha1(b"a piece!"));
        let (_bad_dir, mut bad) = one_piece([0; 20]);
        hasher
            .submit(good.take_complete(0).unwrap(), 4, false)
            .unwrap();
        hasher
            .submit(bad.take_complete(0).unwrap(), 4, false)
            .unwrap();
        let answers = rt.block_on(async {
            let mut v = Vec::new();
            for _ in 0..2 {
                match rx.recv().await {
                    Some(Event::Hashed(checked)) => v.push(checked),
                    other => panic!("unexpected {other:?}"),
                }
            }
            v
        });
        assert!(answers[0].ok() && answers[0].grains().is_empty());
        assert!(!answers[1].ok());
        assert_eq!(answers[1].grains(), &[sha1(b"a pi"), sha1(b"ece!")]);
        assert!(good.commit_checked(&answers[0]).unwrap());
        assert!(good.is_verified(0));
        assert!(!bad.commit_checked(&answers[1]).unwrap());
        assert!(!bad.is_verified(0));
    }
}
