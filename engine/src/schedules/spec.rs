//! Schedule specs (`temporal.api.schedule.v1.ScheduleSpec`) evaluated as Temporal's server does:
//! canonicalization (calendar and cron strings into structured calendars and intervals, the cron
//! string's zone into the spec), the checks Temporal makes when a schedule is created or updated,
//! and the next action time with start and end times, exclusions and deterministic jitter.
//!
//! Everything here is a pure function of its arguments: times are whole Unix nanoseconds, and the
//! jitter is a hash of the nominal time and a seed, bit for bit the one Temporal computes.

use temper_proto::api::schedule::v1::{ScheduleSpec, StructuredCalendarSpec};

use super::calendar::{
    self, days_from_civil, duration_nanos, CompiledCalendar, Cron, Zone, MAX_CALENDAR_YEAR,
    UNIX_TO_INTERNAL,
};
use crate::state_machine::Nanos;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// How many candidate times one search may try before giving up (Temporal's default
/// `scheduler.specMaxIterations`, two weeks of seconds): a spec whose exclusions cover that many
/// candidates in a row has no next time.
pub const MAX_ITERATIONS: u64 = 2 * 7 * 24 * 60 * 60;

/// How many calendars and intervals, and how many exclusions, a spec may
/// have. Temporal sets no such limit; every candidate time looks at each of
/// them, so without one a single spec could make a search as long as a
/// shard can stall.
pub const MAX_SPEC_ENTRIES: usize = 100;

/// Why a schedule spec is rejected. Messages are Temporal's; its frontend answers them as
/// `InvalidArgument` prefixed with `Invalid schedule spec: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A calendar string field, of a `CalendarSpec` or of a cron string, that does not parse;
    /// all of a calendar's bad fields, comma-separated (e.g. `Minute is not in range [0-59]`).
    #[error("{0}")]
    InvalidCalendar(String),
    /// A cron string of the wrong shape (e.g. `CronString does not have 5-7 fields`), or an
    /// `@every` duration that does not parse (Go's `time: invalid duration "5x"`).
    #[error("{0}")]
    InvalidCronString(String),
    /// A structured calendar with values out of range, e.g. `Minute Start is not in range [0-59]`.
    #[error("invalid calendar spec: {0}")]
    InvalidCalendarSpec(String),
    /// An exclusion calendar that Temporal cannot evaluate (negative values or steps): Temporal
    /// does not check exclusions and fails on these while evaluating them.
    #[error("invalid exclude calendar: {0}")]
    InvalidExcludeCalendar(String),
    /// `interval is too small` (under a second), `phase is negative`, `phase cannot be greater than Interval`.
    #[error("{0}")]
    InvalidInterval(String),
    /// A duration that is not a valid protobuf duration (checked at Temporal's frontend).
    #[error("{field} is not a valid duration: proto: duration (seconds:{seconds} nanos:{nanos}) {problem}")]
    InvalidDuration {
        field: &'static str,
        seconds: i64,
        nanos: i32,
        problem: &'static str,
    },
    /// Cron strings naming different zones, or a zone other than the spec's.
    #[error("conflicting timezone names")]
    ConflictingTimezoneNames,
    /// A zone name the IANA database does not have.
    #[error("unknown time zone {0}")]
    UnknownTimeZone(String),
    /// A zone name that is a path (`..`, leading `/`).
    #[error("time: invalid location name")]
    InvalidLocationName,
    /// `timezone_data` (a TZif file) instead of a zone name.
    #[error("timezone_data is not supported: name the zone in timezone_name")]
    TimezoneDataUnsupported,
    /// More calendars, cron strings and intervals, or more exclusions, than [`MAX_SPEC_ENTRIES`].
    #[error("the spec has {count} {what}; at most {MAX_SPEC_ENTRIES} are allowed")]
    TooManyEntries { what: &'static str, count: usize },
    /// The search for a next time tried [`MAX_ITERATIONS`] candidates, all excluded.
    #[error("schedule spec next-time search exceeded the compute iteration limit")]
    ComputeLimitExceeded,
}

/// One action time: `nominal` is the matching time, `next` the same time plus jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextTime {
    pub nominal: Nanos,
    pub next: Nanos,
}

/// A canonical, checked schedule spec, ready to compute action times.
#[derive(Clone, Debug)]
pub struct CompiledSpec {
    /// The canonical form (before `CleanSpec`).
    spec: ScheduleSpec,
    calendars: Vec<CompiledCalendar>,
    excludes: Vec<CompiledCalendar>,
    /// (interval, phase) in whole seconds.
    intervals: Vec<(i64, i64)>,
    /// Unix nanoseconds; i128 because a timestamp's range exceeds `Nanos`.
    start: i128,
    end: Option<i128>,
    jitter: i64,
}

impl CompiledSpec {
    /// Canonicalizes (calendar and cron strings into structured calendars and intervals, the cron
    /// strings' `CRON_TZ` into `timezone_name`), checks, and loads the zone, as Temporal does on
    /// CreateSchedule/UpdateSchedule.
    pub fn compile(spec: &ScheduleSpec) -> Result<CompiledSpec, SpecError> {
        validate_durations(spec)?;
        let spec = canonicalize(spec)?;
        if !spec.timezone_data.is_empty() {
            return Err(SpecError::TimezoneDataUnsupported);
        }
        check_entry_counts(&spec)?;
        let zone = Zone::load(&spec.timezone_name)?;
        let compile_all =
            |cals: &[StructuredCalendarSpec]| -> Result<Vec<CompiledCalendar>, SpecError> {
                cals.iter()
                    .map(|cal| CompiledCalendar::new(cal, zone))
                    .collect()
            };
        let calendars = compile_all(&spec.structured_calendar)?;
        let excludes = compile_all(&spec.exclude_structured_calendar)?;
        let intervals = spec
            .interval
            .iter()
            .map(|iv| {
                let interval = (duration_nanos(iv.interval.as_ref()) / NANOS_PER_SECOND).max(1);
                let phase = (duration_nanos(iv.phase.as_ref()) / NANOS_PER_SECOND).max(0);
                (interval, phase)
            })
            .collect();
        // Go reads an absent timestamp as the Unix epoch.
        let timestamp = |t: &prost_types::Timestamp| {
            i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
        };
        let start = spec.start_time.as_ref().map_or(0, timestamp);
        let end = spec.end_time.as_ref().map(timestamp);
        let jitter = duration_nanos(spec.jitter.as_ref());
        Ok(CompiledSpec {
            spec,
            calendars,
            excludes,
            intervals,
            start,
            end,
            jitter,
        })
    }

    /// The spec as DescribeSchedule returns it: canonical, with ranges' defaults filled in
    /// (an end before the start is the start, step 0 is 1).
    pub fn canonical_spec(&self) -> ScheduleSpec {
        let mut spec = self.spec.clone();
        clean_spec(&mut spec);
        spec
    }

    /// The first action time strictly after `after`, honoring the start and end times and the
    /// exclusions, with jitter derived from `jitter_seed` (Temporal's is `<namespace id>-<schedule id>`).
    /// `None` when there is none, or when [`MAX_ITERATIONS`] candidates in a row are excluded
    /// (Temporal stops the schedule then as well).
    pub fn next_time(&self, jitter_seed: &str, after: Nanos) -> Option<NextTime> {
        self.next_time_checked(jitter_seed, after).ok().flatten()
    }

    /// [`next_time`](Self::next_time), telling the compute limit apart from the end of the schedule.
    pub fn next_time_checked(
        &self,
        jitter_seed: &str,
        after: Nanos,
    ) -> Result<Option<NextTime>, SpecError> {
        // Only whole seconds matter from here on; the second before the start time may still be
        // `after`, so that the start time itself can match.
        let start_floor =
            (self.start - i128::from(NANOS_PER_SECOND)).div_euclid(i128::from(NANOS_PER_SECOND));
        let start_floor =
            i64::try_from(start_floor).unwrap_or(if start_floor < 0 { i64::MIN } else { i64::MAX });
        let mut after = after.div_euclid(NANOS_PER_SECOND).max(start_floor);

        // Each candidate looks at every calendar, interval and exclusion: the
        // search's work is bounded, not only its candidates. With one calendar
        // and one exclusion, as in Temporal's tests, the bound is Temporal's own.
        let work_per_candidate = (self.calendars.len() + self.intervals.len() + self.excludes.len()).max(2) as u64;
        let max_candidates = MAX_ITERATIONS * 2 / work_per_candidate;
        let mut nominal = None;
        let mut iterations = 0u64;
        let nominal = loop {
            if let Some(n) = nominal.filter(|&n| !self.excluded(n)) {
                break n;
            }
            if iterations >= max_candidates {
                return Err(SpecError::ComputeLimitExceeded);
            }
            iterations += 1;
            let Some(n) = self.raw_next_time(after) else {
                return Ok(None);
            };
            if self.past_end(n) {
                return Ok(None);
            }
            nominal = Some(n);
            after = n;
        };

        // Jitter never reaches past the following nominal time (exclusions and end time aside).
        let mut max_jitter = self.jitter;
        if let Some(following) = self.raw_next_time(nominal) {
            max_jitter = max_jitter.min((following - nominal).saturating_mul(NANOS_PER_SECOND));
        }
        let jitter = jitter_nanos(jitter_seed, nominal, max_jitter);
        let nominal = nominal * NANOS_PER_SECOND;
        Ok(Some(NextTime {
            nominal,
            next: nominal + jitter,
        }))
    }

    /// The next second after `after` that any calendar or interval matches, exclusions aside.
    fn raw_next_time(&self, after: i64) -> Option<i64> {
        let calendars = self.calendars.iter().filter_map(|cal| cal.next(after));
        let intervals = self.intervals.iter().map(|&(interval, phase)| {
            // Go's wrapping int64 arithmetic, truncating division included.
            (after.wrapping_sub(phase) / interval)
                .wrapping_add(1)
                .wrapping_mul(interval)
                .wrapping_add(phase)
        });
        calendars.chain(intervals).min().filter(|&t| t != i64::MAX)
    }

    fn excluded(&self, t: i64) -> bool {
        self.excludes.iter().any(|cal| cal.matches(t))
    }

    fn past_end(&self, t: i64) -> bool {
        let after_end = self
            .end
            .is_some_and(|end| i128::from(t) * 1_000_000_000 > end);
        after_end || t >= days_from_civil(MAX_CALENDAR_YEAR + 1, 1, 1) * 86_400
    }
}

fn check_entry_counts(spec: &ScheduleSpec) -> Result<(), SpecError> {
    let times = spec.structured_calendar.len() + spec.interval.len();
    if times > MAX_SPEC_ENTRIES {
        return Err(SpecError::TooManyEntries { what: "calendars, cron strings and intervals", count: times });
    }
    let exclusions = spec.exclude_structured_calendar.len();
    if exclusions > MAX_SPEC_ENTRIES {
        return Err(SpecError::TooManyEntries { what: "exclusions", count: exclusions });
    }
    Ok(())
}

/// The jitter Temporal adds to `nominal` (Unix seconds): the hash of Go's binary encoding of the
/// UTC time followed by the seed, scaled into `[0, max_jitter)` in whole milliseconds.
fn jitter_nanos(seed: &str, nominal: i64, max_jitter: i64) -> i64 {
    let mut bytes = Vec::with_capacity(15 + seed.len());
    bytes.push(1); // encoding version
    bytes.extend_from_slice(&nominal.wrapping_add(UNIX_TO_INTERNAL).to_be_bytes());
    bytes.extend_from_slice(&0u32.to_be_bytes()); // nanoseconds
    bytes.extend_from_slice(&(-1i16).to_be_bytes()); // zone offset: UTC
    bytes.extend_from_slice(seed.as_bytes());
    let fingerprint = u64::from(fingerprint32(&bytes));
    // 32 bits of hash times at most 32 bits of milliseconds fit in 64 bits (49 days of range).
    let max_millis = (max_jitter.max(0) / 1_000_000).min(i64::from(u32::MAX)) as u64;
    ((fingerprint * max_millis) >> 32) as i64 * 1_000_000
}

/// Fills in the defaults of ranges (Temporal's `CleanSpec`).
fn clean_spec(spec: &mut ScheduleSpec) {
    for cal in spec
        .structured_calendar
        .iter_mut()
        .chain(spec.exclude_structured_calendar.iter_mut())
    {
        for ranges in [
            &mut cal.second,
            &mut cal.minute,
            &mut cal.hour,
            &mut cal.day_of_month,
            &mut cal.month,
            &mut cal.year,
            &mut cal.day_of_week,
        ] {
            for r in ranges.iter_mut() {
                if r.end < r.start {
                    r.end = r.start;
                }
                if r.step == 0 {
                    r.step = 1;
                }
            }
        }
    }
}

/// Temporal's frontend check that intervals and phases are valid protobuf durations.
pub fn validate_durations(spec: &ScheduleSpec) -> Result<(), SpecError> {
    const MAX_SECONDS: i64 = 315_576_000_000; // 10000 years
    for iv in &spec.interval {
        for (field, d) in [
            ("interval", iv.interval.as_ref()),
            ("phase", iv.phase.as_ref()),
        ] {
            let Some(d) = d else { continue };
            let problem = if d.seconds < -MAX_SECONDS {
                "exceeds -10000 years"
            } else if d.seconds > MAX_SECONDS {
                "exceeds +10000 years"
            } else if d.nanos <= -1_000_000_000 || d.nanos >= 1_000_000_000 {
                "has out-of-range nanos"
            } else if (d.seconds > 0 && d.nanos < 0) || (d.seconds < 0 && d.nanos > 0) {
                "has seconds and nanos with different signs"
            } else {
                continue;
            };
            return Err(SpecError::InvalidDuration {
                field,
                seconds: d.seconds,
                nanos: d.nanos,
                problem,
            });
        }
    }
    Ok(())
}

/// Temporal's `canonicalizeSpec`: strings into structured calendars and intervals, then checks.
#[allow(deprecated)] // exclude_calendar: still accepted, folded into exclude_structured_calendar
fn canonicalize(spec: &ScheduleSpec) -> Result<ScheduleSpec, SpecError> {
    let mut spec = spec.clone();
    for cal in std::mem::take(&mut spec.calendar) {
        spec.structured_calendar
            .push(calendar::parse_calendar_to_structured(&cal)?);
    }
    for cal in std::mem::take(&mut spec.exclude_calendar) {
        spec.exclude_structured_calendar
            .push(calendar::parse_calendar_to_structured(&cal)?);
    }
    // Every cron string must name the same zone, or none.
    let mut cron_tz: Option<String> = None;
    for cron in std::mem::take(&mut spec.cron_string) {
        let (parsed, tz) = calendar::parse_cron_string(&cron)?;
        if cron_tz.as_ref().is_some_and(|seen| *seen != tz) {
            return Err(SpecError::ConflictingTimezoneNames);
        }
        cron_tz = Some(tz);
        match parsed {
            Cron::Calendar(cal) => spec.structured_calendar.push(cal),
            Cron::Interval(iv) => spec.interval.push(iv),
        }
    }
    if let Some(tz) = cron_tz.filter(|tz| !tz.is_empty()) {
        if (!spec.timezone_name.is_empty() && spec.timezone_name != tz)
            || !spec.timezone_data.is_empty()
        {
            return Err(SpecError::ConflictingTimezoneNames);
        }
        spec.timezone_name = tz;
    }
    for cal in &spec.structured_calendar {
        calendar::validate_structured_calendar(cal)?;
    }
    for iv in &spec.interval {
        calendar::validate_interval(iv)?;
    }
    Ok(spec)
}

/// Go farm's `Fingerprint32` (farmhash `Hash32` of the "mk" family).
pub(super) fn fingerprint32(s: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let fetch = |i: usize| u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
    let fmix = |mut h: u32| {
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    };
    let mur = |a: u32, h: u32| {
        let a = a.wrapping_mul(C1).rotate_right(17).wrapping_mul(C2);
        (h ^ a)
            .rotate_right(19)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64)
    };
    let len = s.len();
    if len <= 4 {
        let (mut b, mut c) = (0u32, 9u32);
        for &byte in s {
            b = b.wrapping_mul(C1).wrapping_add(byte as i8 as i32 as u32);
            c ^= b;
        }
        return fmix(mur(b, mur(len as u32, c)));
    }
    if len <= 12 {
        let (mut a, mut b, mut c) = (len as u32, (len as u32).wrapping_mul(5), 9u32);
        let d = b;
        a = a.wrapping_add(fetch(0));
        b = b.wrapping_add(fetch(len - 4));
        c = c.wrapping_add(fetch((len >> 1) & 4));
        return fmix(mur(c, mur(b, mur(a, d))));
    }
    if len <= 24 {
        let mut a = fetch((len >> 1) - 4);
        let b = fetch(4);
        let c = fetch(len - 8);
        let d = fetch(len >> 1);
        let e = fetch(0);
        let f = fetch(len - 4);
        let mut h = d.wrapping_mul(C1).wrapping_add(len as u32);
        a = a.rotate_right(12).wrapping_add(f);
        h = mur(c, h).wrapping_add(a);
        a = a.rotate_right(3).wrapping_add(c);
        h = mur(e, h).wrapping_add(a);
        a = a.wrapping_add(f).rotate_right(12).wrapping_add(d);
        h = mur(b, h).wrapping_add(a);
        return fmix(h);
    }
    let mix = |x: u32| x.wrapping_mul(C1).rotate_right(17).wrapping_mul(C2);
    let step = |h: u32, x: u32| {
        (h ^ x)
            .rotate_right(19)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64)
    };
    let mut h = len as u32;
    let mut g = C1.wrapping_mul(len as u32);
    let mut f = g;
    h = step(step(h, mix(fetch(len - 4))), mix(fetch(len - 16)));
    g = step(step(g, mix(fetch(len - 8))), mix(fetch(len - 12)));
    f = f
        .wrapping_add(mix(fetch(len - 20)))
        .rotate_right(19)
        .wrapping_add(113);
    let mut rest = s;
    while rest.len() > 20 {
        let word = |i: usize| u32::from_le_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
        let (a, b, c, d, e) = (word(0), word(4), word(8), word(12), word(16));
        h = h.wrapping_add(a);
        g = g.wrapping_add(b);
        f = f.wrapping_add(c);
        h = mur(d, h).wrapping_add(e);
        g = mur(c, g).wrapping_add(a);
        f = mur(b.wrapping_add(e.wrapping_mul(C1)), f).wrapping_add(d);
        f = f.wrapping_add(g);
        g = g.wrapping_add(f);
        rest = &rest[20..];
    }
    g = g
        .rotate_right(11)
        .wrapping_mul(C1)
        .rotate_right(17)
        .wrapping_mul(C1);
    f = f
        .rotate_right(11)
        .wrapping_mul(C1)
        .rotate_right(17)
        .wrapping_mul(C1);
    h = h
        .wrapping_add(g)
        .rotate_right(19)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64);
    h = h.rotate_right(17).wrapping_mul(C1);
    h = h
        .wrapping_add(f)
        .rotate_right(19)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64);
    h.rotate_right(17).wrapping_mul(C1)
}
