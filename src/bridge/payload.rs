//! What a state or attribute payload may hold: Home Assistant's limits on texts, and the forms
//! the core's values take on the wire.

use bytes::Bytes;

/// Home Assistant drops a text state longer than this (and logs an error): text states are cut
/// to it, the whole text going to the entity's attributes.
pub const MAX_STATE_CHARS: usize = 255;

/// A text kept as an attribute is cut to this: attributes are stored with every state change,
/// and Home Assistant's recorder refuses (and warns about) attributes over 16 KiB.
pub const MAX_ATTRIBUTE_CHARS: usize = 4096;

/// `text` whole if it has at most `max` characters, else its first `max - 1` and "…".
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some(_) => {
            let end = text
                .char_indices()
                .nth(max - 1)
                .map_or(text.len(), |(i, _)| i);
            format!("{}…", &text[..end])
        }
    }
}

/// The Awake sensor's state.
pub(super) fn awake_state(awake: bool) -> Bytes {
    Bytes::from_static(crate::discovery::awake_word(awake).as_bytes())
}

/// A number as a state: `87` rather than `87.0`; `3.95` as it came.
pub(super) fn number_payload(v: f64) -> Bytes {
    Bytes::from(if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    })
}
