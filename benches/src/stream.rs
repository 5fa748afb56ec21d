//! Streaming encryption and decryption of a 1 GiB blob against plain copying of the same bytes.
//! All three run memory to memory through `Read`/`Write`, so the figure is the cost of the
//! cryptography and framing, not of the disk (file to file, the kernel's write-back of earlier
//! phases skews later ones). Target (issue 4): at least half the copy speed.

use std::io::Write;
use std::time::Instant;

const SIZE: usize = 1 << 30;

fn mib_per_second(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / seconds
}

pub fn run() -> anyhow::Result<()> {
    let plain: Vec<u8> = (0..SIZE)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let key = [42u8; 32];
    let aad = b"/resourceGroups/bench/storage/blob";

    let mut copied = Vec::with_capacity(SIZE);
    let started = Instant::now();
    std::io::copy(&mut &plain[..], &mut copied)?;
    copied.flush()?;
    let copy = started.elapsed().as_secs_f64();
    drop(copied);

    let mut sealed = Vec::with_capacity(casemate_crypto::stream::sealed_len(SIZE as u64) as usize);
    let started = Instant::now();
    casemate_crypto::stream::seal_stream(&key, aad, &mut &plain[..], &mut sealed)?;
    let seal = started.elapsed().as_secs_f64();

    let mut opened = Vec::with_capacity(SIZE);
    let started = Instant::now();
    casemate_crypto::stream::open_stream(&key, aad, &mut &sealed[..], &mut opened)?;
    let open = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        opened == plain,
        "the benchmark's own round trip changed the bytes"
    );

    println!(
        "# streaming AEAD, 1 GiB memory to memory (target: encrypt and decrypt at least half the copy speed)"
    );
    println!("stream copy     {:>8.0} MiB/s", mib_per_second(SIZE, copy));
    println!(
        "stream encrypt  {:>8.0} MiB/s  ({:.2} of copy)",
        mib_per_second(SIZE, seal),
        copy / seal
    );
    println!(
        "stream decrypt  {:>8.0} MiB/s  ({:.2} of copy)",
        mib_per_second(SIZE, open),
        copy / open
    );
    Ok(())
}
