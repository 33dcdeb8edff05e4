//! The bridge's counters: what the core counts, and what its diagnostic sensors show. One list,
//! here: a new counter is one line, its variant with its state topic key and its sensor's name
//! (counters have no unit: they count events, and Home Assistant shows them as totals).

/// Declares [`Counter`] from one line per counter.
macro_rules! counters {
    ($($(#[$doc:meta])* $variant:ident => $key:literal, $name:literal;)+) => {
        /// One of the bridge's counters.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Counter {
            $($(#[$doc])* $variant,)+
        }

        impl Counter {
            /// Every counter, in the order the sensors are announced.
            pub const ALL: &'static [Counter] = &[$(Counter::$variant),+];

            /// Its sensor's key: its object id, and the last level of its state topic.
            pub fn key(self) -> &'static str {
                match self {
                    $(Counter::$variant => $key,)+
                }
            }

            /// Its sensor's name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Counter::$variant => $name,)+
                }
            }
        }
    };
}

counters! {
    /// Messages received from either broker.
    Received => "messages_received", "Messages received";
    /// Messages published, less the diagnostics' own.
    Published => "messages_published", "Messages published";
    /// Payloads that could not be read or were refused (no JPEG, too large, not JSON…).
    Rejected => "payloads_rejected", "Payloads rejected";
    /// Payloads whose camera could not be told.
    Unattributed => "payloads_unattributed", "Payloads unattributed";
    /// Messages from cameras not in the file that were not made into devices (see
    /// `discover_unknown`).
    RefusedCameras => "unlisted_cameras_refused", "Unlisted cameras refused";
    /// Connections lost (and then re-established by the shell).
    Reconnects => "reconnects", "Reconnects";
    /// Snapshots the archive could not keep (disk full, read-only…).
    ArchiveFailures => "snapshots_not_archived", "Snapshots not archived";
}
