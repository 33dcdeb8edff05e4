//! The entity ids Home Assistant gives the bridge's entities, spelled out in each config as
//! `default_entity_id`.
//!
//! Home Assistant 2026.6 and later put a new entity's area in front of its id
//! (`camera.garden_driveway`); releases before 2025.10 ignore `default_entity_id` and make the id
//! from the device's and the entity's names. Setting it to that same id keeps `camera.driveway`
//! on every release. It only names a new entity: one already registered keeps its id (a camera
//! renamed in the file keeps its entities' ids, and a user's own renames stand).

/// `<component>.<object id>`, the object id made from the device's name and the entity's as Home
/// Assistant makes it (`Driveway` + `Battery` → `sensor.driveway_battery`; `None`, the device's
/// main entity, is named as the device: `camera.driveway`).
pub fn default_entity_id(component: &str, device: &str, entity: Option<&str>) -> String {
    let name = match entity {
        Some(entity) => format!("{device} {entity}"),
        None => device.to_string(),
    };
    format!("{component}.{}", slugify(&name))
}

/// Home Assistant's `slugify` (python-slugify with `_` as separator): apostrophes split words,
/// letters are transliterated to ASCII (`ä` → `a`), commas between digits dropped, every other run
/// of characters outside `a-z0-9` becomes one `_`, none at either end; `unknown` if nothing is
/// left. (HTML entities such as `&amp;`, which python-slugify decodes first, are not.)
pub fn slugify(text: &str) -> String {
    // Home Assistant's transliteration table (text-unidecode) stops at U+FFFF: emoji and the
    // like become nothing there, so they do here.
    let split: String = text
        .chars()
        .filter(|&c| u32::from(c) <= 0xFFFF)
        .collect::<String>()
        .replace('\'', "-");
    // Transliteration may itself produce quotes (`’`): those are dropped, not split on. Its table
    // names symbols (`♂` → `male sign`) where Home Assistant's drops them: a symbol is kept only
    // where it stands for punctuation (`‹` → `<`, a separator).
    let ascii: String = split
        .chars()
        .map(|c| {
            let t = deunicode::deunicode_char(c).unwrap_or("");
            if c.is_ascii() || c.is_alphanumeric() || !t.bytes().any(|b| b.is_ascii_alphanumeric())
            {
                t
            } else {
                ""
            }
        })
        .collect::<String>()
        .to_ascii_lowercase()
        .replace('\'', "");
    let chars: Vec<char> = ascii.chars().collect();
    let mut slug = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|d| d.is_ascii_digit())
        };
        if c == ',' && between_digits(i.checked_sub(1)) && between_digits(Some(i + 1)) {
            continue;
        }
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let slug = slug.trim_end_matches('_');
    if slug.is_empty() {
        "unknown".to_string()
    } else {
        slug.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_what_home_assistant_makes_from_the_names() {
        assert_eq!(
            default_entity_id("camera", "Driveway", None),
            "camera.driveway"
        );
        assert_eq!(
            default_entity_id("image", "Driveway", Some("Last alarm snapshot")),
            "image.driveway_last_alarm_snapshot"
        );
        assert_eq!(
            default_entity_id("sensor", "SolarCam Bridge", Some("Messages received")),
            "sensor.solarcam_bridge_messages_received"
        );
        assert_eq!(
            default_entity_id("sensor", "SC211 5CC5638AE24C", Some("Battery")),
            "sensor.sc211_5cc5638ae24c_battery"
        );
    }

    #[test]
    fn slugify_follows_home_assistant_on_the_awkward_cases() {
        // Each pair checked against homeassistant.util.slugify (2025.4.4 and 2026.11.0).
        for (name, slug) in [
            ("Gartenhäuschen", "gartenhauschen"),
            ("Straße Nord", "strasse_nord"),
            ("O'Brien's gate", "o_brien_s_gate"),
            ("Cam-1 / Barn", "cam_1_barn"),
            ("  Front  door  ", "front_door"),
            ("Lot 1,000", "lot_1000"),
            ("Lot 1, 2", "lot_1_2"),
            ("ÉTÉ", "ete"),
            ("🙂", "unknown"),
            ("Garage 🙂 East", "garage_east"),
            ("北京", "bei_jing"),
            ("x’y", "xy"),
            ("___", "unknown"),
            ("", "unknown"),
        ] {
            assert_eq!(slugify(name), slug, "{name:?}");
        }
    }

    proptest! {
        /// Whatever the name, the id is one Home Assistant accepts (`^[a-z0-9_]+$`, no `_` at
        /// either end, none doubled), and slugifying it again changes nothing.
        #[test]
        fn every_name_gives_a_valid_stable_object_id(name in any::<String>()) {
            let slug = slugify(&name);
            prop_assert!(!slug.is_empty());
            prop_assert!(slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{slug}");
            prop_assert!(!slug.starts_with('_') && !slug.ends_with('_') && !slug.contains("__"), "{slug}");
            prop_assert_eq!(slugify(&slug), slug.clone());
        }
    }
}
