//! `.torrent` files (BEP 3 metainfo): parsing with validation, creation from a file or a
//! folder, a human-readable summary, and the mapping from piece ranges to file ranges
//! that storage needs for multi-file torrents.
//!
//! Parsing is strict on purpose: a torrent names files we are about to create on disk, so
//! a path component such as `..` or `/etc` is an attack, not a quirk; and a piece count
//! that does not match the total size would make storage read or write out of bounds. We
//! reject such torrents up front with the field and the reason, so the rest of the tcp
//! backend can trust an [`Info`] without re-checking it.
//!
//! The info hash is the SHA-1 of the info dictionary's *original bytes* (found with
//! [`bencode::Decoded::raw`]), so keys we do not know about still count, as they do for
//! every other client.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use super::bencode::{self, BencodeError, Value};

/// Largest piece length accepted (256 MiB, what mktorrent allows at most). Storage holds a
/// whole piece in memory to verify it, so a larger one is a mistake or an attack.
pub const MAX_PIECE_LENGTH: u64 = 1 << 28;

/// Largest total content size accepted (1 PiB): far beyond any real torrent, and small
/// enough that piece offsets can never overflow a `u64`.
pub const MAX_TOTAL_LENGTH: u64 = 1 << 50;

/// A parsed, validated torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metainfo {
    /// The tracker URL (`announce`), if any.
    pub announce: Option<String>,
    /// Tiers of tracker URLs (BEP 12 `announce-list`), empty if absent.
    pub announce_list: Vec<Vec<String>>,
    /// The info dictionary.
    pub info: Info,
    /// SHA-1 of the info dictionary's original bytes: the torrent's identity.
    pub info_hash: [u8; 20],
}

/// The info dictionary: what is shared and how it is cut into pieces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// The suggested name: the file name of a single-file torrent, the folder name of a
    /// multi-file one. A single valid path component.
    pub name: String,
    /// Bytes per piece (the last piece may be shorter). In `1..=MAX_PIECE_LENGTH`.
    pub piece_length: u64,
    /// The SHA-1 of each piece, in order.
    pub pieces: Vec<[u8; 20]>,
    /// The files, in torrent order; their contents concatenated are what the pieces
    /// cover. A single-file torrent has one entry whose path is `[name]`.
    pub files: Vec<FileEntry>,
    /// Whether the torrent is multi-file (`files` key): then each file lives at
    /// `name/path...`, otherwise the one file is just `name`.
    pub multi_file: bool,
    /// BEP 27 `private` flag.
    pub private: bool,
}

/// One file of a torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components, each a valid single component (no `/`, `..`, `.`, NUL or empty).
    /// Relative to the torrent's folder `name` in a multi-file torrent; `[name]` in a
    /// single-file one.
    pub path: Vec<String>,
    /// Size in bytes (may be zero).
    pub length: u64,
    /// Offset of the file's first byte in the torrent's content (all files concatenated
    /// in order): the sum of the lengths of the files before it.
    pub offset: u64,
}

/// A run of bytes within one file: part of a piece range mapped onto the files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Index into [`Info::files`].
    pub file: usize,
    /// Offset within that file.
    pub file_offset: u64,
    /// Number of bytes (never zero).
    pub len: u64,
}

/// Why a torrent was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetainfoError {
    /// Not valid (strict) bencode.
    #[error("{0}")]
    Bencode(#[from] BencodeError),
    /// Valid bencode, but a field is missing, of the wrong type, or has a bad value.
    #[error("{field}: {reason}")]
    Invalid {
        /// Where, as a path such as `info.files[2].path[0]`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> MetainfoError {
    MetainfoError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

type Dict = BTreeMap<Vec<u8>, Value>;

fn required<'a>(d: &'a Dict, key: &str, field: &str) -> Result<&'a Value, MetainfoError> {
    d.get(key.as_bytes())
        .ok_or_else(|| invalid(field, "is missing"))
}

fn as_int(v: &Value, field: &str) -> Result<i64, MetainfoError> {
    v.as_int()
        .ok_or_else(|| invalid(field, format!("expected an integer, found {}", v.kind())))
}

fn as_string(v: &Value, field: &str) -> Result<String, MetainfoError> {
    let b = v
        .as_bytes()
        .ok_or_else(|| invalid(field, format!("expected a string, found {}", v.kind())))?;
    String::from_utf8(b.to_vec()).map_err(|_| invalid(field, "is not valid UTF-8"))
}

fn as_list<'a>(v: &'a Value, field: &str) -> Result<&'a [Value], MetainfoError> {
    v.as_list()
        .ok_or_else(|| invalid(field, format!("expected a list, found {}", v.kind())))
}

fn as_dict<'a>(v: &'a Value, field: &str) -> Result<&'a Dict, MetainfoError> {
    v.as_dict()
        .ok_or_else(|| invalid(field, format!("expected a dictionary, found {}", v.kind())))
}

/// A byte length: non-negative and at most [`MAX_TOTAL_LENGTH`].
fn as_length(v: &Value, field: &str) -> Result<u64, MetainfoError> {
    let n = as_int(v, field)?;
    let n = u64::try_from(n).map_err(|_| invalid(field, format!("negative length {n}")))?;
    if n > MAX_TOTAL_LENGTH {
        return Err(invalid(
            field,
            format!("length {n} is larger than the {MAX_TOTAL_LENGTH} bytes allowed"),
        ));
    }
    Ok(n)
}

/// Why `s` cannot be one component of a path we create on disk, if it cannot.
fn component_problem(s: &str) -> Option<&'static str> {
    if s.is_empty() {
        Some("empty path component")
    } else if s == "." || s == ".." {
        Some("path component \".\" or \"..\" is not allowed")
    } else if s.starts_with('/') {
        Some("absolute path is not allowed")
    } else if s.contains('/') {
        Some("path component contains '/'")
    } else if s.contains('\\') {
        // A separator on Windows: reject it everywhere so a torrent means the same files
        // on every platform.
        Some("path component contains '\\'")
    } else if s.contains('\0') {
        Some("path component contains NUL")
    } else {
        None
    }
}

fn check_component(s: &str, field: &str) -> Result<(), MetainfoError> {
    match component_problem(s) {
        Some(reason) => Err(invalid(field, format!("{s:?}: {reason}"))),
        None => Ok(()),
    }
}

impl Metainfo {
    /// Parses and validates a `.torrent` file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        let decoded = bencode::decode_with_spans(bytes)?;
        let top = as_dict(&decoded.value, "torrent")?;
        let info_value = required(top, "info", "info")?;
        let info = Info::from_value(info_value)?;
        let raw_info = decoded
            .raw(b"info")
            .ok_or_else(|| invalid("info", "is missing"))?;
        let info_hash: [u8; 20] = Sha1::digest(raw_info).into();

        let announce = top
            .get(&b"announce"[..])
            .map(|v| as_string(v, "announce"))
            .transpose()?;
        let mut announce_list = Vec::new();
        if let Some(v) = top.get(&b"announce-list"[..]) {
            for (t, tier) in as_list(v, "announce-list")?.iter().enumerate() {
                let field = format!("announce-list[{t}]");
                let urls = as_list(tier, &field)?
                    .iter()
                    .enumerate()
                    .map(|(u, url)| as_string(url, &format!("{field}[{u}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                announce_list.push(urls);
            }
        }
        Ok(Metainfo {
            announce,
            announce_list,
            info,
            info_hash,
        })
    }

    /// The info hash as 40 lowercase hex digits.
    pub fn info_hash_hex(&self) -> String {
        hex(&self.info_hash)
    }

    /// A human-readable summary: name, sizes, piece size and count, trackers, info hash
    /// and the file list (what `swarmlab torrent show` prints).
    pub fn show(&self) -> String {
        let info = &self.info;
        let mut s = String::new();
        // Writing to a String cannot fail; the results are ignored for that reason.
        let _ = writeln!(s, "name:        {}", info.name);
        let _ = writeln!(s, "info hash:   {}", self.info_hash_hex());
        let _ = writeln!(
            s,
            "total size:  {} ({} bytes)",
            human_size(info.total_length()),
            info.total_length()
        );
        let _ = writeln!(
            s,
            "piece size:  {} ({} bytes)",
            human_size(info.piece_length),
            info.piece_length
        );
        let _ = writeln!(s, "pieces:      {}", info.piece_count());
        let _ = writeln!(
            s,
            "private:     {}",
            if info.private { "yes" } else { "no" }
        );
        let _ = writeln!(
            s,
            "announce:    {}",
            self.announce.as_deref().unwrap_or("(none)")
        );
        for (t, tier) in self.announce_list.iter().enumerate() {
            let _ = writeln!(s, "tier {t}:      {}", tier.join(" "));
        }
        let kind = if info.multi_file {
            "multi-file"
        } else {
            "single file"
        };
        let _ = writeln!(s, "files:       {} ({kind})", info.files.len());
        for f in &info.files {
            let path = if info.multi_file {
                format!("{}/{}", info.name, f.path.join("/"))
            } else {
                f.path.join("/")
            };
            let _ = writeln!(s, "  {:>12}  {path}", f.length);
        }
        s
    }
}

/// `info.piece length`: positive and at most [`MAX_PIECE_LENGTH`].
fn piece_length(d: &Dict) -> Result<u64, MetainfoError> {
    let piece_length = as_int(
        required(d, "piece length", "info.piece length")?,
        "info.piece length",
    )?;
    if piece_length <= 0 {
        return Err(invalid(
            "info.piece length",
            format!("must be positive, is {piece_length}"),
        ));
    }
    // Positive, so the conversion is exact.
    let piece_length = piece_length.unsigned_abs();
    if piece_length > MAX_PIECE_LENGTH {
        return Err(invalid(
            "info.piece length",
            format!("{piece_length} is larger than the {MAX_PIECE_LENGTH} allowed"),
        ));
    }
    Ok(piece_length)
}

/// `info.pieces`: one 20-byte SHA-1 per piece.
fn piece_hashes(d: &Dict) -> Result<Vec<[u8; 20]>, MetainfoError> {
    let raw = required(d, "pieces", "info.pieces")?;
    let raw = raw.as_bytes().ok_or_else(|| {
        invalid(
            "info.pieces",
            format!("expected a string, found {}", raw.kind()),
        )
    })?;
    if raw.len() % 20 != 0 {
        return Err(invalid(
            "info.pieces",
            format!(
                "length {} is not a multiple of 20 (one SHA-1 per piece)",
                raw.len()
            ),
        ));
    }
    Ok(raw
        .chunks_exact(20)
        .map(|c| {
            let mut h = [0u8; 20];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// The files: `info.length` (one file named `name`) or `info.files`, not both; and
/// whether it is a multi-file torrent.
fn files(d: &Dict, name: &str) -> Result<(Vec<FileEntry>, bool), MetainfoError> {
    match (d.get(&b"length"[..]), d.get(&b"files"[..])) {
        (Some(_), Some(_)) => Err(invalid("info", "has both \"length\" and \"files\"")),
        (None, None) => Err(invalid("info", "has neither \"length\" nor \"files\"")),
        (Some(len), None) => {
            let length = as_length(len, "info.length")?;
            let file = FileEntry {
                path: vec![name.to_string()],
                length,
                offset: 0,
            };
            Ok((vec![file], false))
        }
        (None, Some(list)) => Ok((parse_files(list)?, true)),
    }
}

impl Info {
    /// Validates an info dictionary (see the module doc for the rules).
    pub fn from_value(v: &Value) -> Result<Info, MetainfoError> {
        let d = as_dict(v, "info")?;
        let name = as_string(required(d, "name", "info.name")?, "info.name")?;
        check_component(&name, "info.name")?;
        let piece_length = piece_length(d)?;
        let pieces = piece_hashes(d)?;
        let (files, multi_file) = files(d, &name)?;
        let total = files.last().map_or(0, |f: &FileEntry| f.offset + f.length);
        if total == 0 {
            return Err(invalid("info", "the torrent has no content (total size 0)"));
        }
        let expected = total.div_ceil(piece_length);
        if pieces.len() as u64 != expected {
            return Err(invalid(
                "info.pieces",
                format!(
                    "has {} hashes, but {total} bytes in pieces of {piece_length} need {expected}",
                    pieces.len()
                ),
            ));
        }
        let private = match d.get(&b"private"[..]) {
            None => false,
            Some(v) => match as_int(v, "info.private")? {
                0 => false,
                1 => true,
                n => return Err(invalid("info.private", format!("must be 0 or 1, is {n}"))),
            },
        };
        Ok(Info {
            name,
            piece_length,
            pieces,
            files,
            multi_file,
            private,
        })
    }

    /// Total size of the content in bytes.
    pub fn total_length(&self) -> u64 {
        self.files
            .last()
            .map_or(0, |f| f.offset.saturating_add(f.length))
    }

    /// Number of pieces.
    pub fn piece_count(&self) -> usize {
        self.pieces.len()
    }

    /// Length of piece `index`: `piece_length`, except for a shorter last piece. `None`
    /// if there is no such piece.
    pub fn piece_len(&self, index: usize) -> Option<u64> {
        if index >= self.pieces.len() {
            return None;
        }
        let start = (index as u64).checked_mul(self.piece_length)?;
        Some(
            self.total_length()
                .checked_sub(start)?
                .min(self.piece_length),
        )
    }

    /// Maps `len` bytes at `offset` within piece `piece` onto the files: the segments, in
    /// order, that together cover the range (zero-length files never appear). `None` if the
    /// range does not lie within the piece. A zero `len` gives no segments.
    pub fn segments(&self, piece: usize, offset: u64, len: u64) -> Option<Vec<Segment>> {
        let piece_len = self.piece_len(piece)?;
        let end = offset.checked_add(len)?;
        if end > piece_len {
            return None;
        }
        // In range: piece_len succeeded, so piece * piece_length < total_length.
        let mut pos = piece as u64 * self.piece_length + offset;
        let mut remaining = len;
        let mut out = Vec::new();
        // The first file that ends after `pos`; offsets are sorted so binary search works.
        let mut i = self.files.partition_point(|f| f.offset + f.length <= pos);
        while remaining > 0 {
            let f = self.files.get(i)?;
            // Checked although `from_value` guarantees consistent offsets: an `Info` built
            // by hand must not be able to make this panic.
            let file_offset = pos.checked_sub(f.offset)?;
            let n = f.length.checked_sub(file_offset)?.min(remaining);
            if n > 0 {
                out.push(Segment {
                    file: i,
                    file_offset,
                    len: n,
                });
            }
            pos += n;
            remaining -= n;
            i += 1;
        }
        Some(out)
    }
}

fn parse_files(list: &Value) -> Result<Vec<FileEntry>, MetainfoError> {
    let list = as_list(list, "info.files")?;
    if list.is_empty() {
        return Err(invalid("info.files", "is empty"));
    }
    let mut files = Vec::with_capacity(list.len());
    let mut offset: u64 = 0;
    for (i, entry) in list.iter().enumerate() {
        let field = format!("info.files[{i}]");
        let d = as_dict(entry, &field)?;
        let length_field = format!("{field}.length");
        let length = as_length(required(d, "length", &length_field)?, &length_field)?;
        let path_field = format!("{field}.path");
        let parts = as_list(required(d, "path", &path_field)?, &path_field)?;
        if parts.is_empty() {
            return Err(invalid(&path_field, "is empty"));
        }
        let mut path = Vec::with_capacity(parts.len());
        for (j, part) in parts.iter().enumerate() {
            let part_field = format!("{path_field}[{j}]");
            let s = as_string(part, &part_field)?;
            check_component(&s, &part_field)?;
            path.push(s);
        }
        files.push(FileEntry {
            path,
            length,
            offset,
        });
        offset = offset
            .checked_add(length)
            .filter(|&t| t <= MAX_TOTAL_LENGTH)
            .ok_or_else(|| {
                invalid(
                    "info.files",
                    format!("total size is larger than the {MAX_TOTAL_LENGTH} bytes allowed"),
                )
            })?;
    }
    // Two entries naming the same file, or a file that is also another's folder, cannot
    // both exist on disk. In sorted order a path is followed directly by any path it is
    // a prefix of, so checking neighbours finds every clash.
    let mut paths: Vec<(&[String], usize)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.as_slice(), i))
        .collect();
    paths.sort();
    for w in paths.windows(2) {
        let ((a, _), (b, j)) = (w[0], w[1]);
        if b.starts_with(a) {
            let reason = if a.len() == b.len() {
                "names the same file as an earlier entry".to_string()
            } else {
                format!("lies inside {:?}, which is a file", a.join("/"))
            };
            return Err(invalid(format!("info.files[{j}].path"), reason));
        }
    }
    Ok(files)
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// An approximate size for people ("1.5 MiB"); exact byte counts are printed beside it.
fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn io_invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

/// Builds a `.torrent` for the file or folder at `path`, announcing to `tracker` (omitted
/// when empty), with pieces of `piece_length` bytes. Returns the encoded torrent.
///
/// A folder gives a multi-file torrent of every regular file below it, sorted by path;
/// symbolic links to files are followed, links to folders are skipped (they can loop), and
/// other special files are skipped. Pieces run across file boundaries, as BEP 3 says. The
/// output has no creation date, so the same input gives the same bytes. The result is
/// checked with [`Metainfo::from_bytes`], so we never write a torrent we would reject
/// (for example one with a file name that is not UTF-8).
pub fn create(path: &Path, tracker: &str, piece_length: u64) -> io::Result<Vec<u8>> {
    if piece_length == 0 || piece_length > MAX_PIECE_LENGTH {
        return Err(io_invalid(format!(
            "piece size {piece_length} must be between 1 and {MAX_PIECE_LENGTH} bytes"
        )));
    }
    // Canonicalize so that "." or "dir/.." still has a name.
    let full = fs::canonicalize(path)?;
    let name = full
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io_invalid(format!("{}: has no UTF-8 file name", path.display())))?
        .to_string();
    let meta = fs::metadata(&full)?;

    // (path inside the torrent, where to read it, length)
    let (files, multi_file) = if meta.is_dir() {
        (walk(&full)?, true)
    } else if meta.is_file() {
        (vec![(Vec::new(), full.clone(), meta.len())], false)
    } else {
        return Err(io_invalid(format!(
            "{}: is neither a file nor a folder",
            path.display()
        )));
    };
    if files.is_empty() {
        return Err(io_invalid(format!("{}: has no files", path.display())));
    }

    let pieces = hash_pieces(&files, piece_length)?;
    let layout: Vec<(Vec<String>, u64)> = files.into_iter().map(|(p, _, len)| (p, len)).collect();
    encode_torrent(&name, &layout, multi_file, piece_length, pieces, tracker)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Builds the `.torrent` of a single file called `name` whose pieces of `piece_length`
/// bytes hash to `hashes` (content that exists nowhere as a file: a laboratory payload).
pub fn create_from_hashes(
    name: &str,
    length: u64,
    piece_length: u64,
    hashes: &[[u8; 20]],
    tracker: &str,
) -> io::Result<Vec<u8>> {
    if piece_length == 0 || piece_length > MAX_PIECE_LENGTH {
        return Err(io_invalid(format!(
            "piece size {piece_length} must be between 1 and {MAX_PIECE_LENGTH} bytes"
        )));
    }
    let pieces = hashes.concat();
    let layout = [(Vec::new(), length)];
    encode_torrent(name, &layout, false, piece_length, pieces, tracker)
}

/// Encodes a torrent of `files` (path components and length; one nameless entry for a
/// single file) and checks it with [`Metainfo::from_bytes`].
fn encode_torrent(
    name: &str,
    files: &[(Vec<String>, u64)],
    multi_file: bool,
    piece_length: u64,
    pieces: Vec<u8>,
    tracker: &str,
) -> io::Result<Vec<u8>> {
    let mut info = BTreeMap::new();
    info.insert(b"name".to_vec(), Value::from(name));
    let piece_length_value = i64::try_from(piece_length)
        .map_err(|_| io_invalid("piece size does not fit in a bencode integer"))?;
    info.insert(b"piece length".to_vec(), Value::Int(piece_length_value));
    info.insert(b"pieces".to_vec(), Value::Bytes(pieces));
    if multi_file {
        let list = files
            .iter()
            .map(|(parts, len)| {
                let mut d = BTreeMap::new();
                d.insert(b"length".to_vec(), length_value(*len)?);
                d.insert(
                    b"path".to_vec(),
                    Value::List(parts.iter().map(|p| Value::from(p.as_str())).collect()),
                );
                Ok(Value::Dict(d))
            })
            .collect::<io::Result<Vec<_>>>()?;
        info.insert(b"files".to_vec(), Value::List(list));
    } else {
        let total = files.iter().map(|(_, len)| len).sum();
        info.insert(b"length".to_vec(), length_value(total)?);
    }

    let mut top = BTreeMap::new();
    if !tracker.is_empty() {
        top.insert(b"announce".to_vec(), Value::from(tracker));
    }
    top.insert(
        b"created by".to_vec(),
        Value::from(concat!("swarmlab ", env!("CARGO_PKG_VERSION"))),
    );
    top.insert(b"info".to_vec(), Value::Dict(info));
    let bytes = bencode::encode(&Value::Dict(top));

    Metainfo::from_bytes(&bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("cannot make a valid torrent: {e}"),
        )
    })?;
    Ok(bytes)
}

fn length_value(len: u64) -> io::Result<Value> {
    i64::try_from(len)
        .map(Value::Int)
        .map_err(|_| io_invalid(format!("file size {len} is too large")))
}

type WalkedFile = (Vec<String>, PathBuf, u64);

/// Every regular file below `root`, with its path components relative to `root`, sorted.
fn walk(root: &Path) -> io::Result<Vec<WalkedFile>> {
    let mut out = Vec::new();
    // An explicit stack rather than recursion: folder depth is not ours to bound.
    let mut stack: Vec<(PathBuf, Vec<String>)> = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let file_name = entry.file_name();
            let name = file_name.to_str().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: file name is not UTF-8", entry.path().display()),
                )
            })?;
            let mut parts = prefix.clone();
            parts.push(name.to_string());
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                stack.push((entry.path(), parts));
            } else if file_type.is_file() {
                out.push((parts, entry.path(), entry.metadata()?.len()));
            } else if file_type.is_symlink() {
                let target = fs::metadata(entry.path())?;
                if target.is_file() {
                    out.push((parts, entry.path(), target.len()));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// SHA-1 of each `piece_length` run of the files' concatenated contents.
fn hash_pieces(files: &[WalkedFile], piece_length: u64) -> io::Result<Vec<u8>> {
    // piece_length <= MAX_PIECE_LENGTH, so it fits in memory and in usize.
    let piece_length = usize::try_from(piece_length).map_err(|_| io_invalid("piece too large"))?;
    let mut buf = vec![0u8; piece_length];
    let mut fill = 0;
    let mut pieces = Vec::new();
    for (_, path, len) in files {
        let mut reader = File::open(path)?.take(*len);
        let mut read: u64 = 0;
        loop {
            let n = reader.read(&mut buf[fill..])?;
            if n == 0 {
                break;
            }
            fill += n;
            read += n as u64;
            if fill == piece_length {
                pieces.extend_from_slice(&Sha1::digest(&buf));
                fill = 0;
            }
        }
        if read != *len || fs::metadata(path)?.len() != *len {
            return Err(io::Error::other(format!(
                "{}: changed size while it was being hashed",
                path.display()
            )));
        }
    }
    if fill > 0 {
        pieces.extend_from_slice(&Sha1::digest(&buf[..fill]));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha1(b: &[u8]) -> [u8; 20] {
        Sha1::digest(b).into()
    }

    fn d(pairs: Vec<(&str, Value)>) -> Value {
        Value::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect(),
        )
    }

    fn l(items: Vec<Value>) -> Value {
        Value::List(items)
    }

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    fn i(n: i64) -> Value {
        Value::Int(n)
    }

    /// A valid single-file info dict of 10 bytes in pieces of 4 (3 pieces).
    fn single_info() -> BTreeMap<Vec<u8>, Value> {
        let mut info = BTreeMap::new();
        info.insert(b"name".to_vec(), s("a.bin"));
        info.insert(b"length".to_vec(), i(10));
        info.insert(b"piece length".to_vec(), i(4));
        info.insert(b"pieces".to_vec(), Value::Bytes(vec![7; 60]));
        info
    }

    /// A valid multi-file info dict: files of 5, 0, 10, 3 bytes in pieces of 4 (5 pieces).
    fn multi_info() -> BTreeMap<Vec<u8>, Value> {
        let file = |len, path: &[&str]| {
            d(vec![
                ("length", i(len)),
                ("path", l(path.iter().map(|p| s(p)).collect())),
            ])
        };
        let mut info = BTreeMap::new();
        info.insert(b"name".to_vec(), s("folder"));
        info.insert(
            b"files".to_vec(),
            l(vec![
                file(5, &["a"]),
                file(0, &["empty"]),
                file(10, &["sub", "b"]),
                file(3, &["sub", "c"]),
            ]),
        );
        info.insert(b"piece length".to_vec(), i(4));
        info.insert(b"pieces".to_vec(), Value::Bytes(vec![1; 100]));
        info
    }

    fn torrent(info: BTreeMap<Vec<u8>, Value>) -> Vec<u8> {
        bencode::encode(&d(vec![
            ("announce", s("http://127.0.0.1:6969/announce")),
            ("info", Value::Dict(info)),
        ]))
    }

    fn parse(info: BTreeMap<Vec<u8>, Value>) -> Result<Metainfo, MetainfoError> {
        Metainfo::from_bytes(&torrent(info))
    }

    /// The field and reason of a rejection, as one string, for readable assertions.
    fn rejection(info: BTreeMap<Vec<u8>, Value>) -> String {
        match parse(info) {
            Ok(m) => panic!("accepted: {m:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn with(
        mut info: BTreeMap<Vec<u8>, Value>,
        key: &str,
        v: Option<Value>,
    ) -> BTreeMap<Vec<u8>, Value> {
        match v {
            Some(v) => info.insert(key.as_bytes().to_vec(), v),
            None => info.remove(key.as_bytes()),
        };
        info
    }

    fn multi_with_paths(paths: Vec<Value>) -> BTreeMap<Vec<u8>, Value> {
        let n = paths.len();
        let files = paths
            .into_iter()
            .map(|p| d(vec![("length", i(1)), ("path", p)]))
            .collect();
        let info = with(multi_info(), "files", Some(l(files)));
        let pieces = Value::Bytes(vec![0; 20 * n.div_ceil(4)]);
        with(info, "pieces", Some(pieces))
    }

    #[test]
    fn parses_single_file() {
        let bytes = torrent(single_info());
        let m = Metainfo::from_bytes(&bytes).unwrap();
        assert_eq!(
            m.announce.as_deref(),
            Some("http://127.0.0.1:6969/announce")
        );
        assert!(m.announce_list.is_empty());
        assert_eq!(m.info.name, "a.bin");
        assert!(!m.info.multi_file);
        assert!(!m.info.private);
        assert_eq!(
            m.info.files,
            vec![FileEntry {
                path: vec!["a.bin".into()],
                length: 10,
                offset: 0
            }]
        );
        assert_eq!(m.info.total_length(), 10);
        assert_eq!(m.info.piece_count(), 3);
        assert_eq!(m.info.piece_len(0), Some(4));
        assert_eq!(m.info.piece_len(2), Some(2));
        assert_eq!(m.info.piece_len(3), None);
        let raw = bencode::encode(&Value::Dict(single_info()));
        assert_eq!(m.info_hash, sha1(&raw));
    }

    #[test]
    fn parses_multi_file_and_trackers() {
        let mut top = BTreeMap::new();
        top.insert(b"info".to_vec(), Value::Dict(multi_info()));
        top.insert(
            b"announce-list".to_vec(),
            l(vec![
                l(vec![s("http://a"), s("http://b")]),
                l(vec![s("udp://c")]),
            ]),
        );
        let m = Metainfo::from_bytes(&bencode::encode(&Value::Dict(top))).unwrap();
        assert_eq!(m.announce, None);
        assert_eq!(
            m.announce_list,
            vec![vec!["http://a", "http://b"], vec!["udp://c"]]
        );
        assert!(m.info.multi_file);
        let summary: Vec<_> = m
            .info
            .files
            .iter()
            .map(|f| (f.path.join("/"), f.length, f.offset))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("a".into(), 5, 0),
                ("empty".into(), 0, 5),
                ("sub/b".into(), 10, 5),
                ("sub/c".into(), 3, 15)
            ]
        );
        assert_eq!(m.info.total_length(), 18);
        assert_eq!(m.info.piece_len(4), Some(2));
    }

    #[test]
    fn info_hash_covers_unknown_keys_as_written() {
        let plain = parse(single_info()).unwrap();
        let extra = with(single_info(), "x-unknown", Some(l(vec![i(1), s("z")])));
        let raw = bencode::encode(&Value::Dict(extra.clone()));
        let m = parse(extra).unwrap();
        assert_eq!(m.info_hash, sha1(&raw));
        assert_ne!(m.info_hash, plain.info_hash);
        assert_eq!(m.info, plain.info);
    }

    #[test]
    fn private_flag() {
        assert!(
            parse(with(single_info(), "private", Some(i(1))))
                .unwrap()
                .info
                .private
        );
        assert!(
            !parse(with(single_info(), "private", Some(i(0))))
                .unwrap()
                .info
                .private
        );
        assert!(rejection(with(single_info(), "private", Some(i(2)))).contains("0 or 1"));
    }

    #[test]
    fn rejects_bad_bencode_and_shape() {
        assert!(matches!(
            Metainfo::from_bytes(b"d4:infod"),
            Err(MetainfoError::Bencode(_))
        ));
        assert_eq!(
            Metainfo::from_bytes(b"le").unwrap_err().to_string(),
            "torrent: expected a dictionary, found a list"
        );
        assert_eq!(
            Metainfo::from_bytes(b"d8:announce1:xe")
                .unwrap_err()
                .to_string(),
            "info: is missing"
        );
        assert_eq!(
            Metainfo::from_bytes(b"d4:infoi1ee")
                .unwrap_err()
                .to_string(),
            "info: expected a dictionary, found an integer"
        );
        let bad_tier = bencode::encode(&d(vec![
            ("announce-list", l(vec![s("http://a")])),
            ("info", Value::Dict(single_info())),
        ]));
        assert_eq!(
            Metainfo::from_bytes(&bad_tier).unwrap_err().to_string(),
            "announce-list[0]: expected a list, found a byte string"
        );
    }

    #[test]
    fn rejects_bad_pieces() {
        let e = rejection(with(
            single_info(),
            "pieces",
            Some(Value::Bytes(vec![0; 59])),
        ));
        assert!(e.contains("not a multiple of 20"), "{e}");
        let e = rejection(with(
            single_info(),
            "pieces",
            Some(Value::Bytes(vec![0; 40])),
        ));
        assert!(e.contains("has 2 hashes") && e.contains("need 3"), "{e}");
        let e = rejection(with(
            single_info(),
            "pieces",
            Some(Value::Bytes(vec![0; 80])),
        ));
        assert!(e.contains("has 4 hashes"), "{e}");
        let e = rejection(with(single_info(), "pieces", Some(i(3))));
        assert!(e.starts_with("info.pieces: expected a string"), "{e}");
        let e = rejection(with(single_info(), "pieces", None));
        assert_eq!(e, "info.pieces: is missing");
    }

    #[test]
    fn rejects_bad_piece_length() {
        let e = rejection(with(single_info(), "piece length", Some(i(0))));
        assert_eq!(e, "info.piece length: must be positive, is 0");
        let e = rejection(with(single_info(), "piece length", Some(i(-16384))));
        assert!(e.contains("must be positive"), "{e}");
        let huge = i64::try_from(MAX_PIECE_LENGTH).unwrap() * 2;
        let e = rejection(with(single_info(), "piece length", Some(i(huge))));
        assert!(e.contains("larger than"), "{e}");
        let e = rejection(with(single_info(), "piece length", None));
        assert_eq!(e, "info.piece length: is missing");
    }

    #[test]
    fn rejects_bad_lengths() {
        let e = rejection(with(single_info(), "length", Some(i(-1))));
        assert_eq!(e, "info.length: negative length -1");
        let e = rejection(with(single_info(), "length", Some(i(i64::MAX))));
        assert!(e.contains("larger than"), "{e}");
        let e = rejection(with(single_info(), "length", Some(i(0))));
        assert!(e.contains("no content"), "{e}");
        let e = rejection(with(single_info(), "length", None));
        assert!(e.contains("neither"), "{e}");
        let both = with(multi_info(), "length", Some(i(18)));
        assert!(rejection(both).contains("both"));
        // Many files each under the limit whose sum overflows it.
        let big = d(vec![
            ("length", i(i64::try_from(MAX_TOTAL_LENGTH).unwrap())),
            ("path", l(vec![s("x")])),
        ]);
        let big2 = d(vec![
            ("length", i(i64::try_from(MAX_TOTAL_LENGTH).unwrap())),
            ("path", l(vec![s("y")])),
        ]);
        let e = rejection(with(multi_info(), "files", Some(l(vec![big, big2]))));
        assert!(e.contains("total size"), "{e}");
    }

    #[test]
    fn rejects_missing_or_bad_name() {
        assert_eq!(
            rejection(with(single_info(), "name", None)),
            "info.name: is missing"
        );
        for bad in ["", ".", "..", "a/b", "/etc", "a\\b", "a\0b"] {
            let e = rejection(with(single_info(), "name", Some(s(bad))));
            assert!(e.starts_with("info.name: "), "{bad:?}: {e}");
        }
        let e = rejection(with(single_info(), "name", Some(Value::Bytes(vec![0xff]))));
        assert_eq!(e, "info.name: is not valid UTF-8");
    }

    #[test]
    fn rejects_bad_file_paths() {
        let cases: Vec<(Value, &str)> = vec![
            (l(vec![s("..")]), "\"..\": path component \".\" or \"..\""),
            (l(vec![s("a"), s("."), s("b")]), "not allowed"),
            (l(vec![s("a"), s("..")]), "not allowed"),
            (l(vec![s("/etc"), s("passwd")]), "absolute path"),
            (l(vec![s("a/b")]), "contains '/'"),
            (l(vec![s("a\0")]), "contains NUL"),
            (l(vec![s("")]), "empty path component"),
            (l(vec![s("a"), s("")]), "empty path component"),
            (l(vec![]), "info.files[0].path: is empty"),
            (l(vec![i(1)]), "expected a string"),
            (s("a"), "expected a list"),
        ];
        for (path, want) in cases {
            let e = rejection(multi_with_paths(vec![path.clone()]));
            assert!(e.contains(want), "{path:?}: {e}");
            assert!(e.starts_with("info.files[0].path"), "{path:?}: {e}");
        }
    }

    #[test]
    fn rejects_bad_file_lists() {
        assert_eq!(
            rejection(with(multi_info(), "files", Some(l(vec![])))),
            "info.files: is empty"
        );
        let e = rejection(with(multi_info(), "files", Some(l(vec![i(1)]))));
        assert_eq!(e, "info.files[0]: expected a dictionary, found an integer");
        let no_len = d(vec![("path", l(vec![s("a")]))]);
        let e = rejection(with(multi_info(), "files", Some(l(vec![no_len]))));
        assert_eq!(e, "info.files[0].length: is missing");
        let e = rejection(multi_with_paths(vec![
            l(vec![s("a")]),
            l(vec![s("b")]),
            l(vec![s("a")]),
        ]));
        assert_eq!(
            e,
            "info.files[2].path: names the same file as an earlier entry"
        );
        let e = rejection(multi_with_paths(vec![
            l(vec![s("a"), s("b")]),
            l(vec![s("a")]),
            l(vec![s("a"), s("a"), s("z")]),
        ]));
        assert!(e.contains("which is a file"), "{e}");
    }

    #[test]
    fn segments_cross_file_boundaries() {
        let m = parse(multi_info()).unwrap();
        let info = &m.info;
        let seg = |file, file_offset, len| Segment {
            file,
            file_offset,
            len,
        };
        // Content: a = 0..5, empty at 5, sub/b = 5..15, sub/c = 15..18.
        assert_eq!(info.segments(0, 0, 4), Some(vec![seg(0, 0, 4)]));
        // Piece 1 = 4..8 spans a, skips the empty file, then sub/b.
        assert_eq!(
            info.segments(1, 0, 4),
            Some(vec![seg(0, 4, 1), seg(2, 0, 3)])
        );
        assert_eq!(info.segments(1, 1, 3), Some(vec![seg(2, 0, 3)]));
        assert_eq!(
            info.segments(3, 0, 4),
            Some(vec![seg(2, 7, 3), seg(3, 0, 1)])
        );
        // Last piece is 2 bytes long.
        assert_eq!(info.segments(4, 0, 2), Some(vec![seg(3, 1, 2)]));
        assert_eq!(info.segments(4, 0, 3), None);
        assert_eq!(info.segments(5, 0, 1), None);
        assert_eq!(info.segments(0, 3, 2), None);
        assert_eq!(info.segments(0, u64::MAX, 2), None);
        assert_eq!(info.segments(2, 4, 0), Some(vec![]));
        // Every piece's segments cover exactly its length.
        for p in 0..info.piece_count() {
            let len = info.piece_len(p).unwrap();
            let segs = info.segments(p, 0, len).unwrap();
            assert_eq!(segs.iter().map(|s| s.len).sum::<u64>(), len);
        }
    }

    fn content(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|k| u8::try_from(k & 0xff).unwrap().wrapping_mul(31) ^ seed)
            .collect()
    }

    /// The raw bytes of the top-level `info` value, found without our decoder: `create`
    /// writes `info` as the last key, so it runs from after `4:info` to the final `e`.
    fn raw_info_by_search(torrent: &[u8]) -> &[u8] {
        let at = torrent.windows(6).position(|w| w == b"4:info").unwrap();
        &torrent[at + 6..torrent.len() - 1]
    }

    #[test]
    fn creates_single_file_torrent() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sample.bin");
        let data = content(100_000, 0);
        fs::write(&file, &data).unwrap();

        let bytes = create(&file, "http://127.0.0.1:6969/announce", 32768).unwrap();
        let m = Metainfo::from_bytes(&bytes).unwrap();
        assert_eq!(m.info.name, "sample.bin");
        assert!(!m.info.multi_file);
        assert_eq!(m.info.total_length(), 100_000);
        assert_eq!(m.info.piece_count(), 4);
        for (k, chunk) in data.chunks(32768).enumerate() {
            assert_eq!(m.info.pieces[k], sha1(chunk));
        }
        // The hash is over the raw info bytes, located independently of our decoder.
        assert_eq!(m.info_hash, sha1(raw_info_by_search(&bytes)));
        // Stable: same input, same bytes.
        assert_eq!(
            create(&file, "http://127.0.0.1:6969/announce", 32768).unwrap(),
            bytes
        );
        // Pinned: transmission-show printed this hash for mktorrent's torrent of the same
        // file (`mktorrent -l 15`), so we agree with other clients.
        assert_eq!(
            m.info_hash_hex(),
            PINNED_SINGLE_HASH,
            "info hash changed: torrents from older versions would no longer match"
        );
        let shown = m.show();
        assert!(shown.contains(&m.info_hash_hex()), "{shown}");
        assert!(shown.contains("sample.bin"), "{shown}");
        assert!(shown.contains("pieces:      4"), "{shown}");
    }

    const PINNED_SINGLE_HASH: &str = "2408e7fcf62720dac3af30f3191c9545cd3c255a";

    #[test]
    fn creates_multi_file_torrent_hashing_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("album");
        fs::create_dir_all(root.join("b/deep")).unwrap();
        let files: Vec<(&str, Vec<u8>)> = vec![
            ("z.txt", content(3000, 1)),
            ("a.txt", content(5000, 2)),
            ("b/deep/x", content(0, 3)),
            ("b/c", content(12345, 4)),
        ];
        for (p, data) in &files {
            fs::write(root.join(p), data).unwrap();
        }
        let bytes = create(&root, "", 4096).unwrap();
        let m = Metainfo::from_bytes(&bytes).unwrap();
        assert_eq!(m.announce, None);
        assert!(m.info.multi_file);
        assert_eq!(m.info.name, "album");
        let paths: Vec<_> = m.info.files.iter().map(|f| f.path.join("/")).collect();
        assert_eq!(paths, ["a.txt", "b/c", "b/deep/x", "z.txt"]);
        // Pieces run across file boundaries: hash the concatenation in torrent order.
        let mut all = Vec::new();
        for p in &paths {
            all.extend_from_slice(&fs::read(root.join(p)).unwrap());
        }
        assert_eq!(m.info.total_length(), all.len() as u64);
        let want: Vec<[u8; 20]> = all.chunks(4096).map(sha1).collect();
        assert_eq!(m.info.pieces, want);
        assert_eq!(m.info_hash, sha1(raw_info_by_search(&bytes)));
        // Segments read back exactly the piece bytes.
        for p in 0..m.info.piece_count() {
            let len = m.info.piece_len(p).unwrap();
            let mut piece = Vec::new();
            for s in m.info.segments(p, 0, len).unwrap() {
                let data = fs::read(root.join(m.info.files[s.file].path.join("/"))).unwrap();
                let start = usize::try_from(s.file_offset).unwrap();
                let len = usize::try_from(s.len).unwrap();
                piece.extend_from_slice(&data[start..start + len]);
            }
            assert_eq!(sha1(&piece), m.info.pieces[p], "piece {p}");
        }
        assert!(m.show().contains("album/b/deep/x"));
    }

    #[test]
    fn create_rejects_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        fs::create_dir(&empty).unwrap();
        assert_eq!(
            create(&empty, "http://t", 4096).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let zero = dir.path().join("zero.bin");
        fs::write(&zero, b"").unwrap();
        assert!(create(&zero, "http://t", 4096).is_err());
        let file = dir.path().join("f");
        fs::write(&file, b"abc").unwrap();
        assert!(create(&file, "http://t", 0).is_err());
        assert!(create(&file, "http://t", MAX_PIECE_LENGTH + 1).is_err());
        assert!(create(&dir.path().join("missing"), "http://t", 4096).is_err());
    }

    #[test]
    fn reads_mktorrent_torrents_as_transmission_does() {
        // Info hashes as printed by transmission-show (see testdata/README.md).
        let m = Metainfo::from_bytes(include_bytes!("testdata/mktorrent-multi.torrent")).unwrap();
        assert_eq!(
            m.info_hash_hex(),
            "0ec21e37eabf0dd3b900d33e4aa8da0534d790c6"
        );
        assert!(m.info.multi_file);
        assert_eq!(m.info.total_length(), 163_001);
        assert_eq!(m.info.piece_count(), 5);
        let paths: Vec<_> = m.info.files.iter().map(|f| f.path.join("/")).collect();
        assert_eq!(paths, ["Zed/q", "a.txt", "b/c", "b/deep/x", "z.txt"]);

        let p = Metainfo::from_bytes(include_bytes!("testdata/mktorrent-private.torrent")).unwrap();
        assert_eq!(
            p.info_hash_hex(),
            "432913ebd396b182c8d1ab95a882a6ecf272b8af"
        );
        assert!(p.info.private);
        assert_eq!(
            p.announce_list,
            vec![
                vec!["http://a/announce"],
                vec!["http://b/announce", "http://c/announce"]
            ]
        );
    }

    proptest::proptest! {
        /// Damaged torrents are rejected or parsed, never a panic; whatever parses keeps
        /// the invariants storage relies on.
        #[test]
        fn damaged_torrents_never_panic(
            edits in proptest::collection::vec((0usize..1000, proptest::prelude::any::<u8>()), 1..4),
            cut in 0usize..1000,
        ) {
            for base in [torrent(multi_info()), torrent(single_info())] {
                let mut bytes = base.clone();
                for (at, b) in &edits {
                    let at = at % bytes.len();
                    bytes[at] = *b;
                }
                bytes.truncate(bytes.len() - cut % 8);
                if let Ok(m) = Metainfo::from_bytes(&bytes) {
                    let info = &m.info;
                    let mut covered = 0;
                    for p in 0..info.piece_count() {
                        let len = info.piece_len(p).unwrap();
                        let segs = info.segments(p, 0, len).unwrap();
                        covered += segs.iter().map(|s| s.len).sum::<u64>();
                    }
                    proptest::prop_assert_eq!(covered, info.total_length());
                }
            }
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(256 << 10), "256.0 KiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
