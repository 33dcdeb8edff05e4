//! The shell's main loop: connections, signals and timers feed the core; its actions go out.
//!
//! Also the service glue: systemd notification (READY, STATUS, WATCHDOG, RELOADING, STOPPING) and
//! the clean stop on SIGTERM/SIGINT (offline published, queue flushed, exit within 2 seconds).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sd_notify::NotifyState;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info, warn};

use crate::bridge::{Action, Bridge, Event, Link};
use crate::config::Config;
use crate::mqtt::{Connection, Incoming, Options, SetupError};

/// How long a stop may wait for the broker to take the last messages.
const STOP_FLUSH: Duration = Duration::from_millis(1500);

/// The broker connections for one configuration.
struct Links {
    ha: Connection,
    /// `None` when the cameras publish to the Home Assistant broker.
    cameras: Option<Connection>,
}

impl Links {
    fn open(config: &Config, availability: String) -> Result<Links, SetupError> {
        // Accept any packet MQTT allows: a client that refuses an oversized packet drops the
        // connection, and with a persistent session the broker redelivers the same packet at once,
        // forever. Taken in, it costs its size once, and the core refuses it with a warning.
        let max_incoming = 256 << 20;
        let max_outgoing = config.snapshot_max_bytes + (64 << 10);
        let ha = Connection::open(
            &config.mqtt,
            Options {
                name: "Home Assistant broker",
                last_will: Some((availability, Bytes::from_static(b"offline"))),
                persistent: config.camera_mqtt.is_none(),
                max_incoming,
                max_outgoing,
            },
        )?;
        let cameras = match &config.camera_mqtt {
            Some(broker) => Some(Connection::open(
                broker,
                Options {
                    name: "camera broker",
                    last_will: None,
                    persistent: true,
                    max_incoming,
                    max_outgoing,
                },
            )?),
            None => None,
        };
        Ok(Links { ha, cameras })
    }

    fn get(&self, link: Link) -> &Connection {
        match (link, &self.cameras) {
            (Link::Camera, Some(c)) => c,
            _ => &self.ha,
        }
    }

    fn carry_out(&self, action: Action) {
        match action {
            Action::Publish(p) => self.get(p.link).publish(p),
            Action::Subscribe { link, filters } => self.get(link).subscribe(filters),
            Action::Unsubscribe { link, filters } => self.get(link).unsubscribe(filters),
        }
    }

    /// Sends DISCONNECT after what is queued, and waits for it to go out, within `timeout`.
    async fn close(mut self, timeout: Duration) {
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

/// Settings that can only change by reconnecting.
fn connection_settings(c: &Config) -> impl PartialEq + '_ {
    (&c.mqtt, &c.camera_mqtt, &c.base_topic, c.snapshot_max_bytes)
}

async fn next_incoming(c: &mut Option<Connection>) -> Option<Incoming> {
    match c {
        Some(c) => c.incoming.recv().await,
        None => std::future::pending().await,
    }
}

/// Runs the bridge until SIGTERM or SIGINT. `path` is re-read on SIGHUP.
pub async fn run(path: PathBuf, config: Config) -> Result<(), SetupError> {
    info!("starting: {}", config.summary());
    let mut bridge = Bridge::new(config);
    let mut links = Links::open(bridge.config(), bridge.topics().availability())?;
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut hangup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    let mut systemd = Systemd::new();

    loop {
        while let Some(action) = bridge.poll_action() {
            links.carry_out(action);
        }
        systemd.tick(&bridge, &links);
        let wake = bridge
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600))
            .min(systemd.next_ping());

        tokio::select! {
            incoming = links.ha.incoming.recv() => {
                let single = links.cameras.is_none();
                match incoming {
                    Some(Incoming::Connected) => {
                        bridge.handle(Event::Connected(Link::Ha), Instant::now());
                        if single {
                            bridge.handle(Event::Connected(Link::Camera), Instant::now());
                        }
                        systemd.connected = true;
                        systemd.last_error = None;
                    }
                    Some(Incoming::Disconnected(why)) => {
                        bridge.handle(Event::Disconnected(Link::Ha), Instant::now());
                        if single {
                            bridge.handle(Event::Disconnected(Link::Camera), Instant::now());
                        }
                        systemd.connected = false;
                        systemd.last_error = Some(why);
                    }
                    Some(Incoming::Message { topic, payload, received }) => {
                        bridge.handle(Event::Message { topic, payload, received }, Instant::now());
                    }
                    Some(Incoming::Closed) | None => {}
                }
            }
            incoming = next_incoming(&mut links.cameras) => match incoming {
                Some(Incoming::Connected) => bridge.handle(Event::Connected(Link::Camera), Instant::now()),
                Some(Incoming::Disconnected(why)) => {
                    bridge.handle(Event::Disconnected(Link::Camera), Instant::now());
                    systemd.last_error = Some(why);
                }
                Some(Incoming::Message { topic, payload, received }) => {
                    bridge.handle(Event::Message { topic, payload, received }, Instant::now());
                }
                Some(Incoming::Closed) | None => {}
            },
            _ = tokio::time::sleep_until(wake) => bridge.handle_timeout(Instant::now()),
            _ = hangup.recv() => {
                systemd.reloading();
                links = reload(&path, &mut bridge, links, &mut systemd).await?;
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }

    info!("stopping: publishing offline");
    systemd.notify(&[NotifyState::Stopping]);
    bridge.handle(Event::Shutdown, Instant::now());
    while let Some(action) = bridge.poll_action() {
        links.carry_out(action);
    }
    links.close(STOP_FLUSH).await;
    info!("stopped");
    Ok(())
}

/// Re-reads the file; a bad one leaves the running configuration in place.
async fn reload(
    path: &Path,
    bridge: &mut Bridge,
    links: Links,
    systemd: &mut Systemd,
) -> Result<Links, SetupError> {
    let result = match Config::load(path) {
        Err(errors) => {
            for line in errors.to_string().lines() {
                error!("{line}");
            }
            warn!("configuration not reloaded: the running one stays in place until the file is fixed");
            systemd.last_error = Some(format!("{} has errors", path.display()));
            Ok(links)
        }
        Ok(new) => {
            info!("configuration reloaded: {}", new.summary());
            systemd.last_error = None;
            if connection_settings(&new) != connection_settings(bridge.config()) {
                info!("broker settings changed: reconnecting");
                bridge.handle(Event::Disconnected(Link::Ha), Instant::now());
                bridge.handle(Event::Disconnected(Link::Camera), Instant::now());
                bridge.handle(Event::ConfigReloaded(Box::new(new)), Instant::now());
                // The old connections take the clean-up of the old topics with them.
                while let Some(action) = bridge.poll_action() {
                    links.carry_out(action);
                }
                links.close(STOP_FLUSH).await;
                systemd.connected = false;
                Links::open(bridge.config(), bridge.topics().availability())
            } else {
                bridge.handle(Event::ConfigReloaded(Box::new(new)), Instant::now());
                Ok(links)
            }
        }
    };
    systemd.notify(&[NotifyState::Ready]);
    result
}

/// systemd's notification protocol; every call is a no-op outside systemd.
struct Systemd {
    ready: bool,
    connected: bool,
    last_error: Option<String>,
    last_status: String,
    watchdog: Option<Duration>,
    last_ping: tokio::time::Instant,
}

impl Systemd {
    fn new() -> Systemd {
        let mut usec = 0;
        let watchdog =
            sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec) / 2);
        Systemd {
            ready: false,
            connected: false,
            last_error: None,
            last_status: String::new(),
            watchdog,
            last_ping: tokio::time::Instant::now(),
        }
    }

    fn notify(&self, states: &[NotifyState]) {
        if let Err(e) = sd_notify::notify(false, states) {
            warn!("cannot notify systemd: {e}");
        }
    }

    fn next_ping(&self) -> tokio::time::Instant {
        match self.watchdog {
            Some(every) => self.last_ping + every,
            None => tokio::time::Instant::now() + Duration::from_secs(3600),
        }
    }

    fn reloading(&self) {
        let mut states = vec![NotifyState::Reloading];
        if let Ok(now) = NotifyState::monotonic_usec_now() {
            states.push(now);
        }
        self.notify(&states);
    }

    /// Called once per loop turn: READY once connected and discovery is queued, STATUS when it
    /// changes, WATCHDOG when due (a hung loop stops these, and systemd restarts the service).
    fn tick(&mut self, bridge: &Bridge, links: &Links) {
        let mut states = Vec::new();
        if self.connected && !self.ready {
            self.ready = true;
            states.push(NotifyState::Ready);
        }
        let n = bridge.camera_count();
        let mut status = format!(
            "{} {}, {n} camera{}",
            if self.connected {
                "connected to"
            } else {
                "connecting to"
            },
            links.ha.url,
            if n == 1 { "" } else { "s" }
        );
        if let Some(c) = &links.cameras {
            status.push_str(&format!(", cameras on {}", c.url));
        }
        if let Some(e) = &self.last_error {
            status.push_str(&format!(", last error: {e}"));
        }
        let status_changed = status != self.last_status;
        if status_changed {
            self.last_status = status;
            states.push(NotifyState::Status(&self.last_status));
        }
        let now = tokio::time::Instant::now();
        if self.watchdog.is_some() && now >= self.next_ping() {
            self.last_ping = now;
            states.push(NotifyState::Watchdog);
        }
        if !states.is_empty() {
            self.notify(&states);
        }
    }
}
