//! The zlib that pingora's flate2 uses is vendor/libz-ng-sys (the zlib API over zlib-rs, so no
//! cmake is needed): gzip and zlib streams it writes are what the system's `gzip` reads, what
//! `gzip` writes it reads back, and compression really compresses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use flate2::Compression;
use flate2::read::{GzDecoder, ZlibDecoder};
use flate2::write::{GzEncoder, ZlibEncoder};

fn sample() -> Vec<u8> {
    (0..200_000u32)
        .map(|i| format!("{{\"id\":\"7x{i}\",\"subject\":\"Fattura {}\"}},", i % 97))
        .collect::<String>()
        .into_bytes()
}

fn system_gzip(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn gzip_written_here_is_read_by_gzip_and_back() {
    let data = sample();
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(&data).unwrap();
    let gz = enc.finish().unwrap();
    assert!(gz.len() * 10 < data.len(), "{} of {}", gz.len(), data.len());
    assert_eq!(
        system_gzip(&["-dc"], &gz),
        data,
        "the system's gzip reads it"
    );
    let theirs = system_gzip(&["-c", "-9"], &data);
    let mut back = Vec::new();
    GzDecoder::new(&theirs[..]).read_to_end(&mut back).unwrap();
    assert_eq!(back, data, "what gzip wrote reads back");
    let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
    z.write_all(&data).unwrap();
    let z = z.finish().unwrap();
    let mut back = Vec::new();
    ZlibDecoder::new(&z[..]).read_to_end(&mut back).unwrap();
    assert_eq!(back, data);
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    let mut sink = Vec::new();
    assert!(
        GzDecoder::new(&bad[..]).read_to_end(&mut sink).is_err(),
        "damage is an error"
    );
}
