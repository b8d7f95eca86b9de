//! What each verdict cites and suggests: where the systemd statement it mirrors is, per version
//! read (`cite`), and how to get a refused message through (`hint_for`).

use super::{Kind, UnitState};

/// Every statement this module mirrors (a log line or a decision), named for the lookup below.
#[rustfmt::skip]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum R {
    CtrlTrunc, PayloadTrunc, NoCreds, Oversize, EmbeddedNul, SenderDied, SplitOom, NoUnit,
    ExtraFds, BarrierExtra, BarrierFds, BarrierDebug, NotServiceNew, NotServiceOld, AccessNone,
    NotMain, MainUnknown, ExecBoth, ExecMain, ExecControl, ExecNone, AcceptedNew, AcceptedOld,
    Status, NotifyAccess, Errno, BusError, ExtendTimeout, Watchdog, WatchdogRequest, WatchdogUsec,
    MainPidStates, MainPidFd, MainPidParse, MainPidFdIdParse, MainPidFdIdCheck, IsManager,
    IsControl, Suitable, Zombie, Happy, Privileged, Refusing, NotChild, Monotonic, FdStoreRemove,
    FdNameInvalid, FdStoreFull, Stopping, Ready, Reloading, StopLatchReady, StopLatchReloading,
    RestartReset, Fields,
}

/// Where each mirrored statement is, per version read: (applies from version, "file:line read-in").
/// `M:` src/core/manager.c, `S:` src/core/service.c, `R:` src/shared/notify-recv.c.
#[rustfmt::skip]
const SOURCES: &[(R, &[(u32, &str)])] = &[
    (R::CtrlTrunc,          &[(252, "M:2533 v252.39"), (254, "M:2619 v254.26"), (257, "M:2851 v257.13"), (258, "R:124 v262")]),
    (R::PayloadTrunc,       &[(257, "M:2855 v257.13"), (258, "R:129 v262")]),
    (R::NoCreds,            &[(252, "M:2571 v252.39"), (254, "M:2657 v254.26"), (257, "M:2904 v257.13"), (258, "R:189 v262")]),
    (R::Oversize,           &[(252, "M:2576 v252.39"), (254, "M:2662 v254.26")]),
    (R::EmbeddedNul,        &[(252, "M:2583 v252.39"), (254, "M:2669 v254.26"), (257, "M:2933 v257.13"), (258, "R:194 v262")]),
    (R::SenderDied,         &[(257, "M:2916 v257.13")]),
    (R::SplitOom,           &[(252, "M:2591 v252.39"), (254, "M:2677 v254.26"), (257, "M:2942 v257.13"), (258, "R:250 v262")]),
    (R::NoUnit,             &[(252, "M:2633 v252.39"), (254, "M:2721 v254.26"), (257, "M:2964 v257.13"), (262, "M:3136 v262")]),
    (R::ExtraFds,           &[(252, "M:2636 v252.39"), (254, "M:2724 v254.26"), (257, "M:2972 v257.13"), (262, "M:3144 v262")]),
    (R::BarrierExtra,       &[(252, "M:2452 v252.39"), (254, "M:2536 v254.26"), (257, "M:2727 v257.13"), (262, "M:2998 v262")]),
    (R::BarrierFds,         &[(252, "M:2450 v252.39"), (254, "M:2538 v254.26"), (257, "M:2729 v257.13"), (262, "M:3000 v262")]),
    (R::BarrierDebug,       &[(254, "M:2683 v254.26"), (257, "M:2948 v257.13"), (262, "M:3120 v262")]),
    (R::NotServiceNew,      &[(257, "M:2764 v257.13"), (262, "M:3035 v262")]),
    (R::NotServiceOld,      &[(252, "M:2489 v252.39"), (254, "M:2575 v254.26")]),
    (R::AccessNone,         &[(252, "S:4079 v252.39"), (254, "S:4318 v254.26"), (257, "S:4526 v257.13"), (262, "S:5398 v262")]),
    (R::NotMain,            &[(252, "S:4085 v252.39"), (254, "S:4324 v254.26"), (257, "S:4537 v257.13"), (262, "S:5409 v262")]),
    (R::MainUnknown,        &[(252, "S:4087 v252.39"), (254, "S:4326 v254.26"), (257, "S:4539 v257.13"), (262, "S:5411 v262")]),
    (R::ExecBoth,           &[(252, "S:4094 v252.39"), (254, "S:4333 v254.26"), (257, "S:4548 v257.13"), (262, "S:5420 v262")]),
    (R::ExecMain,           &[(252, "S:4097 v252.39"), (254, "S:4336 v254.26"), (257, "S:4551 v257.13"), (262, "S:5423 v262")]),
    (R::ExecControl,        &[(252, "S:4099 v252.39"), (254, "S:4338 v254.26"), (257, "S:4553 v257.13"), (262, "S:5425 v262")]),
    (R::ExecNone,           &[(252, "S:4101 v252.39"), (254, "S:4340 v254.26"), (257, "S:4555 v257.13"), (262, "S:5427 v262")]),
    (R::AcceptedNew,        &[(257, "S:4648 v257.13"), (262, "S:5622 v262")]),
    (R::AcceptedOld,        &[(252, "S:4140 v252.39"), (254, "S:4380 v254.26")]),
    (R::Status,             &[(252, "S:4224 v252.39"), (254, "S:4499 v254.26"), (257, "S:4771 v257.13"), (262, "S:5673 v262")]),
    (R::NotifyAccess,       &[(254, "S:4521 v254.26"), (257, "S:4793 v257.13"), (262, "S:5695 v262")]),
    (R::Errno,              &[(252, "S:4246 v252.39"), (254, "S:4540 v254.26"), (257, "S:4812 v257.13"), (262, "S:5714 v262")]),
    (R::BusError,           &[(257, "S:4838 v257.13"), (262, "S:5740 v262")]),
    (R::ExtendTimeout,      &[(252, "S:4258 v252.39"), (254, "S:4552 v254.26"), (257, "S:4849 v257.13"), (262, "S:5751 v262")]),
    (R::Watchdog,           &[(252, "S:4271 v252.39"), (254, "S:4565 v254.26"), (257, "S:4862 v257.13"), (262, "S:5764 v262")]),
    (R::WatchdogRequest,    &[(252, "S:4113 v252.39"), (254, "S:4352 v254.26"), (257, "S:4512 v257.13"), (262, "S:5384 v262")]),
    (R::WatchdogUsec,       &[(252, "S:4278 v252.39"), (254, "S:4572 v254.26"), (257, "S:4869 v257.13"), (262, "S:5771 v262")]),
    (R::MainPidStates,      &[(252, "S:4145 v252.39"), (254, "S:4385 v254.26"), (257, "S:4660 v257.13"), (262, "S:5633 v262")]),
    (R::MainPidFd,          &[(257, "S:4582 v257.13"), (262, "S:5454 v262")]),
    (R::MainPidParse,       &[(252, "S:4149 v252.39"), (254, "S:4389 v254.26"), (255, "S service_notify_message() v255-era git 8017ed7e"), (257, "S:4599 v257.13"), (262, "S:5471 v262")]),
    (R::MainPidFdIdParse,   &[(257, "S:4609 v257.13"), (262, "S:5481 v262")]),
    (R::MainPidFdIdCheck,   &[(257, "S:4620 v257.13"), (262, "S:5492 v262")]),
    (R::IsManager,          &[(252, "S:942 v252.39"), (254, "S:1079 v254.26"), (257, "S:1152 v257.13"), (262, "S:1523 v262")]),
    (R::IsControl,          &[(252, "S:945 v252.39"), (254, "S:1082 v254.26"), (257, "S:1155 v257.13"), (262, "S:1526 v262")]),
    (R::Suitable,           &[(252, "S:4152 v252.39"), (254, "S:4392 v254.26"), (257, "S:4665 v257.13"), (262, "S:5639 v262")]),
    (R::Zombie,             &[(252, "S:948 v252.39"), (254, "S:1085 v254.26"), (257, "S:1161 v257.13"), (262, "S:1532 v262")]),
    (R::Happy,              &[(252, "S:952 v252.39"), (254, "S:1089 v254.26"), (257, "S:1165 v257.13"), (262, "S:1536 v262")]),
    (R::Privileged,         &[(252, "S:4157 v252.39"), (254, "S:4397 v254.26"), (257, "S:4670 v257.13"), (262, "S:5644 v262")]),
    (R::Refusing,           &[(252, "S:4160 v252.39"), (254, "S:4400 v254.26"), (257, "S:4673 v257.13"), (262, "S:5647 v262")]),
    (R::NotChild,           &[(252, "S:179 v252.39"), (254, "S:201 v254.26"), (257, "S:245 v257.13"), (262, "S:291 v262")]),
    (R::Monotonic,          &[(254, "S:4419 v254.26"), (257, "S:4691 v257.13"), (262, "S:5512 v262")]),
    (R::FdStoreRemove,      &[(252, "S:4291 v252.39"), (254, "S:4585 v254.26"), (257, "S:4882 v257.13"), (262, "S:5795 v262")]),
    (R::FdNameInvalid,      &[(252, "S:4300 v252.39"), (254, "S:4594 v254.26"), (257, "S:4891 v257.13"), (262, "S:5804 v262")]),
    (R::FdStoreFull,        &[(252, "S:493 v252.39"), (254, "S:563 v254.26"), (257, "S:633 v257.13"), (262, "S:767 v262")]),
    (R::Stopping,           &[(252, "S:4202 v252.39"), (254, "S:4423 v254.26"), (257, "S:4695 v257.13"), (262, "S:5516 v262")]),
    (R::Ready,              &[(252, "S:4177 v252.39"), (254, "S:4431 v254.26"), (257, "S:4703 v257.13"), (262, "S:5527 v262")]),
    (R::Reloading,          &[(252, "S:4193 v252.39"), (254, "S:4467 v254.26"), (257, "S:4739 v257.13"), (262, "S:5577 v262")]),
    (R::StopLatchReady,     &[(262, "S:5530 v262")]),
    (R::StopLatchReloading, &[(262, "S:5580 v262")]),
    (R::RestartReset,       &[(258, "S:5779 v262")]),
    (R::Fields,             &[(252, "S:4119 v252.39"), (254, "S:4358 v254.26"), (257, "S:4630 v257.13"), (262, "S:5604 v262")]),
];

/// The citation of `rule` for version `v`: the newest entry that applies to it.
pub(super) fn cite(v: u32, rule: R) -> String {
    let at = SOURCES
        .iter()
        .find(|(r, _)| *r == rule)
        .map(|(_, at)| *at)
        .unwrap_or(&[]);
    let Some((_, loc)) = at.iter().rev().find(|(from, _)| *from <= v).or(at.first()) else {
        return String::new();
    };
    let (file, rest) = match loc.split_once(':') {
        Some(("M", rest)) => ("src/core/manager.c:", rest),
        Some(("S", rest)) => ("src/core/service.c:", rest),
        Some(("R", rest)) => ("src/shared/notify-recv.c:", rest),
        _ => ("src/core/service.c ", loc.trim_start_matches("S ")),
    };
    format!("{file}{rest}")
}

pub(super) fn hint_for(kind: Kind, unit: Option<&UnitState>) -> String {
    let id = unit.map(|u| u.id.as_str()).unwrap_or("the unit");
    match kind {
        Kind::NoUnit => "the sender is in no unit's cgroup and no unit watches its PID: it probably exited before systemd read the message (keep it alive: sd_notify_barrier(), systemd-notify without --no-block), or it runs outside the service; with NotifyAccess=all, send from inside the service's cgroup".into(),
        Kind::NotAService => format!("only .service units process notifications and the sender belongs to {id}: send from the service's own processes"),
        Kind::AccessNone => format!("{id} has NotifyAccess=none: set NotifyAccess=main, exec or all (Type=notify implies main)"),
        Kind::NotMainPid => "set NotifyAccess=all, or send from the main process (systemd-notify --pid=$MAINPID, or sd_pid_notify() with the main PID as a privileged sender)".into(),
        Kind::MainPidUnknown => "systemd does not know the main PID yet (e.g. Type=forking before the PID file): set NotifyAccess=all, or PIDFile=, or send MAINPID= from an authorized process first".into(),
        Kind::NotExecPid | Kind::ExecPidsUnknown => "NotifyAccess=exec accepts only the main and the current control process: set NotifyAccess=all, or send from one of those".into(),
        _ => String::new(),
    }
}
