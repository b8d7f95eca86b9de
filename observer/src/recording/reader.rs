//! Reads recordings back: every intact record, in order, and where and how a file is damaged.
//!
//! Damage policy: by default reading stops at the first damaged frame of a file — everything
//! before it is returned, and the damage is reported as one line naming the file and byte
//! offset. With `force`, reading skips to the next frame that checks out and goes on.

use std::path::{Path, PathBuf};

use super::{
    frame::{self, FrameError},
    records::Record,
};

/// A problem in a file, at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub file: PathBuf,
    pub offset: u64,
    pub what: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: at byte {}: {}",
            self.file.display(),
            self.offset,
            self.what
        )
    }
}

#[derive(Debug, Default)]
pub struct Reading {
    /// (file, byte offset, record), in file order.
    pub records: Vec<(PathBuf, u64, Record)>,
    pub damage: Vec<Damage>,
    /// Intact frames this observer does not understand (written by a newer one).
    pub unknown: u64,
}

/// Reads one file. Errors that make the whole file unreadable (missing, a directory, no
/// permission, not a recording, a newer format) come back as `Err`, as one line.
pub fn read_file(path: &Path, force: bool, into: &mut Reading) -> Result<(), Damage> {
    let damage = |what: String| Damage {
        file: path.to_owned(),
        offset: 0,
        what,
    };
    if path.is_dir() {
        return Err(damage("is a directory, not a recording".into()));
    }
    let bytes = std::fs::read(path).map_err(|e| damage(format!("cannot read: {e}")))?;
    read_bytes(path, &bytes, force, into)
}

/// Reads a recording's bytes; `name` is the file they came from, for the damage lines.
/// Whatever the bytes, this returns (the fuzz target `reader` holds it to that).
pub fn read_bytes(
    name: &Path,
    bytes: &[u8],
    force: bool,
    into: &mut Reading,
) -> Result<(), Damage> {
    let damage = |offset: u64, what: String| Damage {
        file: name.to_owned(),
        offset,
        what,
    };
    frame::check_header(bytes).map_err(|e| damage(0, e.to_string()))?;
    let mut at = frame::HEADER_LEN;
    while at < bytes.len() {
        match frame::decode(&bytes[at..]) {
            Ok((body, n)) => {
                match serde_json::from_slice::<Record>(body) {
                    Ok(r) => into.records.push((name.to_owned(), at as u64, r)),
                    Err(_) => into.unknown += 1,
                }
                at += n;
            }
            Err(e) => {
                into.damage
                    .push(damage(at as u64, describe(&e, bytes.len() - at)));
                match force.then(|| frame::resync(bytes, at + 1)).flatten() {
                    Some(next) => at = next,
                    None => break,
                }
            }
        }
    }
    Ok(())
}

fn describe(e: &FrameError, left: usize) -> String {
    match e {
        FrameError::Truncated(_) => format!(
            "{e} ({left} bytes of it; the recorder was stopped while writing it, or the disk was full)"
        ),
        _ => format!(
            "{e}; the records before this are intact (use --force to look for intact records after it)"
        ),
    }
}

/// Reads several files, oldest first (by their first session's start), so `FILE*` globs, which
/// list FILE before FILE.1, still come out in time order. Files that cannot be read at all are
/// reported in `damage` and skipped.
pub fn read_all(paths: &[PathBuf], force: bool) -> Reading {
    let mut out = Reading::default();
    let mut per_file: Vec<Reading> = Vec::new();
    for p in paths {
        let mut r = Reading::default();
        if let Err(d) = read_file(p, force, &mut r) {
            out.damage.push(d);
            continue;
        }
        per_file.push(r);
    }
    per_file.sort_by_key(|r| {
        r.records.iter().find_map(|(_, _, rec)| match rec {
            Record::Session(s) => Some(s.started.clone()),
            _ => None,
        })
    });
    for r in per_file {
        out.records.extend(r.records);
        out.damage.extend(r.damage);
        out.unknown += r.unknown;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::frame;

    fn recording(bodies: &[&[u8]]) -> Vec<u8> {
        let mut bytes = frame::header().to_vec();
        for b in bodies {
            bytes.extend(frame::encode(b));
        }
        bytes
    }

    #[test]
    fn bytes_read_like_the_file_they_came_from() {
        let drops = br#"{"drops":{"new":1,"total":2}}"#;
        let bytes = recording(&[drops, b"{\"from-a-newer-observer\":1}", drops]);
        let path = std::env::temp_dir().join(format!("observer-reader-{}.rec", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let (mut from_file, mut from_bytes) = (Reading::default(), Reading::default());
        read_file(&path, false, &mut from_file).unwrap();
        read_bytes(&path, &bytes, false, &mut from_bytes).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(from_file.records, from_bytes.records);
        assert_eq!(from_bytes.records.len(), 2);
        assert_eq!(from_bytes.unknown, 1);
        assert!(from_bytes.damage.is_empty());
    }

    #[test]
    fn damage_is_skipped_only_when_forced() {
        let drops: &[u8] = br#"{"drops":{"new":1,"total":2}}"#;
        let mut bytes = recording(&[drops, drops, drops]);
        let second = frame::HEADER_LEN + frame::FRAME_OVERHEAD + drops.len();
        bytes[second + 13] ^= 0x40;
        for (force, kept) in [(false, 1), (true, 2)] {
            let mut r = Reading::default();
            read_bytes(Path::new("x.rec"), &bytes, force, &mut r).unwrap();
            assert_eq!(r.records.len(), kept, "force {force}");
            assert_eq!(r.damage.len(), 1);
            assert_eq!(r.damage[0].offset, second as u64);
            assert!(r.damage[0].to_string().starts_with("x.rec: at byte "));
        }
        let e = read_bytes(Path::new("x.rec"), b"", false, &mut Reading::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.rec: at byte 0: empty file: not a recording"
        );
    }
}
