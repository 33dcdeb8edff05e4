//! Watching the configuration file, so an edit takes effect at once.
//!
//! The directory is watched, not the file: editors save either by writing a new file and renaming
//! it over the old one (the old inode, and a watch on it, are gone) or by truncating and rewriting
//! in place; both show up as events in the directory. Bursts (truncate, write, write, close) are
//! folded into one change after [`DEBOUNCE`] of quiet.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

const DEBOUNCE: Duration = Duration::from_millis(250);

pub(crate) struct ConfigWatcher {
    // Dropping it stops the watch.
    _watcher: RecommendedWatcher,
    events: mpsc::UnboundedReceiver<()>,
    /// When the current burst of events is over, once one has begun.
    settle_at: Option<Instant>,
}

impl ConfigWatcher {
    pub(crate) fn new(path: &Path) -> notify::Result<ConfigWatcher> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let name: OsString = path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                let Ok(event) = res else { return };
                // Opening or reading the file (the bridge itself does, on reload) is not a change.
                let changes = matches!(
                    event.kind,
                    EventKind::Create(_)
                        | EventKind::Modify(_)
                        | EventKind::Remove(_)
                        | EventKind::Access(AccessKind::Close(AccessMode::Write))
                );
                if changes
                    && event
                        .paths
                        .iter()
                        .any(|p| p.file_name() == Some(name.as_os_str()))
                {
                    let _ = tx.send(());
                }
            })?;
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        Ok(ConfigWatcher {
            _watcher: watcher,
            events: rx,
            settle_at: None,
        })
    }

    /// Resolves once the file has changed and then been quiet for [`DEBOUNCE`].
    ///
    /// Cancel-safe: the burst in progress is remembered in `self`, so this can sit in a
    /// `tokio::select!` beside other branches.
    pub(crate) async fn changed(&mut self) {
        loop {
            match self.settle_at {
                None => {
                    if self.events.recv().await.is_none() {
                        return std::future::pending().await;
                    }
                    self.settle_at = Some(Instant::now() + DEBOUNCE);
                }
                Some(at) => tokio::select! {
                    more = self.events.recv() => {
                        if more.is_some() {
                            self.settle_at = Some(Instant::now() + DEBOUNCE);
                        }
                    }
                    _ = tokio::time::sleep_until(at) => {
                        self.settle_at = None;
                        return;
                    }
                },
            }
        }
    }
}
