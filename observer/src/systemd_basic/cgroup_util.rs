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
mod tests {
    use super::*;

    #[test]
    fn unit_from_path_like_cg_path_get_unit() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<&str>)] = &[
            ("/system.slice/foo.service", Some("foo.service")),
            ("/system.slice/foo.service/", Some("foo.service")),
            ("/system.slice/foo.service/sub/dir", Some("foo.service")),
            ("system.slice/foo.service", Some("foo.service")),
            ("//system.slice//foo.service", Some("foo.service")),
            ("/foo.service", Some("foo.service")),
            ("/init.scope", Some("init.scope")),
            ("/system.slice/system-getty.slice/getty@tty1.service", Some("getty@tty1.service")),
            ("/system.slice/system-foo.slice/foo@bar\\x2dbaz.service", Some("foo@bar\\x2dbaz.service")),
            ("/system.slice/foo@a@b.service", Some("foo@a@b.service")),
            ("/system.slice/foo@.service", None), // template: never a running unit
            ("/system.slice/@foo.service", None),
            ("/system.slice/_cpu.service", Some("cpu.service")), // cg_escape()d
            ("/system.slice/_.foo.service", Some(".foo.service")),
            ("/system.slice/dev-hugepages.mount", Some("dev-hugepages.mount")),
            ("/system.slice/run-r1.scope", Some("run-r1.scope")),
            ("/system.slice/foo.socket", Some("foo.socket")),
            ("/system.slice/foo.bogus", None),
            ("/system.slice/foo", None),
            ("/system.slice/a b.service", None),
            ("/system.slice/föö.service", None),
            ("/system.slice/.service", None),
            ("/system.slice", None),
            ("/user.slice/user-1000.slice", None),
            ("/a.slice/b.service.slice", None),
            ("/system.slice/x.slice.service", Some("x.slice.service")),
            ("/", None),
            ("", None),
            ("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", Some("user@1000.service")),
            ("/user.slice/user-1000.slice/session-3.scope", Some("session-3.scope")),
            ("/machine.slice/systemd-nspawn@x.service/payload/system.slice/foo.service", Some("systemd-nspawn@x.service")),
            ("/observer-testbed/t1/payload/system.slice/foo.service", None),
            ("/system.slice/foo.service.d/x", None), // "service.d" is no unit type
        ];
        let long = format!("/{}.service", "a".repeat(248));
        assert_eq!(
            cg_path_get_unit(&long),
            None,
            "names of 256 bytes are too long"
        );
        let ok = format!("/{}.service", "a".repeat(247));
        assert_eq!(cg_path_get_unit(&ok).map(|u| u.len()), Some(255));
        for (path, want) in cases {
            assert_eq!(cg_path_get_unit(path).as_deref(), *want, "{path}");
        }
    }

    #[test]
    fn user_unit_like_cg_path_get_user_unit() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<&str>)] = &[
            ("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", Some("foo.service")),
            ("/user.slice/user-1000.slice/user@1000.service/init.scope", Some("init.scope")),
            ("/user.slice/user-1000.slice/user@1000.service/app.slice/app-x@y.service/sub", Some("app-x@y.service")),
            ("/user.slice/user-1000.slice/user@1000.service/session.slice/dbus.service", Some("dbus.service")),
            ("/user.slice/user-1000.slice/user@1000.service/app.slice", None),
            ("/user.slice/user-1000.slice/user@1000.service", None),
            ("/user.slice/user-1000.slice/session-3.scope", None),
            ("/user.slice/user-1000.slice/session-3.scope/foo.service", Some("foo.service")),
            ("/user.slice/user-1000.slice/user@abc.service/app.slice/foo.service", None),
            ("/user.slice/user-1000.slice/user@4294967295.service/foo.service", None),
            ("/user.slice/user-1000.slice/user@65535.service/foo.service", None),
            ("/system.slice/foo.service", None),
            ("/user@0.service/foo.service", Some("foo.service")),
        ];
        for (path, want) in cases {
            assert_eq!(cg_path_get_user_unit(path).as_deref(), *want, "{path}");
        }
    }

    #[test]
    fn slices() {
        assert_eq!(cg_path_get_slice("/"), "-.slice");
        assert_eq!(
            cg_path_get_slice("/system.slice/foo.service"),
            "system.slice"
        );
        assert_eq!(
            cg_path_get_slice("/user.slice/user-1000.slice/session-1.scope"),
            "user-1000.slice"
        );
        assert_eq!(cg_path_get_slice("/observer-testbed/x"), "-.slice");
    }

    #[test]
    fn init_cgroup_to_root() {
        assert_eq!(root_of_init_cgroup("/init.scope"), "/");
        assert_eq!(
            root_of_init_cgroup("/observer-testbed/t1/payload/init.scope"),
            "/observer-testbed/t1/payload"
        );
        assert_eq!(
            root_of_init_cgroup("/machine.slice/x/payload/system.slice"),
            "/machine.slice/x/payload"
        );
        assert_eq!(root_of_init_cgroup("/odd"), "/odd");
    }
}
