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

/// Reads the frame at the start of `bytes`: its body and the frame's total length.
pub fn decode(bytes: &[u8]) -> Result<(&[u8], usize), FrameError> {
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
    let end = FRAME_OVERHEAD + len as usize;
    let body = bytes
        .get(FRAME_OVERHEAD..end)
        .ok_or(FrameError::Truncated("a record"))?;
    if checksum(len, body) != sum {
        return Err(FrameError::Checksum);
    }
    Ok((body, end))
}

/// Where the next frame that checks out starts, searching from `from` (for `--force`).
pub fn resync(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len().saturating_sub(FRAME_OVERHEAD - 1))
        .filter(|&at| bytes[at..].starts_with(SYNC))
        .find(|&at| decode(&bytes[at..]).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let f = encode(b"{\"a\":1}");
        assert_eq!(decode(&f), Ok((&b"{\"a\":1}"[..], f.len())));
        assert_eq!(check_header(&header()), Ok(VERSION));
    }

    #[test]
    fn every_truncation_is_reported_not_misread() {
        let f = encode(b"hello world");
        for cut in 0..f.len() {
            let e = decode(&f[..cut]).unwrap_err();
            assert!(matches!(e, FrameError::Truncated(_)), "cut {cut}: {e:?}");
        }
        for cut in 1..HEADER_LEN {
            assert!(matches!(
                check_header(&header()[..cut]),
                Err(FrameError::Truncated(_))
            ));
        }
        assert_eq!(check_header(&[]), Err(FrameError::Empty));
    }

    #[test]
    fn every_bit_flip_is_caught() {
        let f = encode(b"READY=1");
        for byte in 0..f.len() {
            for bit in 0..8 {
                let mut g = f.clone();
                g[byte] ^= 1 << bit;
                assert!(decode(&g).is_err(), "flip {byte}:{bit} went unnoticed");
            }
        }
    }

    #[test]
    fn header_errors() {
        assert_eq!(check_header(b"GARBAGE!xxxxxxxx"), Err(FrameError::Magic));
        let mut h = header();
        h[8] = 2;
        assert_eq!(check_header(&h), Err(FrameError::FutureVersion(2)));
    }

    #[test]
    fn resync_skips_damage() {
        let mut bytes = encode(b"one");
        let second = bytes.len();
        bytes.extend(encode(b"two"));
        bytes[5] ^= 0xff;
        assert!(decode(&bytes).is_err());
        assert_eq!(resync(&bytes, 1), Some(second));
    }
}
