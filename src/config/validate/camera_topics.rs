//! `camera_topics`: the topics set in the camera's web page, each a valid filter, no two kinds
//! sharing a message, none taking in the bridge's commands or (on one broker) its own topics.

use super::Check;
use crate::config::locate::Seg;
use crate::config::raw::RawCameraTopics;
use crate::protocol::{CameraTopics, Pattern, TopicKind};
use crate::topic::valid_filter;

/// The longest camera topic taken: the camera's web page takes far less.
const MAX_CAMERA_TOPIC: usize = 256;

/// `camera_topics`: each a topic (or filter) as the camera's web page sets it, the rest under the
/// prefix. No two kinds may share a topic, and none may take in the commands the bridge sends the
/// cameras or (on one broker) the bridge's own topics (`own`): a message there would be read as
/// the wrong thing.
pub(super) fn camera_topics(
    c: &mut Check,
    raw: Option<RawCameraTopics>,
    prefix: &str,
    own: &[String],
) -> CameraTopics {
    let mut topics = CameraTopics::under(prefix);
    let Some(raw) = raw else {
        return topics;
    };
    let given = [
        (TopicKind::Snapshot, raw.snapshot),
        (TopicKind::Status, raw.status),
        (TopicKind::Alarm, raw.alarm),
        (TopicKind::ConfigRequest, raw.config_request),
        (TopicKind::ConfigRespond, raw.config_respond),
    ];
    let mut set = Vec::new();
    for (kind, value) in given {
        let Some(v) = value else { continue };
        let path = [Seg::Key("camera_topics"), Seg::Key(kind.key())];
        match camera_topic_problem(&v) {
            Some(p) => c.error(
                &path,
                format!(
                    "camera_topics.{} {v:?} {p}; copy the topic from the camera's web page, \
                     e.g. {:?}",
                    kind.key(),
                    CameraTopics::under(prefix).get(kind)
                ),
            ),
            None => {
                topics = topics.with(kind, v);
                set.push(kind);
            }
        }
    }
    overlaps(c, &topics, &set);
    taken_in(c, &topics, &set, prefix, own);
    topics
}

/// An error for each two kinds that could share a message.
fn overlaps(c: &mut Check, topics: &CameraTopics, set: &[TopicKind]) {
    for (i, &a) in TopicKind::ALL.iter().enumerate() {
        for &b in &TopicKind::ALL[i + 1..] {
            if topics.overlap(a, b) {
                // Only a topic that was set can overlap: the defaults never do.
                let (at, other) = if set.contains(&b) { (b, a) } else { (a, b) };
                c.error(
                    &[Seg::Key("camera_topics"), Seg::Key(at.key())],
                    format!(
                        "camera_topics.{} {:?} overlaps {} {:?}: a message on both could not be \
                         told apart; give each kind its own topic",
                        at.key(),
                        topics.get(at),
                        other.key(),
                        topics.get(other)
                    ),
                );
            }
        }
    }
}

/// An error for each kind set (in `set`) that takes in the commands the bridge sends the cameras,
/// or (on one broker) the bridge's own topics (`own`).
fn taken_in(c: &mut Check, topics: &CameraTopics, set: &[TopicKind], prefix: &str, own: &[String]) {
    let commands = [
        ("Wake", "the wake commands"),
        ("Config", "the reboot, shutdown and upgrade commands"),
        ("Status", "the status requests"),
    ];
    for &kind in set {
        let path = [Seg::Key("camera_topics"), Seg::Key(kind.key())];
        let mine = topics.claims(kind);
        let takes_in = |theirs: &Pattern| mine.iter().any(|m| m.overlaps(theirs));
        for (level, what) in commands {
            // Status reports share `<prefix>/Status/<MAC>` with requests by the vendor's design.
            if kind == TopicKind::Status && level == "Status" {
                continue;
            }
            let theirs = format!("{prefix}/{level}/<MAC>");
            if takes_in(&Pattern::filter(&format!("{prefix}/{level}")).then_mac()) {
                c.error(
                    &path,
                    format!(
                        "camera_topics.{} {:?} takes in {what} the bridge sends ({theirs}): it \
                         would read its own commands back; use the camera's own topic for it",
                        kind.key(),
                        topics.get(kind)
                    ),
                );
            }
        }
        if let Some(theirs) = own.iter().find(|o| takes_in(&Pattern::filter(o))) {
            c.error(
                &path,
                format!(
                    "camera_topics.{} {:?} takes in the bridge's own topics ({theirs}) on the \
                     same broker; use the camera's own topic for it",
                    kind.key(),
                    topics.get(kind)
                ),
            );
        }
    }
}

/// What is wrong with a camera topic, if anything.
pub(super) fn camera_topic_problem(v: &str) -> Option<&'static str> {
    if v.is_empty() {
        Some("is empty")
    } else if v.len() > MAX_CAMERA_TOPIC {
        Some("is longer than 256 bytes")
    } else if v.contains('\0') {
        Some("holds a NUL character")
    } else if v.starts_with('$') {
        Some("starts with '$', which brokers keep for their own topics")
    } else if v.split('/').any(str::is_empty) {
        Some("has an empty level ('//', or '/' at either end)")
    } else if !valid_filter(v) {
        Some("has a wildcard that is not a whole level (+ and # stand alone between slashes, # only last)")
    } else {
        None
    }
}
