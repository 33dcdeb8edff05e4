//! When each camera's timers run out, in one ordered set (quinn-proto's `TimerTable`, keyed by
//! camera): the next deadline is its first entry, and a timeout visits only the cameras whose
//! time has come, however many there are.

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

#[derive(Debug, Default)]
pub(super) struct TimerTable {
    by_deadline: BTreeSet<(Instant, Mac, CameraTimer)>,
    deadlines: HashMap<(Mac, CameraTimer), Instant>,
    /// Timers that ran out, ever: each is one visit to one camera.
    fired: u64,
}

impl TimerTable {
    /// When `mac`'s `timer` runs out; `None` when it is not set.
    pub(super) fn get(&self, mac: Mac, timer: CameraTimer) -> Option<Instant> {
        self.deadlines.get(&(mac, timer)).copied()
    }

    /// Sets (or moves) `mac`'s `timer` to `at`.
    pub(super) fn set(&mut self, mac: Mac, timer: CameraTimer, at: Instant) {
        if let Some(old) = self.deadlines.insert((mac, timer), at) {
            self.by_deadline.remove(&(old, mac, timer));
        }
        self.by_deadline.insert((at, mac, timer));
    }

    /// Stops `mac`'s `timer`; when it was set, its deadline.
    pub(super) fn stop(&mut self, mac: Mac, timer: CameraTimer) -> Option<Instant> {
        let old = self.deadlines.remove(&(mac, timer))?;
        self.by_deadline.remove(&(old, mac, timer));
        Some(old)
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

    /// The first deadline of all.
    pub(super) fn next(&self) -> Option<Instant> {
        self.by_deadline.first().map(|(at, _, _)| *at)
    }

    /// The first timer run out by `now`, stopped.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(Mac, CameraTimer)> {
        let &(at, mac, timer) = self.by_deadline.first()?;
        if at > now {
            return None;
        }
        self.by_deadline.pop_first();
        self.deadlines.remove(&(mac, timer));
        self.fired += 1;
        Some((mac, timer))
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.deadlines.len()
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
        assert_eq!(t.pop_due(at(100)), Some((a, CameraTimer::Asleep)));
        assert_eq!(t.pop_due(at(100)), Some((b, CameraTimer::AlarmOff)));
        assert_eq!((t.pop_due(at(100)), t.next(), t.len()), (None, None, 0));
        t.set(a, CameraTimer::Asleep, at(1));
        t.set(a, CameraTimer::AlarmOff, at(2));
        t.stop_all(a);
        assert_eq!((t.next(), t.len()), (None, 0));
    }
}
