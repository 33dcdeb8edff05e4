//! Every deadline of the core, in one ordered set (quinn-proto's `TimerTable`, keyed by camera
//! and by the bridge's own timers): the next deadline is its first entry, [`Bridge::poll_timeout`]
//! asks nothing else, and a timeout visits only the cameras whose time has come, however many
//! there are.
//!
//! [`Bridge::poll_timeout`]: super::Bridge::poll_timeout

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use crate::mac::Mac;

/// Every kind of timer a camera has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum CameraTimer {
    /// The alarm turns itself off (`alarm_off_after` after the last alarm); set while it is on.
    AlarmOff,
    /// The camera counts as asleep (`awake_timeout` after it was last heard); set while awake.
    Asleep,
    /// The wake sent for queued commands goes unanswered (`command_timeout`): wake it again or
    /// give the commands up; set while a wake waits for an answer.
    WakeUnanswered,
}

/// The bridge's own timers, one of each at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum BridgeTimer {
    /// The diagnostics are published (at most every `DIAGNOSTICS_EVERY`, after a change).
    Diagnostics,
    /// A birth message folded into a later announcement is answered.
    Reannounce,
    /// The first held alarm event may go.
    HeldEvents,
}

/// A timer of the table: a camera's, or the bridge's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Timer {
    Camera(Mac, CameraTimer),
    Bridge(BridgeTimer),
}

#[derive(Debug, Default)]
pub(super) struct TimerTable {
    by_deadline: BTreeSet<(Instant, Timer)>,
    deadlines: HashMap<Timer, Instant>,
    /// Timers that ran out, ever: each is one visit to one camera.
    fired: u64,
}

impl TimerTable {
    /// When `mac`'s `timer` runs out; `None` when it is not set.
    pub(super) fn get(&self, mac: Mac, timer: CameraTimer) -> Option<Instant> {
        self.deadline(Timer::Camera(mac, timer))
    }

    /// Sets (or moves) `mac`'s `timer` to `at`.
    pub(super) fn set(&mut self, mac: Mac, timer: CameraTimer, at: Instant) {
        self.set_timer(Timer::Camera(mac, timer), at);
    }

    /// Stops `mac`'s `timer`; when it was set, its deadline.
    pub(super) fn stop(&mut self, mac: Mac, timer: CameraTimer) -> Option<Instant> {
        self.stop_timer(Timer::Camera(mac, timer))
    }

    /// Stops every timer of a camera that is gone.
    pub(super) fn stop_all(&mut self, mac: Mac) {
        for timer in [
            CameraTimer::AlarmOff,
            CameraTimer::Asleep,
            CameraTimer::WakeUnanswered,
        ] {
            self.stop(mac, timer);
        }
    }

    /// When the bridge's `timer` runs out; `None` when it is not set.
    pub(super) fn get_bridge(&self, timer: BridgeTimer) -> Option<Instant> {
        self.deadline(Timer::Bridge(timer))
    }

    /// Sets (or moves) the bridge's `timer` to `at`, or stops it (`None`).
    pub(super) fn set_bridge(&mut self, timer: BridgeTimer, at: Option<Instant>) {
        match at {
            Some(at) => self.set_timer(Timer::Bridge(timer), at),
            None => {
                self.stop_timer(Timer::Bridge(timer));
            }
        }
    }

    fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.deadlines.get(&timer).copied()
    }

    fn set_timer(&mut self, timer: Timer, at: Instant) {
        if let Some(old) = self.deadlines.insert(timer, at) {
            self.by_deadline.remove(&(old, timer));
        }
        self.by_deadline.insert((at, timer));
    }

    fn stop_timer(&mut self, timer: Timer) -> Option<Instant> {
        let old = self.deadlines.remove(&timer)?;
        self.by_deadline.remove(&(old, timer));
        Some(old)
    }

    /// The first deadline of all: the core's next timeout.
    pub(super) fn next(&self) -> Option<Instant> {
        self.by_deadline.first().map(|(at, _)| *at)
    }

    /// The first timer run out by `now`, stopped.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let &(at, timer) = self.by_deadline.first()?;
        if at > now {
            return None;
        }
        self.by_deadline.pop_first();
        self.deadlines.remove(&timer);
        if matches!(timer, Timer::Camera(..)) {
            self.fired += 1;
        }
        Some(timer)
    }

    /// How many camera timers are set (the bridge's own aside).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.deadlines
            .keys()
            .filter(|t| matches!(t, Timer::Camera(..)))
            .count()
    }

    #[cfg(test)]
    pub(super) fn fired(&self) -> u64 {
        self.fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timers_come_due_in_order_once_each_and_move_or_stop() {
        let t0 = Instant::now();
        let (a, b): (Mac, Mac) = (
            "5CC5638AE24C".parse().unwrap(),
            "5CC5638AE24D".parse().unwrap(),
        );
        let at = |s| t0 + Duration::from_secs(s);
        let mut t = TimerTable::default();
        t.set(a, CameraTimer::Asleep, at(60));
        t.set(b, CameraTimer::AlarmOff, at(30));
        t.set(a, CameraTimer::WakeUnanswered, at(45));
        assert_eq!(t.next(), Some(at(30)));
        // Moved: the old deadline is gone.
        t.set(b, CameraTimer::AlarmOff, at(90));
        assert_eq!((t.next(), t.len()), (Some(at(45)), 3));
        assert_eq!(t.stop(a, CameraTimer::WakeUnanswered), Some(at(45)));
        assert_eq!(t.stop(a, CameraTimer::WakeUnanswered), None);
        assert_eq!(t.pop_due(at(59)), None);
        assert_eq!(
            t.pop_due(at(100)),
            Some(Timer::Camera(a, CameraTimer::Asleep))
        );
        assert_eq!(
            t.pop_due(at(100)),
            Some(Timer::Camera(b, CameraTimer::AlarmOff))
        );
        assert_eq!((t.pop_due(at(100)), t.next(), t.len()), (None, None, 0));
        t.set(a, CameraTimer::Asleep, at(1));
        t.set(a, CameraTimer::AlarmOff, at(2));
        t.stop_all(a);
        assert_eq!((t.next(), t.len()), (None, 0));
    }
}
