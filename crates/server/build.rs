//! Links the release `flowspace` binary with the functions of `symbol-order.txt` (what the
//! server runs at start-up and on the common requests, profiled by `scripts/symbol-order`)
//! next to each other at the start of its code. The kernel maps a program's code in 64 KiB
//! runs around each page it touches; laid out as the compiler leaves it, the 3–4 MB a running
//! server uses are spread over the whole text and made about 15 MB of it resident, together
//! they make 7 MB (docs/benchmarks.md, "Code that stays together").
//!
//! Only where the linker takes `--symbol-ordering-file` (LLD, Rust's default on x86_64 Linux
//! from rustup, and mold): an empty program is linked first with the same compiler, flags and
//! linker and the option, and without success (GNU ld, say) the binary is linked as usual.
//! Names the file lists that the binary no longer has are skipped without a warning, so a
//! stale file costs memory, never a failed build.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    println!("cargo::rerun-if-changed=symbol-order.txt");
    // Cargo sets RUSTC_LINKER itself and cannot track it: these are what a user changes.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER",
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let var = |name: &str| env::var(name).unwrap_or_default();
    if var("PROFILE") != "release" {
        return;
    }
    let order = Path::new(&var("CARGO_MANIFEST_DIR")).join("symbol-order.txt");
    if !order.is_file() || !linker_takes_an_order(&var) {
        return;
    }
    // Two arguments, not `-Wl,…`: a comma in the checkout's path must not split the option.
    println!("cargo::rustc-link-arg-bin=flowspace=-Xlinker");
    println!(
        "cargo::rustc-link-arg-bin=flowspace=--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo::rustc-link-arg-bin=flowspace=-Wl,--no-warn-symbol-ordering");
}

/// Whether an empty program links with `--symbol-ordering-file` as this build would link it:
/// the same `rustc`, target, flags and configured linker.
fn linker_takes_an_order(var: &dyn Fn(&str) -> String) -> bool {
    let out = PathBuf::from(var("OUT_DIR"));
    let source = out.join("order_probe.rs");
    if fs::write(&source, "fn main() {}\n").is_err() {
        return false;
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let mut probe = Command::new(rustc);
    probe
        .arg(&source)
        .arg("--target")
        .arg(var("TARGET"))
        .arg("-o")
        .arg(out.join("order_probe"));
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    probe.args(flags.split('\u{1f}').filter(|f| !f.is_empty()));
    let linker = var("RUSTC_LINKER");
    if !linker.is_empty() {
        probe.arg(format!("-Clinker={linker}"));
    }
    probe
        .args(["-C", "link-arg=-Xlinker", "-C"])
        .arg("link-arg=--symbol-ordering-file=/dev/null")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    probe.status().is_ok_and(|s| s.success())
}
