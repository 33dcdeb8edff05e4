//! Telling Home Assistant everything: discovery, availability and states, one camera at a time;
//! Home Assistant's birth messages, debounced; alarm events held while it subscribes.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{debug, info};

use super::{awake_state, Ack, Bridge, BridgeTimer, CameraTimer, Link, Publish};
use crate::discovery::{self, BridgeEntity, CameraEntity, DeviceConfig, StateTopic};
use crate::mac::Mac;

/// Home Assistant's request to move an entity from its per-entity config to a device config.
const MIGRATE: &[u8] = br#"{"migrate_discovery": true}"#;

/// Home Assistant's birth message makes the bridge announce everything at most once per this long.
pub const REANNOUNCE_EVERY: Duration = Duration::from_secs(5);

/// After a camera's entities are announced, its alarm events wait this long before they go out.
/// Home Assistant subscribes to a new entity's topic (and to a device trigger's, and an
/// automation's after it starts) a moment after the discovery config arrives, debounced; an event
/// is not retained, so one published before that is lost to the event entity and the triggers.
pub const EVENT_SETTLE: Duration = Duration::from_secs(3);

/// Events held during [`EVENT_SETTLE`], at most; past this (a flood) they go out at once.
pub const MAX_HELD_EVENTS: usize = 64;

/// Acknowledgements held behind the held events, at most. A broker sends a stock 20 or so
/// unacknowledged messages and then waits; one that does not wait cannot make the bridge keep
/// more than this: past it, messages are acknowledged at once, as if no event were held.
pub const MAX_HELD_ACKS: usize = 1024;

/// An announcement in progress: the cameras whose configs, then states, are still to go out.
#[derive(Debug, Default)]
pub(super) struct Announcing {
    configs: VecDeque<Mac>,
    states: VecDeque<Mac>,
    availability_sent: bool,
}

/// Home Assistant's birth messages: when the last one made the bridge announce everything, and
/// when the next one may (a flood of them announces once per [`REANNOUNCE_EVERY`]).
#[derive(Debug, Default)]
pub(super) struct Reannounce {
    last: Option<Instant>,
}

/// Alarm events held back while Home Assistant subscribes to what was just announced.
#[derive(Debug, Default)]
pub(super) struct HeldEvents {
    /// Every camera was announced (a start, a reconnect, Home Assistant's birth): events of all
    /// cameras wait until then.
    all_until: Option<Instant>,
    /// Cameras announced on their own (a new one), and until when their events wait.
    cameras: BTreeMap<Mac, Instant>,
    /// In order of arrival, each with the time it may go.
    held: VecDeque<HeldEvent>,
    /// The acknowledgements waiting in `held`.
    acks: usize,
}

/// One alarm's event and its copy on the alarm feed, released together at `at`, then the
/// acknowledgements of the messages received while it waited (see [`Ack`]).
#[derive(Debug)]
struct HeldEvent {
    at: Instant,
    publish: [Publish; 2],
    acks: Vec<Ack>,
}

impl HeldEvents {
    fn release_at(&self, mac: Mac, now: Instant) -> Option<Instant> {
        let until = [self.all_until, self.cameras.get(&mac).copied()]
            .into_iter()
            .flatten()
            .max()?;
        (until > now).then_some(until)
    }

    /// When the first held event may go.
    fn next(&self) -> Option<Instant> {
        self.held.front().map(|e| e.at)
    }

    /// Forgets the settle times that passed.
    pub(super) fn forget_settled(&mut self, now: Instant) {
        if self.all_until.is_some_and(|t| t <= now) {
            self.all_until = None;
        }
        self.cameras.retain(|_, t| *t > now);
    }
}

impl Bridge {
    /// Home Assistant (re)started: it needs every config and state again. A flood of birth
    /// messages (anyone who can publish on the broker can send them) costs one announcement per
    /// [`REANNOUNCE_EVERY`]; one arriving sooner is folded into one at the end of that time.
    pub(super) fn on_birth(&mut self, now: Instant) {
        match self.reannounce.last {
            Some(last) if now.saturating_duration_since(last) < REANNOUNCE_EVERY => {
                if self.timers.get_bridge(BridgeTimer::Reannounce).is_none() {
                    debug!(
                        "Home Assistant is online again within {}s: announcing once more then",
                        REANNOUNCE_EVERY.as_secs()
                    );
                    let at = last + REANNOUNCE_EVERY;
                    self.timers.set_bridge(BridgeTimer::Reannounce, Some(at));
                }
            }
            _ => self.reannounce(now),
        }
    }

    /// Every config and state again; also a birth message folded into a later announcement (see
    /// [`Bridge::on_birth`]), when its time has come.
    pub(super) fn reannounce(&mut self, now: Instant) {
        info!("Home Assistant is online: publishing discovery and states again");
        self.reannounce.last = Some(now);
        self.publish_everything(now);
    }

    /// Every held event, at once: the bridge is stopping, and late is better than never.
    pub(super) fn release_all_events(&mut self) {
        while let Some(event) = self.events.held.pop_front() {
            self.release(event);
        }
        self.schedule_held_events();
    }

    /// A held event's publishes, then the acknowledgements that waited for it.
    fn release(&mut self, event: HeldEvent) {
        for p in event.publish {
            self.send(p, true);
        }
        self.events.acks -= event.acks.len();
        for ack in event.acks {
            self.queue_ack(ack);
        }
    }

    /// Acknowledges a message once what it caused is out: after the actions it queued and after
    /// the alarm events held before it, whose release carries the acknowledgement along.
    pub(super) fn acknowledge(&mut self, ack: Ack) {
        match self.events.held.back_mut() {
            Some(last) if self.events.acks < MAX_HELD_ACKS => {
                last.acks.push(ack);
                self.events.acks += 1;
            }
            _ => self.queue_ack(ack),
        }
    }

    /// Discovery for every device, then availability, then every known state: what Home Assistant
    /// needs after it (or the bridge, or the broker) restarted.
    ///
    /// Cameras are announced one at a time as the shell asks for more ([`Bridge::poll_action`]):
    /// with thousands of cameras the whole announcement never sits in memory at once.
    pub(super) fn publish_everything(&mut self, now: Instant) {
        // Home Assistant may be (re)creating the entities: events wait for its subscriptions.
        self.events.all_until = Some(now + EVENT_SETTLE);
        self.publish_bridge_device(&[]);
        let macs: VecDeque<Mac> = self.cameras.keys().copied().collect();
        self.announcing = Some(Announcing {
            configs: macs.clone(),
            states: macs,
            availability_sent: false,
        });
    }

    /// The next step of an announcement: one camera's configs; then availability and the
    /// bridge's states once every config is out; then one camera's states.
    pub(super) fn announce_more(&mut self) {
        let Some(a) = self.announcing.as_mut() else {
            return;
        };
        if let Some(mac) = a.configs.pop_front() {
            return self.publish_discovery(mac);
        }
        if !a.availability_sent {
            a.availability_sent = true;
            if !self.discovery_migrated {
                // Every device moved: a restart must not move them again (Home Assistant would
                // see a migration request for entities it already has on their new topic).
                info!("discovery: every device is announced in one message now");
                self.discovery_migrated = true;
                self.save_state();
            }
            self.publish(
                Link::Ha,
                self.topics.availability(),
                Bytes::from_static(b"online"),
                true,
            );
            self.publish_config_problem();
            self.publish_camera_broker();
            return self.publish_diagnostics();
        }
        match a.states.pop_front() {
            Some(mac) => self.publish_states(mac),
            None => self.announcing = None,
        }
    }

    pub(super) fn publish_config_problem(&mut self) {
        let (state, attributes): (&'static [u8], Bytes) = match &self.config_problem {
            Some(attrs) => (b"ON", attrs.clone()),
            None => (b"OFF", Bytes::from_static(b"{}")),
        };
        let topics = &self.topics;
        let (attr_topic, state_topic) =
            (topics.config_problem_attributes(), topics.config_problem());
        self.publish(Link::Ha, attr_topic, attributes, true);
        self.publish(Link::Ha, state_topic, Bytes::from_static(state), true);
    }

    /// The bridge's own entities: the camera broker's link only when there is a separate one.
    pub(super) fn bridge_entities(&self) -> impl Iterator<Item = BridgeEntity> {
        let separate = self.config.camera_mqtt.is_some();
        BridgeEntity::all().filter(move |e| separate || *e != BridgeEntity::CameraBroker)
    }

    /// `ON`/`OFF` for the link to a separate camera broker (nothing with one broker).
    pub(super) fn publish_camera_broker(&mut self) {
        if self.config.camera_mqtt.is_none() || !self.ha_connected {
            return;
        }
        let state: &'static [u8] = if self.camera_connected { b"ON" } else { b"OFF" };
        self.publish(
            Link::Ha,
            self.topics.camera_broker(),
            Bytes::from_static(state),
            true,
        );
    }

    /// Publishes an alarm event and its copy on the alarm feed, or holds both while Home
    /// Assistant is still subscribing to what was just announced (see [`EVENT_SETTLE`]): after
    /// its start, the automations listening on the feed may not have subscribed yet either.
    pub(super) fn publish_event(&mut self, mac: Mac, payload: Bytes, feed: Bytes, now: Instant) {
        let publish = [
            Publish::new(
                Link::Ha,
                self.topics.state(mac, StateTopic::AlarmEvent),
                payload,
                false,
            ),
            Publish::new(Link::Ha, self.topics.alarm_feed(), feed, false),
        ];
        match self.events.release_at(mac, now) {
            Some(at) if self.events.held.len() < MAX_HELD_EVENTS => {
                debug!("{mac}: alarm event held until Home Assistant has subscribed");
                let acks = Vec::new();
                self.events.held.push_back(HeldEvent { at, publish, acks });
                self.schedule_held_events();
            }
            _ => {
                for p in publish {
                    self.send(p, true);
                }
            }
        }
    }

    /// Sends the held events whose time has come, in order; forgets settle times that passed.
    pub(super) fn release_events(&mut self, now: Instant) {
        while self.events.next().is_some_and(|t| t <= now) {
            if let Some(event) = self.events.held.pop_front() {
                self.release(event);
            }
        }
        self.schedule_held_events();
    }

    /// The table's timer for the first held event: set to its time, or stopped when none waits.
    fn schedule_held_events(&mut self) {
        let next = self.events.next();
        self.timers.set_bridge(BridgeTimer::HeldEvents, next);
    }

    /// A camera's device config: its entities and triggers in one retained message. Republished
    /// whole when a component is added (the configuration answer's entity at the first answer):
    /// Home Assistant adds the new one and leaves the others as they are.
    pub(super) fn publish_discovery(&mut self, mac: Mac) {
        let Some(cam) = self.cameras.get(&mac) else {
            return;
        };
        let entities = CameraEntity::ALL.into_iter().filter(|e| cam.has(*e));
        let config = discovery::camera_device_config(&self.topics, &cam.info(mac), entities);
        let legacy = self.topics.legacy_camera_configs(mac);
        self.migrate_to_device(legacy, self.topics.camera_device_config(mac), &config);
    }

    /// The bridge's own device config, `removed` taken away.
    pub(super) fn publish_bridge_device(&mut self, removed: &[BridgeEntity]) {
        let entities = self.bridge_entities();
        let config = discovery::bridge_device_config(&self.topics, entities, removed);
        let legacy = self.topics.legacy_bridge_configs();
        self.migrate_to_device(legacy, self.topics.bridge_device_config(), &config);
    }

    /// Publishes a device config; until the first announcement of this release is done, moves the
    /// device's entities from the per-entity configs of earlier releases Home Assistant's way,
    /// keeping their ids, names, areas and history: `{"migrate_discovery": true}` on each old
    /// topic (Home Assistant unloads the entity and keeps its registry entry), each old topic
    /// emptied, then the device config (the same unique ids under the same object ids).
    ///
    /// The old topics are emptied before the device config, not after: Home Assistant handles
    /// each entity's messages in order, and an empty config on the old topic once the entity is
    /// bound to the device topic is a "conflicting MQTT discovery message" it warns about
    /// (measured on 2026.11), as is one for a disabled entity ("Ignoring empty MQTT discovery
    /// payload for disabled ...").
    fn migrate_to_device(&mut self, legacy: Vec<String>, topic: String, config: &DeviceConfig) {
        if !self.discovery_migrated {
            for old in &legacy {
                self.publish(Link::Ha, old.clone(), Bytes::from_static(MIGRATE), true);
            }
            for old in legacy {
                self.publish(Link::Ha, old, Bytes::new(), true);
            }
        }
        self.publish_json(topic, config);
    }

    /// One camera's configs and states, outside a whole announcement (a new camera, a rename):
    /// its events wait while Home Assistant subscribes.
    pub(super) fn announce_camera(&mut self, mac: Mac, now: Instant) {
        self.publish_discovery(mac);
        self.publish_states(mac);
        self.events.cameras.insert(mac, now + EVENT_SETTLE);
    }

    pub(super) fn publish_states(&mut self, mac: Mac) {
        let Some(cam) = self.cameras.get(&mac) else {
            return;
        };
        let on_off = |on: bool| Bytes::from_static(if on { b"ON" } else { b"OFF" });
        let mut states = vec![
            (
                StateTopic::Alarm,
                on_off(self.timers.get(mac, CameraTimer::AlarmOff).is_some()),
            ),
            (StateTopic::Awake, awake_state(self.is_awake(mac))),
        ];
        states.extend(cam.retained_states());
        for (state, payload) in states {
            self.publish_state(mac, state, payload);
        }
        self.publish_pending(mac);
    }
}
