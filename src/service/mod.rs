//! The service: setup, running until SIGTERM/SIGINT, and the clean stop (offline published, queue
//! flushed, the state written, exit within 2 seconds). The main loop and reloads are in `shell`,
//! the broker connections in `links`, systemd's notification protocol in `systemd`, what `health`
//! and systemd are told in `standing`.

pub(crate) mod archive;
mod atomic;
pub mod health;
mod links;
mod localtime;
pub(crate) mod mqtt;
pub(crate) mod outbox;
mod shell;
mod standing;
pub(crate) mod state;
mod systemd;
pub(crate) mod watcher;

use std::path::PathBuf;
use std::time::Duration;

use tracing::{info, warn};

use crate::broker::{Broker, BrokerError, BrokerSettings};
use crate::config::{Config, Mqtt};
use crate::logging::LogLevel;
// Named in `ServiceError::Setup`, so part of what a caller may match on.
pub use mqtt::SetupError;
use shell::Shell;

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
    shell.stop().await;
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
