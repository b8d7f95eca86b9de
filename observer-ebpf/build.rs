use which::which;

/// Rebuild when bpf-linker changes (a new LLVM can change the emitted bytecode), and fail early
/// with a clear message when it is missing.
fn main() {
    let bpf_linker = which("bpf-linker").expect("bpf-linker not found: run scripts/setup");
    println!(
        "cargo:rerun-if-changed={}",
        bpf_linker.to_str().expect("utf-8 path")
    );
}
