use which::which;

/// Rebuild when bpf-linker changes (a new LLVM can change the emitted bytecode), and fail early
/// with a clear message when it is missing. Sets `bpf_target_arch` (the traced kernel's
/// architecture, arch/) when nothing else did: aya-build does when observer's build.rs builds
/// this crate, nobody when clippy checks it on its own.
fn main() {
    aya_build::emit_bpf_target_arch_cfg().expect("bpf_target_arch");
    let bpf_linker = which("bpf-linker").expect("bpf-linker not found: run scripts/setup");
    println!(
        "cargo:rerun-if-changed={}",
        bpf_linker.to_str().expect("utf-8 path")
    );
}
