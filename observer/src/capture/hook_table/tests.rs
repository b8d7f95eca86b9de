use std::collections::{BTreeMap, BTreeSet};

use object::{Object as _, ObjectSection as _, ObjectSymbol as _};

use super::*;
use crate::capture::EBPF_OBJECT;

/// The object's symbols, by name, with the section each lives in (a program's section starts
/// with its kind: `fexit/unix_dgram_sendmsg`, `tracepoint`).
fn object_symbols() -> Option<BTreeMap<String, String>> {
    if EBPF_OBJECT.is_empty() {
        return None;
    }
    let file = object::File::parse(EBPF_OBJECT).expect("the embedded eBPF object is ELF");
    let symbols = file
        .symbols()
        .filter_map(|sym| {
            let section = file.section_by_index(sym.section_index()?).ok()?;
            Some((sym.name().ok()?.to_owned(), section.name().ok()?.to_owned()))
        })
        .collect();
    Some(symbols)
}

#[test]
fn every_program_map_and_global_named_is_in_the_object() {
    let Some(symbols) = object_symbols() else {
        eprintln!("skipped: built with OBSERVER_NO_EBPF=1, no eBPF object to check");
        return;
    };
    let program_in = |name: &str, kind: HookKind| {
        let section = symbols
            .get(name)
            .unwrap_or_else(|| panic!("program {name} is not in the eBPF object"));
        assert!(
            section.starts_with(kind.as_str()),
            "program {name} is in section {section}, not a {} one",
            kind.as_str()
        );
    };
    for h in HOOKS {
        program_in(h.program, h.kind);
        for name in h.maps.iter().chain(h.globals) {
            assert!(
                symbols.contains_key(*name),
                "{} names {name}, which is not in the eBPF object",
                h.hook()
            );
        }
    }
    for (kind, programs) in FLOOR_PROGRAMS {
        for p in *programs {
            program_in(p, *kind);
        }
    }
}

/// The fentry programs cannot load on the test host: at least they are built, and named.
#[test]
fn the_object_holds_both_strategies() {
    let Some(symbols) = object_symbols() else {
        eprintln!("skipped: built with OBSERVER_NO_EBPF=1, no eBPF object to check");
        return;
    };
    for h in with_role(Role::FentrySend) {
        assert!(symbols.contains_key(h.program), "{}", h.program);
    }
}

#[test]
fn each_hook_has_one_row() {
    let mut seen = BTreeSet::new();
    for h in HOOKS {
        assert!(seen.insert(h.hook().to_string()), "{} twice", h.hook());
        assert_eq!(spec_of(&h.hook()).map(|s| s.program), Some(h.program));
        assert_eq!(h.hook().to_string().parse::<Hook>().unwrap(), h.hook());
    }
}

/// hook-floor loads one do-nothing program per hook of a kind (tracefs ones share one): each
/// kind needs as many as the most hooks of it one capture attaches.
#[test]
fn the_floor_has_a_program_for_every_hook_a_capture_attaches() {
    let sends = [
        vec![Role::FentrySend],
        vec![Role::TpBtfSend],
        vec![Role::TpBtfSend, Role::SyscallSend],
    ];
    let reads = [
        ReadWay::SkbFreeDatagram,
        ReadWay::UnixDgramRecvmsg,
        ReadWay::ConsumeSkb,
        ReadWay::SockRecvLength,
        ReadWay::Syscalls,
    ];
    for send in &sends {
        for read in reads {
            let roles: Vec<Role> = send.iter().copied().chain([Role::Read(read)]).collect();
            for kind in [HookKind::Fentry, HookKind::Fexit, HookKind::TpBtf] {
                let n = HOOKS
                    .iter()
                    .filter(|h| h.kind == kind && roles.contains(&h.role))
                    .count();
                assert!(
                    n <= floor_programs(kind).len(),
                    "{roles:?}: {n} {} hooks",
                    kind.as_str()
                );
            }
        }
    }
    assert_eq!(floor_programs(HookKind::Tracepoint).len(), 1);
}

/// docs/ARCHITECTURE.md names each hook (syscall tracepoints by their syscall).
#[test]
fn the_architecture_doc_names_every_hook() {
    let doc = include_str!("../../../../docs/ARCHITECTURE.md");
    for h in HOOKS {
        let name = match h.kind {
            HookKind::Tracepoint => {
                let tp = h.tracepoint().1;
                tp.trim_start_matches("sys_enter_")
                    .trim_start_matches("sys_exit_")
                    .to_owned()
            }
            _ => h.hook().to_string(),
        };
        assert!(
            doc.contains(&name),
            "docs/ARCHITECTURE.md never names {name}"
        );
    }
}
