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
