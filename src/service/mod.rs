//! The shell's main loop: connections, signals and timers feed the core; its actions go out.
//! Setup, the loop, reloads and the clean stop on SIGTERM/SIGINT (offline published, queue
//! flushed, exit within 2 seconds) are here; the broker connections in `links`, systemd's
//! notification protocol in `systemd`.

pub(crate) mod archive;
mod atomic;
pub mod health;
mod links;
mod localtime;
pub(crate) mod mqtt;
pub(crate) mod outbox;
pub(crate) mod state;
mod systemd;
pub(crate) mod watcher;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::bridge::{Action, Bridge, Event, Link};
use crate::broker::{Broker, BrokerError, BrokerSettings};
use crate::config::{ArchiveConfig, BrokerConfig, Config, Level, Mqtt};
use crate::logging::LogLevel;
use archive::{ArchiveError, ArchiveWriter};
use health::HealthSocket;
use links::Links;
// Named in `ServiceError::Setup`, so part of what a caller may match on.
use mqtt::Incoming;
pub use mqtt::SetupError;
use state::StateDir;
use systemd::Systemd;
use watcher::ConfigWatcher;

/// How long a stop may wait for the broker to take the last messages.
const STOP_FLUSH: Duration = Duration::from_millis(1500);

/// The last line of every message that stops the bridge from starting: what happened was said
/// above it, this says what to do.
pub fn not_started(what_to_do: &str) -> String {
    format!("solarcam-bridge: not started; {what_to_do}")
}

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("cannot handle {name}: {source}")]
    Signal {
        name: &'static str,
        source: std::io::Error,
    },
    #[error(
        "demo: port {} on {} is in use, probably by an MQTT broker; start the demo on another one, e.g. --listen {}:{}",
        .0.port(), .0.ip(), .0.ip(), .0.port().wrapping_add(1).max(1024)
    )]
    DemoPortInUse(std::net::SocketAddr),
}

/// The shell around the core: what it is connected to, and where its output goes.
struct Shell {
    /// The file to re-read on changes; `None` for a configuration made in memory (the demo).
    path: Option<PathBuf>,
    /// How to reach Home Assistant's broker: the configuration's, or the embedded one at the
    /// address it actually listens on.
    ha_broker: BrokerConfig,
    /// The core asked to reconnect (the broker settings changed).
    reconnect: bool,
    bridge: Bridge,
    links: Links,
    state: StateDir,
    systemd: Systemd,
    /// Follows `log_level` edits; `None` where the caller keeps its own logging (the demo).
    log: Option<LogLevel>,
    /// The snapshot archive's writer, when `archive` is configured.
    archive: Option<ArchiveWriter>,
    /// What the archive could not write, for the core to count.
    archive_failed: (mpsc::Sender<ArchiveError>, mpsc::Receiver<ArchiveError>),
    /// Where `solarcam-bridge health` asks how the bridge is; `None` when it cannot listen.
    health: Option<HealthSocket>,
}

impl Shell {
    /// The core with what it remembered, connections on their way, the archive's writer.
    fn start(
        path: Option<PathBuf>,
        config: Config,
        ha_broker: BrokerConfig,
        log: Option<LogLevel>,
    ) -> Result<Shell, ServiceError> {
        let dir = state_dir(Some(&config));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            warn!("cannot create the state directory {}: {e}", dir.display());
        }
        let health = HealthSocket::bind(&dir);
        let state = StateDir::new(dir);
        let mut bridge = Bridge::new(config);
        match state.load() {
            Ok(saved) => bridge.restore(saved),
            Err(e) => warn!("{e}"),
        }
        let links = Links::open(bridge.config(), &ha_broker, bridge.topics().availability())?;
        let mut shell = Shell {
            path,
            ha_broker,
            reconnect: false,
            bridge,
            links,
            state,
            systemd: Systemd::new(),
            log,
            archive: None,
            archive_failed: mpsc::channel(64),
            health,
        };
        let archive = shell.bridge.config().archive.clone();
        shell.open_archive(archive.as_ref());
        Ok(shell)
    }

    /// The main loop: feeds the core from the connections, the file watcher, signals and
    /// timers, and carries out its actions, until SIGTERM, SIGINT or `stop`.
    async fn run(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServiceError> {
        let mut watcher = match &self.path {
            Some(path) => match ConfigWatcher::new(path) {
                Ok(w) => Some(w),
                Err(e) => {
                    warn!(
                        "cannot watch {} for changes ({e}); reload with SIGHUP instead",
                        path.display()
                    );
                    None
                }
            },
            None => None,
        };
        let handler = |kind: SignalKind, name: &'static str| {
            signal(kind).map_err(|source| ServiceError::Signal { name, source })
        };
        let mut terminate = handler(SignalKind::terminate(), "SIGTERM")?;
        let mut interrupt = handler(SignalKind::interrupt(), "SIGINT")?;
        let mut hangup = handler(SignalKind::hangup(), "SIGHUP")?;
        tokio::pin!(stop);

        // Whether camera messages are being left unread (said once per change, at debug level).
        let mut holding_back = false;
        loop {
            let more = self.flush();
            let hold = more && self.links.cameras.is_some();
            if hold != holding_back {
                holding_back = hold;
                if hold {
                    debug!("Home Assistant broker is behind: leaving camera messages unread until it catches up");
                } else {
                    debug!("Home Assistant broker caught up: reading camera messages again");
                }
            }
            let mut wake = self
                .bridge
                .poll_timeout()
                .map(tokio::time::Instant::from_std)
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600))
                .min(self.systemd.next_ping());
            if more {
                // The outboxes are full: look again shortly, once the senders have drained them.
                wake = wake.min(tokio::time::Instant::now() + Duration::from_millis(10));
            }

            let camera_link = self.links.cameras.is_some();
            tokio::select! {
                incoming = self.links.ha.incoming.recv() => self.on_incoming(Link::Ha, incoming),
                // While Home Assistant's side cannot take more, camera messages are left unread:
                // the connection's small queue fills, its reader stops, and TCP makes the camera
                // broker hold them, instead of this process. (With one broker, both sides share
                // one connection, whose writes already hold its reads back.)
                Some(incoming) = async { Some(self.links.cameras.as_mut()?.incoming.recv().await) },
                    if camera_link && !more => self.on_incoming(Link::Camera, incoming),
                _ = tokio::time::sleep_until(wake) => self.bridge.handle_timeout(Instant::now()),
                Some(why) = self.archive_failed.1.recv() => self.bridge.handle(Event::ArchiveFailed(Arc::new(why)), Instant::now()),
                // Answered here, by the loop itself: an answer shows it turns.
                Some(asker) = async { self.health.as_ref()?.accept().await.ok() },
                    if self.health.is_some() => health::answer(
                        &asker,
                        self.systemd.connected,
                        self.systemd.last_error.as_deref(),
                    ),
                Some(()) = async {
                    let w = watcher.as_mut()?;
                    w.changed().await;
                    Some(())
                }, if watcher.is_some() => {
                    info!("{} changed: reloading", self.path_shown());
                    self.reload().await?;
                }
                _ = hangup.recv() => {
                    info!("SIGHUP: reloading {}", self.path_shown());
                    self.reload().await?;
                }
                _ = terminate.recv() => return Ok(()),
                _ = interrupt.recv() => return Ok(()),
                _ = &mut stop => return Ok(()),
            }
        }
    }

    /// (Re)starts the archive's writer for `config` (none when it has no `archive`).
    fn open_archive(&mut self, config: Option<&ArchiveConfig>) {
        self.archive =
            config.map(|c| ArchiveWriter::start(c.clone(), self.archive_failed.0.clone()));
    }
}

/// Runs the bridge until SIGTERM or SIGINT. `path` is re-read when it changes and on SIGHUP.
pub async fn run(path: PathBuf, config: Config, log: LogLevel) -> Result<(), ServiceError> {
    run_until(Some(path), config, Some(log), std::future::pending()).await
}

/// Runs the bridge until SIGTERM, SIGINT or `stop`. Starts the embedded broker first when the
/// configuration asks for it.
pub async fn run_until(
    path: Option<PathBuf>,
    config: Config,
    log: Option<LogLevel>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), ServiceError> {
    info!("starting: {}", config.summary());
    for w in &config.warnings {
        warn!("{w}");
    }
    // The embedded broker is kept for as long as the bridge runs; its tasks end with the runtime.
    let (_broker, ha_broker) = match &config.mqtt {
        Mqtt::Embedded(e) => {
            let broker = Broker::start(BrokerSettings {
                listen: e.listen,
                credentials: e.username.clone().zip(e.password.clone()),
                allow_anonymous: e.allow_anonymous,
            })
            .await?;
            // Port 0 asks the system for a free one: connect to the one it gave.
            let client = e.client(broker.addr);
            (Some(broker), client)
        }
        Mqtt::Remote(b) => (None, b.clone()),
    };
    let mut shell = Shell::start(path, config, ha_broker, log)?;
    shell.run(stop).await?;
    info!("stopping: publishing offline");
    shell.systemd.notify(&[NotifyState::Stopping]);
    shell.bridge.handle(Event::Shutdown, Instant::now());
    shell.flush_all();
    shell.links.close(STOP_FLUSH).await;
    info!("stopped");
    Ok(())
}

/// `state_dir` from the file, else systemd's `$STATE_DIRECTORY`, else the FHS place.
pub fn state_dir(config: Option<&Config>) -> PathBuf {
    config
        .and_then(|c| c.state_dir.clone())
        .or_else(|| {
            // systemd may list several, separated by ':'; ours is the first.
            let dirs = std::env::var_os("STATE_DIRECTORY")?;
            std::env::split_paths(&dirs).next()
        })
        .unwrap_or_else(|| PathBuf::from("/var/lib/solarcam-bridge"))
}

impl Shell {
    /// Carries out what the core asked for, as far as the outboxes have room: the core's output
    /// is taken only as fast as the brokers take it. Then tells systemd how things stand. True
    /// when the core has more waiting.
    fn flush(&mut self) -> bool {
        while self.links.has_room() {
            let Some(action) = self.bridge.poll_action() else {
                break;
            };
            self.carry_out(action);
        }
        self.systemd.tick(&self.bridge, &self.links);
        self.bridge.has_more()
    }

    /// Everything the core has, room or not: at a stop or a reconnect, nothing may stay behind.
    fn flush_all(&mut self) {
        while let Some(action) = self.bridge.poll_action() {
            self.carry_out(action);
        }
        self.systemd.tick(&self.bridge, &self.links);
    }

    /// The state directory and the archive take their actions here; the brokers the rest.
    fn carry_out(&mut self, action: Action) {
        match action {
            Action::SaveState(saved) => {
                if let Err(e) = self.state.save(&saved) {
                    warn!("{e}; queued commands and discovered cameras will not survive a restart");
                }
            }
            Action::Archive(snapshot) => {
                if let Some(Err(why)) = self.archive.as_ref().map(|a| a.store(snapshot)) {
                    self.bridge
                        .handle(Event::ArchiveFailed(Arc::new(why)), Instant::now());
                }
            }
            Action::Reconnect => self.reconnect = true,
            other => self.links.carry_out(other),
        }
    }

    fn on_incoming(&mut self, from: Link, incoming: Option<Incoming>) {
        // With one broker, its connection serves both sides.
        let links: &[Link] = match (from, self.links.cameras.is_some()) {
            (Link::Ha, false) => &[Link::Ha, Link::Camera],
            (link, _) => &[link][..],
        };
        let links = links.to_vec();
        let now = Instant::now();
        match incoming {
            Some(Incoming::Connected) => {
                for link in links {
                    self.bridge.handle(Event::Connected(link), now);
                }
                if from == Link::Ha {
                    self.systemd.connected = true;
                    self.systemd.last_error = None;
                }
            }
            Some(Incoming::Disconnected(why)) => {
                for link in links {
                    let reason = why.clone();
                    self.bridge
                        .handle(Event::Disconnected { link, reason }, now);
                }
                if from == Link::Ha {
                    self.systemd.connected = false;
                }
                self.systemd.last_error = Some(why);
            }
            Some(Incoming::Message {
                topic,
                payload,
                retain,
                received,
                ack,
            }) => {
                let event = Event::Message {
                    topic,
                    payload,
                    retain,
                    received,
                };
                self.bridge.handle(event, now);
                if let Some(ack) = ack {
                    self.links.ack(from, ack);
                }
            }
            Some(Incoming::Closed) | None => {}
        }
    }

    /// The file, as logs name it.
    fn path_shown(&self) -> String {
        self.path
            .as_ref()
            .map_or("(no file)".into(), |p| p.display().to_string())
    }

    /// Re-reads the file. A bad one (or none) leaves the running configuration in place and
    /// raises the problem sensor; a good one is applied as a difference, reconnecting only when
    /// broker settings changed.
    async fn reload(&mut self) -> Result<(), SetupError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        self.systemd.reloading();
        let now = Instant::now();
        match Config::load(&path) {
            Err(errors) => {
                for line in errors.to_string().lines() {
                    error!("{line}");
                }
                warn!("configuration not reloaded: the running one stays until the file is fixed");
                self.systemd.last_error = Some(format!("{} has errors", path.display()));
                let lines = errors.to_string().lines().map(str::to_string).collect();
                self.bridge.handle(
                    Event::ConfigRejected {
                        file: path.display().to_string(),
                        errors: lines,
                    },
                    now,
                );
            }
            Ok(new) => {
                if let Some(log) = &mut self.log {
                    log.set(new.log_level.map(Level::as_str));
                }
                info!("configuration reloaded: {}", new.summary());
                for w in &new.warnings {
                    warn!("{w}");
                }
                if self.bridge.has_config_problem() {
                    self.systemd.last_error = None;
                }
                let archive_changed = new.archive != self.bridge.config().archive;
                self.bridge
                    .handle(Event::ConfigReloaded(Box::new(new)), now);
                if archive_changed {
                    let archive = self.bridge.config().archive.clone();
                    self.open_archive(archive.as_ref());
                }
                // The old connections take the clean-up of the old topics with them.
                self.flush_all();
                if std::mem::take(&mut self.reconnect) {
                    if let Mqtt::Remote(b) = &self.bridge.config().mqtt {
                        self.ha_broker = b.clone();
                    }
                    let fresh = Links::open(
                        self.bridge.config(),
                        &self.ha_broker,
                        self.bridge.topics().availability(),
                    )?;
                    let old = std::mem::replace(&mut self.links, fresh);
                    old.close(STOP_FLUSH).await;
                    self.systemd.connected = false;
                }
            }
        }
        self.systemd.notify(&[NotifyState::Ready]);
        Ok(())
    }
}
