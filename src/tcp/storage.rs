//! Piece storage over real files, with SHA-1 verification before anything is written.
//!
//! A torrent's files are concatenated in order into one byte stream cut into pieces of
//! `piece_length` bytes (the last one shorter), so a piece may span several files, and a
//! file may be empty. [`Storage`] maps pieces onto that layout.
//!
//! Downloaded blocks go into an in-memory buffer per piece. Only when the piece's SHA-1
//! matches is the buffer written to the files; on a mismatch it is dropped. So no
//! unverified byte ever reaches the output files, and after a crash the files hold only
//! verified pieces (plus zeros), which [`Storage::recheck`] finds again on restart.
//! Memory is bounded by the number of partial pieces held at once (configurable).
//!
//! A laboratory swarm's storage may hold no files at all ([`Storage::lab`]): its pieces
//! are a [`LabPayload`], made afresh whenever a block is served, and a received piece,
//! buffered and SHA-1 checked like any other, is then only marked held.
//!
//! Files are opened per operation rather than kept open, so a torrent with thousands of
//! files cannot exhaust file descriptors. Verified pieces are written but not fsynced:
//! they survive a killed process, not a power cut — `recheck` is the safety net.
//!
//! Paths come from a torrent, i.e. from a stranger: every path must be relative and made
//! only of ordinary components (no `..`, no root, no empty path), checked at open.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};

use super::error::SessionError;
use super::lab_payload::LabPayload;
use super::metainfo::Metainfo;
use sha1::{Digest, Sha1};

/// How many pieces may be partly downloaded at once by default: 32 × 256 KiB = 8 MiB.
pub const DEFAULT_MAX_PARTIAL_PIECES: usize = 32;

/// The SHA-1 of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

/// Builds a relative path from a torrent's path components (the `path` list of a
/// multi-file info dictionary), refusing anything that could leave the download folder:
/// no components, or a component that is empty, `.`, `..`, or contains a separator or NUL.
pub fn safe_relative_path<S: AsRef<str>>(components: &[S]) -> io::Result<PathBuf> {
    if components.is_empty() {
        return Err(invalid("empty path".to_string()));
    }
    let mut path = PathBuf::new();
    for c in components {
        let c = c.as_ref();
        if c.is_empty() || c == "." || c == ".." || c.contains(['/', '\\', '\0']) {
            return Err(invalid(format!("unsafe path component {c:?}")));
        }
        path.push(c);
    }
    Ok(path)
}

/// Checks a layout path: relative, non-empty, and only ordinary components.
fn check_relative(path: &Path) -> io::Result<()> {
    if path.as_os_str().is_empty() {
        return Err(invalid("empty path in file layout".to_string()));
    }
    if path.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(())
    } else {
        Err(invalid(format!(
            "unsafe path {} in file layout (must be relative, without \"..\")",
            path.display()
        )))
    }
}

/// A length or offset within one piece (at most `MAX_PIECE_LENGTH`) as a memory index.
fn in_memory(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Whether the files are being downloaded into or only served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create missing files and folders (sized, sparse where the OS allows) and keep the
    /// bytes of existing ones, so an interrupted download resumes after `recheck`.
    Create,
    /// The files must exist with their exact lengths; nothing is ever written.
    ReadOnly,
}

/// What a [`Storage::write_block`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Stored; the piece still has bytes missing.
    Partial,
    /// Stored; every byte of the piece is now present: call [`Storage::verify`].
    Complete,
    /// The piece was already verified; the block was ignored (an endgame duplicate).
    AlreadyVerified,
}

#[derive(Debug)]
struct FileEntry {
    /// `root` joined with the layout's relative path.
    full_path: PathBuf,
    /// Offset of the file's first byte in the concatenated stream.
    start: u64,
    length: u64,
    /// Created (or found empty) by this open: it holds only zeros, so
    /// [`Storage::recheck`] need not read it.
    fresh: bool,
}

/// A piece being downloaded: its bytes and which ranges of them have arrived.
#[derive(Debug)]
struct Partial {
    data: Vec<u8>,
    /// Sorted, disjoint, non-adjacent half-open ranges of `data` that were written.
    have: Vec<(u64, u64)>,
}

impl Partial {
    /// Records `[start, end)` as written, merging with overlapping or adjacent ranges
    /// (endgame duplicates overlap).
    fn mark(&mut self, start: u64, end: u64) {
        let (mut start, mut end) = (start, end);
        self.have.retain(|&(s, e)| {
            if e < start || s > end {
                true
            } else {
                start = start.min(s);
                end = end.max(e);
                false
            }
        });
        let at = self.have.partition_point(|&(s, _)| s < start);
        self.have.insert(at, (start, end));
    }

    fn is_complete(&self) -> bool {
        self.have.as_slice() == [(0, self.data.len() as u64)]
    }
}

/// A complete piece's bytes taken out of a [`Storage`] to be hashed (on another thread
/// if need be), with what they must hash to.
#[derive(Debug)]
pub struct PieceToCheck {
    piece: u32,
    data: Vec<u8>,
    expected: [u8; 20],
}

/// A piece's bytes hashed: [`Storage::commit_checked`] writes them if they matched
/// their hash. Only [`PieceToCheck::check`] makes one, so that bytes nobody hashed
/// cannot be written, wherever the hashing ran.
#[derive(Debug)]
pub struct CheckedPiece {
    piece: u32,
    data: Vec<u8>,
    expected: [u8; 20],
    ok: bool,
    /// The SHA-1 of each grain as received, when asked for (see [`PieceToCheck::check`]).
    grains: Vec<[u8; 20]>,
}

impl PieceToCheck {
    /// The piece's index.
    pub fn piece(&self) -> u32 {
        self.piece
    }

    /// Hashes the piece, and also each `grain`-byte slice of it (the last may be short)
    /// when it fails — and when it passes if `on_pass` — so that who sent a bad block
    /// can be found (the core's smart ban). With `grain` 0, no grain digests.
    pub fn check(self, grain: u32, on_pass: bool) -> CheckedPiece {
        let ok = sha1(&self.data) == self.expected;
        let grains = if grain > 0 && (on_pass || !ok) {
            self.data.chunks(grain as usize).map(sha1).collect()
        } else {
            Vec::new()
        };
        CheckedPiece {
            piece: self.piece,
            data: self.data,
            expected: self.expected,
            ok,
            grains,
        }
    }
}

impl CheckedPiece {
    /// The piece's index.
    pub fn piece(&self) -> u32 {
        self.piece
    }

    /// Whether its bytes matched its hash.
    pub fn ok(&self) -> bool {
        self.ok
    }

    /// The grains' digests, if they were asked for (in order).
    pub fn grains(&self) -> &[[u8; 20]] {
        &self.grains
    }
}

/// Where the bytes of verified pieces live.
#[derive(Debug)]
enum Backing {
    /// In the torrent's files under a root folder.
    Files {
        files: Vec<FileEntry>,
        mode: OpenMode,
    },
    /// Nowhere: they are a laboratory payload's, made again when read.
    Lab(LabPayload),
}

/// The pieces of one torrent, stored in its files under a root folder (or, in a
/// laboratory swarm, only marked held).
#[derive(Debug)]
pub struct Storage {
    backing: Backing,
    total_len: u64,
    piece_length: u64,
    hashes: Vec<[u8; 20]>,
    verified: Vec<bool>,
    /// Keyed by piece index; a BTreeMap so nothing depends on hash order.
    partial: BTreeMap<u32, Partial>,
    max_partial: usize,
}

impl Storage {
    /// Opens (and in [`OpenMode::Create`], creates) the files of `layout` under `root`.
    ///
    /// `layout` lists each file's relative path and length in torrent order;
    /// `piece_hashes` must have one hash per `piece_length` bytes of the total (rounded
    /// up). No piece counts as verified until [`Storage::recheck`] or
    /// [`Storage::verify`] says so.
    pub fn open(
        root: &Path,
        layout: &[(PathBuf, u64)],
        piece_length: u64,
        piece_hashes: Vec<[u8; 20]>,
        mode: OpenMode,
    ) -> io::Result<Storage> {
        // Offsets within a piece travel as u32 on the wire.
        if piece_length == 0 || piece_length > u64::from(u32::MAX) {
            return Err(invalid(format!("piece length {piece_length} out of range")));
        }
        let mut seen = BTreeSet::new();
        let mut files = Vec::with_capacity(layout.len());
        let mut total_len = 0u64;
        for (path, length) in layout {
            check_relative(path)?;
            if !seen.insert(path) {
                return Err(invalid(format!(
                    "file {} listed twice in layout",
                    path.display()
                )));
            }
            files.push(FileEntry {
                full_path: root.join(path),
                start: total_len,
                length: *length,
                fresh: false,
            });
            total_len = total_len
                .checked_add(*length)
                .ok_or_else(|| invalid("total length overflows u64".to_string()))?;
        }
        check_piece_count(total_len, piece_length, piece_hashes.len())?;
        for f in &mut files {
            match mode {
                OpenMode::Create => f.fresh = prepare_file(&f.full_path, f.length)?,
                OpenMode::ReadOnly => check_file(&f.full_path, f.length)?,
            }
        }
        Ok(Storage {
            backing: Backing::Files { files, mode },
            total_len,
            piece_length,
            verified: vec![false; piece_hashes.len()],
            hashes: piece_hashes,
            partial: BTreeMap::new(),
            max_partial: DEFAULT_MAX_PARTIAL_PIECES,
        })
    }

    /// The storage of a laboratory peer: no files; `payload` is the torrent's content
    /// (its pieces hash to `piece_hashes`). A seed (`held`) starts with every piece, a
    /// leecher with none. Received pieces are buffered and verified as in a file-backed
    /// storage, then only marked held; served blocks are made from `payload`.
    pub fn lab(
        payload: LabPayload,
        piece_length: u64,
        piece_hashes: Vec<[u8; 20]>,
        held: bool,
    ) -> io::Result<Storage> {
        if piece_length == 0 || piece_length > u64::from(u32::MAX) {
            return Err(invalid(format!("piece length {piece_length} out of range")));
        }
        check_piece_count(payload.len(), piece_length, piece_hashes.len())?;
        Ok(Storage {
            backing: Backing::Lab(payload),
            total_len: payload.len(),
            piece_length,
            verified: vec![held; piece_hashes.len()],
            hashes: piece_hashes,
            partial: BTreeMap::new(),
            max_partial: DEFAULT_MAX_PARTIAL_PIECES,
        })
    }

    /// Whether verified pieces are only marked held, not written ([`Storage::lab`]).
    pub fn is_lab(&self) -> bool {
        matches!(self.backing, Backing::Lab(_))
    }

    /// Sets how many pieces may be partly held in memory at once (at least 1).
    pub fn with_max_partial_pieces(mut self, max: usize) -> Storage {
        self.max_partial = max.max(1);
        self
    }

    /// The number of pieces.
    pub fn num_pieces(&self) -> u32 {
        // Checked at open to fit.
        u32::try_from(self.hashes.len()).unwrap_or(u32::MAX)
    }

    /// The total size of all files, in bytes.
    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// The length of `piece` (only the last one may be shorter), or `None` if there is
    /// no such piece.
    pub fn piece_len(&self, piece: u32) -> Option<u32> {
        if piece >= self.num_pieces() {
            return None;
        }
        let start = u64::from(piece) * self.piece_length;
        // At most piece_length, which fits u32 (checked at open).
        u32::try_from(self.piece_length.min(self.total_len - start)).ok()
    }

    /// Whether `piece` has been verified (and so is on disk and may be served).
    pub fn is_verified(&self, piece: u32) -> bool {
        self.verified.get(piece as usize).copied().unwrap_or(false)
    }

    /// The verified flag of every piece.
    pub fn verified(&self) -> &[bool] {
        &self.verified
    }

    /// The verified pieces as a BEP 3 bitfield payload (high bit of byte 0 = piece 0).
    pub fn bitfield_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.verified.len().div_ceil(8)];
        for (i, _) in self.verified.iter().enumerate().filter(|(_, v)| **v) {
            out[i / 8] |= 0x80 >> (i % 8);
        }
        out
    }

    /// Whether every piece is verified.
    pub fn is_complete(&self) -> bool {
        self.verified.iter().all(|v| *v)
    }

    /// How many pieces are partly held in memory.
    pub fn partial_pieces(&self) -> usize {
        self.partial.len()
    }

    /// The limit on [`Storage::partial_pieces`].
    pub fn max_partial_pieces(&self) -> usize {
        self.max_partial
    }

    /// Stores a received block in `piece`'s memory buffer (not on disk).
    ///
    /// Fails with `InvalidInput` for a block outside the piece, `PermissionDenied` in
    /// [`OpenMode::ReadOnly`], and `QuotaExceeded` when this would start one partial
    /// piece more than the limit (finish or [`Storage::discard`] one first).
    pub fn write_block(
        &mut self,
        piece: u32,
        offset: u32,
        data: &[u8],
    ) -> io::Result<WriteOutcome> {
        if matches!(
            self.backing,
            Backing::Files {
                mode: OpenMode::ReadOnly,
                ..
            }
        ) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "storage is read-only",
            ));
        }
        let (start, end) = self.block_range(piece, offset, data.len() as u64)?;
        if self.is_verified(piece) {
            return Ok(WriteOutcome::AlreadyVerified);
        }
        if !self.partial.contains_key(&piece) && self.partial.len() >= self.max_partial {
            return Err(io::Error::new(
                io::ErrorKind::QuotaExceeded,
                format!(
                    "piece {piece}: {} partial pieces already in memory (limit {})",
                    self.partial.len(),
                    self.max_partial
                ),
            ));
        }
        let len = self.piece_len(piece).unwrap_or(0) as usize;
        let entry = self.partial.entry(piece).or_insert_with(|| Partial {
            data: vec![0; len],
            have: Vec::new(),
        });
        if start < end {
            entry.data[in_memory(start)..in_memory(end)].copy_from_slice(data);
            entry.mark(start, end);
        }
        Ok(if entry.is_complete() {
            WriteOutcome::Complete
        } else {
            WriteOutcome::Partial
        })
    }

    /// Drops the in-memory buffer of an unfinished piece (e.g. its peer went away and it
    /// will be fetched again later). Does nothing to a verified piece.
    pub fn discard(&mut self, piece: u32) {
        self.partial.remove(&piece);
    }

    /// Checks a complete piece against its SHA-1.
    ///
    /// `Ok(true)`: it matched and has been written to the files (or was already
    /// verified). `Ok(false)`: it did not match; its buffer is discarded and nothing was
    /// written. An error means the piece is not complete, does not exist, or writing it
    /// failed (the piece then stays unverified and must be fetched again).
    pub fn verify(&mut self, piece: u32) -> io::Result<bool> {
        if self.is_verified(piece) && self.piece_len(piece).is_some() {
            return Ok(true);
        }
        let checked = self.take_complete(piece)?.check(0, false);
        self.commit_checked(&checked)
    }

    /// Takes a complete, unverified piece's bytes out, to be hashed
    /// ([`PieceToCheck::check`]) and then given back to [`Storage::commit_checked`].
    /// Until then the piece is neither partial nor verified. An error means it is not
    /// complete (or does not exist, or is verified already).
    pub fn take_complete(&mut self, piece: u32) -> io::Result<PieceToCheck> {
        let Some(&expected) = self.hashes.get(piece as usize) else {
            return Err(invalid(format!("no piece {piece}")));
        };
        let complete = self.partial.get(&piece).is_some_and(Partial::is_complete);
        if self.is_verified(piece) || !complete {
            return Err(invalid(format!("piece {piece} is not complete")));
        }
        match self.partial.remove(&piece) {
            Some(buf) => Ok(PieceToCheck {
                piece,
                data: buf.data,
                expected,
            }),
            None => Err(invalid(format!("piece {piece} is not complete"))),
        }
    }

    /// Writes a hashed piece whose bytes matched and marks it verified: `Ok(true)`.
    /// `Ok(false)` if they did not match (nothing is written; the bytes are dropped).
    /// Bytes hashed against another torrent's hash, or of the wrong length, are refused.
    pub fn commit_checked(&mut self, checked: &CheckedPiece) -> io::Result<bool> {
        let piece = checked.piece;
        if self.hashes.get(piece as usize) != Some(&checked.expected)
            || self.piece_len(piece) != u32::try_from(checked.data.len()).ok()
        {
            return Err(invalid(format!("piece {piece}: these are not its bytes")));
        }
        if !checked.ok {
            return Ok(false);
        }
        self.write_at(u64::from(piece) * self.piece_length, &checked.data)?;
        self.verified[piece as usize] = true;
        // Blocks stored meanwhile (none should be: the core wants none of a piece
        // whose blocks have all arrived) must not linger.
        self.partial.remove(&piece);
        Ok(true)
    }

    /// Reads `len` bytes of a verified piece at `offset`, for serving a request.
    ///
    /// Fails with `InvalidInput` if the piece is not verified or the range lies outside
    /// it, so a request can never make us send unverified or out-of-torrent bytes.
    pub fn read_block(&self, piece: u32, offset: u32, len: u32) -> io::Result<Vec<u8>> {
        let (start, end) = self.block_range(piece, offset, u64::from(len))?;
        if !self.is_verified(piece) {
            return Err(invalid(format!("piece {piece} is not verified")));
        }
        let mut out = vec![0; in_memory(end - start)];
        self.read_at(u64::from(piece) * self.piece_length + start, &mut out)?;
        Ok(out)
    }

    /// Hashes every piece's bytes on disk and marks as verified exactly those that match
    /// (resuming after a kill, or checking a seed's data). Holds one piece in memory.
    /// In-memory buffers of pieces found verified are dropped.
    /// A piece lying wholly in files this open created holds zeros: it is checked
    /// against the hash of zeros without reading it (a fresh 1 GiB download would
    /// otherwise read and hash 1 GiB before its first request).
    pub fn recheck(&mut self) -> io::Result<Vec<bool>> {
        let mut buf = Vec::with_capacity(in_memory(self.piece_length));
        let mut zeros: Option<(usize, [u8; 20])> = None;
        for piece in 0..self.num_pieces() {
            let len = self.piece_len(piece).unwrap_or(0) as usize;
            let pos = u64::from(piece) * self.piece_length;
            let fresh = self
                .segments(pos, len as u64)
                .iter()
                .all(|(f, _, _)| f.fresh);
            let digest = if fresh && matches!(self.backing, Backing::Files { .. }) {
                match zeros {
                    Some((n, d)) if n == len => d,
                    _ => {
                        let d = sha1(&vec![0; len]);
                        zeros = Some((len, d));
                        d
                    }
                }
            } else {
                buf.resize(len, 0);
                self.read_at(pos, &mut buf)?;
                sha1(&buf)
            };
            let ok = digest == self.hashes[piece as usize];
            self.verified[piece as usize] = ok;
            if ok {
                self.partial.remove(&piece);
            }
        }
        Ok(self.verified.clone())
    }

    /// The range `[offset, offset + len)` within `piece`, checked to lie inside it.
    fn block_range(&self, piece: u32, offset: u32, len: u64) -> io::Result<(u64, u64)> {
        let Some(plen) = self.piece_len(piece) else {
            return Err(invalid(format!(
                "no piece {piece} (torrent has {})",
                self.num_pieces()
            )));
        };
        let start = u64::from(offset);
        let end = start.saturating_add(len);
        if end > u64::from(plen) {
            return Err(invalid(format!(
                "block {start}+{len} outside piece {piece} of length {plen}"
            )));
        }
        Ok((start, end))
    }

    /// The pieces of the file stream `[pos, pos + len)` as (file, offset in file, length).
    fn segments(&self, pos: u64, len: u64) -> Vec<(&FileEntry, u64, usize)> {
        let mut out = Vec::new();
        let Backing::Files { files, .. } = &self.backing else {
            return out;
        };
        let end = pos + len;
        // The first file that ends after `pos`; empty files are skipped by this too.
        let first = files.partition_point(|f| f.start + f.length <= pos);
        for f in &files[first..] {
            if f.start >= end {
                break;
            }
            let from = pos.max(f.start);
            let to = end.min(f.start + f.length);
            if from < to {
                out.push((f, from - f.start, in_memory(to - from)));
            }
        }
        out
    }

    fn read_at(&self, pos: u64, out: &mut [u8]) -> io::Result<()> {
        if let Backing::Lab(payload) = &self.backing {
            return payload.fill(pos, out);
        }
        let mut done = 0;
        for (f, at, n) in self.segments(pos, out.len() as u64) {
            let mut file = File::open(&f.full_path).map_err(|e| with_path(e, &f.full_path))?;
            file.seek(SeekFrom::Start(at))?;
            file.read_exact(&mut out[done..done + n])
                .map_err(|e| with_path(e, &f.full_path))?;
            done += n;
        }
        Ok(())
    }

    /// Writes verified bytes to the files (a laboratory storage keeps none: it makes
    /// them again when they are read).
    fn write_at(&mut self, pos: u64, data: &[u8]) -> io::Result<()> {
        let Backing::Files { files, .. } = &mut self.backing else {
            return Ok(());
        };
        // Written to, a file no longer holds only zeros.
        let end = pos + data.len() as u64;
        for f in files
            .iter_mut()
            .filter(|f| f.start < end && pos < f.start + f.length)
        {
            f.fresh = false;
        }
        let mut done = 0;
        for (f, at, n) in self.segments(pos, data.len() as u64) {
            let mut file = OpenOptions::new()
                .write(true)
                .open(&f.full_path)
                .map_err(|e| with_path(e, &f.full_path))?;
            file.seek(SeekFrom::Start(at))?;
            file.write_all(&data[done..done + n])
                .map_err(|e| with_path(e, &f.full_path))?;
            done += n;
        }
        Ok(())
    }
}

/// Checks that `total_len` bytes in pieces of `piece_length` make `hashes` pieces, and
/// that they can be counted in a u32 (as the wire counts them).
fn check_piece_count(total_len: u64, piece_length: u64, hashes: usize) -> io::Result<()> {
    let num_pieces = total_len.div_ceil(piece_length);
    if num_pieces != hashes as u64 {
        return Err(invalid(format!(
            "{total_len} bytes in pieces of {piece_length} make {num_pieces} pieces, but {hashes} hashes were given"
        )));
    }
    if u32::try_from(num_pieces).is_err() {
        return Err(invalid(format!("{num_pieces} pieces is too many")));
    }
    Ok(())
}

/// Adds the file's path to an IO error, so the log line says which file failed.
fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Creates a file (and its folders) with the given length, keeping existing bytes.
/// Creates `path` (and its folders) or brings it to `length` bytes. Whether it was empty
/// before, so that it now holds only zeros.
fn prepare_file(path: &Path, length: u64) -> io::Result<bool> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| with_path(e, path))?;
    let before = file.metadata()?.len();
    if before != length {
        file.set_len(length).map_err(|e| with_path(e, path))?;
    }
    Ok(before == 0)
}

/// Checks that a file to be served exists with exactly the expected length.
fn check_file(path: &Path, length: u64) -> io::Result<()> {
    let meta = fs::metadata(path).map_err(|e| with_path(e, path))?;
    if !meta.is_file() || meta.len() != length {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: expected a file of {length} bytes, found {} bytes",
                path.display(),
                meta.len()
            ),
        ));
    }
    Ok(())
}

/// Where a torrent's files live and how they are laid out, for [`Storage::open`].
pub fn layout(meta: &Metainfo) -> Result<Vec<(PathBuf, u64)>, SessionError> {
    meta.info
        .files
        .iter()
        .map(|f| {
            safe_relative_path(&f.path)
                .map(|p| (p, f.length))
                .map_err(SessionError::UnsafePath)
        })
        .collect()
}

/// Opens the storage of a seed: `data` is the file or folder given to `torrent create`.
pub fn open_seed_storage(meta: &Metainfo, data: &Path) -> Result<Storage, SessionError> {
    let failed = |source: io::Error| SessionError::Storage {
        path: data.display().to_string(),
        source,
    };
    let (root, layout) = if meta.info.multi_file {
        (data.to_path_buf(), layout(meta)?)
    } else {
        let file = data
            .file_name()
            .ok_or_else(|| failed(invalid("not a file".to_string())))?;
        let root = data
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        (
            root.to_path_buf(),
            vec![(PathBuf::from(file), meta.info.total_length())],
        )
    };
    let pieces = meta.info.pieces.clone();
    Storage::open(
        &root,
        &layout,
        meta.info.piece_length,
        pieces,
        OpenMode::ReadOnly,
    )
    .map_err(failed)
}

/// Opens (creating what is missing) the storage of a download into `out/<name>`.
pub fn open_download_storage(meta: &Metainfo, out: &Path) -> Result<Storage, SessionError> {
    let root = if meta.info.multi_file {
        out.join(&meta.info.name)
    } else {
        out.to_path_buf()
    };
    let pieces = meta.info.pieces.clone();
    Storage::open(
        &root,
        &layout(meta)?,
        meta.info.piece_length,
        pieces,
        OpenMode::Create,
    )
    .map_err(|source| SessionError::Storage {
        path: root.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20-byte, 3-file-plus-empty layout cut into 8-byte pieces, so every piece
    /// crosses a file boundary somewhere: a[0..5) | dir/b (empty) | dir/c[5..17) | d[17..20).
    fn layout() -> Vec<(PathBuf, u64)> {
        vec![
            ("a".into(), 5),
            ("dir/b".into(), 0),
            ("dir/c".into(), 12),
            ("d".into(), 3),
        ]
    }

    fn content() -> Vec<u8> {
        (1..=20).collect()
    }

    fn hashes(data: &[u8], piece_length: usize) -> Vec<[u8; 20]> {
        data.chunks(piece_length).map(sha1).collect()
    }

    fn open(root: &Path, mode: OpenMode) -> Storage {
        Storage::open(root, &layout(), 8, hashes(&content(), 8), mode).unwrap()
    }

    /// Writes every piece of `data` in awkward 3-byte blocks, last block first.
    fn write_piece(s: &mut Storage, piece: u32, data: &[u8]) -> WriteOutcome {
        let start = piece as usize * 8;
        let bytes = &data[start..(start + 8).min(data.len())];
        let mut last = WriteOutcome::Partial;
        for (i, block) in bytes.chunks(3).enumerate().rev() {
            last = s
                .write_block(piece, u32::try_from(i * 3).unwrap(), block)
                .unwrap();
        }
        last
    }

    #[test]
    fn pieces_span_file_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = open(dir.path(), OpenMode::Create);
        assert_eq!(s.num_pieces(), 3);
        assert_eq!(s.piece_len(2), Some(4));
        assert_eq!(s.piece_len(3), None);
        for p in 0..3 {
            assert_eq!(write_piece(&mut s, p, &content()), WriteOutcome::Complete);
            assert!(s.verify(p).unwrap());
        }
        assert!(s.is_complete());
        assert_eq!(fs::read(dir.path().join("a")).unwrap(), [1, 2, 3, 4, 5]);
        assert_eq!(fs::read(dir.path().join("dir/b")).unwrap(), [0u8; 0]);
        assert_eq!(
            fs::read(dir.path().join("dir/c")).unwrap(),
            (6..=17).collect::<Vec<u8>>()
        );
        assert_eq!(fs::read(dir.path().join("d")).unwrap(), [18, 19, 20]);
        // A read crossing a->c and one crossing c->d.
        assert_eq!(s.read_block(0, 3, 5).unwrap(), [4, 5, 6, 7, 8]);
        assert_eq!(s.read_block(2, 0, 4).unwrap(), [17, 18, 19, 20]);
        assert_eq!(s.bitfield_bytes(), [0b1110_0000]);
    }

    #[test]
    fn bad_piece_is_discarded_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = open(dir.path(), OpenMode::Create);
        let mut bad = content();
        bad[6] ^= 0xff;
        assert_eq!(write_piece(&mut s, 0, &bad), WriteOutcome::Complete);
        assert!(!s.verify(0).unwrap());
        assert_eq!(s.partial_pieces(), 0);
        assert!(!s.is_verified(0));
        // The files still hold only zeros.
        assert_eq!(fs::read(dir.path().join("a")).unwrap(), [0; 5]);
        assert_eq!(fs::read(dir.path().join("dir/c")).unwrap(), [0; 12]);
        // The buffer is gone: verifying again is an error, not a stale result.
        assert!(s.verify(0).is_err());
        // Refetching good data works.
        write_piece(&mut s, 0, &content());
        assert!(s.verify(0).unwrap());
    }

    #[test]
    fn recheck_of_fresh_files_takes_zeros_for_what_they_hold() {
        // Pieces 0 and 2 of this content are zeros; piece 1 is not.
        let mut data = vec![0u8; 20];
        data[8..16].copy_from_slice(b"not zero");
        let dir = tempfile::tempdir().unwrap();
        let mut s =
            Storage::open(dir.path(), &layout(), 8, hashes(&data, 8), OpenMode::Create).unwrap();
        assert_eq!(s.recheck().unwrap(), [true, false, true]);
        // Once written to, a file is read again: piece 1 verifies from its bytes.
        write_piece(&mut s, 1, &data);
        assert!(s.verify(1).unwrap());
        assert_eq!(s.recheck().unwrap(), [true; 3]);
    }

    #[test]
    fn recheck_finds_verified_pieces_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = open(dir.path(), OpenMode::Create);
            write_piece(&mut s, 0, &content());
            write_piece(&mut s, 2, &content());
            assert!(s.verify(0).unwrap());
            assert!(s.verify(2).unwrap());
            // Piece 1 half-downloaded when the process is "killed".
            s.write_block(1, 0, &content()[8..12]).unwrap();
        }
        let mut s = open(dir.path(), OpenMode::Create);
        assert_eq!(s.verified(), [false; 3]);
        assert_eq!(s.recheck().unwrap(), [true, false, true]);
        assert_eq!(s.read_block(2, 1, 3).unwrap(), [18, 19, 20]);
        write_piece(&mut s, 1, &content());
        assert!(s.verify(1).unwrap());
        // A seed serving the finished files read-only sees everything.
        let mut seed = open(dir.path(), OpenMode::ReadOnly);
        assert_eq!(seed.recheck().unwrap(), [true; 3]);
        assert!(seed.write_block(0, 0, &[1]).is_err());
    }

    #[test]
    fn unverified_or_out_of_range_reads_fail() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = open(dir.path(), OpenMode::Create);
        assert!(s.read_block(0, 0, 8).is_err());
        write_piece(&mut s, 0, &content());
        // Complete in memory but not verified: still not servable.
        assert!(s.read_block(0, 0, 8).is_err());
        assert!(s.verify(0).unwrap());
        assert!(s.read_block(0, 0, 8).is_ok());
        assert!(s.read_block(0, 4, 5).is_err());
        assert!(s.read_block(0, u32::MAX, u32::MAX).is_err());
        assert!(s.read_block(9, 0, 1).is_err());
        assert!(s.write_block(2, 3, &[0, 0]).is_err()); // past the short last piece
        assert!(s.verify(1).is_err()); // nothing there
    }

    #[test]
    fn overlapping_duplicate_blocks_complete_a_piece() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = open(dir.path(), OpenMode::Create);
        let c = content();
        assert_eq!(
            s.write_block(0, 2, &c[2..6]).unwrap(),
            WriteOutcome::Partial
        );
        assert_eq!(
            s.write_block(0, 0, &c[0..3]).unwrap(),
            WriteOutcome::Partial
        );
        assert_eq!(
            s.write_block(0, 4, &c[4..7]).unwrap(),
            WriteOutcome::Partial
        );
        assert_eq!(
            s.write_block(0, 7, &c[7..8]).unwrap(),
            WriteOutcome::Complete
        );
        assert!(s.verify(0).unwrap());
        assert_eq!(
            s.write_block(0, 0, &c[0..8]).unwrap(),
            WriteOutcome::AlreadyVerified
        );
    }

    #[test]
    fn partial_pieces_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = open(dir.path(), OpenMode::Create).with_max_partial_pieces(2);
        s.write_block(0, 0, &[1]).unwrap();
        s.write_block(1, 0, &[9]).unwrap();
        let err = s.write_block(2, 0, &[17]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::QuotaExceeded);
        // Writing more into an open piece is still fine; freeing one makes room.
        s.write_block(1, 1, &[10]).unwrap();
        s.discard(0);
        s.write_block(2, 0, &[17]).unwrap();
        assert_eq!(s.partial_pieces(), 2);
    }

    #[test]
    fn unsafe_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        for bad in ["../evil", "a/../../evil", "/etc/passwd", "", "./x"] {
            let layout = vec![(PathBuf::from(bad), 1)];
            let err = Storage::open(&root, &layout, 1, vec![[0; 20]], OpenMode::Create);
            assert!(err.is_err(), "{bad:?} accepted");
        }
        assert!(!dir.path().join("evil").exists());
        assert!(safe_relative_path(&["a", "b"]).is_ok());
        for bad in [&["a", ".."][..], &["", "b"], &["a/b"], &["."], &[]] {
            assert!(safe_relative_path(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn layout_must_match_hashes_and_read_only_files_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let wrong = Storage::open(dir.path(), &layout(), 8, vec![[0; 20]; 2], OpenMode::Create);
        assert!(wrong.is_err());
        let dup = vec![("x".into(), 1), ("x".into(), 1)];
        assert!(Storage::open(dir.path(), &dup, 1, vec![[0; 20]; 2], OpenMode::Create).is_err());
        assert!(
            Storage::open(
                dir.path(),
                &layout(),
                8,
                hashes(&content(), 8),
                OpenMode::ReadOnly
            )
            .is_err()
        );
        fs::write(dir.path().join("short"), [1, 2]).unwrap();
        let short = vec![("short".into(), 3)];
        assert!(Storage::open(dir.path(), &short, 4, vec![[0; 20]], OpenMode::ReadOnly).is_err());
        assert!(Storage::open(dir.path(), &layout(), 0, vec![], OpenMode::Create).is_err());
    }

    #[test]
    fn lab_storage_verifies_marks_held_and_serves_the_payload() {
        let payload = LabPayload::new(3, 20);
        let hashes = payload.piece_hashes(8).unwrap();
        let mut bytes = vec![0; 20];
        payload.fill(0, &mut bytes).unwrap();
        let mut s = Storage::lab(payload, 8, hashes.clone(), false).unwrap();
        assert!(s.is_lab());
        assert_eq!(s.verified(), [false; 3]);
        let mut bad = bytes.clone();
        bad[3] ^= 1;
        assert_eq!(write_piece(&mut s, 0, &bad), WriteOutcome::Complete);
        assert!(!s.verify(0).unwrap(), "a corrupt piece is refused");
        assert!(s.read_block(0, 0, 8).is_err());
        for p in 0..3 {
            write_piece(&mut s, p, &bytes);
            assert!(s.verify(p).unwrap());
        }
        assert_eq!(s.partial_pieces(), 0, "nothing is kept once verified");
        assert_eq!(s.read_block(1, 2, 6).unwrap(), bytes[10..16]);
        let mut seed = Storage::lab(payload, 8, hashes.clone(), true).unwrap();
        assert_eq!(seed.recheck().unwrap(), [true; 3]);
        assert_eq!(seed.read_block(2, 0, 4).unwrap(), bytes[16..20]);
        assert!(Storage::lab(payload, 8, hashes[..2].to_vec(), true).is_err());
        assert!(Storage::lab(payload, 0, hashes, true).is_err());
    }

    #[test]
    fn single_file_seed_storage_reads_the_given_path() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.bin");
        std::fs::write(&f, vec![5u8; 40_000]).unwrap();
        let t = super::super::metainfo::create(&f, "", 16_384).unwrap();
        let meta = Metainfo::from_bytes(&t).unwrap();
        let mut s = open_seed_storage(&meta, &f).unwrap();
        assert!(s.recheck().unwrap().iter().all(|ok| *ok));
        // Relative paths without a folder work too (the parent is "").
        let cwd = std::env::current_dir().unwrap();
        assert!(open_seed_storage(&meta, Path::new("no-such-file.bin")).is_err());
        assert_eq!(cwd, std::env::current_dir().unwrap());
    }
}
