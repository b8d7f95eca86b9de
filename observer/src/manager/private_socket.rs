//! systemd's private socket as a zbus socket: the read half rewrites systemd's sender field so
//! that zbus accepts its messages (`SenderFix`).

use std::{collections::VecDeque, os::fd::OwnedFd};

/// systemd's private socket, as a zbus socket that tolerates systemd's sender field.
///
/// On direct connections systemd sets the sender of everything it sends to
/// "org.freedesktop.systemd1" (`sd_bus_set_sender()` in bus_on_connection(), src/core/dbus.c).
/// The D-Bus spec wants a unique name there, and zbus refuses any other message header
/// ("Invalid unique name"). The read half rewrites that field in place to ":rg.freedesktop.systemd1"
/// (same length, a valid unique name, so nothing else in the message moves). We never look at the
/// sender.
#[derive(Debug)]
pub(super) struct PrivateSocket(pub(super) tokio::net::UnixStream);

impl zbus::connection::Socket for PrivateSocket {
    type ReadHalf = PrivateReader;
    type WriteHalf = PrivateWriter;

    fn split(self) -> zbus::connection::socket::Split<PrivateReader, PrivateWriter> {
        let (r, w) = self.0.into_split();
        zbus::connection::socket::Split::new(
            PrivateReader {
                half: r,
                fix: SenderFix::default(),
                ready: VecDeque::new(),
            },
            PrivateWriter(w),
        )
    }
}

#[derive(Debug)]
pub(super) struct PrivateReader {
    half: tokio::net::unix::OwnedReadHalf,
    fix: SenderFix,
    /// Bytes already fixed and not yet handed to zbus.
    ready: VecDeque<u8>,
}

#[zbus::export::async_trait::async_trait]
impl zbus::connection::socket::ReadHalf for PrivateReader {
    async fn recvmsg(&mut self, buf: &mut [u8]) -> std::io::Result<(usize, Vec<OwnedFd>)> {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 4096];
        while self.ready.is_empty() {
            let n = self.half.read(&mut chunk).await?;
            if n == 0 {
                // EOF: hand over whatever is held back, zbus reports the truncation.
                self.ready.extend(self.fix.flush());
                if self.ready.is_empty() {
                    return Ok((0, Vec::new()));
                }
                break;
            }
            self.fix.feed(&chunk[..n], &mut self.ready);
        }
        let n = buf.len().min(self.ready.len());
        for (d, s) in buf.iter_mut().zip(self.ready.drain(..n)) {
            *d = s;
        }
        Ok((n, Vec::new()))
    }
}

#[derive(Debug)]
pub(super) struct PrivateWriter(tokio::net::unix::OwnedWriteHalf);

#[zbus::export::async_trait::async_trait]
impl zbus::connection::socket::WriteHalf for PrivateWriter {
    async fn sendmsg(
        &mut self,
        buffer: &[u8],
        fds: &[std::os::fd::BorrowedFd<'_>],
    ) -> std::io::Result<usize> {
        use tokio::io::AsyncWriteExt;
        if !fds.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "this socket passes no fds",
            ));
        }
        self.0.write(buffer).await
    }

    async fn close(&mut self) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.0.shutdown().await
    }
}

/// Finds message headers in the byte stream from the server and fixes their sender field.
///
/// The stream starts with the text of the authentication (up to the server's "OK <guid>" line),
/// then carries D-Bus messages: a 16-byte fixed header whose last word is the length of the
/// header-field array, the fields, padding to 8, then the body (its length is in the fixed header).
#[derive(Debug, Default)]
pub(super) struct SenderFix {
    authenticated: bool,
    /// The current line of the authentication.
    line: Vec<u8>,
    /// The header being collected.
    header: Vec<u8>,
    /// Body bytes still to pass through.
    body_left: usize,
    /// Not D-Bus after all: pass everything through untouched.
    broken: bool,
}

/// `SENDER` in the D-Bus header-field codes.
const FIELD_SENDER: u8 = 7;

/// Larger headers than this are not what systemd sends (the spec's limit for whole messages is
/// 128 MiB; headers are a few hundred bytes).
const HEADER_MAX: usize = 64 * 1024;

impl SenderFix {
    pub(super) fn feed(&mut self, mut input: &[u8], out: &mut VecDeque<u8>) {
        while !input.is_empty() {
            if self.broken {
                out.extend(input);
                return;
            }
            if !self.authenticated {
                let b = input[0];
                input = &input[1..];
                out.push_back(b);
                self.line.push(b);
                if self.line.ends_with(b"\r\n") {
                    self.authenticated = self.line.starts_with(b"OK ");
                    self.line.clear();
                }
            } else if self.body_left > 0 {
                let n = self.body_left.min(input.len());
                out.extend(&input[..n]);
                self.body_left -= n;
                input = &input[n..];
            } else {
                // First the fixed 16 bytes, then the rest of the header they announce.
                let want = self.header_len().unwrap_or(16);
                let n = (want - self.header.len()).min(input.len());
                self.header.extend_from_slice(&input[..n]);
                input = &input[n..];
                if self.header_len() == Some(self.header.len()) {
                    self.finish_header(out);
                } else if self.header_len().is_some_and(|l| l > HEADER_MAX) {
                    self.broken = true;
                    out.extend(self.header.drain(..));
                }
            }
        }
    }

    /// Everything held back (at EOF).
    pub(super) fn flush(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.header)
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.header.get(at..at + 4)?.try_into().ok()?;
        Some(match self.header[0] {
            b'l' => u32::from_le_bytes(b),
            _ => u32::from_be_bytes(b),
        })
    }

    /// Length of the whole header including padding, once the fixed part is in.
    fn header_len(&self) -> Option<usize> {
        let fields = self.u32_at(12)? as usize;
        Some(16 + fields.next_multiple_of(8))
    }

    fn finish_header(&mut self, out: &mut VecDeque<u8>) {
        if !matches!(self.header[0], b'l' | b'B') {
            self.broken = true;
        } else {
            self.body_left = self.u32_at(4).unwrap_or(0) as usize;
            self.fix_sender();
        }
        out.extend(self.header.drain(..));
    }

    /// Walks the header fields (each a (code, variant) struct aligned to 8) to the sender.
    fn fix_sender(&mut self) {
        let end = 16 + self.u32_at(12).unwrap_or(0) as usize;
        let mut p = 16;
        while p < end {
            let Some(&[code, siglen]) = self.header.get(p..p + 2) else {
                return;
            };
            let sig_at = p + 2;
            let Some(sig) = self.header.get(sig_at..sig_at + siglen as usize) else {
                return;
            };
            let mut v = sig_at + siglen as usize + 1;
            match sig {
                b"s" | b"o" => {
                    v = v.next_multiple_of(4);
                    let Some(len) = self.u32_at(v) else { return };
                    let (start, len) = (v + 4, len as usize);
                    if code == FIELD_SENDER
                        && let Some(name) = self.header.get_mut(start..start + len)
                    {
                        make_unique_name(name);
                    }
                    v = start + len + 1;
                }
                b"g" => v += 1 + *self.header.get(v).unwrap_or(&0) as usize + 1,
                b"u" => v = v.next_multiple_of(4) + 4,
                _ => return,
            }
            p = v.next_multiple_of(8);
        }
    }
}

/// Turns a well-known name into a unique name of the same length (first byte → ':') when the
/// result is one; leaves unique names and "org.freedesktop.DBus" (which zbus accepts) alone.
pub(super) fn make_unique_name(name: &mut [u8]) {
    if name.first() == Some(&b':') || name == b"org.freedesktop.DBus" || name.len() < 4 {
        return;
    }
    let elements: Vec<&[u8]> = name[1..].split(|b| *b == b'.').collect();
    let ok = elements.len() >= 2
        && elements.iter().all(|e| {
            !e.is_empty()
                && e.iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        });
    if ok {
        name[0] = b':';
    }
}
