//! MQTT topic names and filters.

/// MQTT topic matching: `+` is one level, `#` the rest (including none); wildcards at the first
/// level do not match `$`-topics.
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// A subscription filter MQTT allows: `#` only as the last level, wildcards only as whole levels.
pub fn valid_filter(filter: &str) -> bool {
    let levels: Vec<&str> = filter.split('/').collect();
    !filter.is_empty()
        && levels.iter().enumerate().all(|(i, l)| {
            (*l == "#" && i == levels.len() - 1)
                || *l == "+"
                || !(l.contains('#') || l.contains('+'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_mqtt_says() {
        assert!(topic_matches("a/b", "a/b"));
        assert!(topic_matches("a/+", "a/b"));
        assert!(!topic_matches("a/+", "a/b/c"));
        assert!(topic_matches("a/#", "a"));
        assert!(topic_matches("a/#", "a/b/c"));
        assert!(topic_matches("#", "a/b"));
        assert!(topic_matches(
            "+/+/+/+/config",
            "homeassistant/camera/x/snapshot/config"
        ));
        assert!(!topic_matches("#", "$SYS/uptime"));
        assert!(!topic_matches("a/b", "a/b/c"));
        assert!(!topic_matches("a/b/c", "a/b"));
    }

    #[test]
    fn invalid_filters_are_refused() {
        for f in ["", "a/#/b", "a/b#", "a+/b"] {
            assert!(!valid_filter(f), "{f}");
        }
        for f in ["#", "+", "a/+/c", "a/#"] {
            assert!(valid_filter(f), "{f}");
        }
    }
}
