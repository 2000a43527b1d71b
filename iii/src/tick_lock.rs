//! Holding the answer to a cron fire, so that no other engine fires the
//! same tick.
//!
//! Engines sharing a Redis fire a cron binding on whichever engine takes
//! the tick's lock (`cron_lock:<binding id>`). The iii engine 0.23 lets the
//! lock go as soon as the handler answers, so an engine whose clock wakes
//! a few milliseconds later takes it again and fires the tick a second
//! time (1 tick in 8 to 12, measured with two engines on one machine).
//! The SDK answers a cron fire no sooner than [`HOLD`] after its scheduled
//! time: the lock outlives any engine's wake-up within that margin, and
//! the engine, which waits for the answer before it computes the next
//! tick, still meets every tick of a schedule as fine as once a second.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::time::Instant;

/// How long after its scheduled time a cron fire is answered, at the
/// soonest: more than the engines' clocks differ, less than a second (the
/// finest cron schedule).
pub(crate) const HOLD: Duration = Duration::from_millis(500);

/// When to answer a cron fire with `payload` (its `scheduled_time`, RFC
/// 3339 in UTC as the engine writes it), if later than now.
pub(crate) fn answer_at(payload: &Value) -> Option<Instant> {
    wait(payload, SystemTime::now()).map(|wait| Instant::now() + wait)
}

/// How long after `now` to answer the fire with `payload`, if at all.
fn wait(payload: &Value, now: SystemTime) -> Option<Duration> {
    let scheduled = payload.get("scheduled_time")?.as_str()?;
    let release = utc_time(scheduled)?.checked_add(HOLD)?;
    let wait = release.duration_since(now).ok()?;
    // A clock far off is not worth holding an answer for.
    (wait <= HOLD).then_some(wait)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00)`, the form the engine
/// writes; `None` for anything else.
fn utc_time(text: &str) -> Option<SystemTime> {
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = text.split_once('T')?;
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let mut date = date.splitn(3, '-').map(number);
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut clock = clock.splitn(3, ':').map(number);
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let nanos = match fraction {
        "" => 0,
        digits => {
            let digits = &digits[..digits.len().min(9)];
            number(digits)? * 10u64.pow(9 - digits.len() as u32)
        }
    };
    let days = days_since_epoch(year, month, day)?;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second;
    UNIX_EPOCH.checked_add(Duration::new(seconds, u32::try_from(nanos).ok()?))
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (from 1970 on), counting from March so that leap days come last.
fn days_since_epoch(year: u64, month: u64, day: u64) -> Option<u64> {
    let year = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn unix(text: &str) -> Option<f64> {
        utc_time(text).map(|t| t.duration_since(UNIX_EPOCH).expect("after").as_secs_f64())
    }

    #[test]
    fn the_engines_times_parse() {
        assert_eq!(unix("1970-01-01T00:00:00+00:00"), Some(0.0));
        assert_eq!(unix("2026-11-23T00:09:24+00:00"), Some(1_795_392_564.0));
        assert_eq!(unix("2000-02-29T12:00:00Z"), Some(951_825_600.0));
        assert_eq!(unix("2024-12-31T23:59:59.5Z"), Some(1_735_689_599.5));
        assert_eq!(
            unix("2026-11-23T00:09:24.001200707+00:00"),
            Some(1_795_392_564.001_200_7)
        );
        for bad in [
            "2026-11-23T00:09:24+01:00",
            "2026-13-01T00:00:00Z",
            "2026-11-23 00:09:24Z",
            "yesterday",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(unix(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_fire_is_held_until_half_a_second_after_its_tick() {
        let tick = json!({"trigger": "cron", "scheduled_time": "2026-11-23T00:09:24+00:00"});
        let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(1_795_392_564_000 + ms);
        assert_eq!(wait(&tick, at(3)), Some(Duration::from_millis(497)));
        assert_eq!(wait(&tick, at(499)), Some(Duration::from_millis(1)));
        assert_eq!(wait(&tick, at(600)), None, "late: answered at once");
        // Before the tick (a clock ahead of the engine's): held no longer
        // than the margin.
        assert_eq!(wait(&tick, at(0) - Duration::from_secs(5)), None);
        assert_eq!(wait(&json!({"trigger": "cron"}), at(3)), None);
    }
}
