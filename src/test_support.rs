//! Fixtures shared by the unit tests, the integration tests (`tests/common`) and the benches:
//! JPEGs, and the hex and base64 forms cameras send them in. Not part of the bridge's API.

use base64::Engine;

/// A real JPEG (160x120, made by Pillow): the virtual camera's snapshot.
pub const SAMPLE_JPEG: &[u8] = crate::simulator::SAMPLE_JPEG;

/// A small but structurally complete baseline JPEG (SOI, APP0, DQT, SOF0, DHT, SOS, scan, EOI),
/// with `FF 00` stuffing and an `FF D9`-free scan, like a real encoder writes.
pub fn jpeg(scan_len: usize) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    j.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10]);
    j.extend_from_slice(b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00");
    j.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    j.extend((0..64).map(|i| i as u8 + 1));
    j.extend_from_slice(&[
        0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x10, 0x00, 0x10, 0x01, 0x01, 0x11, 0x00,
    ]);
    j.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, 0x00]);
    j.extend_from_slice(&[0x01; 16]);
    j.push(0x00);
    j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
    for i in 0..scan_len {
        match i % 97 {
            0 => j.extend_from_slice(&[0xFF, 0x00]),
            50 => j.extend_from_slice(&[0xFF, 0xD0 + (i % 8) as u8]),
            _ => j.push((i * 31 % 251) as u8),
        }
    }
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

/// A valid JPEG of about `size` bytes: the sample with its entropy-coded scan lengthened by
/// pseudo-random bytes (never `FF`), so the extractor reads it byte by byte as it must a real photo.
pub fn jpeg_of(size: usize) -> Vec<u8> {
    let body = &SAMPLE_JPEG[..SAMPLE_JPEG.len() - 2];
    let mut j = Vec::with_capacity(size);
    j.extend_from_slice(body);
    let mut x: u32 = 0x1234_5678;
    while j.len() + 2 < size {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        j.push((x % 255) as u8);
    }
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

/// `ff d8 ff …`, as a hex viewer shows bytes.
pub fn hex(bytes: &[u8], sep: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(sep)
}

/// Standard base64, padded.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Every topic of one to `levels` levels made of `words`: the universe the overlap property
/// tests search for a topic two kinds would both read.
pub fn topics_of(words: &[&str], levels: usize) -> Vec<String> {
    let mut topics: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let mut last = topics.clone();
    for _ in 1..levels {
        last = last
            .iter()
            .flat_map(|p| words.iter().map(move |w| format!("{p}/{w}")))
            .collect();
        topics.extend(last.iter().cloned());
    }
    topics
}
