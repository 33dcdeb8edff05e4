//! `solarcam-bridge health`: is the bridge well? A Unix socket in the state directory, answered
//! by the main loop itself: an answer shows the loop turns, and says whether Home Assistant's
//! broker is connected. A container's `HEALTHCHECK` (and so the Supervisor's watchdog) runs it.
//!
//! A socket rather than a heartbeat file: nothing is written to a Pi's SD card every few seconds,
//! and a wedged loop cannot leave a fresh-looking file behind.

use std::io::{self, Read};
use std::os::unix::net::UnixStream as StdStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tracing::{debug, warn};

/// The socket's name in the state directory.
pub const SOCKET: &str = "health.sock";

/// How long `health` waits for the answer: a loop that has not answered by then is wedged.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// The answer of a healthy bridge starts with this.
const HEALTHY: &str = "healthy";

/// The running bridge's side.
pub(super) struct HealthSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl HealthSocket {
    /// Listens in `dir`; `None` (with a warning) when it cannot, and the bridge runs without.
    pub(super) fn bind(dir: &Path) -> Option<HealthSocket> {
        let path = dir.join(SOCKET);
        // One left by a bridge that did not stop cleanly; nothing else makes this name.
        let _ = std::fs::remove_file(&path);
        match UnixListener::bind(&path) {
            Ok(listener) => Some(HealthSocket { listener, path }),
            Err(e) => {
                warn!(
                    "cannot listen on {} ({e}): `solarcam-bridge health` will report the bridge \
                     as not running",
                    path.display()
                );
                None
            }
        }
    }

    pub(super) async fn accept(&self) -> io::Result<UnixStream> {
        self.listener.accept().await.map(|(stream, _)| stream)
    }
}

impl Drop for HealthSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What the loop answers: one line, written without waiting (it fits the socket's buffer; a
/// client that does not read loses it, not the loop its time).
pub(super) fn answer(stream: &UnixStream, connected: bool, last_error: Option<&str>) {
    let line = if connected {
        format!("{HEALTHY}: connected to Home Assistant's broker\n")
    } else {
        format!(
            "unhealthy: not connected to Home Assistant's broker{}\n",
            last_error.map_or(String::new(), |e| format!(" ({e})"))
        )
    };
    if let Err(e) = stream.try_write(line.as_bytes()) {
        debug!("health answer not sent: {e}");
    }
}

/// Why `health` says the bridge is not well.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("not running: nothing listens on {path} ({source})")]
    NotRunning { path: PathBuf, source: io::Error },
    #[error(
        "not answering: its main loop did not answer within {}s on {path}",
        ANSWER_WITHIN.as_secs()
    )]
    Wedged { path: PathBuf },
    #[error("{0}")]
    Unhealthy(String),
}

/// Asks the bridge whose state directory is `dir`: its answer when healthy.
pub fn check(dir: &Path) -> Result<String, HealthError> {
    let path = dir.join(SOCKET);
    let mut stream = StdStream::connect(&path).map_err(|source| HealthError::NotRunning {
        path: path.clone(),
        source,
    })?;
    stream
        .set_read_timeout(Some(ANSWER_WITHIN))
        .map_err(|source| HealthError::NotRunning {
            path: path.clone(),
            source,
        })?;
    let mut answer = String::new();
    // At most a line of a few hundred bytes comes; more is not the bridge.
    match (&mut stream).take(4096).read_to_string(&mut answer) {
        Ok(_) if answer.is_empty() => Err(HealthError::Wedged { path }),
        Ok(_) => {
            let answer = answer.trim_end().to_string();
            if answer.starts_with(HEALTHY) {
                Ok(answer)
            } else {
                Err(HealthError::Unhealthy(answer))
            }
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(HealthError::Wedged { path })
        }
        Err(source) => Err(HealthError::NotRunning { path, source }),
    }
}
