//! Logging: lines to stderr (journald adds the time and the unit; a container's log takes stdout
//! instead, see [`Output`]), filtered by `RUST_LOG` if set,
//! else by the configuration's `log_level`, else by the command's default. An edit of
//! `log_level` applies at once, like every other edit of the file: raising it to `debug` to look
//! at a problem must not need a restart that would hide the problem.

use std::time::{Duration, Instant};

use tracing::{info, warn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// A warning a stranger can repeat at will (bad logins, unknown cameras): written at most once per
/// `every`, the repeats in between counted into the next line. Time is passed in, so the core
/// uses it without a clock.
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    logged: Option<Instant>,
    held_back: u64,
}

impl Throttle {
    pub const fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            logged: None,
            held_back: 0,
        }
    }

    /// The line to write now, with the count of those held back since the last one; `None` (and
    /// counted) when one was written less than `every` ago.
    pub fn line(&mut self, message: &str, now: Instant) -> Option<String> {
        if self
            .logged
            .is_some_and(|t| now.saturating_duration_since(t) < self.every)
        {
            self.held_back += 1;
            return None;
        }
        self.logged = Some(now);
        Some(match std::mem::take(&mut self.held_back) {
            0 => message.to_string(),
            n => format!("{message} ({n} more refused since the last such line)"),
        })
    }
}

/// Changes the level of the running logger.
pub struct LogLevel {
    /// `None` when `RUST_LOG` decides: the environment wins over the file.
    handle: Option<reload::Handle<EnvFilter, Registry>>,
    default: String,
    current: String,
}

/// Where the log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Stderr,
    /// In a container, where stdout is the log (`docker logs`, the add-on's Log tab).
    Stdout,
}

/// Starts logging to stderr. `level` is the configuration's `log_level`, `default` the command's.
pub fn init(level: Option<&str>, default: &str) -> LogLevel {
    init_to(Output::Stderr, level, default)
}

/// Starts logging to `output`.
pub fn init_to(output: Output, level: Option<&str>, default: &str) -> LogLevel {
    let from_env = EnvFilter::try_from_default_env().ok();
    let env_rules = from_env.is_some();
    let current = level.unwrap_or(default).to_string();
    let filter = from_env.unwrap_or_else(|| EnvFilter::new(&current));
    let (filter, handle) = reload::Layer::new(filter);
    let terminal = match output {
        Output::Stderr => std::io::IsTerminal::is_terminal(&std::io::stderr()),
        Output::Stdout => std::io::IsTerminal::is_terminal(&std::io::stdout()),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(terminal)
        .with_writer(move || -> Box<dyn std::io::Write> {
            match output {
                Output::Stderr => Box::new(std::io::stderr()),
                Output::Stdout => Box::new(std::io::stdout()),
            }
        });
    // Another logger already set (a test harness) is not a reason to fail.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init();
    LogLevel {
        handle: (!env_rules).then_some(handle),
        default: default.to_string(),
        current,
    }
}

impl LogLevel {
    /// Applies the configuration's `log_level` (`None`: back to the default) if it changed.
    pub fn set(&mut self, level: Option<&str>) {
        let wanted = level.unwrap_or(&self.default).to_string();
        if wanted == self.current {
            return;
        }
        let Some(handle) = &self.handle else {
            info!("log_level {wanted} not applied: RUST_LOG is set and takes precedence");
            self.current = wanted;
            return;
        };
        match handle.reload(EnvFilter::new(&wanted)) {
            Ok(()) => {
                info!("log level: {wanted} (was {})", self.current);
                self.current = wanted;
            }
            Err(e) => warn!("log level {wanted} not applied: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_warning_is_written_once_per_period_with_the_count_held_back() {
        let every = Duration::from_secs(10);
        let mut t = Throttle::new(every);
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        // Three bursts: the first line of each is written, with what the previous one held back.
        let mut written = Vec::new();
        for (second, n) in [(0, 5), (10, 3), (25, 1), (26, 2)] {
            for i in 0..n {
                if let Some(line) = t.line("refused", at(second) + Duration::from_millis(i)) {
                    written.push((second, line));
                }
            }
        }
        assert_eq!(
            written,
            [
                (0, "refused".to_string()),
                (
                    10,
                    "refused (4 more refused since the last such line)".into()
                ),
                (
                    25,
                    "refused (2 more refused since the last such line)".into()
                ),
            ]
        );
        // 9.999 s after the last line is still inside its period.
        assert_eq!(t.line("refused", at(34) + Duration::from_millis(999)), None);
        assert_eq!(
            t.line("refused", at(35)).as_deref(),
            Some("refused (3 more refused since the last such line)")
        );
    }
}
