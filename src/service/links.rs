//! The shell's connections to the brokers for one configuration: Home Assistant's, and the
//! cameras' when it is another; each action of the core goes to the one it names.

use std::time::Duration;

use bytes::Bytes;
use tracing::warn;

use super::mqtt::{Connection, Options, SetupError};
use crate::bridge::{Action, Link};
use crate::config::{BrokerConfig, Config};

/// The broker connections for one configuration.
pub(super) struct Links {
    pub(super) ha: Connection,
    /// `None` when the cameras publish to the Home Assistant broker.
    pub(super) cameras: Option<Connection>,
}

impl Links {
    /// `ha` is Home Assistant's broker as resolved by the shell (the embedded one's actual port).
    pub(super) fn open(
        config: &Config,
        ha: &BrokerConfig,
        availability: String,
    ) -> Result<Links, SetupError> {
        // What a camera may send, in its largest encoded form, and a topic; nothing larger is
        // read (a stranger's 20 MB "status" is refused by its header, not buffered). Home
        // Assistant's broker, when it is another, sends only commands, its birth message and our
        // own small discovery configs.
        let from_cameras = config.max_camera_payload() + (4 << 10);
        let max_incoming = |serves_cameras: bool| {
            if serves_cameras {
                from_cameras
            } else {
                256 << 10
            }
        };
        let max_outgoing = config.snapshot_max_bytes + (64 << 10);
        // Room for at least a couple of the largest snapshots besides everything else.
        let outbox_limit = super::outbox::DEFAULT_LIMIT.max(2 * max_outgoing);
        let ha = Connection::open(
            ha,
            Options {
                name: "Home Assistant broker",
                last_will: Some((availability, Bytes::from_static(b"offline"))),
                persistent: config.camera_mqtt.is_none(),
                max_incoming: max_incoming(config.camera_mqtt.is_none()),
                max_outgoing,
                outbox_limit,
                acks_wait_for: None,
            },
        )?;
        let cameras = match &config.camera_mqtt {
            Some(broker) => Some(Connection::open(
                broker,
                Options {
                    name: "camera broker",
                    last_will: None,
                    persistent: true,
                    max_incoming: max_incoming(true),
                    max_outgoing,
                    outbox_limit,
                    // What a camera message causes goes to Home Assistant's broker: its
                    // acknowledgement waits until that is written.
                    acks_wait_for: Some(ha.written()),
                },
            )?),
            None => None,
        };
        Ok(Links { ha, cameras })
    }

    /// Room for more, so a large announcement never piles up in memory (or overflows an outbox)
    /// at once.
    pub(super) fn has_room(&self) -> bool {
        const HIGH_WATER: usize = 1 << 20;
        self.ha.backlog() < HIGH_WATER
            && self
                .cameras
                .as_ref()
                .is_none_or(|c| c.backlog() < HIGH_WATER)
    }

    fn get(&self, link: Link) -> &Connection {
        match (link, &self.cameras) {
            (Link::Camera, Some(c)) => c,
            _ => &self.ha,
        }
    }

    pub(super) fn carry_out(&self, action: Action) {
        match action {
            Action::Publish(p) => self.get(p.link).publish(p),
            Action::Subscribe { link, filters } => self.get(link).subscribe(filters),
            Action::Unsubscribe { link, filters } => self.get(link).unsubscribe(filters),
            // On the connection the message came on; from a camera broker of its own, once what
            // the message caused is written to Home Assistant's.
            Action::Acknowledge(ack) => match (ack.link, &self.cameras) {
                (Link::Camera, Some(c)) => c.ack(ack.packet_id, Some(self.ha.written().mark())),
                _ => self.ha.ack(ack.packet_id, None),
            },
            // Not for a broker: the shell takes them.
            Action::SaveState(_) | Action::Archive(_) | Action::Reconnect => {}
        }
    }

    /// Sends DISCONNECT after what is queued, and waits for it to go out, within `timeout`.
    pub(super) async fn close(mut self, timeout: Duration) {
        self.ha.disconnect();
        if let Some(c) = &self.cameras {
            c.disconnect();
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
        if !self.ha.closed(left()).await {
            warn!(
                "{}: did not take the last messages in time; stopping anyway",
                self.ha.name
            );
        }
        if let Some(c) = &mut self.cameras {
            c.closed(left()).await;
        }
    }
}
