//! Schedule calendars as Temporal's server evaluates them: parsing calendar
//! strings and cron strings into structured calendars and intervals, checking
//! structured calendars, and the wall-clock search for the next matching
//! second in a time zone.
//!
//! The search reproduces Go's `time.Date` on local times that a daylight-saving
//! change skips or repeats, since Temporal's results depend on it: a skipped
//! time resolves with the offset in force before the change (so its hour
//! differs and the search moves on), and a repeated one with the offset that
//! Go finds first (the earlier instant in zones west of Greenwich, the later one
//! east of it).

use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;
use temper_proto::api::schedule::v1::{CalendarSpec, IntervalSpec, Range, StructuredCalendarSpec};

use super::spec::SpecError;

/// Calendars name no year before this one.
pub(super) const MIN_CALENDAR_YEAR: i64 = 2000;
/// Nothing is scheduled after this year (Temporal's bound).
pub(super) const MAX_CALENDAR_YEAR: i64 = 2100;
/// Longest calendar comment, in bytes.
const MAX_COMMENT_LEN: usize = 200;

const SECONDS_PER_DAY: i64 = 86_400;
/// Go's `time.Time.sec()` counts from 0001-01-01; Unix time from 1970-01-01.
pub(super) const UNIX_TO_INTERNAL: i64 = 62_135_596_800;

const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAY_NAMES: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

// ---------------------------------------------------------------------------
// Civil time and zones
// ---------------------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date (any month/day overflow carries).
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

pub(super) fn is_leap_year(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Temporal's table-driven month length; a month of 13 (reached while carrying) has 30 days.
pub(super) fn days_in_month(m: i64, y: i64) -> i64 {
    if m == 2 {
        return if is_leap_year(y) { 29 } else { 28 };
    }
    const BITS: i64 = 0b1010110101010;
    30 + ((BITS >> m) & 1)
}

/// Broken-down wall-clock time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Civil {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    /// 0 = Sunday.
    pub weekday: i64,
}

impl Civil {
    pub(super) fn of(local: i64) -> Civil {
        let days = local.div_euclid(SECONDS_PER_DAY);
        let secs = local.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            weekday: (days + 4).rem_euclid(7),
        }
    }
}

/// 2100-01-01T00:00:00Z: chrono-tz lists transitions up to 2099 only.
const TABLE_END: i64 = 4_102_444_800;

/// A schedule's time zone (Go's `*time.Location`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Zone {
    Utc,
    Named(Tz),
}

impl Zone {
    /// Go's `time.LoadLocation`.
    pub(super) fn load(name: &str) -> Result<Zone, SpecError> {
        // "Local" is the server's own zone in Go; a server's zone must not leak into schedules, so it is UTC here.
        if name.is_empty() || name == "UTC" || name == "Local" {
            return Ok(Zone::Utc);
        }
        if name.as_bytes().windows(2).any(|w| w == b"..")
            || name.starts_with('/')
            || name.starts_with('\\')
        {
            return Err(SpecError::InvalidLocationName);
        }
        name.parse::<Tz>()
            .map(Zone::Named)
            .map_err(|_| SpecError::UnknownTimeZone(name.to_string()))
    }

    /// Seconds east of UTC in force at `unix`.
    pub(super) fn offset_at(&self, unix: i64) -> i64 {
        let Zone::Named(tz) = self else { return 0 };
        let unix = if unix >= TABLE_END {
            same_calendar_before_table_end(unix)
        } else {
            unix
        };
        match DateTime::from_timestamp(unix, 0) {
            Some(t) => i64::from(
                tz.offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc(),
            ),
            None => 0,
        }
    }

    /// Wall-clock time at `unix`.
    pub(super) fn civil(&self, unix: i64) -> Civil {
        Civil::of(unix.saturating_add(self.offset_at(unix)))
    }

    /// Go's `time.Date` for an in-range local date (hour may be 24). Go looks up the offset in force
    /// at the local time read as UTC, and if that instant minus the offset leaves the offset's span,
    /// at that instant instead; an offset of zero is taken as is.
    pub(super) fn date(&self, y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> i64 {
        let local = (days_from_civil(y, mo, 1) + d - 1) * SECONDS_PER_DAY + h * 3600 + mi * 60 + s;
        let offset = self.offset_at(local);
        if offset == 0 {
            return local;
        }
        local - self.offset_at(local - offset)
    }
}

/// Maps an instant from 2100 on to the same wall-clock position in the latest earlier year that has
/// the same weekdays and length, where the zone's rules (which Go extends from the zone's rule string)
/// still have table entries.
fn same_calendar_before_table_end(unix: i64) -> i64 {
    let (year, _, _) = civil_from_days(unix.div_euclid(SECONDS_PER_DAY));
    let year = year.min(1_000_000);
    let jan1 = days_from_civil(year, 1, 1);
    let weekday = (jan1 + 4).rem_euclid(7);
    for candidate in (2072..=2099).rev() {
        let c_jan1 = days_from_civil(candidate, 1, 1);
        if is_leap_year(candidate) == is_leap_year(year) && (c_jan1 + 4).rem_euclid(7) == weekday {
            return unix - (jan1 - c_jan1) * SECONDS_PER_DAY;
        }
    }
    unix
}

// ---------------------------------------------------------------------------
// Compiled calendars
// ---------------------------------------------------------------------------

/// A structured calendar ready to match times in its zone.
#[derive(Clone, Debug)]
pub(super) struct CompiledCalendar {
    zone: Zone,
    /// `None` matches every year; otherwise the listed years (Go keeps them as int16).
    years: Option<Vec<i16>>,
    months: u64,
    days_of_month: u64,
    days_of_week: u64,
    hours: u64,
    minutes: u64,
    seconds: u64,
}

/// Calls `f` with every value of the ranges, with Temporal's defaults (step 0 is 1, an end before
/// the start is the start). Stops a range once `f` returns false (later values only grow).
fn iterate_ranges(
    ranges: &[Range],
    field: &str,
    mut f: impl FnMut(i64) -> bool,
) -> Result<(), SpecError> {
    for r in ranges {
        let (mut v, mut end, mut step) = (i64::from(r.start), i64::from(r.end), i64::from(r.step));
        if step == 0 {
            step = 1;
        }
        if end < v {
            end = v;
        }
        // Go loops forever on these; only unchecked (exclude) calendars can carry them.
        if step < 0 {
            return Err(SpecError::InvalidExcludeCalendar(format!(
                "{field} has invalid Step"
            )));
        }
        while v <= end {
            if !f(v) {
                break;
            }
            v += step;
        }
    }
    Ok(())
}

fn bit_matcher(ranges: &[Range], field: &str) -> Result<u64, SpecError> {
    let mut bits = 0u64;
    let mut negative = false;
    iterate_ranges(ranges, field, |v| {
        if v < 0 {
            negative = true;
            return false;
        }
        if v < 64 {
            bits |= 1 << v;
        }
        v < 64
    })?;
    if negative {
        // Go panics on a negative shift; only unchecked (exclude) calendars can carry one.
        return Err(SpecError::InvalidExcludeCalendar(format!(
            "{field} has a negative value"
        )));
    }
    Ok(bits)
}

fn year_matcher(ranges: &[Range]) -> Result<Option<Vec<i16>>, SpecError> {
    if ranges.is_empty() {
        return Ok(None);
    }
    let mut years = Vec::new();
    for r in ranges {
        // After 65536 values of one range their int16 truncations repeat.
        let mut count = 0u32;
        iterate_ranges(std::slice::from_ref(r), "Year", |v| {
            years.push(v as i16);
            count += 1;
            count < 65_536
        })?;
    }
    years.sort_unstable();
    years.dedup();
    Ok(Some(years))
}

fn bit(bits: u64, v: i64) -> bool {
    (0..64).contains(&v) && bits & (1 << v) != 0
}

impl CompiledCalendar {
    pub(super) fn new(
        cal: &StructuredCalendarSpec,
        zone: Zone,
    ) -> Result<CompiledCalendar, SpecError> {
        Ok(CompiledCalendar {
            zone,
            years: year_matcher(&cal.year)?,
            months: bit_matcher(&cal.month, "Month")?,
            days_of_month: bit_matcher(&cal.day_of_month, "DayOfMonth")?,
            days_of_week: bit_matcher(&cal.day_of_week, "DayOfWeek")?,
            hours: bit_matcher(&cal.hour, "Hour")?,
            minutes: bit_matcher(&cal.minute, "Minute")?,
            seconds: bit_matcher(&cal.second, "Second")?,
        })
    }

    fn year(&self, y: i64) -> bool {
        match &self.years {
            None => true,
            Some(years) => i16::try_from(y).is_ok_and(|y| years.binary_search(&y).is_ok()),
        }
    }

    /// Whether the second `unix` matches every field in this calendar's zone.
    pub(super) fn matches(&self, unix: i64) -> bool {
        let c = self.zone.civil(unix);
        self.year(c.year)
            && bit(self.months, c.month)
            && bit(self.days_of_month, c.day)
            && bit(self.days_of_week, c.weekday)
            && bit(self.hours, c.hour)
            && bit(self.minutes, c.minute)
            && bit(self.seconds, c.second)
    }

    /// The first matching second strictly after `after` (Unix seconds); `None` if there is none before 2101.
    /// Walks the wall-clock fields from the outside in, as Temporal does, including its handling of
    /// repeated hours (`dst_offset`) and skipped local times.
    pub(super) fn next(&self, after: i64) -> Option<i64> {
        // Past the last schedulable year Temporal finds nothing; this also keeps the arithmetic small.
        if after >= days_from_civil(MAX_CALENDAR_YEAR + 1, 1, 2) * SECONDS_PER_DAY {
            return None;
        }
        let zone = &self.zone;
        let c = zone.civil(after);
        let (mut y, mut mo, mut d, mut h, mut m, mut s) =
            (c.year, c.month, c.day, c.hour, c.minute, c.second);
        // In the second copy of a repeated hour, wall-clock times map to the first copy plus an hour.
        let mut dst_offset = if zone.civil(after - 3600).hour == h {
            3600
        } else {
            0
        };
        s += 1;
        'outer: loop {
            if s >= 60 {
                m += 1;
                s = 0;
            }
            if m >= 60 {
                let prev = zone.date(y, mo, d, h, 0, 0);
                h += 1;
                m = 0;
                let next = zone.date(y, mo, d, h, 0, 0);
                // Two hours between consecutive hour starts: the hour just left repeats; walk it again.
                if dst_offset == 0 && next - prev > 3600 {
                    h -= 1;
                    dst_offset = 3600;
                } else {
                    dst_offset = 0;
                }
            }
            if h >= 24 {
                d += 1;
                h = 0;
            }
            if d > days_in_month(mo, y) {
                mo += 1;
                d = 1;
            }
            if mo > 12 {
                y += 1;
                mo = 1;
            }
            if y > MAX_CALENDAR_YEAR {
                return None;
            }
            if !self.year(y) {
                (y, mo, d, h, m, s) = (y + 1, 1, 1, 0, 0, 0);
                dst_offset = 0;
                continue 'outer;
            }
            while !bit(self.months, mo) {
                (mo, d, h, m, s) = (mo + 1, 1, 0, 0, 0);
                dst_offset = 0;
                if mo > 12 {
                    continue 'outer;
                }
            }
            // The weekday is that of the instant Go's time.Date resolves to, which can be the day
            // before when midnight is skipped.
            while !bit(self.days_of_month, d)
                || !bit(
                    self.days_of_week,
                    zone.civil(zone.date(y, mo, d, h, m, s)).weekday,
                )
            {
                (d, h, m, s) = (d + 1, 0, 0, 0);
                dst_offset = 0;
                if d > days_in_month(mo, y) {
                    continue 'outer;
                }
            }
            while !bit(self.hours, h) {
                (h, m, s) = (h + 1, 0, 0);
                dst_offset = 0;
                if h >= 24 {
                    continue 'outer;
                }
            }
            while !bit(self.minutes, m) {
                (m, s) = (m + 1, 0);
                if m >= 60 {
                    continue 'outer;
                }
            }
            while !bit(self.seconds, s) {
                s += 1;
                if s >= 60 {
                    continue 'outer;
                }
            }
            let found = zone.date(y, mo, d, h, m, s);
            // A skipped local time resolves to another hour: no such time today.
            if zone.civil(found).hour != h {
                (h, m, s) = (h + 1, 0, 0);
                continue 'outer;
            }
            return Some(found + dst_offset);
        }
    }
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// Temporal's check of a structured calendar (exclusions are not checked).
pub(super) fn validate_structured_calendar(scs: &StructuredCalendarSpec) -> Result<(), SpecError> {
    let mut errs: Vec<String> = Vec::new();
    let mut check = |ranges: &[Range], field: &str, min: i32, max: i32| {
        for r in ranges {
            if r.start < min || r.start > max {
                errs.push(format!("{field} Start is not in range [{min}-{max}]"));
            }
            if r.end != 0 && (r.end < r.start || r.end > max) {
                errs.push(format!(
                    "{field} End is before Start or not in range [{min}-{max}]"
                ));
            }
            if r.step < 0 {
                errs.push(format!("{field} has invalid Step"));
            }
        }
    };
    check(&scs.second, "Second", 0, 59);
    check(&scs.minute, "Minute", 0, 59);
    check(&scs.hour, "Hour", 0, 23);
    check(&scs.day_of_month, "DayOfMonth", 1, 31);
    check(&scs.month, "Month", 1, 12);
    check(
        &scs.year,
        "Year",
        MIN_CALENDAR_YEAR as i32,
        MAX_CALENDAR_YEAR as i32,
    );
    check(&scs.day_of_week, "DayOfWeek", 0, 6);
    if scs.comment.len() > MAX_COMMENT_LEN {
        errs.push("comment is too long".to_string());
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(SpecError::InvalidCalendarSpec(errs.join(", ")))
    }
}

/// Go's `durationpb.Duration.AsDuration`: nanoseconds, saturating.
pub(super) fn duration_nanos(d: Option<&prost_types::Duration>) -> i64 {
    let Some(d) = d else { return 0 };
    let (secs, nanos) = (d.seconds, i64::from(d.nanos));
    let whole = secs.wrapping_mul(1_000_000_000);
    let total = whole.wrapping_add(nanos);
    let overflow = whole / 1_000_000_000 != secs
        || (secs < 0 && nanos < 0 && total > 0)
        || (secs > 0 && nanos > 0 && total < 0);
    match secs {
        _ if !overflow => total,
        s if s < 0 => i64::MIN,
        s if s > 0 => i64::MAX,
        _ => total,
    }
}

/// Temporal's check of an interval.
pub(super) fn validate_interval(iv: &IntervalSpec) -> Result<(), SpecError> {
    let interval = duration_nanos(iv.interval.as_ref());
    let phase = duration_nanos(iv.phase.as_ref());
    if interval < 1_000_000_000 {
        Err(SpecError::InvalidInterval("interval is too small".into()))
    } else if phase < 0 {
        Err(SpecError::InvalidInterval("phase is negative".into()))
    } else if phase >= interval {
        Err(SpecError::InvalidInterval(
            "phase cannot be greater than Interval".into(),
        ))
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum ParseMode {
    Int,
    /// `*` is the empty list (every year).
    Year,
    /// Also month names, by a prefix of at least three letters.
    Month,
    /// Also day names, by a prefix of at least two letters; 7 is Sunday.
    Dow,
}

/// A calendar string (`CalendarSpec`) as a structured calendar, with the string defaults: midnight,
/// every day. Errors of all fields are reported together.
pub(super) fn parse_calendar_to_structured(
    cal: &CalendarSpec,
) -> Result<StructuredCalendarSpec, SpecError> {
    let mut errs: Vec<String> = Vec::new();
    let mut field = |s: &str, name: &str, def: &str, min: i64, max: i64, mode: ParseMode| {
        make_range(s, name, def, min, max, mode).unwrap_or_else(|e| {
            errs.push(e);
            Vec::new()
        })
    };
    let second = field(&cal.second, "Second", "0", 0, 59, ParseMode::Int);
    let minute = field(&cal.minute, "Minute", "0", 0, 59, ParseMode::Int);
    let hour = field(&cal.hour, "Hour", "0", 0, 23, ParseMode::Int);
    let day_of_week = field(&cal.day_of_week, "DayOfWeek", "*", 0, 7, ParseMode::Dow);
    let day_of_month = field(&cal.day_of_month, "DayOfMonth", "*", 1, 31, ParseMode::Int);
    let month = field(&cal.month, "Month", "*", 1, 12, ParseMode::Month);
    let year = field(
        &cal.year,
        "Year",
        "*",
        MIN_CALENDAR_YEAR,
        MAX_CALENDAR_YEAR,
        ParseMode::Year,
    );
    if !errs.is_empty() {
        return Err(SpecError::InvalidCalendar(errs.join(", ")));
    }
    Ok(StructuredCalendarSpec {
        second,
        minute,
        hour,
        day_of_month,
        month,
        year,
        day_of_week,
        comment: cal.comment.clone(),
    })
}

/// One calendar field: `*`, `x`, `x-z`, `x-z/y`, `x/y` (x to the maximum), `*/y`, comma-separated.
fn make_range(
    s: &str,
    field: &str,
    def: &str,
    min: i64,
    max: i64,
    mode: ParseMode,
) -> Result<Vec<Range>, String> {
    let mut s = s.trim();
    if s.is_empty() {
        s = def;
    }
    if s == "*" && mode == ParseMode::Year {
        return Ok(Vec::new());
    }
    let mut ranges = Vec::new();
    for part in s.split(',') {
        let mut part = part;
        let mut step: i64 = 1;
        let mut has_step = false;
        match part.matches('/').count() {
            0 => {}
            1 => {
                let (left, right) = part.split_once('/').expect("one slash");
                if right.is_empty() {
                    return Err(format!("{field} missing step value"));
                }
                part = left;
                step = go_atoi(right)?;
                if step < 1 {
                    return Err(format!("{field} has invalid Step"));
                }
                has_step = true;
            }
            _ => return Err(format!("{field} has too many slashes")),
        }
        let (mut start, mut end) = (min, max);
        if part != "*" {
            if let Some((first, last)) = part.split_once('-') {
                if last.contains('-') {
                    return Err(format!("{field} has too many dashes"));
                }
                start = parse_value(first, min, max, mode)
                    .ok_or_else(|| format!("{field} Start is not in range [{min}-{max}]"))?;
                end = parse_value(last, start, max, mode).ok_or_else(|| {
                    format!("{field} End is before Start or not in range [{min}-{max}]")
                })?;
            } else {
                start = parse_value(part, min, max, mode)
                    .ok_or_else(|| format!("{field} is not in range [{min}-{max}]"))?;
                // With a step, a single value runs to the maximum.
                if !has_step {
                    end = start;
                }
            }
        }
        // Sunday is 0 and 7: fold 7 into 0, which takes a separate range unless the rest covers it.
        if mode == ParseMode::Dow && end == 7 {
            if (7 - start) % step == 0 && (step > 1 || (step == 1 && start > 1)) {
                ranges.push(Range {
                    start: 0,
                    end: 0,
                    step: 0,
                });
                if start == 7 {
                    continue;
                }
            }
            end = 6;
        }
        // Defaults keep the stored spec small.
        if start == end {
            end = 0;
        }
        if step == 1 {
            step = 0;
        }
        ranges.push(Range {
            start: start as i32,
            end: end as i32,
            step: step as i32,
        });
    }
    Ok(ranges)
}

/// A field value: a number, or a month or day name by prefix; `None` if not a value within [min, max].
fn parse_value(s: &str, min: i64, max: i64, mode: ParseMode) -> Option<i64> {
    let names: &[&str] = match mode {
        ParseMode::Month if s.len() >= 3 => &MONTH_NAMES,
        ParseMode::Dow if s.len() >= 2 => &DAY_NAMES,
        _ => &[],
    };
    let lower = s.to_lowercase();
    let named = names
        .iter()
        .position(|name| name.starts_with(lower.as_str()));
    let value = match named {
        Some(i) if mode == ParseMode::Month => i as i64 + 1,
        Some(i) => i as i64,
        None => go_atoi(s).ok()?,
    };
    (min..=max).contains(&value).then_some(value)
}

/// Go's `strconv.Atoi`, with its error text (an overflow is reported before a later bad byte).
fn go_atoi(s: &str) -> Result<i64, String> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let syntax = || format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(s));
    let range = || format!("strconv.Atoi: parsing {}: value out of range", go_quote(s));
    if digits.is_empty() {
        return Err(syntax());
    }
    let mut n: u64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return Err(syntax());
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or_else(range)?;
    }
    match (neg, i64::try_from(n)) {
        (false, Ok(v)) => Ok(v),
        (true, Ok(v)) => Ok(-v),
        (true, Err(_)) if n == 1 << 63 => Ok(i64::MIN),
        _ => Err(range()),
    }
}

/// Go's `strconv.Quote`, close enough for error messages.
fn go_quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What a cron string stands for.
#[derive(Debug, PartialEq)]
pub(super) enum Cron {
    Calendar(StructuredCalendarSpec),
    Interval(IntervalSpec),
}

/// A cron string: optional `CRON_TZ=zone ` or `TZ=zone ` prefix, optional `# comment`, then
/// `@every interval[/phase]`, a macro (`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
/// `@midnight`, `@hourly`), or 5 fields (minute hour day-of-month month day-of-week), 6 (plus year)
/// or 7 (second first, year last). Returns the zone name ("" when none; `@every` never has one).
pub(super) fn parse_cron_string(c: &str) -> Result<(Cron, String), SpecError> {
    let mut c = c.trim();
    let mut tz_name = "";
    if c.starts_with("TZ=") || c.starts_with("CRON_TZ=") {
        let Some((tz, rest)) = c.split_once(' ') else {
            return Err(SpecError::InvalidCronString(
                "CronString has time zone but missing fields".into(),
            ));
        };
        c = rest;
        tz_name = tz.split_once('=').map_or("", |(_, name)| name);
    }
    let (body, comment) = c.split_once('#').unwrap_or((c, ""));
    let c = body.trim();
    let comment = comment.trim();

    if c.starts_with("@every") {
        return Ok((Cron::Interval(parse_cron_interval(c)?), String::new()));
    }
    let c = match c {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other => other,
    };
    let fields: Vec<&str> = c.split_whitespace().take(8).collect();
    let mut cal = CalendarSpec {
        comment: comment.to_string(),
        ..Default::default()
    };
    let set = |targets: &mut [&mut String]| {
        for (target, value) in targets.iter_mut().zip(&fields) {
            **target = (*value).to_string();
        }
    };
    match fields.len() {
        5 => set(&mut [
            &mut cal.minute,
            &mut cal.hour,
            &mut cal.day_of_month,
            &mut cal.month,
            &mut cal.day_of_week,
        ]),
        6 => set(&mut [
            &mut cal.minute,
            &mut cal.hour,
            &mut cal.day_of_month,
            &mut cal.month,
            &mut cal.day_of_week,
            &mut cal.year,
        ]),
        7 => set(&mut [
            &mut cal.second,
            &mut cal.minute,
            &mut cal.hour,
            &mut cal.day_of_month,
            &mut cal.month,
            &mut cal.day_of_week,
            &mut cal.year,
        ]),
        _ => {
            return Err(SpecError::InvalidCronString(
                "CronString does not have 5-7 fields".into(),
            ))
        }
    }
    Ok((
        Cron::Calendar(parse_calendar_to_structured(&cal)?),
        tz_name.to_string(),
    ))
}

/// `@every 14h` or `@every 14h/3h` (interval and phase, Temporal's durations with days).
fn parse_cron_interval(c: &str) -> Result<IntervalSpec, SpecError> {
    let Some((_, rest)) = c.split_once(' ') else {
        return Err(SpecError::InvalidCronString(
            "CronString does not have interval after @every".into(),
        ));
    };
    let (interval, phase) = rest.split_once('/').unwrap_or((rest, ""));
    let interval = parse_duration(interval).map_err(SpecError::InvalidCronString)?;
    let phase = if phase.is_empty() {
        None
    } else {
        Some(parse_duration(phase).map_err(SpecError::InvalidCronString)?)
    };
    Ok(IntervalSpec {
        interval: Some(proto_duration(interval)),
        phase: phase.map(proto_duration),
    })
}

/// Go's `durationpb.New`.
fn proto_duration(nanos: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: nanos / 1_000_000_000,
        nanos: (nanos % 1_000_000_000) as i32,
    }
}

/// Temporal's `ParseDuration`: Go's `time.ParseDuration` after rewriting each `<number>d` to
/// `<24*number, six decimals>h`.
pub(super) fn parse_duration(s: &str) -> Result<i64, String> {
    go_parse_duration(&expand_days(s))
}

/// Rewrites the matches of `(\d+(\.\d*)?|(\.\d+))d`, leftmost first.
fn expand_days(s: &str) -> String {
    let b = s.as_bytes();
    let digits_end = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut out = String::with_capacity(s.len());
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        let matched_end = if b[i].is_ascii_digit() {
            let j = digits_end(i);
            if b.get(j) == Some(&b'.') {
                let k = digits_end(j + 1);
                (b.get(k) == Some(&b'd')).then_some(k)
            } else {
                (b.get(j) == Some(&b'd')).then_some(j)
            }
        } else if b[i] == b'.' {
            let k = digits_end(i + 1);
            (k > i + 1 && b.get(k) == Some(&b'd')).then_some(k)
        } else {
            None
        };
        match matched_end {
            Some(d_at) => {
                out.push_str(&s[copied..i]);
                let number = &s[i..d_at];
                match number.parse::<f64>() {
                    Ok(v) if v.is_finite() => {
                        let hours = 24.0 * v;
                        if hours.is_finite() {
                            out.push_str(&format!("{hours:.6}h"));
                        } else {
                            out.push_str("+Infh");
                        }
                    }
                    _ => out.push_str(&s[i..=d_at]),
                }
                i = d_at + 1;
                copied = i;
            }
            None => i += 1,
        }
    }
    out.push_str(&s[copied..]);
    out
}

/// Go's `time.ParseDuration`, with its error text.
pub(crate) fn go_parse_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", time_quote(orig));
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c @ (b'-' | b'+')) = s.first() {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(s[i] - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
            i += 1;
        }
        let pre = i > 0;
        s = &s[i..];
        // Fraction: keeps the digits that fit, as Go does.
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut i = 0;
            let mut overflow = false;
            while i < s.len() && s[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(s[i] - b'0');
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i > 0;
            s = &s[i..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!(
                "time: missing unit in duration {}",
                time_quote(orig)
            ));
        }
        let unit_bytes = &s[..unit_len];
        s = &s[unit_len..];
        let unit: u64 = match unit_bytes {
            b"ns" => 1,
            // "µs" (micro sign) and "μs" (Greek mu) in UTF-8
            b"us" | [0xc2, 0xb5, b's'] | [0xce, 0xbc, b's'] => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => {
                let u = String::from_utf8_lossy(unit_bytes);
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    time_quote(&u),
                    time_quote(orig)
                ));
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total += v;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((total as i64).wrapping_neg());
    }
    if total > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(total as i64)
}

/// The `time` package's quoting: bytes outside printable ASCII as `\xNN`.
fn time_quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        if (c as u32) >= 0x80 || c < ' ' {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}
