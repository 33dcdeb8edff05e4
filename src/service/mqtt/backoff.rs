//! The waits between connection attempts.

use std::time::{Duration, SystemTime};

/// The waits between connection attempts: 0.5 s, doubling up to `max` (`reconnect_max`), each
/// made up to 25% longer at random so that many bridges (or both connections) do not retry in
/// step after a broker restart.
pub(super) struct Backoff {
    /// The wait before the next attempt, before jitter.
    pub(super) next: Duration,
    max: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(500);

    pub(super) fn new(max: Duration) -> Backoff {
        Backoff {
            next: Self::FIRST.min(max),
            max,
        }
    }

    /// A connection worked: the next failure starts from the first wait again.
    pub(super) fn reset(&mut self) {
        self.next = Self::FIRST.min(self.max);
    }

    /// The wait now, with `entropy` (any number) choosing its jitter; the next one doubles.
    pub(super) fn step(&mut self, entropy: u32) -> Duration {
        let d = self.next;
        self.next = (d * 2).min(self.max);
        d + d.mul_f64(f64::from(entropy % 1000) / 4000.0)
    }
}

/// Cheap randomness for the jitter: the clock's nanoseconds.
pub(super) fn entropy() -> u32 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_back_off_from_half_a_second_doubling_to_the_cap_with_up_to_25_percent_more() {
        let mut b = Backoff::new(Duration::from_secs(5));
        let waits: Vec<Duration> = (0..6).map(|_| b.step(0)).collect();
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        assert_eq!(waits, ms(&[500, 1000, 2000, 4000, 5000, 5000]));
        // The jitter adds 0 to 24.975% of the wait, never more.
        let mut b = Backoff::new(Duration::from_secs(60));
        assert_eq!(b.step(999), Duration::from_micros(624_875));
        assert_eq!(b.step(1_000_000_500), Duration::from_millis(1125));
        for e in [0, 1, 499, 999, u32::MAX] {
            let w = Backoff::new(Duration::from_secs(60)).step(e);
            assert!(
                w >= Duration::from_millis(500) && w < Duration::from_millis(625),
                "{w:?}"
            );
        }
        // A connection that worked starts the sequence again.
        b.reset();
        assert_eq!(b.step(0), Duration::from_millis(500));
        // A cap under half a second is the wait from the start.
        assert_eq!(
            Backoff::new(Duration::from_millis(200)).step(0),
            Duration::from_millis(200)
        );
    }
}
