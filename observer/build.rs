use anyhow::{Context as _, anyhow};
use aya_build::Toolchain;

/// Set to 1 by the fuzz crate (fuzz/.cargo/config.toml): its targets exercise the parsers and
/// never load the kernel programs, and building those (a BPF-target core, bpf-linker) in the fuzz
/// crate's own target dir would cost minutes per fresh checkout for nothing. The binary then
/// embeds an empty object and `Capture::start` refuses to run, saying why.
const NO_EBPF: &str = "OBSERVER_NO_EBPF";

/// Builds the eBPF crate for the BPF target (with the pinned nightly from rust-toolchain.toml)
/// into OUT_DIR, where `include_bytes_aligned!` embeds it into the binary.
fn main() -> anyhow::Result<()> {
    println!("cargo::rerun-if-env-changed={NO_EBPF}");
    if std::env::var_os(NO_EBPF).is_some_and(|v| v == "1") {
        let out = std::path::PathBuf::from(std::env::var("OUT_DIR").context("OUT_DIR")?);
        std::fs::write(out.join("observer"), b"").context("writing the empty eBPF object")?;
        println!(
            "cargo::warning={NO_EBPF}=1: the eBPF programs are not built; this observer cannot trace"
        );
        return Ok(());
    }
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?;
    let workspace = std::path::Path::new(&manifest_dir)
        .parent()
        .ok_or_else(|| anyhow!("no workspace dir"))?;
    let ebpf_dir = workspace.join("observer-ebpf");
    let toolchain = pinned_channel(&workspace.join("rust-toolchain.toml"))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "observer-ebpf",
            root_dir: ebpf_dir.to_str().ok_or_else(|| anyhow!("non UTF-8 path"))?,
            ..Default::default()
        }],
        Toolchain::Custom(Box::leak(toolchain.into_boxed_str())),
    )
}

/// The one pinned nightly lives in rust-toolchain.toml; read it rather than repeat it.
fn pinned_channel(path: &std::path::Path) -> anyhow::Result<String> {
    println!("cargo::rerun-if-changed={}", path.display());
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("channel"))
        .map(|v| {
            v.trim_start_matches([' ', '='])
                .trim()
                .trim_matches('"')
                .to_string()
        })
        .ok_or_else(|| anyhow!("no channel in {}", path.display()))
}
