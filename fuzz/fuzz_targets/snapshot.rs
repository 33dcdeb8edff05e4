//! The snapshot extractor on arbitrary bytes: never panics, and what it returns is a JPEG from its
//! start marker to its end marker.
#![no_main]

use libfuzzer_sys::fuzz_target;
use solarcam_bridge::protocol::snapshot::extract;

fuzz_target!(|data: &[u8]| {
    let payload = bytes::Bytes::copy_from_slice(data);
    if let Ok(s) = extract(&payload) {
        assert!(s.jpeg.starts_with(&[0xFF, 0xD8]), "no start marker");
        assert!(s.jpeg.ends_with(&[0xFF, 0xD9]), "no end marker");
    }
});
