//! The core's side of the shell: the [`Event`]s it is told, and the [`Action`]s it asks for.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

use super::Saved;
use crate::config::Config;

/// Which broker connection an action goes to. With one broker both are the same connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// The broker Home Assistant uses.
    Ha,
    /// The broker the cameras publish to.
    Camera,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    AtMostOnce,
    AtLeastOnce,
}

impl Link {
    /// The QoS of what the bridge publishes on this link.
    ///
    /// Home Assistant's side gets QoS 0. Every message there is retained and the bridge publishes
    /// all of them again (and sweeps ghosts) on each reconnect, so the one thing QoS 1 would add,
    /// a resend of what was in the socket when a connection dropped, is already covered. What
    /// QoS 1 would cost is measured: each PUBACK is a small segment the broker sends; the
    /// bridge's kernel delays its ACK (up to 40 ms), and a broker with Nagle's algorithm on (stock
    /// Mosquitto) holds the next camera message for the bridge until that ACK comes, so the
    /// bridge's p99 was 44 ms on stock Mosquitto instead of 0.5 ms (BENCHMARKS.md). One QoS for
    /// all of Home Assistant's messages also keeps them in order (configs, availability, states):
    /// a broker queues QoS 1 behind its in-flight window but sends QoS 0 at once, so mixing them
    /// reorders.
    ///
    /// Commands for cameras keep QoS 1: they are few, not retained, and not resent by anything
    /// else.
    pub fn qos(self) -> Qos {
        match self {
            Link::Ha => Qos::AtMostOnce,
            Link::Camera => Qos::AtLeastOnce,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    /// A connection is up (first time or again): subscribe, and publish what that side needs.
    Connected(Link),
    /// A connection dropped (the shell is reconnecting), and why.
    Disconnected { link: Link, reason: String },
    /// A message on any subscribed topic, from either connection.
    Message {
        topic: String,
        payload: Bytes,
        /// Delivered from the broker's store (sent before we subscribed), not live.
        retain: bool,
        /// Wall-clock time of receipt, for the "last status" and "last seen" timestamps.
        received: SystemTime,
        /// The broker waits for this acknowledgement (a QoS 1 message of a persistent session):
        /// the core gives it back as [`Action::Acknowledge`] once what the message caused is out.
        ack: Option<Ack>,
    },
    /// A new, valid configuration (the file changed).
    ConfigReloaded(Box<Config>),
    /// The file changed but is not valid (or is gone): the running configuration stays, and Home
    /// Assistant shows the problem until a valid file arrives.
    ConfigRejected { file: String, errors: Vec<String> },
    /// A snapshot could not be archived (disk full, read-only, the writer behind), and why.
    ArchiveFailed(Arc<dyn std::error::Error + Send + Sync>),
    /// The bridge is stopping: say so while the connection is still up.
    Shutdown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub link: Link,
    pub topic: String,
    pub payload: Bytes,
    pub qos: Qos,
    pub retain: bool,
}

impl Publish {
    /// A message on `link`, at that link's QoS.
    pub fn new(link: Link, topic: String, payload: Bytes, retain: bool) -> Self {
        Publish {
            link,
            topic,
            payload,
            qos: link.qos(),
            retain,
        }
    }

    /// A command for a camera: never to be dropped, whatever else is.
    pub fn is_command(&self) -> bool {
        self.link == Link::Camera
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Subscribe {
        link: Link,
        filters: Vec<String>,
    },
    Unsubscribe {
        link: Link,
        filters: Vec<String>,
    },
    Publish(Publish),
    /// What must survive a restart changed: keep it (atomically) in the state directory.
    SaveState(Saved),
    /// Keep this snapshot in the archive (only when `archive` is configured).
    Archive(ArchiveRequest),
    /// The broker settings changed: once the actions before this one are out (on the old
    /// connections), close them and connect again with the configuration's settings.
    Reconnect,
    /// Acknowledge a message to the broker that sent it. It comes after the actions the message
    /// caused, in the same queue, so the broker drops its copy only once they are on their way
    /// (see [`Ack`]).
    Acknowledge(Ack),
}

/// A received message the broker keeps until it is acknowledged, and sends again on the next
/// connection if the bridge stops first: what the bridge was doing with it when it stopped is
/// done again after the restart, not lost.
///
/// The acknowledgement must not overtake what the message caused. On one connection it follows
/// the publishes in the connection's queue, and TCP keeps the order, so a broker that has the
/// acknowledgement has the publishes too, whenever the bridge dies. With a camera broker of its
/// own, the shell sends it once Home Assistant's connection has written what came before it (for
/// at most a minute while that broker is away). Alarm events held while Home Assistant subscribes
/// (see [`crate::bridge::EVENT_SETTLE`]) hold back the acknowledgements that come after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "an unacknowledged message stays with the broker and takes one of its in-flight places"]
pub struct Ack {
    /// The connection it came on.
    pub link: Link,
    pub packet_id: u16,
}

/// A snapshot for the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveRequest {
    /// The camera's folder in the archive: its name, as an id (`Driveway` → `driveway`).
    pub camera: String,
    pub jpeg: Bytes,
    /// When it was taken: the time the camera gives (newer firmware), else when it arrived.
    pub taken: SystemTime,
    /// The first snapshot after an alarm.
    pub alarm: bool,
}
