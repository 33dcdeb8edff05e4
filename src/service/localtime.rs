//! Local time, through the C library (the one `unsafe` of the service): the archive files a
//! snapshot under the local date and time, and reads them back from its folders' names.

use std::time::{Duration, SystemTime};

/// The local date and time of `t`: `("2026-11-27", "224005")` for 2026-11-27T21:40:05Z in
/// Berlin. UTC when the local time cannot be had.
pub(super) fn date_and_time(t: SystemTime) -> (String, String) {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if let Some(tm) = local_time(secs as libc::time_t) {
        return (
            format!(
                "{:04}-{:02}-{:02}",
                tm.tm_year + 1900,
                tm.tm_mon + 1,
                tm.tm_mday
            ),
            format!("{:02}{:02}{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec),
        );
    }
    let s = humantime::format_rfc3339_seconds(t).to_string();
    let date = s.get(..10).unwrap_or("1970-01-01").to_string();
    let time: String = s
        .get(11..19)
        .unwrap_or("000000")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    (date, time)
}

/// The time a file's folder and name give, read as local time (`2026-11-27`, `214005_alarm.jpg`).
/// In an hour a daylight-saving change repeats, either of the two: it only orders retention.
pub(super) fn time_of(day: &str, name: &str) -> Option<SystemTime> {
    let number = |s: Option<&str>| s?.parse::<libc::c_int>().ok();
    // SAFETY: `tm` is plain data; zeroed is a valid value of it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = number(day.get(..4))? - 1900;
    tm.tm_mon = number(day.get(5..7))? - 1;
    tm.tm_mday = number(day.get(8..10))?;
    tm.tm_hour = number(name.get(..2))?;
    tm.tm_min = number(name.get(2..4))?;
    tm.tm_sec = number(name.get(4..6))?;
    tm.tm_isdst = -1;
    local_zone();
    // SAFETY: mktime reads and normalises `tm`, a valid, exclusively borrowed value.
    let secs = unsafe { libc::mktime(&mut tm) };
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Reads the time zone (`TZ`, else `/etc/localtime`) once, for `localtime_r` and `mktime`.
fn local_zone() {
    static READ: std::sync::Once = std::sync::Once::new();
    // SAFETY: tzset only sets the C library's time zone state; Once runs it before any reader.
    READ.call_once(|| unsafe { tzset() });
}

extern "C" {
    // POSIX; the libc crate does not declare it for every target.
    fn tzset();
}

/// `secs` in the local time zone.
fn local_time(secs: libc::time_t) -> Option<libc::tm> {
    local_zone();
    // SAFETY: `tm` is plain data; localtime_r fills it, or returns null and it is not used.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let filled = unsafe { libc::localtime_r(&secs, &mut tm) };
    (!filled.is_null()).then_some(tm)
}
