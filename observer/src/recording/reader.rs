//! Reads recordings back: every intact record, in order, and where and how a file is damaged.
//!
//! Damage policy: by default reading stops at the first damaged frame of a file — everything
//! before it is returned, and the damage is reported as one line naming the file and byte
//! offset. With `force`, reading skips to the next frame that checks out and goes on.
//!
//! Files are streamed a frame at a time ([`Stream`]): memory holds one record's body, never the
//! file, so a huge file costs no more than a small one and a file that is not a recording is
//! refused after its 16-byte header. Only regular files are read: a FIFO would block forever,
//! /dev/zero would never end.

use std::{
    cmp::Reverse,
    collections::VecDeque,
    fs::File,
    io::{BufReader, Read, Seek, SeekFrom},
    os::unix::fs::OpenOptionsExt as _,
    path::{Path, PathBuf},
};

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

/// Records read whole (diagnose and report need them all; replay streams instead).
#[derive(Debug, Default)]
pub struct Reading {
    /// (file, byte offset, record), in file order.
    pub records: Vec<(PathBuf, u64, Record)>,
    pub damage: Vec<Damage>,
    /// Intact frames this observer does not understand (written by a newer one).
    pub unknown: u64,
    /// Files that could be opened as recordings (the others are in `damage`).
    pub files: usize,
}

/// One recording read frame by frame.
pub struct Stream<R> {
    name: PathBuf,
    r: R,
    /// Byte offset of the next frame, and of the file's end.
    at: u64,
    end: u64,
    force: bool,
    done: bool,
    body: Vec<u8>,
    /// Records read ahead (the first, to order files by it) and not handed out yet.
    ahead: VecDeque<(u64, Record)>,
    pub damage: Vec<Damage>,
    pub unknown: u64,
}

impl<R: Read + Seek> Stream<R> {
    /// Checks the header. Errors that make the whole file unreadable (not a recording, a newer
    /// format) come back as `Err`, as one line.
    pub fn new(name: &Path, mut r: R, force: bool) -> Result<Self, Damage> {
        let damage = |what: String| Damage {
            file: name.to_owned(),
            offset: 0,
            what,
        };
        let mut head = [0u8; frame::HEADER_LEN];
        let n =
            frame::read_full(&mut r, &mut head).map_err(|e| damage(format!("cannot read: {e}")))?;
        frame::check_header(&head[..n]).map_err(|e| damage(e.to_string()))?;
        let end = r
            .seek(SeekFrom::End(0))
            .and_then(|end| {
                r.seek(SeekFrom::Start(frame::HEADER_LEN as u64))
                    .map(|_| end)
            })
            .map_err(|e| damage(format!("cannot read: {e}")))?;
        Ok(Self {
            name: name.to_owned(),
            r,
            at: frame::HEADER_LEN as u64,
            end,
            force,
            done: false,
            body: Vec::new(),
            ahead: VecDeque::new(),
            damage: Vec::new(),
            unknown: 0,
        })
    }

    pub fn name(&self) -> &Path {
        &self.name
    }

    /// How far reading has got, in bytes.
    pub fn position(&self) -> u64 {
        if self.done { self.end } else { self.at }
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.end
    }

    /// The next intact record and its offset; damage met on the way is kept in `damage`.
    pub fn next_record(&mut self) -> Option<(u64, Record)> {
        if let Some(r) = self.ahead.pop_front() {
            return Some(r);
        }
        while !self.done {
            let at = self.at;
            match frame::read(&mut self.r, &mut self.body) {
                Ok(None) => self.done = true,
                Ok(Some(n)) => {
                    self.at += n as u64;
                    match super::from_body(&self.body) {
                        Some(r) => return Some((at, r)),
                        None => self.unknown += 1,
                    }
                }
                Err(e) => {
                    self.damage.push(Damage {
                        file: self.name.clone(),
                        offset: at,
                        what: describe(&e, self.end.saturating_sub(at)),
                    });
                    self.skip_damage(at, &e);
                }
            }
        }
        None
    }

    /// After damage at `at`: on to the next intact frame with `force`, else stop.
    fn skip_damage(&mut self, at: u64, e: &FrameError) {
        if !self.force || matches!(e, FrameError::Io(_)) {
            self.done = true;
            return;
        }
        match frame::resync(&mut self.r, at + 1) {
            Ok(Some(next)) if self.r.seek(SeekFrom::Start(next)).is_ok() => self.at = next,
            Ok(_) => self.done = true,
            Err(e) => {
                self.damage.push(Damage {
                    file: self.name.clone(),
                    offset: at,
                    what: e.to_string(),
                });
                self.done = true;
            }
        }
    }

    /// When the file's first record is a session: when this file was begun (FILE.1 … were
    /// begun at their rotation), for putting files in time order.
    fn begun(&mut self) -> Option<String> {
        let first = self.next_record()?;
        let begun = match &first.1 {
            Record::Session(s) => Some(s.file_started.clone().unwrap_or(s.started.clone())),
            _ => None,
        };
        self.ahead.push_front(first);
        begun
    }
}

fn describe(e: &FrameError, left: u64) -> String {
    match e {
        FrameError::Truncated(_) => format!(
            "{e} ({left} bytes of it; the recorder was stopped while writing it, or the disk was full)"
        ),
        FrameError::Io(_) => e.to_string(),
        _ => format!(
            "{e}; the records before this are intact (use --force to look for intact records after it)"
        ),
    }
}

/// Opens a recording file: a regular file, opened without blocking (a FIFO put in its place
/// must not hang the reader), its header checked.
pub fn open(path: &Path, force: bool) -> Result<Stream<BufReader<File>>, Damage> {
    let damage = |what: String| Damage {
        file: path.to_owned(),
        offset: 0,
        what,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| damage(format!("cannot read: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| damage(format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return Err(damage("is a directory, not a recording".into()));
    }
    if !meta.is_file() {
        return Err(damage(
            "is not a regular file (a FIFO, device or socket), not a recording".into(),
        ));
    }
    Stream::new(path, BufReader::new(file), force)
}

/// Several recording files, opened and put in time order, read one after the other.
pub struct Files {
    files: VecDeque<Stream<BufReader<File>>>,
    /// Files that could not be opened as recordings.
    pub damage: Vec<Damage>,
    pub unknown: u64,
    /// Bytes of the files done with, and of all of them.
    done_bytes: u64,
    total_bytes: u64,
    pub opened: usize,
}

/// Opens `paths` oldest first (by when each file was begun), so `FILE*` globs, which list FILE
/// before FILE.1, still come out in time order; for files that say the same (written before
/// files carried their own start), FILE.2 before FILE.1 before FILE. Files that cannot be read
/// at all are reported in `damage` and skipped.
pub fn open_all(paths: &[PathBuf], force: bool) -> Files {
    let mut damage = Vec::new();
    // (when begun, rotation number, the file): the sort key first.
    type Opened = (Option<String>, Reverse<u32>, Stream<BufReader<File>>);
    let mut files: Vec<Opened> = Vec::new();
    for p in paths {
        match open(p, force) {
            Ok(mut s) => files.push((s.begun(), Reverse(rotation_number(p)), s)),
            Err(d) => damage.push(d),
        }
    }
    files.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let total_bytes = files.iter().map(|f| f.2.size()).sum();
    Files {
        opened: files.len(),
        files: files.into_iter().map(|f| f.2).collect(),
        damage,
        unknown: 0,
        done_bytes: 0,
        total_bytes,
    }
}

/// N of a rotated `FILE.N`; 0 for the file being written.
fn rotation_number(path: &Path) -> u32 {
    path.extension()
        .and_then(|e| e.to_str())
        .and_then(|e| e.parse().ok())
        .unwrap_or(0)
}

impl Files {
    /// The next record of the files, in order (file, offset, record).
    pub fn next_record(&mut self) -> Option<(PathBuf, u64, Record)> {
        loop {
            let f = self.files.front_mut()?;
            if let Some((at, r)) = f.next_record() {
                return Some((f.name().to_owned(), at, r));
            }
            let f = self.files.pop_front()?;
            self.done_bytes += f.size();
            self.damage.extend(f.damage);
            self.unknown += f.unknown;
        }
    }

    /// Bytes read so far and in all, for a progress bar.
    pub fn progress(&self) -> (u64, u64) {
        let current = self.files.front().map_or(0, Stream::position);
        (self.done_bytes + current, self.total_bytes)
    }

    /// Everything left, read whole.
    pub fn read_whole(mut self) -> Reading {
        let mut records = Vec::new();
        while let Some(r) = self.next_record() {
            records.push(r);
        }
        Reading {
            records,
            damage: self.damage,
            unknown: self.unknown,
            files: self.opened,
        }
    }
}

/// Reads several files whole, in time order (see [`open_all`]).
pub fn read_all(paths: &[PathBuf], force: bool) -> Reading {
    open_all(paths, force).read_whole()
}

/// Reads one file. Errors that make the whole file unreadable (missing, a directory, not a
/// regular file, no permission, not a recording, a newer format) come back as `Err`, as one line.
pub fn read_file(path: &Path, force: bool, into: &mut Reading) -> Result<(), Damage> {
    drain(open(path, force)?, into);
    Ok(())
}

/// Reads a recording's bytes; `name` is the file they came from, for the damage lines.
/// Whatever the bytes, this returns (the fuzz target `reader` holds it to that).
pub fn read_bytes(
    name: &Path,
    bytes: &[u8],
    force: bool,
    into: &mut Reading,
) -> Result<(), Damage> {
    drain(Stream::new(name, std::io::Cursor::new(bytes), force)?, into);
    Ok(())
}

fn drain<R: Read + Seek>(mut s: Stream<R>, into: &mut Reading) {
    while let Some((at, r)) = s.next_record() {
        into.records.push((s.name().to_owned(), at, r));
    }
    into.damage.append(&mut s.damage);
    into.unknown += s.unknown;
    into.files += 1;
}

#[cfg(test)]
mod tests;
