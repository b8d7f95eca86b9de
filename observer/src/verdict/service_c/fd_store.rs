//! FDSTORE=1, FDSTOREREMOVE=1, FDNAME= and FDPOLL=0: what src/core/service.c puts in (or takes
//! out of) the service's fd store.

use super::{first, flag, shown};
use crate::{
    notify::{Key, Payload},
    systemd_basic::fd_util,
    verdict::{
        Judge, LogLevel, UnitState,
        citations::{R, cite},
    },
};

/// FDSTOREREMOVE=1 / FDSTORE=1 / FDNAME= / FDPOLL=0: service.c:4286 v252.39, :4877 v257.13, :5790 v262;
/// `service_add_fd_store_set()` :478 v252.39, :618 v257.13, :752 v262.
pub(super) fn service_notify_message_fd_store(
    j: &mut Judge,
    u: &UnitState,
    p: &Payload,
    fds_left: &mut u32,
) {
    use LogLevel::*;
    let v = j.v;
    let name = first(p, Key::FdName);
    if let Some(f) = flag(p, b"FDSTOREREMOVE=1") {
        let src = cite(v, R::FdStoreRemove);
        match name.filter(|n| fd_util::fdname_is_valid(n.raw_value())) {
            None => j.warn(
                f,
                "FDSTOREREMOVE=1 requested, but no valid file descriptor name passed, ignoring."
                    .into(),
                src,
            ),
            Some(n) => j.yes(
                f,
                format!("stored fds named \"{}\" are closed and removed", shown(n)),
                src,
            ),
        }
        return;
    }
    let Some(f) = flag(p, b"FDSTORE=1") else {
        return;
    };
    let mut label = "stored".to_owned();
    if let Some(n) = name {
        if fd_util::fdname_is_valid(n.raw_value()) {
            label = shown(n);
        } else {
            let src = cite(v, R::FdNameInvalid);
            j.warn(n, "Passed FDNAME= name is invalid, ignoring.".into(), src);
        }
    }
    let src = cite(v, R::FdStoreFull);
    let n = *fds_left;
    if n == 0 {
        return j.no(
            f,
            "no effect (no log): FDSTORE=1 came without any fd".into(),
            src,
        );
    }
    let room = match (u.fd_store_max, u.fd_store_count) {
        (Some(max), count) => max.saturating_sub(count.unwrap_or(0)),
        (None, _) => {
            *fds_left = 0;
            return j.maybe(f, format!("{n} fd(s) stored as \"{label}\" if FileDescriptorStoreMax= leaves room (fds already stored are deduplicated)"), src);
        }
    };
    if n <= room {
        *fds_left = 0;
        return j.yes(f, format!("{n} fd(s) stored as \"{label}\""), src);
    }
    // The fd that did not fit is taken and closed; the rest stay for "extra auxiliary fds".
    *fds_left = n - room - 1;
    let max = u.fd_store_max.unwrap_or(0);
    let m = format!("Cannot store more fds than FileDescriptorStoreMax={max}, closing remaining.");
    j.note(f, Some(room > 0), Some(Warning), m, src);
    if max == 0 {
        j.amend(" (the fd store is off: set FileDescriptorStoreMax=)");
    }
}
