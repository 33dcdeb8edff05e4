//! The camera's topics: where each kind of message is published, and what a message on one of
//! them is.
//!
//! Newer firmware lets the installer set each topic in the camera's web page (Snapshot, Status,
//! Alarm, and a configuration request/respond pair); only Wake is fixed. Each defaults to
//! `<prefix>/<Kind>` as the oldest firmware uses. A topic may be any MQTT filter (`home/+/snapshot`
//! for cameras set to `home/gate/snapshot` and `home/barn/snapshot`): the payload's MAC says
//! which camera, and a level matched by a wildcard is taken as the MAC when it is one.

use crate::mac::Mac;
use crate::topic::topic_matches;

/// A kind of topic the camera's web page sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicKind {
    Snapshot,
    Status,
    Alarm,
    /// Where the camera listens for remote configuration. The bridge never publishes there: it is
    /// known so that no other kind is read from it.
    ConfigRequest,
    /// Where the camera answers a configuration request.
    ConfigRespond,
}

impl TopicKind {
    pub const ALL: [TopicKind; 5] = [
        TopicKind::Snapshot,
        TopicKind::Status,
        TopicKind::Alarm,
        TopicKind::ConfigRequest,
        TopicKind::ConfigRespond,
    ];

    /// Its key under `camera_topics` in the file.
    pub fn key(self) -> &'static str {
        match self {
            TopicKind::Snapshot => "snapshot",
            TopicKind::Status => "status",
            TopicKind::Alarm => "alarm",
            TopicKind::ConfigRequest => "config_request",
            TopicKind::ConfigRespond => "config_respond",
        }
    }

    /// The last level of its default topic, `<prefix>/<level>`.
    fn default_level(self) -> &'static str {
        match self {
            TopicKind::Snapshot => "Snapshot",
            TopicKind::Status => "Status",
            TopicKind::Alarm => "Alarm",
            TopicKind::ConfigRequest => "ConfigRequest",
            TopicKind::ConfigRespond => "ConfigRespond",
        }
    }

    /// The bridge reads it (the configuration request is the camera's to read).
    fn read(self) -> bool {
        self != TopicKind::ConfigRequest
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What a message on one of the camera topics is, and the MAC its topic names, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraTopic {
    Snapshot(Option<Mac>),
    Alarm(Option<Mac>),
    /// A status report. `Status/<MAC>` is also where clients send `status` requests, so the
    /// payload tells the two apart.
    Status(Option<Mac>),
    /// The camera's answer to a configuration request: shown, never acted on.
    ConfigRespond(Option<Mac>),
}

impl CameraTopic {
    fn of(kind: TopicKind, mac: Option<Mac>) -> Option<CameraTopic> {
        match kind {
            TopicKind::Snapshot => Some(CameraTopic::Snapshot(mac)),
            TopicKind::Status => Some(CameraTopic::Status(mac)),
            TopicKind::Alarm => Some(CameraTopic::Alarm(mac)),
            TopicKind::ConfigRespond => Some(CameraTopic::ConfigRespond(mac)),
            TopicKind::ConfigRequest => None,
        }
    }
}

/// Where the cameras publish each kind: a topic or filter per [`TopicKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraTopics {
    filters: [String; 5],
}

impl CameraTopics {
    /// The defaults: `<prefix>/Snapshot` and so on.
    pub fn under(prefix: &str) -> CameraTopics {
        CameraTopics {
            filters: TopicKind::ALL.map(|k| format!("{prefix}/{}", k.default_level())),
        }
    }

    /// These topics with `kind`'s set to `filter` (checked by the configuration's validation).
    pub fn with(mut self, kind: TopicKind, filter: String) -> CameraTopics {
        self.filters[kind.index()] = filter;
        self
    }

    pub fn get(&self, kind: TopicKind) -> &str {
        &self.filters[kind.index()]
    }

    /// Every topic left at its default under `prefix`.
    pub fn are_defaults_under(&self, prefix: &str) -> bool {
        *self == CameraTopics::under(prefix)
    }

    /// What a message on `topic` is: one of the kinds the bridge reads, its MAC from the topic
    /// when a wildcard level or a last level after the kind's topic (`<topic>/<MAC>`, as some
    /// firmware sends) holds one.
    pub fn parse(&self, topic: &str) -> Option<CameraTopic> {
        TopicKind::ALL
            .into_iter()
            .filter(|k| k.read())
            .find_map(|kind| {
                let mac = matched(self.get(kind), topic)?;
                CameraTopic::of(kind, mac)
            })
    }

    /// The topic filters that receive everything [`CameraTopics::parse`] reads.
    pub fn filters(&self) -> Vec<String> {
        TopicKind::ALL
            .into_iter()
            .filter(|k| k.read())
            .flat_map(|k| extended(self.get(k)))
            .collect()
    }

    /// Every topic [`CameraTopics::parse`] reads as `kind`: its filter, and its filter followed by
    /// a MAC (`<topic>/<MAC>`). What is checked for overlaps between kinds.
    pub fn claims(&self, kind: TopicKind) -> Vec<Pattern> {
        let filter = self.get(kind);
        let plain = Pattern::filter(filter);
        if takes_every_level_below(filter) {
            vec![plain]
        } else {
            vec![plain.clone(), plain.then_mac()]
        }
    }

    /// Whether a message on `topic` is `kind`'s: read as it ([`CameraTopics::parse`]), or, for
    /// the camera's own configuration requests, kept from every other kind.
    pub fn takes(&self, kind: TopicKind, topic: &str) -> bool {
        matched(self.get(kind), topic).is_some()
    }

    /// Whether some topic could be read as both `a` and `b`.
    pub fn overlap(&self, a: TopicKind, b: TopicKind) -> bool {
        let theirs = self.claims(b);
        self.claims(a)
            .iter()
            .any(|x| theirs.iter().any(|y| x.overlaps(y)))
    }

    /// The topic a camera publishes `kind` on, its wildcards filled with its MAC (for the
    /// simulator and the demo).
    pub fn topic_for(&self, kind: TopicKind, mac: Mac) -> String {
        self.get(kind)
            .split('/')
            .map(|level| match level {
                "+" | "#" => mac.to_string(),
                l => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

impl std::fmt::Display for CameraTopics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all: Vec<String> = TopicKind::ALL
            .into_iter()
            .map(|k| format!("{} {}", k.key(), self.get(k)))
            .collect();
        f.write_str(&all.join(", "))
    }
}

/// `filter`, and `filter/+` unless the filter takes every level below it already: what is
/// subscribed to for a kind (the `+` level is then read only when it is a MAC).
fn extended(filter: &str) -> Vec<String> {
    if takes_every_level_below(filter) {
        vec![filter.to_string()]
    } else {
        vec![filter.to_string(), format!("{filter}/+")]
    }
}

/// Whether `filter` ends in `#`, so that `<topic>/<MAC>` is one of its topics already.
fn takes_every_level_below(filter: &str) -> bool {
    filter == "#" || filter.ends_with("/#")
}

/// A set of topics, level by level: an MQTT filter, possibly followed by one level that holds a
/// MAC. The bridge reads `<topic>/<MAC>` as the kind of `<topic>` only when the last level is a
/// MAC, and sends its commands on `<prefix>/Wake/<MAC>`: a level that must be a MAC meets only a
/// wildcard or a level that reads as one, so `farm/status/<MAC>` and `farm/+/pic` never share a
/// message (`pic` is no MAC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(Vec<Level>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Is(String),
    /// `+`: any one level.
    Any,
    /// `#`: the rest, including nothing.
    Rest,
    /// One level that reads as a MAC, in any spelling the bridge accepts.
    Mac,
}

impl Pattern {
    /// The topics an MQTT filter matches.
    pub fn filter(filter: &str) -> Pattern {
        Pattern(
            filter
                .split('/')
                .map(|l| match l {
                    "+" => Level::Any,
                    "#" => Level::Rest,
                    l => Level::Is(l.to_string()),
                })
                .collect(),
        )
    }

    /// These topics, each followed by a level holding a MAC.
    pub fn then_mac(mut self) -> Pattern {
        self.0.push(Level::Mac);
        self
    }

    /// Whether some topic is in both.
    pub fn overlaps(&self, other: &Pattern) -> bool {
        let (mut x, mut y) = (self.0.iter(), other.0.iter());
        loop {
            match (x.next(), y.next()) {
                (Some(Level::Rest), _) | (_, Some(Level::Rest)) | (None, None) => return true,
                (Some(a), Some(b)) if a.meets(b) => {}
                _ => return false,
            }
        }
    }
}

impl Level {
    /// Whether one level of a topic can be both.
    fn meets(&self, other: &Level) -> bool {
        match (self, other) {
            (Level::Is(a), Level::Is(b)) => a == b,
            (Level::Mac, Level::Is(l)) | (Level::Is(l), Level::Mac) => l.parse::<Mac>().is_ok(),
            _ => true,
        }
    }
}

/// `Some(mac)` when `topic` is one of `filter`'s: the MAC its wildcard levels hold, if any.
/// `filter/<MAC>` matches too; `filter/<anything else>` does not.
fn matched(filter: &str, topic: &str) -> Option<Option<Mac>> {
    if topic_matches(filter, topic) {
        return Some(wildcard_mac(filter, topic));
    }
    let (parent, last) = topic.rsplit_once('/')?;
    if filter.ends_with('#') || !topic_matches(filter, parent) {
        return None;
    }
    let mac = last.parse::<Mac>().ok()?;
    Some(Some(mac))
}

/// The first level a `+` (or the last level a `#`) matched that is a MAC.
fn wildcard_mac(filter: &str, topic: &str) -> Option<Mac> {
    let levels: Vec<&str> = topic.split('/').collect();
    for (i, f) in filter.split('/').enumerate() {
        match f {
            "+" => {
                if let Some(mac) = levels.get(i).and_then(|l| l.parse::<Mac>().ok()) {
                    return Some(mac);
                }
            }
            "#" => return levels.last().and_then(|l| l.parse::<Mac>().ok()),
            _ => {}
        }
    }
    None
}
