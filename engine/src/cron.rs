//! Cron schedules as Temporal accepts them on a workflow start: the standard
//! five fields (minute, hour, day of month, month, day of week) with lists,
//! ranges, steps and names; the macros `@yearly` (`@annually`), `@monthly`,
//! `@weekly`, `@daily` (`@midnight`), `@hourly` and `@every <duration>`; and
//! an optional `CRON_TZ=<IANA zone>` (or `TZ=`) prefix. The rules are those
//! of the Go library Temporal parses them with, so a schedule fires at the
//! same instants on both servers:
//!
//! - day of month and day of week are alternatives when both are restricted;
//!   when either is `*` (or `?`), both must match;
//! - the next time is the first whole minute strictly after the given one,
//!   at most five years ahead;
//! - `@every d` fires `d` after the previous time truncated to the second,
//!   `d` at least one second and truncated to whole seconds.
//!
//! Local times that a daylight-saving change skips do not occur; a local time
//! that occurs twice fires at its first occurrence.
//!
//! Everything here is a pure function of its arguments.

use chrono::{Datelike, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::state_machine::Nanos;

const SECOND: Nanos = 1_000_000_000;
const MINUTE: Nanos = 60 * SECOND;
/// How far ahead a schedule is searched before it counts as never firing.
const SEARCH_YEARS: i32 = 5;

/// A parsed cron schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct CronSchedule {
    zone: Tz,
    timing: Timing,
}

#[derive(Clone, Debug, PartialEq)]
enum Timing {
    Fields(Fields),
    /// `@every`: a fixed delay in whole seconds.
    Every(Nanos),
}

/// One bit per allowed value of each field.
#[derive(Clone, Debug, PartialEq)]
struct Fields {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    /// The day fields were `*` or `?`: see the module comment.
    any_day_of_month: bool,
    any_day_of_week: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid cron schedule {schedule:?}: {reason}")]
pub struct CronError {
    pub schedule: String,
    pub reason: String,
}

struct FieldRange {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: FieldRange = FieldRange { name: "minute", min: 0, max: 59, names: &[] };
const HOURS: FieldRange = FieldRange { name: "hour", min: 0, max: 23, names: &[] };
const DAYS_OF_MONTH: FieldRange = FieldRange { name: "day of month", min: 1, max: 31, names: &[] };
const MONTHS: FieldRange = FieldRange {
    name: "month",
    min: 1,
    max: 12,
    names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
const DAYS_OF_WEEK: FieldRange =
    FieldRange { name: "day of week", min: 0, max: 6, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };

impl CronSchedule {
    pub fn parse(schedule: &str) -> Result<CronSchedule, CronError> {
        let error = |reason: String| CronError { schedule: schedule.to_string(), reason };
        let (zone, spec) = split_zone(schedule.trim()).map_err(error)?;
        let timing = match spec.strip_prefix('@') {
            Some(macro_spec) => parse_macro(macro_spec).map_err(error)?,
            None => Timing::Fields(parse_fields(spec).map_err(error)?),
        };
        Ok(CronSchedule { zone, timing })
    }

    /// The first time the schedule fires strictly after `after`, or `None`
    /// when it does not fire within five years.
    pub fn next_after(&self, after: Nanos) -> Option<Nanos> {
        match &self.timing {
            Timing::Every(delay) => Some(after.div_euclid(SECOND).saturating_mul(SECOND).saturating_add(*delay)),
            Timing::Fields(fields) => fields.next_after(&self.zone, after),
        }
    }

    /// How long a cron workflow waits before its next run, as Temporal
    /// computes it: the first scheduled time after the current run's
    /// scheduled time that is not before `now`, rounded up to whole seconds.
    /// `None` when the schedule never fires again.
    pub fn backoff_for_next_run(&self, scheduled: Nanos, now: Nanos) -> Option<Nanos> {
        let next = if now < scheduled {
            scheduled
        } else {
            match &self.timing {
                Timing::Every(delay) => {
                    let origin = scheduled.div_euclid(SECOND).saturating_mul(SECOND);
                    let periods = ((now - origin) as i128 + *delay as i128 - 1) / *delay as i128;
                    let next = origin as i128 + periods.max(1) * *delay as i128;
                    Nanos::try_from(next).ok()?
                }
                // Whole minutes only: the first one after `scheduled` that is
                // not before `now`.
                Timing::Fields(_) => self.next_after(scheduled.max(now - 1))?,
            }
        };
        let wait = next - now;
        Some((wait + SECOND - 1).div_euclid(SECOND) * SECOND)
    }
}

fn split_zone(schedule: &str) -> Result<(Tz, &str), String> {
    let prefixed = schedule.strip_prefix("CRON_TZ=").or_else(|| schedule.strip_prefix("TZ="));
    let Some(rest) = prefixed else { return Ok((Tz::UTC, schedule)) };
    let (zone_name, spec) = rest.split_once(char::is_whitespace).ok_or("a time zone prefix must be followed by a schedule")?;
    let zone = zone_name.parse::<Tz>().map_err(|_| format!("unknown time zone {zone_name:?}"))?;
    Ok((zone, spec.trim()))
}

fn parse_macro(spec: &str) -> Result<Timing, String> {
    let fields = match spec {
        "yearly" | "annually" => "0 0 1 1 *",
        "monthly" => "0 0 1 * *",
        "weekly" => "0 0 * * 0",
        "daily" | "midnight" => "0 0 * * *",
        "hourly" => "0 * * * *",
        _ => {
            let Some(duration) = spec.strip_prefix("every ") else {
                return Err(format!("unknown descriptor @{spec}"));
            };
            let delay = parse_go_duration(duration.trim())?;
            // Whole seconds, and at least one.
            return Ok(Timing::Every((delay - delay % SECOND).max(SECOND)));
        }
    };
    parse_fields(fields).map(Timing::Fields)
}

fn parse_fields(spec: &str) -> Result<Fields, String> {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    if parts.len() != 5 {
        return Err(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
            parts.len()
        ));
    }
    let (days_of_month, any_day_of_month) = parse_field(parts[2], &DAYS_OF_MONTH)?;
    let (days_of_week, any_day_of_week) = parse_field(parts[4], &DAYS_OF_WEEK)?;
    Ok(Fields {
        minutes: parse_field(parts[0], &MINUTES)?.0,
        hours: parse_field(parts[1], &HOURS)?.0,
        days_of_month,
        months: parse_field(parts[3], &MONTHS)?.0,
        days_of_week,
        any_day_of_month,
        any_day_of_week,
    })
}

/// A comma-separated list of `*`, `?`, values and ranges, each with an
/// optional `/step`; returns the allowed values and whether it was a bare `*`.
fn parse_field(field: &str, range: &FieldRange) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut any = false;
    for part in field.split(',') {
        let (span, step) = match part.split_once('/') {
            Some((span, step)) => {
                let step: u32 =
                    step.parse().map_err(|_| format!("bad step {step:?} in the {} field {field:?}", range.name))?;
                if step == 0 {
                    return Err(format!("a step of 0 in the {} field {field:?}", range.name));
                }
                (span, Some(step))
            }
            None => (part, None),
        };
        let (start, end, is_star) = if span == "*" || span == "?" {
            (range.min, range.max, true)
        } else {
            match span.split_once('-') {
                Some((low, high)) => (value(low, range)?, value(high, range)?, false),
                // "N/step" means from N to the end of the range.
                None => {
                    let start = value(span, range)?;
                    (start, if step.is_some() { range.max } else { start }, false)
                }
            }
        };
        if start > end {
            return Err(format!("the range {span:?} of the {} field runs backwards", range.name));
        }
        let step = step.unwrap_or(1);
        any |= is_star && step == 1;
        for allowed in (start..=end).step_by(step as usize) {
            bits |= 1 << allowed;
        }
    }
    Ok((bits, any))
}

fn value(text: &str, range: &FieldRange) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    let parsed = match range.names.iter().position(|name| *name == lower) {
        Some(index) => index as u32 + range.min,
        None => text.parse().map_err(|_| format!("{text:?} is not a valid {}", range.name))?,
    };
    if parsed < range.min || parsed > range.max {
        return Err(format!("{parsed} is outside the {} range {}-{}", range.name, range.min, range.max));
    }
    Ok(parsed)
}

impl Fields {
    fn next_after(&self, zone: &Tz, after: Nanos) -> Option<Nanos> {
        // The first whole minute strictly after `after`, in local time.
        let first = after.div_euclid(MINUTE).checked_add(1)?.checked_mul(MINUTE)?;
        let start = zone.timestamp_nanos(first).naive_local();
        let last_year = start.year() + SEARCH_YEARS;
        let mut date = start.date();
        while date.year() <= last_year {
            if self.day_matches(date) {
                let from = if date == start.date() { (start.hour(), start.minute()) } else { (0, 0) };
                if let Some(found) = self.first_time_on(zone, date, from, after) {
                    return Some(found);
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let day_of_month = self.days_of_month & (1 << date.day()) != 0;
        let day_of_week = self.days_of_week & (1 << date.weekday().num_days_from_sunday()) != 0;
        if self.any_day_of_month || self.any_day_of_week { day_of_month && day_of_week } else { day_of_month || day_of_week }
    }

    /// The first matching minute of `date` at or after `from` (hour, minute)
    /// that exists in the zone and comes after `after`.
    fn first_time_on(&self, zone: &Tz, date: NaiveDate, from: (u32, u32), after: Nanos) -> Option<Nanos> {
        for hour in (from.0..24).filter(|hour| self.hours & (1 << hour) != 0) {
            let first_minute = if hour == from.0 { from.1 } else { 0 };
            for minute in (first_minute..60).filter(|minute| self.minutes & (1 << minute) != 0) {
                let local: NaiveDateTime = date.and_hms_opt(hour, minute, 0)?;
                let instant = match zone.from_local_datetime(&local) {
                    LocalResult::Single(instant) => instant,
                    LocalResult::Ambiguous(earliest, _) => earliest,
                    LocalResult::None => continue,
                };
                let nanos = instant.timestamp_nanos_opt()?;
                if nanos > after {
                    return Some(nanos);
                }
            }
        }
        None
    }
}

/// Go's duration syntax (`time.ParseDuration`), which `@every` takes: the
/// parser schedule specs use serves here too.
fn parse_go_duration(text: &str) -> Result<Nanos, String> {
    crate::schedules::go_parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Nanos {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_nanos_opt().unwrap()
    }

    fn next(schedule: &str, after: &str) -> Option<Nanos> {
        CronSchedule::parse(schedule).unwrap().next_after(at(after))
    }

    #[test]
    fn five_fields_with_lists_ranges_steps_and_names() {
        assert_eq!(next("*/15 * * * *", "2024-01-01T10:07:30Z"), Some(at("2024-01-01T10:15:00Z")));
        assert_eq!(next("0 9-17/4 * * *", "2024-01-01T10:00:00Z"), Some(at("2024-01-01T13:00:00Z")));
        assert_eq!(next("30 2 * JAN,mar *", "2024-01-31T03:00:00Z"), Some(at("2024-03-01T02:30:00Z")));
        assert_eq!(next("0 0 * * MON-FRI", "2024-01-06T00:00:00Z"), Some(at("2024-01-08T00:00:00Z")));
        // Strictly after: a time on the schedule is not its own next time.
        assert_eq!(next("* * * * *", "2024-01-01T10:00:00Z"), Some(at("2024-01-01T10:01:00Z")));
        assert_eq!(next("* * * * *", "2024-01-01T10:00:59.5Z"), Some(at("2024-01-01T10:01:00Z")));
        // "N/step" runs from N to the end of the range.
        assert_eq!(next("50/5 * * * *", "2024-01-01T10:56:00Z"), Some(at("2024-01-01T11:50:00Z")));
    }

    #[test]
    fn restricted_day_fields_are_alternatives_unless_one_is_a_star() {
        // The 13th, or any Friday.
        assert_eq!(next("0 0 13 * 5", "2024-01-01T00:00:00Z"), Some(at("2024-01-05T00:00:00Z")));
        // Any day of month, but only Fridays.
        assert_eq!(next("0 0 * * 5", "2024-01-01T00:00:00Z"), Some(at("2024-01-05T00:00:00Z")));
        assert_eq!(next("0 0 ? * 5", "2024-01-01T00:00:00Z"), Some(at("2024-01-05T00:00:00Z")));
        // A stepped star restricts: the 1st, 3rd, ... or a Friday.
        assert_eq!(next("0 0 */2 * 5", "2024-01-01T00:00:00Z"), Some(at("2024-01-03T00:00:00Z")));
    }

    #[test]
    fn macros_and_every() {
        assert_eq!(next("@hourly", "2024-01-01T10:00:00Z"), Some(at("2024-01-01T11:00:00Z")));
        assert_eq!(next("@daily", "2024-01-01T10:00:00Z"), Some(at("2024-01-02T00:00:00Z")));
        assert_eq!(next("@weekly", "2024-01-01T10:00:00Z"), Some(at("2024-01-07T00:00:00Z")));
        assert_eq!(next("@monthly", "2024-01-01T10:00:00Z"), Some(at("2024-02-01T00:00:00Z")));
        assert_eq!(next("@yearly", "2024-01-01T10:00:00Z"), Some(at("2025-01-01T00:00:00Z")));
        assert_eq!(next("@every 90s", "2024-01-01T10:00:00.700Z"), Some(at("2024-01-01T10:01:30Z")));
        assert_eq!(next("@every 1h30m", "2024-01-01T10:00:00Z"), Some(at("2024-01-01T11:30:00Z")));
        // Shorter than a second is a second.
        assert_eq!(next("@every 10ms", "2024-01-01T10:00:00Z"), Some(at("2024-01-01T10:00:01Z")));
    }

    #[test]
    fn time_zone_prefix_and_daylight_saving() {
        // 05:00 in New York is 10:00 UTC in winter and 09:00 UTC in summer.
        assert_eq!(next("CRON_TZ=America/New_York 0 5 * * *", "2024-01-01T12:00:00Z"), Some(at("2024-01-02T10:00:00Z")));
        assert_eq!(next("TZ=America/New_York 0 5 * * *", "2024-07-01T12:00:00Z"), Some(at("2024-07-02T09:00:00Z")));
        // 2024-03-10 02:30 does not exist in New York: the next day's is taken.
        assert_eq!(
            next("CRON_TZ=America/New_York 30 2 * * *", "2024-03-09T12:00:00Z"),
            Some(at("2024-03-11T06:30:00Z"))
        );
        // 2024-11-03 01:30 happens twice: the first one counts, once.
        let first = at("2024-11-03T05:30:00Z");
        assert_eq!(next("CRON_TZ=America/New_York 30 1 * * *", "2024-11-02T12:00:00Z"), Some(first));
        assert_eq!(
            CronSchedule::parse("CRON_TZ=America/New_York 30 1 * * *").unwrap().next_after(first),
            Some(at("2024-11-04T06:30:00Z"))
        );
    }

    #[test]
    fn a_schedule_that_never_fires_has_no_next_time() {
        assert_eq!(next("0 0 30 2 *", "2024-01-01T00:00:00Z"), None);
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        let reason = |schedule: &str| CronSchedule::parse(schedule).unwrap_err().reason;
        assert!(reason("* * * *").contains("expected 5 fields"));
        assert!(reason("60 * * * *").contains("outside the minute range 0-59"));
        assert!(reason("* * * * 7").contains("outside the day of week range 0-6"));
        assert!(reason("*/0 * * * *").contains("a step of 0"));
        assert!(reason("5-1 * * * *").contains("runs backwards"));
        assert!(reason("* * * foo *").contains("not a valid month"));
        assert!(reason("@often").contains("unknown descriptor"));
        assert_eq!(reason("@every soon"), "time: invalid duration \"soon\"", "Go's own words");
        assert!(reason("CRON_TZ=Mars/Olympus 0 5 * * *").contains("unknown time zone"));
    }

    #[test]
    fn cron_backoff_waits_for_the_first_time_not_before_now() {
        let hourly = CronSchedule::parse("0 * * * *").unwrap();
        // A run scheduled at 10:00 that ended at 10:20:00.5 waits for 11:00.
        let scheduled = at("2024-01-01T10:00:00Z");
        assert_eq!(hourly.backoff_for_next_run(scheduled, at("2024-01-01T10:20:00.5Z")), Some(2400 * SECOND));
        // One that overran two slots skips them.
        assert_eq!(hourly.backoff_for_next_run(scheduled, at("2024-01-01T12:30:00Z")), Some(1800 * SECOND));
        // Exactly on a slot: no wait.
        assert_eq!(hourly.backoff_for_next_run(scheduled, at("2024-01-01T11:00:00Z")), Some(0));
        // Not yet at its own scheduled time: waits for it.
        assert_eq!(hourly.backoff_for_next_run(scheduled, at("2024-01-01T09:59:59Z")), Some(SECOND));
        let every = CronSchedule::parse("@every 10s").unwrap();
        assert_eq!(every.backoff_for_next_run(scheduled, at("2024-01-01T10:00:03Z")), Some(7 * SECOND));
        assert_eq!(every.backoff_for_next_run(scheduled, at("2024-01-01T10:00:25Z")), Some(5 * SECOND));
    }
}
