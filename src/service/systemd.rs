//! systemd's notification protocol: READY once connected and discovery is queued, STATUS as things
//! change, WATCHDOG while the loop turns, RELOADING and STOPPING. Outside systemd every call does
//! nothing.

use std::time::Duration;

use sd_notify::NotifyState;
use tracing::warn;

use super::links::Links;
use super::standing::Standing;
use crate::bridge::Bridge;

/// systemd's notification protocol; every call is a no-op outside systemd.
pub(super) struct Systemd {
    ready: bool,
    last_status: String,
    watchdog: Option<Duration>,
    last_ping: tokio::time::Instant,
}

impl Systemd {
    pub(super) fn new() -> Systemd {
        // As sd_watchdog_enabled(3): WATCHDOG_USEC, for us unless WATCHDOG_PID names another
        // process. (The sd-notify crate also requires WATCHDOG_PID to be set.)
        let var = |name| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let for_us = var("WATCHDOG_PID").is_none_or(|pid| pid == u64::from(std::process::id()));
        let watchdog = var("WATCHDOG_USEC")
            .filter(|usec| *usec > 0 && for_us)
            .map(|usec| Duration::from_micros(usec) / 2);
        Systemd {
            ready: false,
            last_status: String::new(),
            watchdog,
            last_ping: tokio::time::Instant::now(),
        }
    }

    pub(super) fn notify(&self, states: &[NotifyState]) {
        if let Err(e) = sd_notify::notify(false, states) {
            warn!("cannot notify systemd: {e}");
        }
    }

    pub(super) fn next_ping(&self) -> tokio::time::Instant {
        match self.watchdog {
            Some(every) => self.last_ping + every,
            None => tokio::time::Instant::now() + Duration::from_secs(3600),
        }
    }

    pub(super) fn reloading(&self) {
        let mut states = vec![NotifyState::Reloading];
        if let Ok(now) = NotifyState::monotonic_usec_now() {
            states.push(now);
        }
        self.notify(&states);
    }

    /// Called once per loop turn: READY once connected and discovery is queued, STATUS when it
    /// changes, WATCHDOG when due (a hung loop stops these, and systemd restarts the service).
    pub(super) fn tick(&mut self, standing: &Standing, bridge: &Bridge, links: &Links) {
        let mut states = Vec::new();
        let n = bridge.camera_count();
        let mut status = format!(
            "{} {}, {n} camera{}",
            if standing.connected() {
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
        if let Some(e) = standing.last_error() {
            status.push_str(&format!(", last error: {e}"));
        }
        let status_changed = status != self.last_status;
        if status_changed {
            self.last_status = status;
            states.push(NotifyState::Status(&self.last_status));
        }
        // After STATUS, so that a reader sees how things stand when READY arrives.
        if standing.connected() && !self.ready && !bridge.has_more() {
            self.ready = true;
            states.push(NotifyState::Ready);
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
