//! The byte layout of a recording: a file header, then frames, each self-checking.
//!
//! ```text
//! header  "OBSNOTIF" (8)  version u32 LE  reserved u32 (0)
//! frame   sync "REC\x1e" (4)  body length u32 LE  CRC-32 u32 LE of (length ‖ body)  body
//! ```
//!
//! Frames are appended whole with one write(2) each, so a reader meets at most one torn frame,
//! at the end. The checksum covers the length too: a flipped length bit is caught, not followed.
//! The sync word lets a reader that was told to go on past damage (`--force`) find the next
//! intact frame. Bodies are JSON (records.rs): fields can be added without a version bump.
//!
//! Reading is frame by frame from a stream ([`read`]): at most one body (BODY_MAX) is held,
//! whatever the file's size or what it claims.

use std::io::{Read, Seek, SeekFrom};

use thiserror::Error;

pub const MAGIC: &[u8; 8] = b"OBSNOTIF";
/// Bumped only for changes an older reader would misread; new JSON fields do not count.
pub const VERSION: u32 = 1;
pub const HEADER_LEN: usize = 16;
pub const SYNC: &[u8; 4] = b"REC\x1e";
pub const FRAME_OVERHEAD: usize = 12;
/// No record comes near this (an event is a few KiB); a larger length is damage.
pub const BODY_MAX: u32 = 1 << 20;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("empty file: not a recording")]
    Empty,
    #[error("not a recording (bad magic)")]
    Magic,
    #[error(
        "recording format version {0} is newer than this observer reads ({VERSION}); upgrade observer"
    )]
    FutureVersion(u32),
    #[error("truncated: the file ends inside {0}")]
    Truncated(&'static str),
    #[error("damaged: no frame marker where a record should start")]
    Sync,
    #[error("damaged: record length {0} is impossible")]
    Length(u32),
    #[error("damaged: checksum mismatch")]
    Checksum,
    #[error("cannot read: {0}")]
    Io(String),
}

impl From<std::io::Error> for FrameError {
    fn from(e: std::io::Error) -> Self {
        FrameError::Io(e.to_string())
    }
}

pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Checks a file's first bytes; returns its format version.
pub fn check_header(bytes: &[u8]) -> Result<u32, FrameError> {
    if bytes.is_empty() {
        return Err(FrameError::Empty);
    }
    if bytes.len() < MAGIC.len() || &bytes[..8] != MAGIC {
        return Err(if MAGIC.starts_with(bytes) {
            FrameError::Truncated("the file header")
        } else {
            FrameError::Magic
        });
    }
    let version = u32::from_le_bytes(
        bytes
            .get(8..12)
            .ok_or(FrameError::Truncated("the file header"))?
            .try_into()
            .expect("4 bytes"),
    );
    if version > VERSION {
        return Err(FrameError::FutureVersion(version));
    }
    if bytes.len() < HEADER_LEN {
        return Err(FrameError::Truncated("the file header"));
    }
    Ok(version)
}

/// One frame around `body`, ready for a single write.
pub fn encode(body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).expect("record bodies are small");
    let mut out = Vec::with_capacity(FRAME_OVERHEAD + body.len());
    out.extend_from_slice(SYNC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(len, body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn checksum(len: u32, body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(body);
    h.finalize()
}

/// A frame's header (the first FRAME_OVERHEAD bytes, or fewer at the end of a file): its body
/// length and checksum.
fn frame_head(bytes: &[u8]) -> Result<(u32, u32), FrameError> {
    if bytes.len() < FRAME_OVERHEAD {
        return Err(if SYNC.starts_with(&bytes[..bytes.len().min(4)]) {
            FrameError::Truncated("a record header")
        } else {
            FrameError::Sync
        });
    }
    if &bytes[..4] != SYNC {
        return Err(FrameError::Sync);
    }
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let (len, sum) = (word(4), word(8));
    if len > BODY_MAX {
        return Err(FrameError::Length(len));
    }
    Ok((len, sum))
}

/// Reads the frame at the start of `bytes`: its body and the frame's total length.
pub fn decode(bytes: &[u8]) -> Result<(&[u8], usize), FrameError> {
    let (len, sum) = frame_head(bytes)?;
    let end = FRAME_OVERHEAD + len as usize;
    let body = bytes
        .get(FRAME_OVERHEAD..end)
        .ok_or(FrameError::Truncated("a record"))?;
    if checksum(len, body) != sum {
        return Err(FrameError::Checksum);
    }
    Ok((body, end))
}

/// Reads the frame at `r`'s position into `body`: the frame's total length, or None at the end
/// of the file. Reads no more than the frame, and at most FRAME_OVERHEAD + BODY_MAX bytes.
pub fn read<R: Read>(r: &mut R, body: &mut Vec<u8>) -> Result<Option<usize>, FrameError> {
    let mut head = [0u8; FRAME_OVERHEAD];
    let n = read_full(r, &mut head)?;
    if n == 0 {
        return Ok(None);
    }
    let (len, sum) = frame_head(&head[..n])?;
    body.clear();
    body.resize(len as usize, 0);
    if read_full(r, body)? < body.len() {
        return Err(FrameError::Truncated("a record"));
    }
    if checksum(len, body) != sum {
        return Err(FrameError::Checksum);
    }
    Ok(Some(FRAME_OVERHEAD + len as usize))
}

/// Fills `buf` from `r` as far as the data goes: fewer bytes only at its end.
pub fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Where the next frame that checks out starts, at or after `from` (for `--force`), reading a
/// window at a time. Leaves `r` anywhere: seek to the answer.
pub fn resync<R: Read + Seek>(r: &mut R, from: u64) -> Result<Option<u64>, FrameError> {
    const WINDOW: usize = 64 * 1024;
    let (mut window, mut body) = (vec![0u8; WINDOW], Vec::new());
    let mut pos = from;
    loop {
        r.seek(SeekFrom::Start(pos))?;
        let n = read_full(r, &mut window)?;
        if n < SYNC.len() {
            return Ok(None);
        }
        for i in 0..=n - SYNC.len() {
            if &window[i..i + SYNC.len()] == SYNC {
                let at = pos + i as u64;
                r.seek(SeekFrom::Start(at))?;
                if let Ok(Some(_)) = read(r, &mut body) {
                    return Ok(Some(at));
                }
            }
        }
        // The next window starts where a marker cut at this one's end would.
        pos += (n - (SYNC.len() - 1)) as u64;
    }
}

#[cfg(test)]
mod tests;
