//! solarcam-bridge: Milesight SC211 4G solar cameras in Home Assistant, over MQTT.
//!
//! The layout, one concept per module:
//!
//! - [`mac`]: the camera's MAC address, parsed from any spelling.
//! - [`config`]: the YAML file, validated whole, every error with its line (`config/`: the types,
//!   `raw.rs` serde's view, `validate.rs`, `locate.rs` the line finder, `url.rs`, `secret.rs`).
//! - [`protocol`]: the camera's topics and commands, and tolerant readers for its payloads
//!   ([`protocol::snapshot`] finds the JPEG in whatever form it came).
//! - [`discovery`]: Home Assistant's side: the topics ([`discovery::Topics`]) and the typed
//!   discovery payloads ([`discovery::payloads`], one literal per entity).
//! - [`bridge`]: the core. Plain synchronous logic: events in, MQTT actions out, time passed in.
//!   No sockets, no clock, no tokio, so every behaviour is a fast unit test.
//! - [`service`]: the shell's main loop: feeds the core from the connections, the watcher, signals
//!   and timers, and carries out its actions (`service/`: `links.rs` the broker connections of one
//!   configuration, `systemd.rs` the notification protocol, `health.rs` the socket `health` asks). Its parts, inside the crate:
//!   `mqtt` (one broker connection: rumqttc, reconnects, TLS), `outbox` (what waits to go out,
//!   bounded), `watcher` (the configuration file's edits, debounced), `archive` (every snapshot
//!   on disk, within an age and a size), `state` (what the bridge remembers across restarts).
//! - [`logging`]: the log's level, from the environment or the file, changed by edits.
//! - [`broker`]: the embedded MQTT broker, for a first run or a Pi without Mosquitto
//!   (`broker/`: topics, sessions, one client's connection).
//! - [`container`]: the container image's entry: add-on mode or `/config/config.yaml`, state in
//!   `/data`, an unprivileged user; [`addon`]: the add-on's options and the Supervisor's broker.
//! - Tools around it: [`simulator`] (a virtual SC211), [`decode`] (a saved payload to a JPEG),
//!   [`demo`] (broker, virtual camera and bridge in one process). `test_support` holds the
//!   fixtures the tests and benches share.
//!
//! `src/main.rs` only parses the command line and starts one of these.

pub mod addon;
pub mod bridge;
pub mod broker;
pub mod config;
pub mod container;
pub mod decode;
pub mod demo;
pub mod discovery;
pub mod logging;
pub mod mac;
pub mod protocol;
pub mod service;
pub mod simulator;
#[doc(hidden)]
pub mod test_support;
