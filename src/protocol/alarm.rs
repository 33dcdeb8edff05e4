//! Alarm payloads: which kind of alarm one is.

use serde_json::{Map, Value};

use super::json::flatten_map;

/// The kind of an alarm, as Home Assistant's event entity and device triggers name it. The vendor
/// does not document the alarm payload, so the kind is read from a key such as `type`,
/// `alarmType`, `event` or `kind` (any case, at any depth) and matched loosely; anything else is
/// the generic `alarm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmKind {
    Alarm,
    Motion,
    Pir,
    Person,
    Vehicle,
    Tamper,
}

impl AlarmKind {
    pub const ALL: [AlarmKind; 6] = [
        AlarmKind::Alarm,
        AlarmKind::Motion,
        AlarmKind::Pir,
        AlarmKind::Person,
        AlarmKind::Vehicle,
        AlarmKind::Tamper,
    ];

    /// The `event_type` and device-trigger subtype.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::Alarm => "alarm",
            AlarmKind::Motion => "motion",
            AlarmKind::Pir => "pir",
            AlarmKind::Person => "person",
            AlarmKind::Vehicle => "vehicle",
            AlarmKind::Tamper => "tamper",
        }
    }

    /// The kind an alarm payload names (`{"type": "PIR"}`, `{"alarmType": "motion detection"}`...).
    pub fn of(alarm: &Map<String, Value>) -> AlarmKind {
        const KEYS: [&str; 7] = [
            "type",
            "alarmtype",
            "eventtype",
            "event",
            "kind",
            "alarm",
            "trigger",
        ];
        let mut leaves = Vec::new();
        flatten_map(alarm, "", 0, &mut leaves);
        leaves
            .iter()
            .filter(|l| KEYS.contains(&l.key.as_str()))
            .filter_map(|l| l.value.as_str())
            .map(Self::from_word)
            .find(|k| *k != AlarmKind::Alarm)
            .unwrap_or(AlarmKind::Alarm)
    }

    fn from_word(word: &str) -> AlarmKind {
        let w = word.to_ascii_lowercase();
        let has = |parts: &[&str]| parts.iter().any(|p| w.contains(p));
        if has(&["pir", "infrared"]) {
            AlarmKind::Pir
        } else if has(&["person", "human", "people", "pedestrian"]) {
            AlarmKind::Person
        } else if has(&["vehicle", "car", "plate", "anpr", "lpr"]) {
            AlarmKind::Vehicle
        } else if has(&["tamper", "shelter", "cover"]) {
            AlarmKind::Tamper
        } else if has(&["motion", "vmd"]) || w == "md" {
            AlarmKind::Motion
        } else {
            AlarmKind::Alarm
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::parse_object;

    fn kind(json: &str) -> AlarmKind {
        AlarmKind::of(&parse_object(json.as_bytes()).unwrap())
    }

    #[test]
    fn the_kind_is_read_loosely_from_the_usual_keys() {
        assert_eq!(kind(r#"{"type":"PIR"}"#), AlarmKind::Pir);
        assert_eq!(
            kind(r#"{"alarmType":"Motion Detection"}"#),
            AlarmKind::Motion
        );
        assert_eq!(
            kind(r#"{"values":{"event":"human detected"}}"#),
            AlarmKind::Person
        );
        assert_eq!(kind(r#"{"Kind":"vehicle"}"#), AlarmKind::Vehicle);
        assert_eq!(kind(r#"{"type":"tamper"}"#), AlarmKind::Tamper);
        assert_eq!(kind(r#"{"type":"md"}"#), AlarmKind::Motion);
        assert_eq!(kind(r#"{"type":"something new"}"#), AlarmKind::Alarm);
        assert_eq!(kind(r#"{"mac":"5CC5638AE24C"}"#), AlarmKind::Alarm);
        // A key that is not about the kind does not decide it.
        assert_eq!(kind(r#"{"devName":"pir camera"}"#), AlarmKind::Alarm);
    }

    #[test]
    fn every_word_the_readme_lists_gives_its_kind() {
        // README, "Alarm kinds": each word, under the `trigger` key the README names too.
        for (word, expected) in [
            ("PIR", AlarmKind::Pir),
            ("infrared", AlarmKind::Pir),
            ("motion", AlarmKind::Motion),
            ("VMD", AlarmKind::Motion),
            ("md", AlarmKind::Motion),
            ("person", AlarmKind::Person),
            ("human", AlarmKind::Person),
            ("people", AlarmKind::Person),
            ("pedestrian", AlarmKind::Person),
            ("vehicle", AlarmKind::Vehicle),
            ("car", AlarmKind::Vehicle),
            ("plate", AlarmKind::Vehicle),
            ("ANPR", AlarmKind::Vehicle),
            ("LPR", AlarmKind::Vehicle),
            ("tamper", AlarmKind::Tamper),
            ("shelter", AlarmKind::Tamper),
            ("cover", AlarmKind::Tamper),
            ("doorbell", AlarmKind::Alarm),
        ] {
            assert_eq!(
                kind(&format!(r#"{{"trigger":"{word}"}}"#)),
                expected,
                "{word}"
            );
        }
    }

    proptest::proptest! {
        /// Any object, with any words under the keys the reader looks at, at any depth: the kind
        /// is one that a word under a kind key names, and `alarm` when none names one.
        #[test]
        fn the_kind_is_one_a_word_in_the_alarm_names(
            fields in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        proptest::strategy::Just("type"), proptest::strategy::Just("alarmType"),
                        proptest::strategy::Just("event"), proptest::strategy::Just("Kind"),
                        proptest::strategy::Just("trigger"), proptest::strategy::Just("other"),
                    ],
                    0usize..8,
                    "\\PC{0,24}",
                ),
                0..8,
            ),
        ) {
            let mut top = serde_json::Map::new();
            // What survives in `top`: a later field under the same top-level key replaces an
            // earlier one (each nested field sits under "values").
            let mut survivors = std::collections::BTreeMap::new();
            for (key, depth, word) in fields {
                // `{"values": {"values": {key: word}}}` for depth 2.
                let mut value = serde_json::json!({ key: word.clone() });
                for _ in 0..depth {
                    value = serde_json::json!({ "values": value });
                }
                if let serde_json::Value::Object(m) = value {
                    top.extend(m);
                }
                survivors.insert(if depth == 0 { key } else { "values" }, (key, depth, word));
            }
            // The kinds the words under kind keys name, within the depth the reader goes to.
            let named: Vec<AlarmKind> = survivors
                .values()
                .filter(|(key, depth, _)| *key != "other" && *depth < 6)
                .map(|(_, _, word)| AlarmKind::from_word(word))
                .filter(|k| *k != AlarmKind::Alarm)
                .collect();
            let kind = AlarmKind::of(&top);
            if named.is_empty() {
                proptest::prop_assert_eq!(kind, AlarmKind::Alarm);
            } else {
                proptest::prop_assert!(named.contains(&kind), "{kind:?} is none of {named:?}");
            }
        }
    }
}
