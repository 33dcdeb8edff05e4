use super::*;
use crate::test_support::{b64, hex, jpeg};
use proptest::prelude::*;

fn ok(payload: impl Into<Bytes>) -> Extracted {
    let payload = payload.into();
    extract(&payload).unwrap_or_else(|e| panic!("not extracted: {e}"))
}

#[test]
fn raw_jpeg_is_returned_without_a_copy() {
    let payload = Bytes::from(jpeg(500));
    let s = ok(payload.clone());
    assert_eq!(s.jpeg, payload);
    assert_eq!(s.form, Form::Raw);
    assert_eq!(
        s.jpeg.as_ptr(),
        payload.as_ptr(),
        "a slice of the payload, not a copy"
    );
}

#[test]
fn the_vendors_envelope_gives_its_facts_and_its_image_byte_exact() {
    let img = jpeg(700);
    let payload = format!(
        r#"{{"ts": 1682336818966, "values": {{"devName": "4G Solar-powered ANPR Camera",
               "devMac": "5CC5638AE729", "file": "debug_202304240745431198T",
               "time": 1682336743, "imageSize": {}, "image": "data:image/jpeg;base64,{}"}}}}"#,
        img.len(),
        b64(&img)
    );
    let s = ok(payload);
    assert_eq!(&s.jpeg[..], &img[..]);
    assert_eq!(s.form, Form::Json);
    assert_eq!(s.mac.unwrap().unwrap().to_string(), "5CC5638AE729");
    assert_eq!(
        s.facts,
        Facts {
            dev_name: Some("4G Solar-powered ANPR Camera".into()),
            taken: Some(1682336743),
        }
    );
    // Milliseconds, a number as text, a name with control characters and of any length.
    let payload = format!(
        r#"{{"values": {{"devname": "a\u0007b{}", "TIME": "1682336743123", "image": "{}"}}}}"#,
        "x".repeat(500),
        b64(&img)
    );
    let facts = ok(payload).facts;
    assert_eq!(facts.taken, Some(1682336743));
    let name = facts.dev_name.unwrap();
    assert!(
        name.starts_with("abx") && name.chars().count() == MAX_DEV_NAME,
        "{name}"
    );
}

#[test]
fn an_image_that_is_not_its_image_size_is_an_error() {
    let img = jpeg(300);
    for said in [img.len() - 1, img.len() + 1] {
        let payload = format!(
            r#"{{"values": {{"imageSize": {said}, "image": "{}"}}}}"#,
            b64(&img)
        );
        assert_eq!(
            extract(&Bytes::from(payload)),
            Err(SnapshotError::SizeMismatch {
                said: said as u64,
                got: img.len()
            })
        );
    }
}

#[test]
fn snapshot_after_binary_header_is_byte_exact_and_names_the_mac() {
    let img = jpeg(500);
    let mut payload = b"\x01\x00\x02SC211\x005CC5638AE24C\x00\x00\x10\x20".to_vec();
    let header = payload.len();
    payload.extend_from_slice(&img);
    payload.extend_from_slice(b"\x00\x00trailer");
    let s = ok(payload);
    assert_eq!(&s.jpeg[..], &img[..]);
    assert_eq!(s.form, Form::Header(header));
    assert_eq!(s.mac.unwrap().unwrap().to_string(), "5CC5638AE24C");
}

#[test]
fn snapshot_after_text_header_is_byte_exact() {
    let img = jpeg(300);
    let mut payload = b"mac=5c:c5:63:8a:e2:4c\r\nsize=1234\r\n\r\n".to_vec();
    payload.extend_from_slice(&img);
    let s = ok(payload);
    assert_eq!(&s.jpeg[..], &img[..]);
    assert_eq!(s.mac.unwrap().unwrap().to_string(), "5CC5638AE24C");
}

#[test]
fn exif_thumbnail_does_not_end_the_image_early() {
    let thumb = jpeg(20);
    let mut img = vec![0xFF, 0xD8, 0xFF, 0xE1];
    let len = (2 + 6 + thumb.len()) as u16;
    img.extend_from_slice(&len.to_be_bytes());
    img.extend_from_slice(b"Exif\0\0");
    img.extend_from_slice(&thumb);
    img.extend_from_slice(&jpeg(200)[2..]);
    assert_eq!(&ok(img.clone()).jpeg[..], &img[..]);
}

/// `bytes` as `xxd` prints them (with a made-up header before the image, as some dumps have).
fn xxd(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, c)| {
            let groups: Vec<String> = c.chunks(2).map(|g| hex(g, "")).collect();
            format!(
                "{:08x}: {}  {}\n",
                i * 16,
                groups.join(" "),
                ".".repeat(c.len())
            )
        })
        .collect()
}

/// `bytes` as `hexdump -C` prints them.
fn hexdump_c(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, c)| {
            format!(
                "{:08x}  {}  |{}|\n",
                i * 16,
                hex(c, " "),
                ".".repeat(c.len())
            )
        })
        .collect()
}

/// `img` in every form a camera or a dump tool writes it, each with the form it is read as.
fn encoded_forms(img: &[u8]) -> Vec<(&'static str, String, Form)> {
    let mut with_header = b"HDR 5CC5638AE24C ".to_vec();
    with_header.extend_from_slice(img);
    let (xxd, hexdump_c) = (xxd(&with_header), hexdump_c(img));
    vec![
        ("hex", hex(img, ""), Form::Hex),
        ("spaced hex", hex(img, " "), Form::Hex),
        (
            "upper hex over lines",
            hex(img, " ").to_uppercase().replace("FF D9", "FF\nD9"),
            Form::Hex,
        ),
        ("hex with header", hex(&with_header, " "), Form::Hex),
        (
            "0x hex",
            img.iter()
                .map(|b| format!("0x{b:02X}"))
                .collect::<Vec<_>>()
                .join(", "),
            Form::Hex,
        ),
        ("xxd", xxd, Form::Hex),
        ("hexdump -C", hexdump_c, Form::Hex),
        ("base64", b64(img), Form::Base64),
        (
            "wrapped base64",
            b64(img)
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join("\n"),
            Form::Base64,
        ),
        (
            "data url",
            format!("data:image/jpeg;base64,{}", b64(img)),
            Form::Base64,
        ),
        (
            "json base64",
            format!(
                r#"{{"mac":"5CC5638AE24C","time":1700000000,"image":"{}"}}"#,
                b64(img)
            ),
            Form::Json,
        ),
        (
            "json data url",
            format!(
                r#"{{"devMac":"5C:C5:63:8A:E2:4C","snapshot":{{"data":"data:image/jpeg;base64,{}"}}}}"#,
                b64(img)
            ),
            Form::Json,
        ),
        (
            "json hex",
            format!(r#"{{"sn":"5CC5638AE24C","pic":"{}"}}"#, hex(img, "")),
            Form::Json,
        ),
        (
            "text header then hex",
            format!("mac=5CC5638AE24C;data={}", hex(img, "")),
            Form::Hex,
        ),
        (
            "text header then base64",
            format!("mac=5CC5638AE24C;data={}", b64(img)),
            Form::Base64,
        ),
    ]
}

#[test]
fn every_encoded_form_yields_the_same_bytes() {
    let img = jpeg(400);
    for (name, payload, form) in encoded_forms(&img) {
        let s = extract(&Bytes::from(payload)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&s.jpeg[..], &img[..], "{name}");
        assert_eq!(s.form, form, "{name}");
        if name.contains("json") || name.contains("header") {
            assert_eq!(
                s.mac.unwrap().map(|m| m.to_string()).as_deref(),
                Some("5CC5638AE24C"),
                "{name}"
            );
        }
    }
}

#[test]
fn a_truncated_jpeg_is_rejected() {
    let img = jpeg(400);
    for cut in [3, 10, 100, img.len() - 1] {
        let e = extract(&Bytes::copy_from_slice(&img[..cut])).unwrap_err();
        assert_eq!(e, SnapshotError::Truncated { start: 0 }, "cut at {cut}");
    }
    let e = extract(&Bytes::from(b64(&img[..200]))).unwrap_err();
    assert_eq!(e, SnapshotError::Truncated { start: 0 });
}

#[test]
fn payloads_without_a_jpeg_are_rejected() {
    assert_eq!(extract(&Bytes::new()), Err(SnapshotError::Empty));
    for p in [
        &b"hello"[..],
        b"{\"mac\":\"5CC5638AE24C\"}",
        b"ffd9ffd9",
        b"\xff\xd8",
        b"aGVsbG8gd29ybGQ=",
    ] {
        assert_eq!(
            extract(&Bytes::copy_from_slice(p)),
            Err(SnapshotError::NoJpeg),
            "{p:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_give_a_whole_jpeg_no_bigger_than_the_payload(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        whole_and_bounded(&data)?;
    }

    #[test]
    fn arbitrary_bytes_after_a_jpeg_start_give_a_whole_jpeg_no_bigger_than_the_payload(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut p = SOI.to_vec();
        p.extend(data);
        whole_and_bounded(&p)?;
    }

    #[test]
    fn any_header_before_a_jpeg_is_cut_exactly(header in proptest::collection::vec(any::<u8>(), 0..256), scan in 0usize..600) {
        // The header may hold FF D8 FF by chance only where it is not the image's start.
        prop_assume!(find(&header, &SOI).is_none() && !header.ends_with(&[0xFF]) && !header.ends_with(&[0xFF, 0xD8]));
        let img = jpeg(scan);
        let mut p = header.clone();
        p.extend_from_slice(&img);
        let s = extract(&Bytes::from(p)).unwrap();
        prop_assert_eq!(&s.jpeg[..], &img[..]);
    }

    /// Any text: what is read from it is whole and no bigger than the text; the decoders
    /// never make more bytes than the text could hold.
    #[test]
    fn arbitrary_text_gives_a_whole_jpeg_and_decodes_to_less(s in "\\PC{0,512}") {
        whole_and_bounded(s.as_bytes())?;
        if let Some(d) = decode_hex_dump(s.as_bytes()) {
            prop_assert!(d.len() <= s.len() / 2, "{} bytes from {} of hex", d.len(), s.len());
        }
        if let Some(d) = decode_base64(s.as_bytes()) {
            prop_assert!(d.len() <= s.len() / 4 * 3 + 2, "{} bytes from {} of base64", d.len(), s.len());
        }
    }
}

/// A picture read from `payload` runs from a JPEG start to its end, is no bigger than the
/// payload (no form of it multiplies what a stranger sent), and, carried raw, is a part of it.
fn whole_and_bounded(payload: &[u8]) -> Result<(), proptest::test_runner::TestCaseError> {
    if let Ok(s) = extract(&Bytes::copy_from_slice(payload)) {
        prop_assert!(s.jpeg.starts_with(&SOI) && s.jpeg.ends_with(&[0xFF, 0xD9]));
        prop_assert!(s.jpeg.len() <= payload.len());
        if let Form::Raw | Form::Header(_) = s.form {
            let at = match s.form {
                Form::Header(n) => n,
                _ => 0,
            };
            prop_assert_eq!(&payload[at..at + s.jpeg.len()], &s.jpeg[..]);
        }
    }
    Ok(())
}
