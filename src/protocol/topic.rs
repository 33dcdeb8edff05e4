//! The camera's topics: what a message on one of them is.

use crate::mac::Mac;

/// What a message on one of the camera topics is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraTopic {
    Snapshot(Option<Mac>),
    Alarm(Option<Mac>),
    /// A status report. `Status/<MAC>` is also where clients send `status` requests, so the
    /// payload tells the two apart.
    Status(Option<Mac>),
}

impl CameraTopic {
    /// Reads `<prefix>/Snapshot`, `<prefix>/Alarm`, `<prefix>/Status`, each optionally followed by
    /// `/<MAC>` as some firmware sends.
    pub fn parse(prefix: &str, topic: &str) -> Option<CameraTopic> {
        let rest = topic.strip_prefix(prefix)?.strip_prefix('/')?;
        let (kind, mac) = match rest.split_once('/') {
            Some((kind, mac)) => (kind, Some(mac.parse::<Mac>().ok()?)),
            None => (rest, None),
        };
        match kind {
            "Snapshot" => Some(CameraTopic::Snapshot(mac)),
            "Alarm" => Some(CameraTopic::Alarm(mac)),
            "Status" => Some(CameraTopic::Status(mac)),
            _ => None,
        }
    }

    /// The topic a camera publishes this on: `<prefix>/<Kind>`, with `/<MAC>` when it has one.
    pub fn topic(self, prefix: &str) -> String {
        let (kind, mac) = match self {
            CameraTopic::Snapshot(mac) => ("Snapshot", mac),
            CameraTopic::Alarm(mac) => ("Alarm", mac),
            CameraTopic::Status(mac) => ("Status", mac),
        };
        match mac {
            Some(mac) => format!("{prefix}/{kind}/{mac}"),
            None => format!("{prefix}/{kind}"),
        }
    }

    /// The topic filters that receive everything [`CameraTopic::parse`] reads.
    pub fn filters(prefix: &str) -> Vec<String> {
        [
            CameraTopic::Snapshot(None),
            CameraTopic::Alarm(None),
            CameraTopic::Status(None),
        ]
        .iter()
        .flat_map(|t| {
            let topic = t.topic(prefix);
            let with_mac = format!("{topic}/+");
            [topic, with_mac]
        })
        .collect()
    }
}
