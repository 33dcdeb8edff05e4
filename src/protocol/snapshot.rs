//! Finding the JPEG inside a snapshot payload, whatever form the firmware sent it in.
//!
//! The vendor's recipe is "view the payload as hex and delete everything before `ffd8`", so the
//! common case is a header of unknown layout followed by raw JPEG bytes. In the field the image also
//! arrives base64- or hex-encoded, alone or inside JSON. [`extract`] tries the cheap raw form first
//! and returns a [`Bytes`] slice of the payload itself there (no copy); only encoded forms allocate,
//! once, for the decoded image.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use bytes::Bytes;
use serde_json::Value;

use crate::mac::Mac;

/// A JPEG found in a payload, and the MAC the payload named, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// From `FF D8 FF` to its `FF D9`, inclusive.
    pub jpeg: Bytes,
    /// The MAC the payload names; a JSON key naming a MAC that holds none is an error.
    pub mac: Result<Option<Mac>, super::BadMac>,
    pub form: Form,
    /// What a JSON envelope said of the picture (newer firmware); empty otherwise.
    pub facts: Facts,
}

/// What newer firmware's snapshot envelope tells of itself (`{"ts": …, "values": {"devName": …,
/// "time": …, "imageSize": …}}`). Each is anyone's claim: bounded here, checked by the bridge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// `devName`: the product ("4G Solar-powered ANPR Camera"), printable, at most
    /// [`MAX_DEV_NAME`] characters.
    pub dev_name: Option<String>,
    /// `time`: when the picture was taken, Unix seconds (a value in milliseconds is read as such).
    pub taken: Option<u64>,
}

/// The longest `devName` kept: it becomes a device's model and an unlisted camera's name.
pub const MAX_DEV_NAME: usize = 64;

/// How the image was carried, for logs and the `decode` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The payload is the JPEG.
    Raw,
    /// Raw JPEG after a header of this many bytes.
    Header(usize),
    /// A hex dump (`ff d8 ff e0 …`, `ffd8ffe0…`, xxd or hexdump -C output).
    Hex,
    Base64,
    /// A JSON object holding the image as base64, a data URL or hex.
    Json,
}

impl std::fmt::Display for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Form::Raw => f.write_str("raw JPEG"),
            Form::Header(n) => write!(f, "raw JPEG after a {n}-byte header"),
            Form::Hex => f.write_str("hex dump"),
            Form::Base64 => f.write_str("base64"),
            Form::Json => f.write_str("JSON"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("empty payload")]
    Empty,
    #[error("no JPEG in it (no FF D8 FF start, raw or as hex, base64 or JSON)")]
    NoJpeg,
    #[error("the JPEG starting at byte {start} has no end (FF D9): it was cut short")]
    Truncated { start: usize },
    #[error("the image is {got} bytes but the camera's imageSize says {said}: not whole")]
    SizeMismatch { said: u64, got: usize },
}

/// A JPEG starts with SOI (`FF D8`) and a marker (`FF xx`).
const SOI: [u8; 3] = [0xFF, 0xD8, 0xFF];

/// Extracts the snapshot's JPEG. See the module documentation for the forms accepted.
pub fn extract(payload: &Bytes) -> Result<Extracted, SnapshotError> {
    if payload.is_empty() {
        return Err(SnapshotError::Empty);
    }
    if let Some(found) = from_binary(payload)? {
        return Ok(found);
    }
    let text = trim(payload);
    if text.first() == Some(&b'{') {
        if let Some(found) = from_json(text)? {
            return Ok(found);
        }
    }
    if let Some(bytes) = decode_hex_dump(text) {
        if let Some(found) = from_binary(&Bytes::from(bytes))? {
            return Ok(Extracted {
                form: Form::Hex,
                ..found
            });
        }
    }
    if let Some(found) = from_base64_text(text)? {
        return Ok(found);
    }
    // A text header followed by the image in hex or base64.
    if let Some(pos) = find_ascii_ci(text, b"ffd8ff") {
        let tail = &text[pos..];
        let end = tail
            .iter()
            .position(|c| !(c.is_ascii_hexdigit() || c.is_ascii_whitespace()))
            .unwrap_or(tail.len());
        if let Some(bytes) = decode_hex_dump(&tail[..end]) {
            if let Some(found) = from_binary(&Bytes::from(bytes))? {
                let mac = found.mac.map(|m| m.or_else(|| Mac::find_in(&text[..pos])));
                return Ok(Extracted {
                    form: Form::Hex,
                    mac,
                    ..found
                });
            }
        }
    }
    if let Some(pos) = find(text, b"/9j/") {
        let tail = &text[pos..];
        let end = tail
            .iter()
            .position(|c| !is_base64_char(*c))
            .unwrap_or(tail.len());
        if let Some(bytes) = decode_base64(&tail[..end]) {
            if let Some(found) = from_binary(&Bytes::from(bytes))? {
                let mac = found.mac.map(|m| m.or_else(|| Mac::find_in(&text[..pos])));
                return Ok(Extracted {
                    form: Form::Base64,
                    mac,
                    ..found
                });
            }
        }
    }
    Err(SnapshotError::NoJpeg)
}

/// The raw form: a JPEG somewhere in the bytes. `Ok(None)` when there is no JPEG start at all.
fn from_binary(data: &Bytes) -> Result<Option<Extracted>, SnapshotError> {
    let Some(start) = find(data, &SOI) else {
        return Ok(None);
    };
    let end = jpeg_end(data, start).ok_or(SnapshotError::Truncated { start })?;
    let mac = Ok(Mac::find_in(&data[..start]));
    let form = if start == 0 {
        Form::Raw
    } else {
        Form::Header(start)
    };
    Ok(Some(Extracted {
        jpeg: data.slice(start..end),
        mac,
        form,
        facts: Facts::default(),
    }))
}

/// The index just past the JPEG's end marker (EOI, `FF D9`).
///
/// Walks the segments rather than taking the first `FF D9`: EXIF thumbnails hold a whole JPEG of
/// their own inside APP1. Where the structure does not parse (some encoders pad oddly), falls back
/// to the last `FF D9` in the data, which is what the vendor's recipe yields.
fn jpeg_end(data: &[u8], start: usize) -> Option<usize> {
    let mut pos = start + 2;
    loop {
        // Markers may be preceded by fill bytes (FF FF …).
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (data.get(pos), data.get(pos + 1)) else {
            return if pos >= data.len() {
                None
            } else {
                last_eoi(data, start)
            };
        };
        match marker {
            0xD9 => return Some(pos + 2),
            0xD0..=0xD7 | 0x01 => pos += 2,
            0x00 => return last_eoi(data, start),
            _ => {
                let len = usize::from(u16::from_be_bytes([
                    *data.get(pos + 2)?,
                    *data.get(pos + 3)?,
                ]));
                if len < 2 {
                    return last_eoi(data, start);
                }
                pos = pos.checked_add(2 + len)?;
                if pos > data.len() {
                    return None;
                }
                if marker == 0xDA {
                    // Entropy-coded data: FF is stuffed as FF 00, RSTn may appear; any other
                    // marker ends the scan (EOI, or DHT/SOS of a progressive JPEG's next scan).
                    loop {
                        let ff = pos + data.get(pos..)?.iter().position(|&b| b == 0xFF)?;
                        match data.get(ff + 1)? {
                            0x00 | 0xD0..=0xD7 | 0xFF => pos = ff + 1,
                            _ => {
                                pos = ff;
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
}

fn last_eoi(data: &[u8], start: usize) -> Option<usize> {
    data[start..]
        .windows(2)
        .rposition(|w| w == [0xFF, 0xD9])
        .map(|p| start + p + 2)
}

fn from_json(text: &[u8]) -> Result<Option<Extracted>, SnapshotError> {
    let Ok(value) = serde_json::from_slice::<Value>(text) else {
        return Ok(None);
    };
    let mac = super::find_mac(&value);
    let (facts, image_size) = facts_of(&value);
    let mut strings = Vec::new();
    collect_strings(&value, "", 0, &mut strings);
    // Keys that name an image first; then any long string.
    strings.sort_by_key(|(key, s)| (!is_image_key(key), std::cmp::Reverse(s.len())));
    let mut truncated = None;
    for (_, s) in strings {
        let s = s.trim();
        let s = match s.find(";base64,") {
            Some(i) if s.starts_with("data:") => &s[i + 8..],
            _ => s,
        };
        let decoded = decode_hex_dump(s.as_bytes()).or_else(|| decode_base64(s.as_bytes()));
        if let Some(bytes) = decoded {
            let got = bytes.len();
            match from_binary(&Bytes::from(bytes)) {
                Ok(Some(found)) => {
                    // The image's own byte count, when told: fewer bytes came than were sent.
                    if let Some(said) = image_size.filter(|&n| n != got as u64) {
                        return Err(SnapshotError::SizeMismatch { said, got });
                    }
                    return Ok(Some(Extracted {
                        form: Form::Json,
                        mac: match mac {
                            Ok(None) => found.mac,
                            told => told,
                        },
                        jpeg: found.jpeg,
                        facts,
                    }));
                }
                Ok(None) => {}
                Err(e) => truncated = Some(e),
            }
        }
    }
    truncated.map_or(Ok(None), Err)
}

/// The envelope's facts (under `values`, or at the top), and its `imageSize`.
fn facts_of(value: &Value) -> (Facts, Option<u64>) {
    let fields = match value.get("values") {
        Some(Value::Object(values)) => values,
        _ => match value {
            Value::Object(top) => top,
            _ => return (Facts::default(), None),
        },
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    let dev_name = field("devName")
        .and_then(Value::as_str)
        .map(|n| {
            n.chars()
                .filter(|c| !c.is_control())
                .take(MAX_DEV_NAME)
                .collect::<String>()
                .trim()
                .to_string()
        })
        .filter(|n| !n.is_empty());
    // Seconds until the year 5138; a larger value is milliseconds.
    let taken = field("time")
        .and_then(number)
        .map(|t| if t >= 100_000_000_000 { t / 1000 } else { t });
    let facts = Facts { dev_name, taken };
    (facts, field("imageSize").and_then(number))
}

fn is_image_key(key: &str) -> bool {
    [
        "image", "img", "pic", "photo", "snapshot", "jpeg", "jpg", "data", "content", "file",
    ]
    .iter()
    .any(|k| key.contains(k))
}

fn collect_strings<'a>(v: &'a Value, key: &str, depth: usize, out: &mut Vec<(String, &'a str)>) {
    if depth > 8 {
        return;
    }
    match v {
        // Short strings cannot hold a JPEG (the smallest valid one is over 100 bytes).
        Value::String(s) if s.len() >= 64 => out.push((key.to_ascii_lowercase(), s)),
        Value::Object(map) => {
            for (k, v) in map {
                collect_strings(v, k, depth + 1, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                collect_strings(v, key, depth + 1, out);
            }
        }
        _ => {}
    }
}

fn from_base64_text(text: &[u8]) -> Result<Option<Extracted>, SnapshotError> {
    let body = match find(text, b";base64,") {
        Some(i) if text.starts_with(b"data:") => &text[i + 8..],
        _ => text,
    };
    match decode_base64(body) {
        Some(bytes) => Ok(from_binary(&Bytes::from(bytes))?.map(|found| Extracted {
            form: Form::Base64,
            ..found
        })),
        None => Ok(None),
    }
}

/// Decodes a hex dump as hex viewers copy it: `ffd8ffe0…`, `ff d8 ff e0 …`, `0xff, 0xd8, …`,
/// `xxd` output (offset, groups, ASCII column) and `hexdump -C` output. `None` if it is not one.
pub fn decode_hex_dump(text: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut digits = 0usize;
    for line in text.lines() {
        let mut line = line.trim();
        if line.is_empty() {
            continue;
        }
        // xxd: "00000000: ffd8 ffe0 0010 4a46  ......JF"; the ASCII column follows two spaces.
        if let Some((offset, rest)) = line.split_once(": ") {
            if !offset.is_empty()
                && offset.len() <= 16
                && offset.bytes().all(|c| c.is_ascii_hexdigit())
            {
                line = rest.trim_start();
                if let Some(cut) = line.find("  ") {
                    line = &line[..cut];
                }
            }
        }
        // hexdump -C: "00000000  ff d8 ff e0 …  |......|"
        if let Some(cut) = line.find('|') {
            line = &line[..cut];
        }
        let mut tokens: Vec<&str> = line
            .split(|c: char| c.is_ascii_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .collect();
        if tokens.len() > 1 && tokens[0].len() == 8 && tokens[1..].iter().all(|t| t.len() == 2) {
            tokens.remove(0);
        }
        for t in tokens {
            let t = t
                .strip_prefix("0x")
                .or_else(|| t.strip_prefix("0X"))
                .unwrap_or(t);
            if t.len() % 2 != 0 {
                return None;
            }
            for pair in t.as_bytes().chunks(2) {
                let hi = (pair[0] as char).to_digit(16)?;
                let lo = (pair[1] as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                digits += 2;
            }
        }
    }
    (digits >= 8).then_some(out)
}

const BASE64_ANY: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD_ANY: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, BASE64_ANY);
const URL_SAFE_ANY: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, BASE64_ANY);

fn is_base64_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, b'+' | b'/' | b'=' | b'-' | b'_' | b'\r' | b'\n' | b' ')
}

/// Base64 in the standard or URL-safe alphabet, padded or not, wrapped over lines or not.
pub fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() < 8 || !text.iter().all(|c| is_base64_char(*c)) {
        return None;
    }
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD_ANY
        .decode(&compact)
        .or_else(|_| URL_SAFE_ANY.decode(&compact))
        .ok()
}

fn trim(b: &[u8]) -> &[u8] {
    let is_pad = |c: &u8| c.is_ascii_whitespace() || *c == 0;
    let start = b.iter().position(|c| !is_pad(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_pad(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut from = 0;
    while let Some(p) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + p;
        if haystack.get(at..at + needle.len())? == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn find_ascii_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests;
