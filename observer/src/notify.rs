//! Parses an sd_notify(3) datagram exactly the way systemd's service manager splits and reads it.
//!
//! Pure logic, no I/O. Every rule names the systemd function it mirrors and where it lives in the
//! versions read: v252.39, v254.26, v257.13 and v262 (Debian source packages), plus a v255-era git
//! snapshot (commit 8017ed7e). Version-dependent *judgement* lives in `verdict/`; this module
//! only describes what is in the payload, using the value rules that hold in every version read.
//!
//! Splitting (`strv_split_newlines()`, src/basic/strv.c:241 v252.39, :383 v257.13, :380 v262),
//! which calls `extract_first_word(…, "\n\r", 0)` (src/basic/extract-word.c:20 v252/v257, :10 v262):
//! * both `\n` and `\r` separate lines, runs of them are coalesced: empty lines, CRLF and a
//!   trailing newline never produce a field;
//! * a backslash is an escape: it is dropped and the next byte is kept literally, even `\n`
//!   (so `A=1\<LF>B=2` is ONE line). A backslash at the very end makes the split fail with
//!   -EINVAL (extract-word.c:88), which systemd reports as "Out of memory." and drops the message;
//! * a line is not trimmed: `READY=1 ` (trailing space) is not `READY=1`.
//!
//! Reading (`service_notify_message()`, src/core/service.c:4119 v252.39, :4630 v257.13):
//! * flags (`READY=1`, `STOPPING=1`, `FDSTORE=1`, …) are looked up with `strv_contains()`: the
//!   whole line must equal `KEY=1`; any one such line counts, wherever it is;
//! * values (`STATUS=`, `MAINPID=`, …) are looked up with `strv_find_startswith()` (strv.c:49
//!   v252.39): the FIRST line starting with `KEY=` wins, later duplicates are ignored;
//! * keys are case-sensitive; unknown keys and lines without `=` are ignored silently.

use serde::Serialize;

use crate::systemd_basic::errno_list::Errno;

/// Largest datagram systemd reads: `NOTIFY_BUFFER_MAX` = `PIPE_BUF` (src/basic/def.h:28 v252.39,
/// src/basic/constants.h:57 v257.13). A datagram of exactly 4096 bytes is still accepted.
pub const NOTIFY_BUFFER_MAX: usize = 4096;
/// Most fds systemd makes room for in one message: `NOTIFY_FD_MAX` (def.h:27 v252.39,
/// constants.h:56 v257.13). More truncate the control data and the message is dropped.
pub const NOTIFY_FD_MAX: u32 = 768;
/// `FDNAME_MAX` (src/basic/fd-util.h): longest file descriptor name.
const FDNAME_MAX: usize = 255;

/// What a line's key means to systemd. Serialized in snake_case, e.g. `main_pid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    Ready,
    Status,
    MainPid,
    /// `MAINPIDFD=1` (v257+): the new main process is the one fd sent along.
    MainPidFd,
    /// `MAINPIDFDID=` (v257+): pidfd inode id validating `MAINPID=`.
    MainPidFdId,
    Reloading,
    MonotonicUsec,
    Stopping,
    Errno,
    BusError,
    VarlinkError,
    ExitStatus,
    Watchdog,
    WatchdogUsec,
    ExtendTimeoutUsec,
    FdStore,
    FdStoreRemove,
    FdName,
    FdPoll,
    NotifyAccess,
    Barrier,
    /// `RESTART_RESET=1` (v258+, NEWS "CHANGES WITH 258").
    RestartReset,
    /// `X_…`: private extensions, never interpreted by systemd.
    Custom,
    /// Anything else, including lines without `=`; kept verbatim in `Field::name`.
    Unknown,
}

const KEYS: &[(&str, Key)] = &[
    ("READY", Key::Ready),
    ("STATUS", Key::Status),
    ("MAINPID", Key::MainPid),
    ("MAINPIDFD", Key::MainPidFd),
    ("MAINPIDFDID", Key::MainPidFdId),
    ("RELOADING", Key::Reloading),
    ("MONOTONIC_USEC", Key::MonotonicUsec),
    ("STOPPING", Key::Stopping),
    ("ERRNO", Key::Errno),
    ("BUSERROR", Key::BusError),
    ("VARLINKERROR", Key::VarlinkError),
    ("EXIT_STATUS", Key::ExitStatus),
    ("WATCHDOG", Key::Watchdog),
    ("WATCHDOG_USEC", Key::WatchdogUsec),
    ("EXTEND_TIMEOUT_USEC", Key::ExtendTimeoutUsec),
    ("FDSTORE", Key::FdStore),
    ("FDSTOREREMOVE", Key::FdStoreRemove),
    ("FDNAME", Key::FdName),
    ("FDPOLL", Key::FdPoll),
    ("NOTIFYACCESS", Key::NotifyAccess),
    ("BARRIER", Key::Barrier),
    ("RESTART_RESET", Key::RestartReset),
];

impl Key {
    /// Classifies the text before the first `=` (exact, case-sensitive, like `startswith()`).
    pub fn from_name(name: &[u8]) -> Key {
        if let Some((_, k)) = KEYS.iter().find(|(n, _)| n.as_bytes() == name) {
            return *k;
        }
        if name.starts_with(b"X_") {
            Key::Custom
        } else {
            Key::Unknown
        }
    }

    /// The systemd spelling, e.g. `MAINPID`; `None` for `Custom`/`Unknown`.
    pub fn systemd_name(self) -> Option<&'static str> {
        KEYS.iter().find(|(_, k)| *k == self).map(|(n, _)| *n)
    }

    /// True for keys systemd reads with `strv_find_startswith()`, where only the first line counts.
    pub fn first_wins(self) -> bool {
        matches!(
            self,
            Key::Status
                | Key::MainPid
                | Key::MainPidFdId
                | Key::MonotonicUsec
                | Key::Errno
                | Key::BusError
                | Key::VarlinkError
                | Key::Watchdog
                | Key::WatchdogUsec
                | Key::ExtendTimeoutUsec
                | Key::FdName
                | Key::NotifyAccess
        )
    }
}

/// How systemd would judge a field's value on its own (no unit state, no version specifics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Validity {
    /// systemd parses it and would act on it.
    Valid,
    /// systemd tries to parse it and fails (it logs a warning); the text says why.
    Invalid(String),
    /// Well-formed but systemd matches only one exact value (e.g. `READY=0`): silently ignored.
    NoEffect(String),
    /// systemd never reads this line (X_*, unknown keys, `EXIT_STATUS=`, lines without `=`).
    NotInterpreted(String),
}

/// One line of the payload, after systemd's splitting and backslash unescaping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub key: Key,
    /// Text before the first `=` (the whole line when there is none), escaped for display.
    pub name: String,
    /// Text after the first `=`, escaped for display; empty when there is no `=`.
    pub value: String,
    pub has_equals: bool,
    pub validity: Validity,
    /// A previous line with the same key wins (`strv_find_startswith()` returns the first).
    pub shadowed: bool,
    /// The line's bytes exactly as systemd holds them (may be non-UTF-8).
    #[serde(skip)]
    pub raw: Vec<u8>,
}

impl Field {
    pub fn raw_value(&self) -> &[u8] {
        split_eq(&self.raw).1.unwrap_or(&[])
    }
}

/// The whole datagram as systemd sees it before any unit is involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payload {
    pub fields: Vec<Field>,
    /// A NUL anywhere but the last byte: systemd drops the message (manager.c:2582 v252.39).
    pub embedded_nul: bool,
    /// One trailing NUL is permitted and ignored ("We permit one trailing NUL byte").
    pub trailing_nul: bool,
    /// Why `strv_split_newlines()` would fail (then systemd drops the message); `fields` then
    /// shows a lenient split, keeping the stray backslash.
    pub split_error: Option<String>,
}

/// Parses a payload; never panics. See the module comment for the rules.
pub fn parse_payload(payload: &[u8]) -> Payload {
    // buf[n] = 0 then C-string semantics: a single trailing NUL simply ends the string.
    let trailing_nul = payload.last() == Some(&0);
    let body = if trailing_nul {
        &payload[..payload.len() - 1]
    } else {
        payload
    };
    let embedded_nul = body.contains(&0);
    let (lines, split_error) = split_newlines(body);
    let mut seen: Vec<Key> = Vec::new();
    let fields = lines
        .into_iter()
        .map(|raw| {
            let (name, value) = split_eq(&raw);
            let key = if value.is_some() {
                Key::from_name(name)
            } else {
                Key::Unknown
            };
            let shadowed = key.first_wins() && seen.contains(&key);
            seen.push(key);
            Field {
                key,
                name: escape(name),
                value: value.map(escape).unwrap_or_default(),
                has_equals: value.is_some(),
                validity: validity(key, value),
                shadowed,
                raw,
            }
        })
        .collect();
    Payload {
        fields,
        embedded_nul,
        trailing_nul,
        split_error,
    }
}

/// Just the fields of `parse_payload()`.
pub fn parse(payload: &[u8]) -> Vec<Field> {
    parse_payload(payload).fields
}

/// `strv_split_newlines()` → `extract_first_word(&p, &w, NEWLINE, 0)` in a loop.
fn split_newlines(s: &[u8]) -> (Vec<Vec<u8>>, Option<String>) {
    let is_sep = |c: u8| c == b'\n' || c == b'\r';
    let (mut out, mut err, mut i) = (Vec::new(), None, 0);
    loop {
        // Leading separators are skipped; this is what swallows empty lines and CRLF.
        while i < s.len() && is_sep(s[i]) {
            i += 1;
        }
        if i >= s.len() {
            return (out, err);
        }
        let mut word = Vec::new();
        while i < s.len() && !is_sep(s[i]) {
            if s[i] == b'\\' {
                if i + 1 == s.len() {
                    // extract-word.c:88: a trailing backslash without EXTRACT_RELAX is -EINVAL.
                    err = Some(
                        "payload ends in a lone backslash (extract_first_word() -EINVAL)".into(),
                    );
                    word.push(b'\\');
                    i += 1;
                    break;
                }
                // Without EXTRACT_CUNESCAPE the escaped byte is copied as is, separators included.
                word.push(s[i + 1]);
                i += 2;
                continue;
            }
            word.push(s[i]);
            i += 1;
        }
        out.push(word);
    }
}

fn split_eq(line: &[u8]) -> (&[u8], Option<&[u8]>) {
    match line.iter().position(|&c| c == b'=') {
        Some(p) => (&line[..p], Some(&line[p + 1..])),
        None => (line, None),
    }
}

/// Value rules of `service_notify_message()` (service.c:4119 v252.39 / :4630 v257.13 / :5604 v262).
fn validity(key: Key, value: Option<&[u8]>) -> Validity {
    let Some(v) = value else {
        return Validity::NotInterpreted("no '=': not a KEY=VALUE assignment, ignored".into());
    };
    let from = |r: Result<(), Errno>| match r {
        Ok(()) => Validity::Valid,
        Err(e) => Validity::Invalid(e.strerror().into()),
    };
    let exact = |want: &str| {
        if v == want.as_bytes() {
            Validity::Valid
        } else {
            let k = key.systemd_name().unwrap_or("?");
            Validity::NoEffect(format!(
                "systemd only matches the exact line {k}={want} (strv_contains())"
            ))
        }
    };
    match key {
        Key::Ready | Key::Reloading | Key::Stopping | Key::FdStore | Key::FdStoreRemove => {
            exact("1")
        }
        Key::Barrier | Key::MainPidFd | Key::RestartReset => exact("1"),
        Key::FdPoll => exact("0"),
        Key::MainPid => from(parse_pid(v).map(drop)),
        Key::MainPidFdId | Key::MonotonicUsec | Key::WatchdogUsec | Key::ExtendTimeoutUsec => {
            from(safe_atou64(v).map(drop))
        }
        Key::Errno => from(parse_errno(v).map(drop)),
        // STATUS= empty clears the status text; otherwise it must be UTF-8 (utf8_is_valid()).
        Key::Status if std::str::from_utf8(v).is_err() => {
            Validity::Invalid("not UTF-8 clean".into())
        }
        Key::Status => Validity::Valid,
        Key::NotifyAccess => match NotifyAccess::from_value(v) {
            Some(_) => Validity::Valid,
            None => Validity::Invalid("not one of none, main, exec, all".into()),
        },
        Key::Watchdog if v == b"1" || v == b"trigger" => Validity::Valid,
        Key::Watchdog => Validity::Invalid("must be 1 or trigger".into()),
        Key::FdName if fdname_is_valid(v) => Validity::Valid,
        Key::FdName => Validity::Invalid("control character, ':' or longer than 255".into()),
        // BUSERROR=/VARLINKERROR= (v257+): empty clears; else string_is_safe_ascii().
        Key::BusError | Key::VarlinkError if v.is_empty() || string_is_safe_ascii(v, false) => {
            Validity::Valid
        }
        Key::BusError | Key::VarlinkError => Validity::Invalid(
            "not plain ASCII without quotes, backslashes or control characters".into(),
        ),
        Key::ExitStatus => Validity::NotInterpreted(
            "informational: systemd does not consume EXIT_STATUS= from services".into(),
        ),
        Key::Custom => {
            Validity::NotInterpreted("X_ extension: never interpreted by systemd".into())
        }
        Key::Unknown => Validity::NotInterpreted("unknown assignment: ignored by systemd".into()),
    }
}

/// `NotifyAccess=` values (`notify_access_table`, src/basic/unit-def.c:303 v252.39).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyAccess {
    None,
    Main,
    Exec,
    All,
}

impl NotifyAccess {
    /// `notify_access_from_string()`: exact, lower-case.
    pub fn from_value(v: &[u8]) -> Option<NotifyAccess> {
        match v {
            b"none" => Some(NotifyAccess::None),
            b"main" => Some(NotifyAccess::Main),
            b"exec" => Some(NotifyAccess::Exec),
            b"all" => Some(NotifyAccess::All),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyAccess::None => "none",
            NotifyAccess::Main => "main",
            NotifyAccess::Exec => "exec",
            NotifyAccess::All => "all",
        }
    }
}

/// glibc `strtoull()`/`strtoll()` core: optional isspace, sign, `0x`, digits in `base` (0 = auto).
struct Strto {
    magnitude: u64,
    negative: bool,
    /// Index after the last digit; 0 when nothing was parsed (`endptr == nptr`).
    end: usize,
    overflow: bool,
}

fn strto(s: &[u8], mut base: u32) -> Strto {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while matches!(at(i), b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let negative = at(i) == b'-';
    if matches!(at(i), b'+' | b'-') {
        i += 1;
    }
    if (base == 0 || base == 16)
        && at(i) == b'0'
        && matches!(at(i + 1), b'x' | b'X')
        && at(i + 2).is_ascii_hexdigit()
    {
        i += 2;
        base = 16;
    } else if base == 0 {
        base = if at(i) == b'0' { 8 } else { 10 };
    }
    let (start, mut magnitude, mut overflow) = (i, 0u64, false);
    while let Some(d) = (at(i) as char).to_digit(base) {
        match magnitude
            .checked_mul(base as u64)
            .and_then(|m| m.checked_add(d as u64))
        {
            Some(m) => magnitude = m,
            None => overflow = true,
        }
        i += 1;
    }
    Strto {
        magnitude,
        negative,
        end: if i == start { 0 } else { i },
        overflow,
    }
}

/// `mangle_base()` (src/basic/parse-util.c:321 v252.39): Python-style `0b`/`0o` prefixes.
fn mangle_base(s: &[u8]) -> (&[u8], u32) {
    match s {
        [b'0', b'b' | b'B', rest @ ..] => (rest, 2),
        [b'0', b'o' | b'O', rest @ ..] => (rest, 8),
        _ => (s, 0),
    }
}

/// systemd's `WHITESPACE` (" \t\n\r"), skipped before numbers by `safe_ato*()`.
fn skip_ws(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|c| b" \t\n\r".contains(c)).count();
    &s[n..]
}

/// `safe_atou64()` → `safe_atollu_full(s, 0, …)` (parse-util.c:423 v252.39, :492 v257.13).
pub fn safe_atou64(s: &[u8]) -> Result<u64, Errno> {
    let (s, base) = mangle_base(skip_ws(s));
    let r = strto(s, base);
    if r.overflow {
        return Err(Errno::ERANGE);
    }
    if r.end == 0 || r.end != s.len() {
        return Err(Errno::EINVAL);
    }
    // strtoull() silently negates; systemd refuses a leading '-' unless the value is 0.
    if r.magnitude != 0 && s.first() == Some(&b'-') {
        return Err(Errno::ERANGE);
    }
    Ok(if r.negative {
        r.magnitude.wrapping_neg()
    } else {
        r.magnitude
    })
}

/// `parse_pid()` (parse-util.c:47 v252.39, :66 v257.13): an unsigned long that fits pid_t and is > 0.
pub fn parse_pid(s: &[u8]) -> Result<u32, Errno> {
    let ul = safe_atou64(s)?;
    let pid = ul as i32;
    if pid as i64 as u64 != ul || pid <= 0 {
        return Err(Errno::ERANGE);
    }
    Ok(pid as u32)
}

/// `safe_atoi()`: like the above but signed and range-checked to int.
fn safe_atoi(s: &[u8]) -> Result<i32, Errno> {
    let (s, base) = mangle_base(skip_ws(s));
    let r = strto(s, base);
    let limit = if r.negative {
        1u64 << 63
    } else {
        i64::MAX as u64
    };
    if r.overflow || r.magnitude > limit {
        return Err(Errno::ERANGE);
    }
    if r.end == 0 || r.end != s.len() {
        return Err(Errno::EINVAL);
    }
    let v = if r.negative {
        (r.magnitude as i64).wrapping_neg()
    } else {
        r.magnitude as i64
    };
    i32::try_from(v).map_err(|_| Errno::ERANGE)
}

/// `parse_errno()` (parse-util.c:301 v252.39): an errno name, or 0, or 1..=ERRNO_MAX (4095).
pub fn parse_errno(s: &[u8]) -> Result<i32, Errno> {
    if let Some(Errno(n)) = Errno::from_name(s) {
        return Ok(n);
    }
    let e = safe_atoi(s)?;
    if e != 0 && !(1..=4095).contains(&e) {
        return Err(Errno::ERANGE);
    }
    Ok(e)
}

/// `fdname_is_valid()` (src/basic/fd-util.c:508 v252.39): printable ASCII but ':' , ≤ 255 bytes.
pub fn fdname_is_valid(s: &[u8]) -> bool {
    s.len() <= FDNAME_MAX && s.iter().all(|&c| (b' '..0x7f).contains(&c) && c != b':')
}

/// `string_is_safe_ascii()` (string-util.h:241 v257.13): ASCII, no control chars, quotes or
/// backslash. `no_globs` adds v262's `string_is_safe(…, STRING_ASCII)` refusal of `*?[`.
pub fn string_is_safe_ascii(s: &[u8], no_globs: bool) -> bool {
    s.iter().all(|&c| {
        (b' '..0x7f).contains(&c) && !b"\"'\\".contains(&c) && !(no_globs && b"*?[".contains(&c))
    })
}

/// Display escaping: C-style `\n \r \t \0 \\`, other hidden characters (controls, bidi,
/// zero-width: `safe_text::is_hidden`) and invalid UTF-8 as `\xNN`, printable ASCII and other
/// valid UTF-8 kept. Lossless and never panics.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let (good, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, 0),
            Err(e) => {
                let (ok, tail) = rest.split_at(e.valid_up_to());
                // error_len() is None only for a truncated sequence at the end: all of it is bad.
                (
                    std::str::from_utf8(ok).unwrap_or_default(),
                    e.error_len().unwrap_or(tail.len()),
                )
            }
        };
        for c in good.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if crate::safe_text::is_hidden(c) => crate::safe_text::push_visible(&mut out, c),
                c => out.push(c),
            }
        }
        let skip = good.len();
        rest[skip..skip + bad]
            .iter()
            .for_each(|b| out.push_str(&format!("\\x{b:02x}")));
        rest = &rest[skip + bad..];
    }
    out
}

/// systemd's `cescape()` (src/basic/escape.c:14 `cescape_char()`): octal for bytes < 0x20 or
/// ≥ 0x7f, so log lines this observer reproduces match the journal byte for byte.
pub fn cescape(bytes: &[u8]) -> String {
    bytes.iter().map(|&c| cescape_char(c)).collect()
}

fn cescape_char(c: u8) -> String {
    match c {
        0x07 => "\\a".into(),
        0x08 => "\\b".into(),
        0x0c => "\\f".into(),
        b'\n' => "\\n".into(),
        b'\r' => "\\r".into(),
        b'\t' => "\\t".into(),
        0x0b => "\\v".into(),
        b'\\' => "\\\\".into(),
        b'"' => "\\\"".into(),
        b'\'' => "\\'".into(),
        c if !(b' '..0x7f).contains(&c) => format!("\\{:o}{:o}{:o}", c >> 6, (c >> 3) & 7, c & 7),
        c => (c as char).to_string(),
    }
}

/// `cellescape(buf, len, s)` (src/basic/string-util.c:529 v257.13): escape, and cut to fit
/// `len - 1` bytes ending in an ellipsis when it does not. The ellipsis is "…" (3 bytes), what
/// `special_glyph_full(SPECIAL_GLYPH_ELLIPSIS)` gives when PID 1's `is_locale_utf8()` holds (its
/// default, also under LANG=C).
pub fn cellescape(bytes: &[u8], len: usize) -> String {
    let (mut out, mut widths) = (String::new(), Vec::new());
    for &c in bytes {
        let e = cescape_char(c);
        if out.len() + e.len() + 1 > len {
            // Make room for the ellipsis by dropping up to four of the last escaped characters.
            for w in widths.iter().rev().take(4) {
                if out.len() + 4 <= len {
                    break;
                }
                out.truncate(out.len() - w);
            }
            let room = len.saturating_sub(out.len() + 1);
            out.push_str(match room {
                0 => "",
                1 => ".",
                2 => "..",
                _ => "…",
            });
            return out;
        }
        widths.push(e.len());
        out.push_str(&e);
    }
    out
}

/// One-line human summary, e.g. `READY=1 STATUS="hello"`. Text values are quoted; numbers and
/// flags are not; lines without `=` are shown escaped as they are.
pub fn summary(fields: &[Field]) -> String {
    let text = |k: Key| {
        matches!(
            k,
            Key::Status
                | Key::BusError
                | Key::VarlinkError
                | Key::FdName
                | Key::Custom
                | Key::Unknown
        )
    };
    fields
        .iter()
        .map(|f| {
            if !f.has_equals {
                return f.name.clone();
            }
            let plain =
                !f.value.is_empty() && f.value.bytes().all(|c| c.is_ascii_graphic() && c != b'"');
            if text(f.key) || !plain {
                format!("{}=\"{}\"", f.name, f.value.replace('"', "\\\""))
            } else {
                format!("{}={}", f.name, f.value)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: &[u8]) -> Vec<(Key, String, String)> {
        parse(p)
            .into_iter()
            .map(|f| (f.key, f.name, f.value))
            .collect()
    }

    #[test]
    fn splits_on_newlines() {
        // strv_split_newlines(): one field per line (strv.c:241 v252.39).
        assert_eq!(
            keys(b"READY=1\nSTATUS=hello"),
            vec![
                (Key::Ready, "READY".into(), "1".into()),
                (Key::Status, "STATUS".into(), "hello".into())
            ]
        );
    }

    #[test]
    fn empty_payload_has_no_fields() {
        // strv_split_full() of "" yields an empty strv (strv.c:265 v252.39); systemd still
        // processes it and logs "n/a" for the tags.
        let p = parse_payload(b"");
        assert!(p.fields.is_empty() && !p.embedded_nul && p.split_error.is_none());
    }

    #[test]
    fn empty_lines_crlf_and_trailing_newline_vanish() {
        // extract_first_word() coalesces runs of "\n\r" (extract-word.c:37 v252.39 skips leading
        // separators); strv_split_newlines_full() drops a trailing empty word.
        let want = keys(b"READY=1\nSTATUS=x");
        assert_eq!(keys(b"READY=1\nSTATUS=x\n"), want);
        assert_eq!(keys(b"\n\nREADY=1\n\n\nSTATUS=x\n\n"), want);
        assert_eq!(keys(b"READY=1\r\nSTATUS=x\r\n"), want);
        assert_eq!(keys(b"READY=1\rSTATUS=x"), want);
    }

    #[test]
    fn lines_are_not_trimmed() {
        // strv_contains(tags, "READY=1") compares whole lines (service.c:4703 v257.13).
        let f = &parse(b"READY=1 ")[0];
        assert_eq!(f.key, Key::Ready);
        assert!(matches!(f.validity, Validity::NoEffect(_)));
        assert!(matches!(parse(b" READY=1")[0].key, Key::Unknown));
    }

    #[test]
    fn line_without_equals_is_unknown() {
        let f = &parse(b"READY")[0];
        assert_eq!(
            (f.key, f.has_equals, f.name.as_str()),
            (Key::Unknown, false, "READY")
        );
        assert!(matches!(f.validity, Validity::NotInterpreted(_)));
    }

    #[test]
    fn keys_are_case_sensitive_and_value_may_hold_equals() {
        assert_eq!(parse(b"ready=1")[0].key, Key::Unknown);
        let f = &parse(b"STATUS=a=b")[0];
        assert_eq!((f.key, f.value.as_str()), (Key::Status, "a=b"));
        assert_eq!(parse(b"X_MYAPP=1")[0].key, Key::Custom);
        assert_eq!(parse(b"EXIT_STATUS=3")[0].key, Key::ExitStatus);
    }

    #[test]
    fn duplicate_value_keys_first_wins() {
        // strv_find_startswith() returns the first match (strv.c:49 v252.39).
        let f = parse(b"STATUS=first\nSTATUS=second");
        assert!(!f[0].shadowed && f[1].shadowed);
        // Flags use strv_contains(): no shadowing, any exact line counts.
        let f = parse(b"READY=0\nREADY=1");
        assert!(!f[1].shadowed);
        assert!(matches!(f[0].validity, Validity::NoEffect(_)) && f[1].validity == Validity::Valid);
    }

    #[test]
    fn backslash_escapes_next_byte() {
        // extract_first_word() flags=0: "\X" → "X", even for separators (extract-word.c:67 v252.39).
        assert_eq!(parse(b"STATUS=a\\b")[0].raw, b"STATUS=ab");
        assert_eq!(parse(b"STATUS=a\\\\b")[0].raw, b"STATUS=a\\b");
        let f = parse(b"STATUS=a\\\nREADY=1");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].raw, b"STATUS=a\nREADY=1");
        assert_eq!(f[0].value, "a\\nREADY=1");
    }

    #[test]
    fn trailing_backslash_fails_the_split() {
        // extract-word.c:88 v252.39 returns -EINVAL; manager.c:2589 then log_oom()s and drops.
        let p = parse_payload(b"STATUS=C:\\");
        assert!(p.split_error.is_some());
        assert_eq!(p.fields[0].raw, b"STATUS=C:\\");
        assert!(parse_payload(b"STATUS=C:\\\\").split_error.is_none());
    }

    #[test]
    fn nul_handling() {
        // manager.c:2582 v252.39: NUL in the first n-1 bytes is fatal, one trailing NUL is fine.
        let p = parse_payload(b"READY=1\0");
        assert!(p.trailing_nul && !p.embedded_nul);
        assert_eq!(keys(b"READY=1\0"), keys(b"READY=1"));
        let p = parse_payload(b"READY=1\0STATUS=x");
        assert!(p.embedded_nul);
        assert_eq!(p.fields[0].value, "1\\0STATUS=x");
        assert!(parse_payload(b"\0").trailing_nul && !parse_payload(b"\0").embedded_nul);
        assert!(parse_payload(b"\0\0").embedded_nul);
    }

    #[test]
    fn non_utf8_status_is_invalid_and_escaped() {
        // service.c:4224 v252.39: "Status message in notification message is not UTF-8 clean".
        let f = &parse(b"STATUS=caf\xe9")[0];
        assert!(matches!(f.validity, Validity::Invalid(_)));
        assert_eq!(f.value, "caf\\xe9");
        assert_eq!(parse(b"STATUS=caf\xc3\xa9")[0].value, "café");
        assert_eq!(parse(b"STATUS=")[0].validity, Validity::Valid); // clears the text
    }

    #[test]
    fn big_payload_parses() {
        let mut p = b"STATUS=".to_vec();
        p.extend(std::iter::repeat_n(b'x', 5000));
        let f = parse(&p);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].value.len(), 5000);
    }

    #[test]
    fn pid_parsing_mirrors_parse_pid() {
        // parse_pid() → safe_atolu() → strtoull(base 0) (parse-util.c:47,423 v252.39).
        assert_eq!(parse_pid(b"42"), Ok(42));
        assert_eq!(parse_pid(b" 42"), Ok(42)); // leading WHITESPACE skipped
        assert_eq!(parse_pid(b"+42"), Ok(42));
        assert_eq!(parse_pid(b"0x10"), Ok(16)); // strtoull base 0
        assert_eq!(parse_pid(b"017"), Ok(15)); // … including C octal
        assert_eq!(parse_pid(b"0b101"), Ok(5)); // mangle_base()
        assert_eq!(parse_pid(b"0o17"), Ok(15));
        assert_eq!(parse_pid(b"42 "), Err(Errno::EINVAL));
        assert_eq!(parse_pid(b""), Err(Errno::EINVAL));
        assert_eq!(parse_pid(b"0x"), Err(Errno::EINVAL));
        assert_eq!(parse_pid(b"abc"), Err(Errno::EINVAL));
        assert_eq!(parse_pid(b"0"), Err(Errno::ERANGE)); // pid_is_valid()
        assert_eq!(parse_pid(b"-1"), Err(Errno::ERANGE));
        assert_eq!(parse_pid(b"-0"), Err(Errno::ERANGE)); // 0 after the '-' check, then invalid
        assert_eq!(parse_pid(b"2147483647"), Ok(i32::MAX as u32));
        assert_eq!(parse_pid(b"2147483648"), Err(Errno::ERANGE));
        assert_eq!(parse_pid(b"99999999999999999999"), Err(Errno::ERANGE));
    }

    #[test]
    fn usec_parsing_mirrors_safe_atou64() {
        assert_eq!(safe_atou64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(safe_atou64(b"18446744073709551616"), Err(Errno::ERANGE));
        assert_eq!(safe_atou64(b"-0"), Ok(0));
        assert_eq!(safe_atou64(b"-5"), Err(Errno::ERANGE));
        assert_eq!(safe_atou64(b"5s"), Err(Errno::EINVAL));
        assert!(matches!(
            parse(b"WATCHDOG_USEC=5s")[0].validity,
            Validity::Invalid(_)
        ));
        assert_eq!(parse(b"MONOTONIC_USEC=123")[0].validity, Validity::Valid);
    }

    #[test]
    fn errno_parsing_mirrors_parse_errno() {
        // parse_errno(): name first, then int in 0..=4095 (parse-util.c:301 v252.39).
        assert_eq!(parse_errno(b"ENOENT"), Ok(2));
        assert_eq!(parse_errno(b"2"), Ok(2));
        assert_eq!(parse_errno(b"0"), Ok(0));
        assert_eq!(parse_errno(b"4095"), Ok(4095));
        assert_eq!(parse_errno(b"4096"), Err(Errno::ERANGE));
        assert_eq!(parse_errno(b"-1"), Err(Errno::ERANGE));
        assert_eq!(parse_errno(b"enoent"), Err(Errno::EINVAL));
        assert_eq!(parse_errno(b"99999999999"), Err(Errno::ERANGE));
    }

    #[test]
    fn value_rules() {
        let v = |p: &[u8]| parse(p).remove(0).validity;
        assert_eq!(v(b"NOTIFYACCESS=all"), Validity::Valid);
        assert!(matches!(v(b"NOTIFYACCESS=ALL"), Validity::Invalid(_)));
        assert_eq!(v(b"WATCHDOG=trigger"), Validity::Valid);
        assert!(matches!(v(b"WATCHDOG=0"), Validity::Invalid(_)));
        assert_eq!(v(b"FDPOLL=0"), Validity::Valid);
        assert!(matches!(v(b"FDPOLL=1"), Validity::NoEffect(_)));
        assert_eq!(v(b"FDNAME="), Validity::Valid);
        assert!(matches!(v(b"FDNAME=a:b"), Validity::Invalid(_)));
        assert_eq!(
            v(&[b"FDNAME=".as_slice(), &[b'a'; 255]].concat()),
            Validity::Valid
        );
        assert!(matches!(
            v(&[b"FDNAME=".as_slice(), &[b'a'; 256]].concat()),
            Validity::Invalid(_)
        ));
        assert_eq!(
            v(b"BUSERROR=org.freedesktop.DBus.Error.Failed"),
            Validity::Valid
        );
        assert!(matches!(v(b"BUSERROR=a\"b"), Validity::Invalid(_)));
        assert!(matches!(v(b"STOPPING=yes"), Validity::NoEffect(_)));
        assert!(matches!(v(b"EXIT_STATUS=0"), Validity::NotInterpreted(_)));
    }

    #[test]
    fn escaping() {
        assert_eq!(escape(b"a\nb\tc\r\0\\"), "a\\nb\\tc\\r\\0\\\\");
        assert_eq!(escape(b"\x01\x7f\xff\xc3"), "\\x01\\x7f\\xff\\xc3");
        assert_eq!(escape("héllo €".as_bytes()), "héllo €");
        assert_eq!(escape("\u{85}".as_bytes()), "\\xc2\\x85");
        // Bidi and zero-width characters would reorder or hide what follows them.
        assert_eq!(escape("a\u{202e}b".as_bytes()), "a\\xe2\\x80\\xaeb");
        assert_eq!(
            escape("\u{200b}\u{feff}".as_bytes()),
            "\\xe2\\x80\\x8b\\xef\\xbb\\xbf"
        );
        // cescape_char(): octal (escape.c:14 v252.39).
        assert_eq!(cescape(b"a\"\xe2\x80\xa6\x01"), "a\\\"\\342\\200\\246\\001");
        // cellescape(buf, 64, …) keeps short strings and ends long ones in "...".
        assert_eq!(cellescape(b"READY=1", 64), "READY=1");
        let long = cellescape(&[b'x'; 100], 64);
        assert_eq!(long.len(), 63);
        assert!(long.ends_with("…"));
        assert_eq!(cellescape(&[b'x'; 63], 64).len(), 63);
    }

    #[test]
    fn summaries() {
        assert_eq!(
            summary(&parse(b"READY=1\nSTATUS=hello")),
            "READY=1 STATUS=\"hello\""
        );
        assert_eq!(
            summary(&parse(b"MAINPID=42\nX_A=b c\nfoo")),
            "MAINPID=42 X_A=\"b c\" foo"
        );
        assert_eq!(
            summary(&parse(b"STATUS=say \"hi\"")),
            "STATUS=\"say \\\"hi\\\"\""
        );
        assert_eq!(summary(&parse(b"ERRNO=")), "ERRNO=\"\"");
        assert_eq!(summary(&[]), "");
    }

    #[test]
    fn serializes_snake_case() {
        let j = serde_json::to_value(parse(b"MAINPID=x\nFDSTOREREMOVE=1")).unwrap();
        assert_eq!(j[0]["key"], "main_pid");
        assert_eq!(j[0]["validity"]["status"], "invalid");
        assert_eq!(j[0]["validity"]["detail"], "Invalid argument");
        assert_eq!(j[1]["key"], "fd_store_remove");
        assert!(j[0].get("raw").is_none());
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift64*: deterministic, dependency-free. Bias towards bytes that matter here.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let alphabet = b"\n\r\\=\0\x80\xff\xc3\xa9 READYSTATUSMAINPID0123456789x";
        for _ in 0..800 {
            let len = (next() % 5000) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 2 == 0 {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    } else {
                        (r >> 16) as u8
                    }
                })
                .collect();
            let p = parse_payload(&bytes);
            let _ = summary(&p.fields);
            let _ = serde_json::to_string(&p).unwrap();
            let _ = (
                escape(&bytes),
                cescape(&bytes),
                cellescape(&bytes, 64),
                cellescape(&bytes, 1),
            );
            for f in &p.fields {
                let v = f.raw_value();
                let _ = (
                    safe_atou64(v),
                    parse_pid(v),
                    parse_errno(v),
                    fdname_is_valid(v),
                );
            }
        }
    }
}
