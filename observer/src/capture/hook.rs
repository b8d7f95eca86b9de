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
mod tests;
