//! solarcam-bridge: Milesight SC211 4G solar cameras in Home Assistant, over MQTT.
//!
//! The layout, one concept per module:
//!
//! - [`mac`]: the camera's MAC address, parsed from any spelling.
//! - [`config`]: the YAML file, validated whole, every error with its line.
//! - [`protocol`]: the camera's topics and commands, and tolerant readers for its payloads
//!   ([`protocol::snapshot`] finds the JPEG in whatever form it came).
//! - [`discovery`]: Home Assistant's side: topics and the typed discovery payloads.
//! - [`bridge`]: the core. Plain synchronous logic: events in, MQTT actions out, time passed in.
//!   No sockets, no clock, no tokio, so every behaviour is a fast unit test.
//! - [`mqtt`]: the shell's broker connections (rumqttc), with reconnects and TLS.
//! - [`outbox`]: what waits to go out to a broker, bounded, while it is away.
//! - [`watcher`]: the shell's file watcher: the configuration file's edits, debounced.
//! - [`archive`]: every snapshot kept on disk, within an age and a size, written atomically.
//! - [`state`]: the state directory: what the bridge remembers across restarts, written atomically.
//! - [`logging`]: the log's level, from the environment or the file, changed by edits.
//! - [`broker`]: the embedded MQTT broker, for a first run or a Pi without Mosquitto
//!   (`broker/`: topics, sessions, one client's connection).
//! - [`service`]: the shell's main loop: feeds the core from the connections, the watcher, signals
//!   and timers, carries out its actions, and speaks systemd's notification protocol.
//!
//! - [`container`]: the container image's entry: add-on mode or `/config/config.yaml`, state in
//!   `/data`, an unprivileged user; [`addon`]: the add-on's options and the Supervisor's broker.
//!
//! - Tools around it: [`simulator`] (a virtual SC211), [`decode`] (a saved payload to a JPEG),
//!   [`demo`] (broker, virtual camera and bridge in one process).
//!
//! `src/main.rs` only parses the command line and starts one of these.

pub mod addon;
pub mod archive;
pub mod bridge;
pub mod broker;
pub mod config;
pub mod container;
pub mod decode;
pub mod demo;
pub mod discovery;
pub mod logging;
pub mod mac;
pub mod mqtt;
pub mod outbox;
pub mod protocol;
pub mod service;
pub mod simulator;
pub mod state;
#[doc(hidden)]
pub mod test_support;
pub mod watcher;
