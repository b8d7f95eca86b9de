//! Mirrors systemd's src/basic/parse-util.c: the number parsers a notify payload's values go
//! through (`MAINPID=`, `*_USEC=`, `ERRNO=`), with glibc's `strtoull()` under them.

use super::errno_list::Errno;

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

#[cfg(test)]
mod tests;
