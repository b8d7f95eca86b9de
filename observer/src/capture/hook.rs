//! Where a program is attached, as `check`, the start record and recordings name it:
//! `KIND/TARGET` (`fexit/unix_dgram_sendmsg`, `tp_btf/sock_send_length`,
//! `tracepoint/syscalls/sys_enter_sendto`). Not to be confused with `observer_common::Hook`,
//! which says which program produced an event.

use std::{fmt, str::FromStr};

use anyhow::{Context as _, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookKind {
    Fentry,
    Fexit,
    /// A BTF-typed raw tracepoint.
    TpBtf,
    /// A tracefs tracepoint; its target is `CATEGORY/NAME`.
    Tracepoint,
}

impl HookKind {
    const ALL: [HookKind; 4] = [
        HookKind::Fentry,
        HookKind::Fexit,
        HookKind::TpBtf,
        HookKind::Tracepoint,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Fentry => "fentry",
            HookKind::Fexit => "fexit",
            HookKind::TpBtf => "tp_btf",
            HookKind::Tracepoint => "tracepoint",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hook {
    pub kind: HookKind,
    /// The kernel function or tracepoint.
    pub target: String,
}

impl Hook {
    pub fn new(kind: HookKind, target: impl Into<String>) -> Hook {
        Hook {
            kind,
            target: target.into(),
        }
    }

    /// A tracepoint of the `syscalls` category (`sys_enter_sendto`).
    pub fn syscall(name: &str) -> Hook {
        Hook::new(HookKind::Tracepoint, format!("syscalls/{name}"))
    }

    /// A tracefs tracepoint's category and name.
    pub fn tracepoint(&self) -> Option<(&str, &str)> {
        (self.kind == HookKind::Tracepoint)
            .then(|| self.target.split_once('/'))
            .flatten()
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.target)
    }
}

impl FromStr for Hook {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Hook> {
        let (kind, target) = s
            .split_once('/')
            .with_context(|| format!("hook {s}: no kind/target"))?;
        let Some(kind) = HookKind::ALL.into_iter().find(|k| k.as_str() == kind) else {
            bail!("hook {s}: unknown kind {kind}");
        };
        if target.is_empty() || (kind == HookKind::Tracepoint && !target.contains('/')) {
            bail!("hook {s}: no target");
        }
        Ok(Hook::new(kind, target))
    }
}

impl serde::Serialize for Hook {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Hooks as one line: `a, b, c`.
pub fn list(hooks: &[Hook]) -> String {
    hooks
        .iter()
        .map(Hook::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_reads_back_as_the_hook_that_wrote_it() {
        for hook in [
            Hook::new(HookKind::Fexit, "unix_dgram_sendmsg"),
            Hook::new(HookKind::Fentry, "sock_def_readable"),
            Hook::new(HookKind::TpBtf, "sock_send_length"),
            Hook::syscall("sys_enter_sendto"),
        ] {
            assert_eq!(hook.to_string().parse::<Hook>().unwrap(), hook);
        }
    }

    #[test]
    fn text_is_kind_slash_target() {
        assert_eq!(
            Hook::syscall("sys_exit_sendmmsg").to_string(),
            "tracepoint/syscalls/sys_exit_sendmmsg"
        );
        assert_eq!(
            Hook::syscall("sys_exit_sendmmsg").tracepoint(),
            Some(("syscalls", "sys_exit_sendmmsg"))
        );
        assert_eq!(
            serde_json::to_value(Hook::new(HookKind::TpBtf, "sk_data_ready")).unwrap(),
            "tp_btf/sk_data_ready"
        );
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in [
            "fentry",
            "kprobe/x",
            "fexit/",
            "tracepoint/sys_enter_sendto",
        ] {
            assert!(bad.parse::<Hook>().is_err(), "{bad}");
        }
    }
}
