//! Configuration changes, removed cameras, and the ghosts of earlier runs.
//!
//! A new file is applied as a difference: Home Assistant sees cameras added, renamed or removed,
//! never the whole list taken down and put up again. Removing a camera empties every retained
//! discovery config and state it had, so no entity is left behind.

use std::time::Instant;

use bytes::Bytes;
use tracing::{info, warn};

use super::{topics_of, Bridge, Camera, Link};
use crate::config::{Config, Mqtt};
use crate::discovery::{BridgeEntity, Diagnostic, StateTopic, Topics};
use crate::mac::Mac;

impl Bridge {
    pub(super) fn on_config(&mut self, mut new: Config, now: Instant) {
        // The embedded broker runs in this process and cannot be swapped under the clients
        // connected to it.
        let embedded = |m: &Mqtt| matches!(m, Mqtt::Embedded(_));
        if new.mqtt != self.config.mqtt && (embedded(&new.mqtt) || embedded(&self.config.mqtt)) {
            warn!("mqtt settings of the embedded broker changed: they take effect when the bridge restarts");
            new.mqtt = self.config.mqtt.clone();
        }
        let reconnect = connection_settings(&new) != connection_settings(&self.config);
        if reconnect {
            info!("broker settings changed: reconnecting");
            if new.mqtt != self.config.mqtt {
                // Home Assistant on the old broker learns the bridge left it, as at a stop.
                self.shutdown();
            }
            for link in [Link::Ha, Link::Camera] {
                self.disconnected(link, "reconnecting for new broker settings".to_string());
            }
        }
        // One broker again: the link to the camera broker is no longer a thing to show.
        let one_broker_again = self.config.camera_mqtt.is_some() && new.camera_mqtt.is_none();
        self.reload(new, now);
        if one_broker_again {
            // Its component taken away: Home Assistant removes the entity.
            self.publish_bridge_device(&[BridgeEntity::CameraBroker]);
            self.publish(Link::Ha, self.topics.camera_broker(), Bytes::new(), true);
        }
        if self.config_problem.take().is_some() {
            info!("the configuration file is valid again");
            self.publish_config_problem();
        }
        if reconnect {
            // After the clean-up of the old topics, which the old connections take with them.
            self.reconnect();
        }
    }

    /// Our own retained announcement from an earlier run. One for a camera no longer configured
    /// (nor discovered) is a ghost: take its entities down.
    pub(super) fn on_announcement(&mut self, mac: Mac) {
        if !self.cameras.contains_key(&mac) {
            info!("camera {mac} is no longer configured: removing the entities an earlier run created");
            let topics = self.topics.clone();
            self.clear_camera(&topics, mac, Clear::All);
        }
    }

    /// A per-entity announcement of a release before device discovery, for a camera this run
    /// does not know (one it knows is moved by the announcement): its entities and states go, as
    /// that release would have removed them.
    pub(super) fn on_legacy_announcement(&mut self, mac: Mac) {
        if !self.cameras.contains_key(&mac) {
            info!("camera {mac} is no longer configured: removing the entities an earlier release created");
            for topic in self.topics.legacy_camera_configs(mac) {
                self.publish(Link::Ha, topic, Bytes::new(), true);
            }
            let topics = self.topics.clone();
            self.clear_camera(&topics, mac, Clear::States);
        }
    }

    /// Deletes a camera's entities from Home Assistant and clears its retained states.
    fn remove_camera(&mut self, mac: Mac) {
        let Some(cam) = self.cameras.remove(&mac) else {
            return;
        };
        info!("{} ({mac}): removed from Home Assistant", cam.name());
        self.timers.stop_all(mac);
        if !cam.commands().is_empty() {
            info!(
                "{} ({mac}): its {} queued command(s) are dropped with it",
                cam.name(),
                cam.commands().pending().len()
            );
        }

        let topics = self.topics.clone();
        self.clear_camera(&topics, mac, Clear::All);
    }

    /// Empties a camera's retained discovery configs, states, or both, under `topics`.
    pub(super) fn clear_camera(&mut self, topics: &Topics, mac: Mac, what: Clear) {
        if matches!(what, Clear::All | Clear::Configs) {
            // The device config, and with it every entity and trigger of the camera.
            let config = topics.camera_device_config(mac);
            self.publish(Link::Ha, config, Bytes::new(), true);
        }
        if matches!(what, Clear::All | Clear::States) {
            for s in StateTopic::ALL.into_iter().filter(|s| s.retained()) {
                self.publish(Link::Ha, topics.state(mac, s), Bytes::new(), true);
            }
        }
    }

    fn reload(&mut self, new: Config, now: Instant) {
        let topics_changed = new.discovery_prefix != self.config.discovery_prefix
            || new.base_topic != self.config.base_topic;
        let camera_topics_changed = new.camera_topics != self.config.camera_topics;
        if topics_changed {
            self.leave_old_topics(topics_of(&new));
        }
        if camera_topics_changed {
            let old = self.config.camera_topics.filters();
            self.unsubscribe(Link::Camera, old);
        }
        let changed = self.apply_cameras(&new);
        self.config = new;

        if topics_changed {
            if self.ha_connected {
                self.subscribe_ha();
                self.publish_everything(now);
            }
        } else if self.ha_connected {
            for mac in changed {
                self.announce_camera(mac, now);
            }
        }
        if camera_topics_changed && self.camera_connected {
            self.subscribe_cameras();
        }
    }

    /// The discovery prefix or base topic changed: everything moves. What stands under the old
    /// names is cleared (configs only where their topics change: unique_ids do not, so Home
    /// Assistant updates those in place).
    fn leave_old_topics(&mut self, new: Topics) {
        let old = std::mem::replace(&mut self.topics, new);
        let configs_moved = old.discovery_prefix != self.topics.discovery_prefix;
        let states_moved = old.base != self.topics.base;
        let clear = match (configs_moved, states_moved) {
            (true, true) => Some(Clear::All),
            (true, false) => Some(Clear::Configs),
            (false, true) => Some(Clear::States),
            (false, false) => None,
        };
        if let Some(clear) = clear {
            let macs: Vec<Mac> = self.cameras.keys().copied().collect();
            for mac in macs {
                self.clear_camera(&old, mac, clear);
            }
        }
        if old.bridge_device_config() != self.topics.bridge_device_config() {
            self.publish(Link::Ha, old.bridge_device_config(), Bytes::new(), true);
        }
        if states_moved {
            let bridge_states = [
                old.availability(),
                old.config_problem(),
                old.config_problem_attributes(),
                old.last_error_attributes(),
                old.camera_broker(),
            ]
            .into_iter()
            .chain(Diagnostic::all().map(|d| old.diagnostic(d)));
            for topic in bridge_states {
                self.publish(Link::Ha, topic, Bytes::new(), true);
            }
        }
        self.unsubscribe(Link::Ha, Self::ha_filters(&old));
    }

    /// Cameras: removed, updated, added, so that Home Assistant sees only the difference.
    /// Proportional to the list, with constant work per camera. Returns the cameras to announce.
    fn apply_cameras(&mut self, new: &Config) -> Vec<Mac> {
        let before = self.saved();
        let listed: std::collections::HashSet<Mac> = new.cameras.iter().map(|c| c.mac).collect();
        let gone: Vec<Mac> = self
            .cameras
            .iter()
            .filter(|(mac, cam)| {
                !listed.contains(mac) && (cam.is_configured() || !new.discover_unknown)
            })
            .map(|(m, _)| *m)
            .collect();
        for mac in gone {
            // A camera taken out of the file stays out: its own messages do not bring it back.
            if self.cameras.get(&mac).is_some_and(|c| c.is_configured()) {
                self.admission.dismiss(mac);
            }
            self.remove_camera(mac);
        }
        // Listed again: the file decides now.
        self.admission.forget(|m| listed.contains(m));
        let mut changed = Vec::new();
        for c in &new.cameras {
            match self.cameras.get_mut(&c.mac) {
                Some(cam) => {
                    if let Some(old_name) = cam.list(c) {
                        info!("{old_name} ({}): now named {:?}", c.mac, c.name);
                        changed.push(c.mac);
                    }
                }
                None => {
                    info!("{} ({}): added", c.name, c.mac);
                    self.cameras.insert(c.mac, Camera::from_config(c));
                    changed.push(c.mac);
                }
            }
        }
        if self.saved() != before {
            self.save_state();
        }
        changed
    }
}

/// What of a camera's retained topics to empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Clear {
    /// Its discovery configs and its states: the camera is gone.
    All,
    /// Only the configs (the discovery prefix moved).
    Configs,
    /// Only the states (the base topic moved).
    States,
}

/// Settings that can only change by reconnecting: the brokers, the availability topic (the last
/// will) and the largest packet.
fn connection_settings(c: &Config) -> impl PartialEq + '_ {
    (&c.mqtt, &c.camera_mqtt, &c.base_topic, c.snapshot_max_bytes)
}
