//! The shell around the core: what it is connected to, where its output goes, and the main loop
//! that feeds it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use super::archive::{ArchiveError, ArchiveWriter};
use super::health::{self, HealthSocket};
use super::links::Links;
use super::mqtt::{Incoming, SetupError};
use super::standing::Standing;
use super::state::{StateDir, StateWriter};
use super::systemd::Systemd;
use super::watcher::ConfigWatcher;
use super::{state_dir, ServiceError, STOP_FLUSH};
use crate::bridge::{Ack, Action, Bridge, Event, Link};
use crate::config::{ArchiveConfig, BrokerConfig, Config, Level, Mqtt};
use crate::logging::LogLevel;

/// The shell around the core: what it is connected to, and where its output goes.
pub(super) struct Shell {
    /// The file to re-read on changes; `None` for a configuration made in memory (the demo).
    path: Option<PathBuf>,
    /// How to reach Home Assistant's broker: the configuration's, or the embedded one at the
    /// address it actually listens on.
    ha_broker: BrokerConfig,
    /// The core asked to reconnect (the broker settings changed).
    reconnect: bool,
    bridge: Bridge,
    links: Links,
    /// Where what the core remembers is written, off the main loop.
    state: StateWriter,
    systemd: Systemd,
    /// Connected to Home Assistant's broker, and the last problem: what `health` and systemd's
    /// STATUS tell.
    standing: Standing,
    /// Follows `log_level` edits; `None` where the caller keeps its own logging (the demo).
    log: Option<LogLevel>,
    /// The snapshot archive's writer, when `archive` is configured.
    archive: Option<ArchiveWriter>,
    /// What the archive could not write, for the core to count.
    archive_failed: (mpsc::Sender<ArchiveError>, mpsc::Receiver<ArchiveError>),
    /// Where `solarcam-bridge health` asks how the bridge is; `None` when it cannot listen.
    health: Option<HealthSocket>,
    /// Camera messages are being left unread (Home Assistant's broker is behind).
    holding_back: bool,
}

impl Shell {
    /// The core with what it remembered, connections on their way, the archive's writer.
    pub(super) fn start(
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
            state: StateWriter::start(state),
            systemd: Systemd::new(),
            standing: Standing::default(),
            log,
            archive: None,
            archive_failed: mpsc::channel(64),
            health,
            holding_back: false,
        };
        let archive = shell.bridge.config().archive.clone();
        shell.open_archive(archive.as_ref());
        Ok(shell)
    }

    /// The main loop: feeds the core from the connections, the file watcher, signals and
    /// timers, and carries out its actions, until SIGTERM, SIGINT or `stop`.
    pub(super) async fn run(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServiceError> {
        let mut watcher = self.watch_file();
        let handler = |kind: SignalKind, name: &'static str| {
            signal(kind).map_err(|source| ServiceError::Signal { name, source })
        };
        let mut terminate = handler(SignalKind::terminate(), "SIGTERM")?;
        let mut interrupt = handler(SignalKind::interrupt(), "SIGINT")?;
        let mut hangup = handler(SignalKind::hangup(), "SIGHUP")?;
        tokio::pin!(stop);
        loop {
            let more = self.flush();
            self.hold_camera_messages(more);
            let wake = self.next_wake(more);
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
                        self.standing.connected(),
                        self.standing.last_error(),
                    ),
                Some(()) = async { watcher.as_mut()?.changed().await; Some(()) }, if watcher.is_some() => {
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

    /// A watcher on the file, if there is one and it can be watched.
    fn watch_file(&self) -> Option<ConfigWatcher> {
        let path = self.path.as_ref()?;
        ConfigWatcher::new(path)
            .map_err(|e| {
                warn!(
                    "cannot watch {} for changes ({e}); reload with SIGHUP instead",
                    path.display()
                );
            })
            .ok()
    }

    /// Whether camera messages are left unread (said once per change, at debug level).
    fn hold_camera_messages(&mut self, more: bool) {
        let hold = more && self.links.cameras.is_some();
        if hold == self.holding_back {
            return;
        }
        self.holding_back = hold;
        if hold {
            debug!("Home Assistant broker is behind: leaving camera messages unread until it catches up");
        } else {
            debug!("Home Assistant broker caught up: reading camera messages again");
        }
    }

    /// When the loop must turn next with nothing coming in: the core's next timer, systemd's
    /// watchdog, or shortly while the outboxes are full (once the senders have drained them).
    fn next_wake(&self, more: bool) -> tokio::time::Instant {
        let wake = self
            .bridge
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600))
            .min(self.systemd.next_ping());
        if more {
            return wake.min(tokio::time::Instant::now() + Duration::from_millis(10));
        }
        wake
    }

    /// (Re)starts the archive's writer for `config` (none when it has no `archive`).
    fn open_archive(&mut self, config: Option<&ArchiveConfig>) {
        self.archive =
            config.map(|c| ArchiveWriter::start(c.clone(), self.archive_failed.0.clone()));
    }
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
        self.systemd.tick(&self.standing, &self.bridge, &self.links);
        self.bridge.has_more()
    }

    /// Everything the core has, room or not: at a stop or a reconnect, nothing may stay behind.
    /// The stop: systemd told, offline published, what the core still holds flushed, the last
    /// state written (what is queued survives the stop), and the connections closed within
    /// [`STOP_FLUSH`].
    pub(super) async fn stop(mut self) {
        info!("stopping: publishing offline");
        self.systemd.notify(&[NotifyState::Stopping]);
        self.bridge.handle(Event::Shutdown, Instant::now());
        self.flush_all();
        self.state.finish();
        self.links.close(STOP_FLUSH).await;
        info!("stopped");
    }

    fn flush_all(&mut self) {
        while let Some(action) = self.bridge.poll_action() {
            self.carry_out(action);
        }
        self.systemd.tick(&self.standing, &self.bridge, &self.links);
    }

    /// The state directory and the archive take their actions here; the brokers the rest.
    fn carry_out(&mut self, action: Action) {
        match action {
            Action::SaveState(saved) => self.state.save(saved),
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
                    self.standing.ha_connected();
                }
            }
            Some(Incoming::Disconnected(why)) => {
                for link in links {
                    let reason = why.clone();
                    self.bridge
                        .handle(Event::Disconnected { link, reason }, now);
                }
                self.standing.lost(from == Link::Ha, why);
            }
            Some(Incoming::Message {
                topic,
                payload,
                retain,
                received,
                ack,
            }) => {
                // Acknowledged once what it caused is out: the core queues the
                // acknowledgement after it.
                let ack = ack.map(|packet_id| Ack {
                    link: from,
                    packet_id,
                });
                let event = Event::Message {
                    topic,
                    payload,
                    retain,
                    received,
                    ack,
                };
                self.bridge.handle(event, now);
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
        match Config::load(&path) {
            Err(errors) => self.refuse_file(&path, &errors),
            Ok(new) => self.apply(new).await?,
        }
        self.systemd.notify(&[NotifyState::Ready]);
        Ok(())
    }

    /// A file with errors: logged and shown; the running configuration stays.
    fn refuse_file(&mut self, path: &std::path::Path, errors: &crate::config::ConfigErrors) {
        for line in errors.to_string().lines() {
            error!("{line}");
        }
        warn!("configuration not reloaded: the running one stays until the file is fixed");
        self.standing
            .file_refused(format!("{} has errors", path.display()));
        let lines = errors.to_string().lines().map(str::to_string).collect();
        let file = path.display().to_string();
        let event = Event::ConfigRejected {
            file,
            errors: lines,
        };
        self.bridge.handle(event, Instant::now());
    }

    /// A good file: the core applies the difference; the archive and the connections follow.
    async fn apply(&mut self, new: Config) -> Result<(), SetupError> {
        if let Some(log) = &mut self.log {
            log.set(new.log_level.map(Level::as_str));
        }
        info!("configuration reloaded: {}", new.summary());
        for w in &new.warnings {
            warn!("{w}");
        }
        if self.bridge.has_config_problem() {
            self.standing.file_fixed();
        }
        let archive_changed = new.archive != self.bridge.config().archive;
        self.bridge
            .handle(Event::ConfigReloaded(Box::new(new)), Instant::now());
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
            let config = self.bridge.config();
            let fresh = Links::open(config, &self.ha_broker, self.bridge.topics().availability())?;
            let old = std::mem::replace(&mut self.links, fresh);
            old.close(STOP_FLUSH).await;
            self.standing.reconnecting();
        }
        Ok(())
    }
}
