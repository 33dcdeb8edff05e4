//! The camera's MAC address: parsed once from any spelling, printed in the forms each side needs.

use std::fmt;
use std::str::FromStr;

/// A 48-bit MAC address.
///
/// Parses `5CC5638AE24C`, `5c:c5:63:8a:e2:4c`, `5C-C5-63-8A-E2-4C` and `5cc5.638a.e24c`;
/// [`Display`](fmt::Display) prints the camera's own spelling (12 upper-case hex digits), which is
/// what its topics use.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac([u8; 6]);

/// Why a string is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a MAC address (12 hex digits, optionally separated by ':' or '-')", shown(.0))]
pub struct MacError(pub String);

/// What was given, quoted; a long one (a stranger's topic level) cut, with its length.
fn shown(s: &str) -> String {
    const SHOWN: usize = 24;
    let chars = s.chars().count();
    if chars <= SHOWN + 8 {
        format!("{s:?}")
    } else {
        let start: String = s.chars().take(SHOWN).collect();
        format!("{:?} ({chars} characters)", format!("{start}…"))
    }
}

impl Mac {
    /// `5c:c5:63:8a:e2:4c`, the form Home Assistant's device `connections` use.
    pub fn colon_lower(&self) -> String {
        let b = self.0;
        format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }

    /// `5cc5638ae24c`, for ids (unique_id, node_id) that must be stable and lower case.
    pub fn id(&self) -> String {
        self.to_string().to_ascii_lowercase()
    }

    /// Finds the first MAC written as text inside `bytes` (12 hex digits, or six pairs joined by
    /// one of `:` / `-`), not part of a longer hex run. Used on snapshot headers.
    pub fn find_in(bytes: &[u8]) -> Option<Mac> {
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_hexdigit() && (i == 0 || !bytes[i - 1].is_ascii_hexdigit()) {
                if let Some(mac) = Self::match_at(&bytes[i..]) {
                    return Some(mac);
                }
            }
            i += 1;
        }
        None
    }

    /// A MAC starting at `s[0]`.
    fn match_at(s: &[u8]) -> Option<Mac> {
        // Plain 12 digits, not followed by another hex digit.
        if s.len() >= 12 && s[..12].iter().all(u8::is_ascii_hexdigit) {
            if s.get(12).is_some_and(u8::is_ascii_hexdigit) {
                return None;
            }
            return parse_digits(s[..12].iter().copied());
        }
        // Six pairs with a consistent ':' or '-' separator, not part of a longer chain of pairs.
        if s.len() >= 17 && (s[2] == b':' || s[2] == b'-') {
            let sep = s[2];
            let ok = (0..6)
                .all(|k| s[k * 3].is_ascii_hexdigit() && s[k * 3 + 1].is_ascii_hexdigit())
                && (0..5).all(|k| s[k * 3 + 2] == sep)
                && !s
                    .get(17)
                    .is_some_and(|c| c.is_ascii_hexdigit() || *c == sep);
            if ok {
                return parse_digits(s[..17].iter().copied().filter(|c| *c != sep));
            }
        }
        None
    }
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn parse_digits(digits: impl Iterator<Item = u8>) -> Option<Mac> {
    let mut out = [0u8; 6];
    let mut n = 0;
    for c in digits {
        if n >= 12 {
            return None;
        }
        let v = hex_val(c)?;
        out[n / 2] |= if n % 2 == 0 { v << 4 } else { v };
        n += 1;
    }
    (n == 12).then_some(Mac(out))
}

impl FromStr for Mac {
    type Err = MacError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bytes = t.as_bytes();
        // Separators may only sit between digit groups of equal width: "5C:C5:..", "5cc5.638a.e24c".
        let sep = bytes.iter().copied().find(|c| !c.is_ascii_hexdigit());
        let groups_ok = match sep {
            None => true,
            Some(sep) if matches!(sep, b':' | b'-' | b'.') => {
                let groups: Vec<&str> = t.split(sep as char).collect();
                let width = groups[0].len();
                (width == 2 || width == 4)
                    && groups.len() * width == 12
                    && groups.iter().all(|g| g.len() == width)
            }
            Some(_) => false,
        };
        if !groups_ok {
            return Err(MacError(s.to_string()));
        }
        parse_digits(bytes.iter().copied().filter(u8::is_ascii_hexdigit))
            .filter(|_| {
                bytes
                    .iter()
                    .all(|c| c.is_ascii_hexdigit() || Some(*c) == sep)
            })
            .ok_or_else(|| MacError(s.to_string()))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CANON: &str = "5CC5638AE24C";

    #[test]
    fn every_spelling_parses_to_the_canonical_form() {
        for s in [
            "5CC5638AE24C",
            "5cc5638ae24c",
            "5C:C5:63:8A:E2:4C",
            "5c-c5-63-8a-e2-4c",
            "5cc5.638a.e24c",
            "  5C:C5:63:8A:E2:4C ",
        ] {
            let mac: Mac = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(mac.to_string(), CANON, "{s}");
        }
    }

    #[test]
    fn other_forms_are_printed_for_home_assistant() {
        let mac: Mac = CANON.parse().unwrap();
        assert_eq!(mac.colon_lower(), "5c:c5:63:8a:e2:4c");
        assert_eq!(mac.id(), "5cc5638ae24c");
    }

    #[test]
    fn near_misses_are_rejected() {
        for s in [
            "",
            "5CC5",
            "5CC5638AE24",
            "5CC5638AE24C0",
            "5CC5638AE24G",
            "5C:C5:63:8A:E2-4C",
            "5C:C5:63:8AE2:4C",
            "5C::C5:63:8A:E2:4C",
            "5CC5 638A E24C",
        ] {
            assert!(s.parse::<Mac>().is_err(), "{s:?} parsed");
        }
    }

    #[test]
    fn finds_mac_in_a_snapshot_header() {
        let mac: Mac = CANON.parse().unwrap();
        assert_eq!(Mac::find_in(b"SC211;mac=5CC5638AE24C;len=1234"), Some(mac));
        assert_eq!(
            Mac::find_in(b"\x00\x01dev:5c-c5-63-8a-e2-4c\x00"),
            Some(mac)
        );
        assert_eq!(Mac::find_in(b"\x005C:C5:63:8A:E2:4C"), Some(mac));
        // "MAC:" must not lend its "AC" to the address.
        assert_eq!(Mac::find_in(b"MAC:5C:C5:63:8A:E2:4C\r\n"), Some(mac));
        // Part of a longer hex run is not a MAC.
        assert_eq!(Mac::find_in(b"05CC5638AE24C"), None);
        assert_eq!(Mac::find_in(b"5CC5638AE24C0"), None);
        assert_eq!(Mac::find_in(b"no mac here"), None);
    }

    proptest! {
        #[test]
        fn display_round_trips(bytes in any::<[u8; 6]>()) {
            let mac = Mac(bytes);
            prop_assert_eq!(mac.to_string().parse::<Mac>().unwrap(), mac);
            prop_assert_eq!(mac.colon_lower().parse::<Mac>().unwrap(), mac);
        }

        /// Text reads as a MAC only when its hex digits spell that MAC.
        #[test]
        fn arbitrary_text_parses_only_to_the_mac_its_digits_spell(s in ".*") {
            if let Ok(mac) = s.parse::<Mac>() {
                let digits: String = s.chars().filter(char::is_ascii_hexdigit).collect();
                prop_assert_eq!(digits.to_ascii_uppercase(), mac.to_string());
            }
        }

        /// What the finder finds is written in the bytes, in a form it knows; and a MAC set
        /// among bytes with no other hex digits is found wherever it sits.
        #[test]
        fn a_mac_found_in_bytes_is_written_there(
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
            mac in any::<[u8; 6]>(),
            at in 0usize..64,
        ) {
            if let Some(found) = Mac::find_in(&bytes) {
                let upper = bytes.to_ascii_uppercase();
                let colons = found.colon_lower().to_ascii_uppercase();
                let forms = [found.to_string(), colons.replace(':', "-"), colons];
                prop_assert!(
                    forms.iter().any(|f| upper.windows(f.len()).any(|w| w == f.as_bytes())),
                    "{found} is not in {bytes:?}"
                );
            }
            let mut framed: Vec<u8> = bytes
                .iter()
                .map(|b| if b.is_ascii_hexdigit() { b'_' } else { *b })
                .collect();
            let at = at.min(framed.len());
            framed.splice(at..at, Mac(mac).to_string().bytes());
            prop_assert_eq!(Mac::find_in(&framed), Some(Mac(mac)));
        }
    }
}
