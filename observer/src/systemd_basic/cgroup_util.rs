//! Mirrors systemd's src/basic/cgroup-util.c: which unit a cgroup path names
//! (`cg_path_get_unit()`, `cg_path_get_user_unit()`, `cg_path_get_slice()`) and where a
//! manager's own tree starts (`cg_get_root_path()`, `cg_shift_path()`).

use super::unit_name::unit_name_is_valid;

/// `path` below `root` as a cgroup path ("/" for `root` itself), comparing whole components like
/// systemd's `path_startswith()`; None if it is not below.
pub fn strip_root<'a>(path: &'a str, root: &str) -> Option<&'a str> {
    let root = root.trim_end_matches('/');
    if root.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(root)?;
    if rest.is_empty() {
        Some("/")
    } else if rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

/// `cg_unescape()`: `cg_escape()` prefixes names that could clash with kernel files ("_cpu.service",
/// "_.foo.service") with one underscore.
fn cg_unescape(s: &str) -> &str {
    s.strip_prefix('_').unwrap_or(s)
}

/// The first component of `p` (leading slashes skipped) and the rest.
fn first_component(p: &str) -> (&str, &str) {
    let p = p.trim_start_matches('/');
    p.split_at(p.find('/').unwrap_or(p.len()))
}

/// `valid_slice_name()`.
fn is_slice(component: &str) -> bool {
    component.len() >= "x.slice".len()
        && component.ends_with(".slice")
        && unit_name_is_valid(cg_unescape(component), true, false)
}

/// `skip_slices()`: the path from the first component that is not a slice.
pub fn skip_slices(mut p: &str) -> &str {
    loop {
        let (c, rest) = first_component(p);
        if !is_slice(c) {
            return p.trim_start_matches('/');
        }
        p = rest;
    }
}

/// `cg_path_decode_unit()`: the first component as a unit name (PLAIN or INSTANCE).
fn decode_unit(p: &str) -> Option<String> {
    let (c, _) = first_component(p);
    if c.len() < 3 {
        return None;
    }
    let c = cg_unescape(c);
    unit_name_is_valid(c, true, true).then(|| c.to_owned())
}

/// `cg_path_get_unit()`: the first unit after the leading slices, never a slice itself.
/// "/system.slice/foo.service/sub" → "foo.service"; "/user.slice/user-1000.slice" → None.
pub fn cg_path_get_unit(path: &str) -> Option<String> {
    decode_unit(skip_slices(path)).filter(|u| !u.ends_with(".slice"))
}

/// `cg_path_get_slice()`: the deepest of the leading slices, "-.slice" when there is none.
pub fn cg_path_get_slice(mut p: &str) -> String {
    let mut last = None;
    loop {
        let (c, rest) = first_component(p);
        if !is_slice(c) {
            return last
                .and_then(decode_unit)
                .unwrap_or_else(|| "-.slice".to_owned());
        }
        last = Some(c);
        p = rest;
    }
}

/// `skip_user_manager()`: "user@UID.service" as the first component (after slices) → (uid, rest).
pub fn skip_user_manager(p: &str) -> Option<(u32, &str)> {
    let (c, rest) = first_component(p);
    let uid = c.strip_prefix("user@")?.strip_suffix(".service")?;
    // parse_uid(): decimal, and neither (uid_t) -1 nor the 16-bit -1.
    let uid: u32 = uid
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| uid.parse().ok())??;
    (uid != u32::MAX && uid != 0xFFFF).then_some((uid, rest))
}

/// `skip_session()`: "session-ID.scope" as the first component → the rest.
fn skip_session(p: &str) -> Option<&str> {
    let (c, rest) = first_component(p);
    let id = c.strip_prefix("session-")?.strip_suffix(".scope")?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(rest)
}

/// `cg_path_get_user_unit()`: the unit inside a user manager ("/user.slice/user-1000.slice/
/// user@1000.service/app.slice/foo.service" → "foo.service"), or below a session scope.
pub fn cg_path_get_user_unit(path: &str) -> Option<String> {
    let e = skip_slices(path);
    let t = skip_user_manager(e)
        .map(|(_, rest)| rest)
        .or_else(|| skip_session(e))?;
    cg_path_get_unit(t)
}

/// `cg_get_root_path()`: PID 1's cgroup minus "/init.scope" (or the legacy "/system.slice",
/// "/system").
pub fn root_of_init_cgroup(own: &str) -> &str {
    let root = ["/init.scope", "/system.slice", "/system"]
        .iter()
        .find_map(|s| own.strip_suffix(s))
        .unwrap_or(own);
    if root.is_empty() { "/" } else { root }
}

#[cfg(test)]
mod tests;
