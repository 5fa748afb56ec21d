//! Release builds of the server place the functions a start and a first request run next to one
//! another (`symbol-order.txt`), so those pages of code are all the kernel brings in.

fn main() {
    println!("cargo:rerun-if-changed=symbol-order.txt");
    let is = |key: &str, value: &str| std::env::var(key).is_ok_and(|v| v == value);
    // rustc links x86_64 Linux with its bundled LLD, which reads an ordering file.
    if is("PROFILE", "release")
        && is("CARGO_CFG_TARGET_ARCH", "x86_64")
        && is("CARGO_CFG_TARGET_OS", "linux")
        && let Ok(directory) = std::env::var("CARGO_MANIFEST_DIR")
    {
        println!(
            "cargo:rustc-link-arg-bin=casemate=-Wl,--symbol-ordering-file={directory}/symbol-order.txt"
        );
        println!("cargo:rustc-link-arg-bin=casemate=-Wl,--no-warn-symbol-ordering");
    }
}
