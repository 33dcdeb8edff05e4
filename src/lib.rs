//! solarcam-bridge: Milesight SC211 4G solar cameras in Home Assistant, over MQTT.
//!
//! The layout, one concept per module:
//!
//! - [`mac`]: the camera's MAC address, parsed from any spelling. [`topic`]: MQTT topic names
//!   and filters. [`secret`]: passwords, kept out of every printout. (Below the rest: the
//!   broker, the configuration and the protocol all use them.)
//! - [`config`]: the YAML file, validated whole, every error with its line (`config/`: the types,
//!   `broker.rs` the brokers' settings, `raw.rs` serde's view, `validate.rs` and `validate/` one
//!   file per section, `locate.rs` the line finder, `url.rs`, `security.rs`).
//! - [`protocol`]: the camera's topics (`topic.rs`) and commands (`command.rs`), and tolerant
//!   readers for its payloads: JSON keys in any spelling (`json.rs`), the camera a payload claims
//!   (`claim.rs`), alarm kinds (`alarm.rs`), status reports (`status.rs`), and the JPEG in
//!   whatever form it came ([`protocol::snapshot`]). What the code relies on about the camera,
//!   vendor facts and inferences apart, is in `docs/PROTOCOL.md`.
//! - [`discovery`]: Home Assistant's side: the topics ([`discovery::Topics`]), the typed
//!   discovery payloads ([`discovery::payloads`]), the entity table ([`discovery::entities`], one
//!   literal per entity) and the bridge's counters ([`discovery::counter`]).
//! - [`bridge`]: the core. Plain synchronous logic: events in, MQTT actions out, time passed in.
//!   No sockets, no clock, no tokio, so every behaviour is a fast unit test (`bridge/mod.rs` has
//!   its map).
//! - [`service`]: the shell. Its main loop feeds the core from the connections, the watcher,
//!   signals and timers, and carries out its actions; everything in `service/` is I/O:
//!   `links.rs` (the broker connections of one configuration), `mqtt.rs` (one connection:
//!   rumqttc, reconnects, TLS), `outbox.rs` (what waits to go out, bounded), `watcher.rs` (the
//!   file's edits, debounced), `archive.rs` (every snapshot on disk, within an age and a size),
//!   `state.rs` (what the bridge remembers across restarts), `atomic.rs` (files written whole),
//!   `systemd.rs` (the notification protocol), `health.rs` (the socket `health` asks),
//!   `shell.rs` (what the core is connected to, and the main loop that feeds it), `standing.rs`
//!   (how the bridge stands, for `health` and systemd), `localtime.rs` (local dates for the
//!   archive), `mqtt/` (backoff, polling and TLS of one connection).
//! - [`logging`]: the log's level, from the environment or the file, changed by edits; and
//!   [`logging::Throttle`], for warnings a stranger can repeat at will.
//! - [`broker`]: the embedded MQTT broker, for a first run or a Pi without Mosquitto
//!   (`broker/`: `session.rs` and `session/` what it keeps, bounded; `connection.rs` one client;
//!   `message.rs` the one form of a message; `codec/` MQTT 3.1.1 and 5.0 at its edge).
//! - [`container`]: the container image's entry: add-on mode or `/config/config.yaml`, state in
//!   `/data`, an unprivileged user; [`addon`]: the add-on's options (`addon/options.rs`) and the
//!   Supervisor's broker (`addon/supervisor.rs`).
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
pub mod secret;
pub mod service;
pub mod simulator;
#[doc(hidden)]
pub mod test_support;
pub mod topic;
