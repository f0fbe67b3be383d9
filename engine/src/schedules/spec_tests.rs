//! Expected values come from Temporal's own scheduler code (service/worker/scheduler, run with Go's
//! tz database 2025b), either its test suite or the same specs run through it.

use chrono::{DateTime, SecondsFormat};
use temper_proto::api::schedule::v1::{
    CalendarSpec, IntervalSpec, Range, ScheduleSpec, StructuredCalendarSpec,
};

use super::calendar::{
    parse_calendar_to_structured, parse_cron_string, parse_duration, Cron, Zone,
};
use super::spec::{fingerprint32, CompiledSpec, NextTime, SpecError, MAX_ITERATIONS};
use crate::state_machine::Nanos;

const S: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * S;
const HOUR: i64 = 60 * MINUTE;

fn at(rfc3339: &str) -> Nanos {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap()
}

fn show(nanos: Nanos) -> String {
    DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn dur(nanos: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: nanos / S,
        nanos: (nanos % S) as i32,
    })
}

fn timestamp(rfc3339: &str) -> Option<prost_types::Timestamp> {
    let n = at(rfc3339);
    Some(prost_types::Timestamp {
        seconds: n.div_euclid(S),
        nanos: n.rem_euclid(S) as i32,
    })
}

fn every(interval: i64, phase: i64) -> IntervalSpec {
    IntervalSpec {
        interval: dur(interval),
        phase: if phase == 0 { None } else { dur(phase) },
    }
}

fn cron(strings: &[&str]) -> ScheduleSpec {
    ScheduleSpec {
        cron_string: strings.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn calendar(cal: CalendarSpec) -> ScheduleSpec {
    ScheduleSpec {
        calendar: vec![cal],
        ..Default::default()
    }
}

fn range(start: i32, end: i32, step: i32) -> Range {
    Range { start, end, step }
}

/// `n` action times from `after`, each search starting at the previous action time, as Temporal's
/// scheduler does; "END" when there are no more.
fn sequence(spec: &ScheduleSpec, seed: &str, after: &str, n: usize) -> Vec<String> {
    let compiled = CompiledSpec::compile(spec).unwrap();
    let mut t = at(after);
    let mut out = Vec::new();
    for _ in 0..n {
        match compiled.next_time(seed, t) {
            Some(next) => {
                out.push(show(next.next));
                t = next.next;
            }
            None => {
                out.push("END".to_string());
                break;
            }
        }
    }
    out
}

fn error(spec: &ScheduleSpec) -> String {
    CompiledSpec::compile(spec).unwrap_err().to_string()
}

// --- Intervals -------------------------------------------------------------------------------

#[test]
fn intervals_count_from_the_epoch() {
    let spec = ScheduleSpec {
        interval: vec![every(90 * MINUTE, 0)],
        ..Default::default()
    };
    assert_eq!(
        sequence(&spec, "", "2022-03-23T12:53:02.000000009Z", 4),
        [
            "2022-03-23T13:30:00Z",
            "2022-03-23T15:00:00Z",
            "2022-03-23T16:30:00Z",
            "2022-03-23T18:00:00Z"
        ]
    );
}

#[test]
fn intervals_are_shifted_by_their_phase() {
    let spec = ScheduleSpec {
        interval: vec![every(90 * MINUTE, 5 * MINUTE + 44 * S)],
        ..Default::default()
    };
    assert_eq!(
        sequence(&spec, "", "2022-03-23T12:53:02.000000009Z", 4),
        [
            "2022-03-23T13:35:44Z",
            "2022-03-23T15:05:44Z",
            "2022-03-23T16:35:44Z",
            "2022-03-23T18:05:44Z"
        ]
    );
}

#[test]
fn several_intervals_interleave() {
    let spec = ScheduleSpec {
        interval: vec![
            every(90 * MINUTE, 5 * MINUTE + 44 * S),
            every(157 * MINUTE, 22 * MINUTE + 11 * S),
        ],
        ..Default::default()
    };
    assert_eq!(
        sequence(&spec, "", "2022-03-23T12:53:02.000000009Z", 7),
        [
            "2022-03-23T13:35:44Z",
            "2022-03-23T15:05:44Z",
            "2022-03-23T15:26:11Z",
            "2022-03-23T16:35:44Z",
            "2022-03-23T18:03:11Z",
            "2022-03-23T18:05:44Z",
            "2022-03-23T19:35:44Z",
        ]
    );
}

#[test]
fn intervals_and_phases_count_in_whole_seconds() {
    let spec = ScheduleSpec {
        interval: vec![every(90 * S + 500_000_000, 900_000_000)],
        ..Default::default()
    };
    assert_eq!(
        sequence(&spec, "", "2024-01-01T00:00:00Z", 2),
        ["2024-01-01T00:01:30Z", "2024-01-01T00:03:00Z"]
    );
}

#[test]
fn near_the_epoch_an_interval_skips_time_zero() {
    // Without a start time the search starts no earlier than a second before the epoch, and Go's
    // truncating division puts the next multiple of the interval after -1s at 60s, not 0.
    let spec = ScheduleSpec {
        interval: vec![every(MINUTE, 0)],
        ..Default::default()
    };
    let compiled = CompiledSpec::compile(&spec).unwrap();
    for after in [-5 * S, -1, 0, 59 * S + 999_999_999] {
        assert_eq!(
            compiled.next_time("", after).map(|t| t.next),
            Some(60 * S),
            "after {after}"
        );
    }
}

// --- Calendars -------------------------------------------------------------------------------

#[test]
fn calendar_strings_default_to_midnight_every_day() {
    let spec = calendar(CalendarSpec {
        hour: "5,7".into(),
        minute: "23".into(),
        ..Default::default()
    });
    assert_eq!(
        sequence(&spec, "", "2022-03-23T03:00:00Z", 4),
        [
            "2022-03-23T05:23:00Z",
            "2022-03-23T07:23:00Z",
            "2022-03-24T05:23:00Z",
            "2022-03-24T07:23:00Z"
        ]
    );
    let midnight = calendar(CalendarSpec::default());
    assert_eq!(
        sequence(&midnight, "", "2022-03-23T03:00:00Z", 2),
        ["2022-03-24T00:00:00Z", "2022-03-25T00:00:00Z"]
    );
}

#[test]
fn calendars_cron_strings_and_intervals_merge() {
    let spec = ScheduleSpec {
        calendar: vec![CalendarSpec {
            hour: "5,7".into(),
            minute: "23".into(),
            ..Default::default()
        }],
        cron_string: vec!["55 11,13 * * *".into()],
        ..Default::default()
    };
    assert_eq!(
        sequence(&spec, "", "2022-03-23T03:00:00Z", 5),
        [
            "2022-03-23T05:23:00Z",
            "2022-03-23T07:23:00Z",
            "2022-03-23T11:55:00Z",
            "2022-03-23T13:55:00Z",
            "2022-03-24T05:23:00Z"
        ]
    );
    let mixed = ScheduleSpec {
        calendar: vec![CalendarSpec {
            hour: "11,13".into(),
            minute: "55".into(),
            ..Default::default()
        }],
        interval: vec![every(90 * MINUTE, 7 * MINUTE)],
        ..Default::default()
    };
    assert_eq!(
        sequence(&mixed, "", "2022-03-23T10:00:00Z", 6),
        [
            "2022-03-23T10:37:00Z",
            "2022-03-23T11:55:00Z",
            "2022-03-23T12:07:00Z",
            "2022-03-23T13:37:00Z",
            "2022-03-23T13:55:00Z",
            "2022-03-23T15:07:00Z",
        ]
    );
}

#[test]
fn structured_calendars_default_to_every_day_at_midnight() {
    // Unset second, minute and hour are 0 (an empty list matches nothing for those, as Temporal).
    let spec = ScheduleSpec {
        structured_calendar: vec![StructuredCalendarSpec {
            second: vec![range(0, 0, 0)],
            minute: vec![range(0, 0, 0)],
            hour: vec![range(9, 17, 4)],
            day_of_month: vec![range(1, 31, 0)],
            month: vec![range(1, 12, 0)],
            day_of_week: vec![range(1, 5, 0)],
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(
        sequence(&spec, "", "2024-01-05T12:00:00Z", 4),
        [
            "2024-01-05T13:00:00Z",
            "2024-01-05T17:00:00Z",
            "2024-01-08T09:00:00Z",
            "2024-01-08T13:00:00Z"
        ]
    );
    let no_days = ScheduleSpec {
        structured_calendar: vec![StructuredCalendarSpec {
            hour: vec![range(9, 0, 0)],
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(sequence(&no_days, "", "2024-01-05T12:00:00Z", 1), ["END"]);
}

#[test]
fn steps_ranges_and_days_of_week() {
    assert_eq!(
        sequence(
            &cron(&["0 9 */10 * mon-fri"]),
            "",
            "2022-05-01T00:00:00Z",
            5
        ),
        [
            "2022-05-11T09:00:00Z",
            "2022-05-31T09:00:00Z",
            "2022-06-01T09:00:00Z",
            "2022-06-21T09:00:00Z",
            "2022-07-01T09:00:00Z"
        ]
    );
    // Day of month and day of week must both match.
    let spec = ScheduleSpec {
        calendar: vec![CalendarSpec {
            second: "55".into(),
            minute: "55".into(),
            hour: "5".into(),
            day_of_week: "wed-thurs".into(),
            day_of_month: "2/2".into(),
            ..Default::default()
        }],
        timezone_name: "US/Pacific".into(),
        ..Default::default()
    };
    assert_eq!(
        sequence(&spec, "", "2022-03-01T09:11:11Z", 3),
        [
            "2022-03-02T13:55:55Z",
            "2022-03-10T13:55:55Z",
            "2022-03-16T12:55:55Z"
        ]
    );
}

#[test]
fn sunday_is_both_zero_and_seven() {
    let matches = |dow: &str, date: &str| {
        let spec = calendar(CalendarSpec {
            day_of_week: dow.into(),
            ..Default::default()
        });
        let midnight = at(&format!("{date}T00:00:00Z"));
        CompiledSpec::compile(&spec)
            .unwrap()
            .next_time("", midnight - S)
            .unwrap()
            .next
            == midnight
    };
    for dow in [
        "0", "7", "sun", "*", "0-3", "5-7", "5-7/2", "6-7", "2-7/5", "0-7/7", "0/7",
    ] {
        assert!(matches(dow, "2022-03-06"), "{dow} matches a Sunday");
    }
    for dow in ["*", "5-7", "6-7", "2/4", "2-7/4"] {
        assert!(matches(dow, "2022-03-05"), "{dow} matches a Saturday");
    }
    for dow in [
        "0", "7", "sun", "5-7", "5-7/2", "6-7", "2-7/5", "0-7/7", "0/7",
    ] {
        assert!(!matches(dow, "2022-03-07"), "{dow} does not match a Monday");
    }
}

#[test]
fn months_without_the_day_are_skipped() {
    let the_31st = calendar(CalendarSpec {
        day_of_month: "31".into(),
        hour: "12".into(),
        ..Default::default()
    });
    assert_eq!(
        sequence(&the_31st, "", "2022-01-31T12:00:00Z", 4),
        [
            "2022-03-31T12:00:00Z",
            "2022-05-31T12:00:00Z",
            "2022-07-31T12:00:00Z",
            "2022-08-31T12:00:00Z"
        ]
    );
    let never = calendar(CalendarSpec {
        day_of_month: "30".into(),
        month: "2".into(),
        ..Default::default()
    });
    assert_eq!(sequence(&never, "", "2022-01-31T12:00:00Z", 1), ["END"]);
}

#[test]
fn february_29th_waits_for_leap_years() {
    let spec = calendar(CalendarSpec {
        day_of_month: "29".into(),
        month: "feb".into(),
        ..Default::default()
    });
    assert_eq!(
        sequence(&spec, "", "2021-01-01T00:00:00Z", 3),
        [
            "2024-02-29T00:00:00Z",
            "2028-02-29T00:00:00Z",
            "2032-02-29T00:00:00Z"
        ]
    );
    let last_days = calendar(CalendarSpec {
        day_of_month: "28-31".into(),
        month: "2".into(),
        hour: "6".into(),
        ..Default::default()
    });
    assert_eq!(
        sequence(&last_days, "", "2023-02-01T00:00:00Z", 4),
        [
            "2023-02-28T06:00:00Z",
            "2024-02-28T06:00:00Z",
            "2024-02-29T06:00:00Z",
            "2025-02-28T06:00:00Z"
        ]
    );
}

#[test]
fn nothing_is_scheduled_after_2100() {
    assert_eq!(
        sequence(&cron(&["0 0 31 12 *"]), "", "2099-06-01T00:00:00Z", 3),
        ["2099-12-31T00:00:00Z", "2100-12-31T00:00:00Z", "END"]
    );
    let hourly = ScheduleSpec {
        interval: vec![every(HOUR, 0)],
        ..Default::default()
    };
    assert_eq!(sequence(&hourly, "", "2100-12-31T23:00:00Z", 1), ["END"]);
    let far_start = ScheduleSpec {
        start_time: timestamp("2101-01-01T00:00:00Z"),
        ..hourly
    };
    assert_eq!(sequence(&far_start, "", "2024-01-01T00:00:00Z", 1), ["END"]);
}

#[test]
fn daylight_saving_rules_continue_into_2100() {
    // Go extends a zone's rules past its table; noon in New York is 16:00Z from March to October.
    let spec = cron(&["CRON_TZ=America/New_York 0 12 1 * *"]);
    let times = sequence(&spec, "", "2100-02-15T00:00:00Z", 11);
    assert_eq!(
        times[..3],
        [
            "2100-03-01T17:00:00Z",
            "2100-04-01T16:00:00Z",
            "2100-05-01T16:00:00Z"
        ]
    );
    assert_eq!(
        times[8..],
        ["2100-11-01T16:00:00Z", "2100-12-01T17:00:00Z", "END"]
    );
}

// --- Cron strings ----------------------------------------------------------------------------

#[test]
fn cron_strings_become_structured_calendars() {
    let (cron, tz) = parse_cron_string("5,9 */2 * * *").unwrap();
    assert_eq!(tz, "");
    assert_eq!(
        cron,
        Cron::Calendar(StructuredCalendarSpec {
            second: vec![range(0, 0, 0)],
            minute: vec![range(5, 0, 0), range(9, 0, 0)],
            hour: vec![range(0, 23, 2)],
            day_of_month: vec![range(1, 31, 0)],
            month: vec![range(1, 12, 0)],
            day_of_week: vec![range(0, 6, 0)],
            ..Default::default()
        })
    );
    let (cron, tz) =
        parse_cron_string("CRON_TZ=US/Pacific 55 55,57 5 2/2 * wed-thurs *  # explanation")
            .unwrap();
    assert_eq!(tz, "US/Pacific");
    assert_eq!(
        cron,
        Cron::Calendar(StructuredCalendarSpec {
            second: vec![range(55, 0, 0)],
            minute: vec![range(55, 0, 0), range(57, 0, 0)],
            hour: vec![range(5, 0, 0)],
            day_of_month: vec![range(2, 31, 2)],
            month: vec![range(1, 12, 0)],
            day_of_week: vec![range(3, 4, 0)],
            comment: "explanation".into(),
            ..Default::default()
        })
    );
    let (cron, _) = parse_cron_string("@monthly").unwrap();
    assert_eq!(
        cron,
        Cron::Calendar(StructuredCalendarSpec {
            second: vec![range(0, 0, 0)],
            minute: vec![range(0, 0, 0)],
            hour: vec![range(0, 0, 0)],
            day_of_month: vec![range(1, 0, 0)],
            month: vec![range(1, 12, 0)],
            day_of_week: vec![range(0, 6, 0)],
            ..Default::default()
        })
    );
}

#[test]
fn every_takes_a_duration_and_an_optional_phase() {
    assert_eq!(
        parse_cron_string("@every 5d").unwrap(),
        (Cron::Interval(every(5 * 24 * HOUR, 0)), String::new())
    );
    assert_eq!(
        parse_cron_string("@every 5h/45m").unwrap(),
        (Cron::Interval(every(5 * HOUR, 45 * MINUTE)), String::new())
    );
    // @every ignores a zone prefix.
    assert_eq!(parse_cron_string("TZ=Asia/Tokyo @every 1h").unwrap().1, "");
    assert_eq!(
        sequence(&cron(&["@every 90m/7m"]), "", "2022-03-23T10:00:00Z", 3),
        [
            "2022-03-23T10:37:00Z",
            "2022-03-23T12:07:00Z",
            "2022-03-23T13:37:00Z"
        ]
    );
    assert_eq!(
        sequence(&cron(&["@every 1.5d/1h"]), "", "2022-03-23T10:00:00Z", 3),
        [
            "2022-03-24T13:00:00Z",
            "2022-03-26T01:00:00Z",
            "2022-03-27T13:00:00Z"
        ]
    );
}

#[test]
fn cron_macros() {
    let from = "2022-03-23T10:00:00Z";
    assert_eq!(
        sequence(&cron(&["@yearly"]), "", from, 2),
        ["2023-01-01T00:00:00Z", "2024-01-01T00:00:00Z"]
    );
    assert_eq!(
        sequence(&cron(&["@annually"]), "", from, 1),
        ["2023-01-01T00:00:00Z"]
    );
    assert_eq!(
        sequence(&cron(&["@monthly"]), "", from, 1),
        ["2022-04-01T00:00:00Z"]
    );
    assert_eq!(
        sequence(&cron(&["@weekly"]), "", from, 2),
        ["2022-03-27T00:00:00Z", "2022-04-03T00:00:00Z"]
    );
    assert_eq!(
        sequence(&cron(&["@daily # comment"]), "", from, 1),
        ["2022-03-24T00:00:00Z"]
    );
    assert_eq!(
        sequence(&cron(&["@midnight"]), "", from, 1),
        ["2022-03-24T00:00:00Z"]
    );
    assert_eq!(
        sequence(&cron(&["@hourly"]), "", from, 2),
        ["2022-03-23T11:00:00Z", "2022-03-23T12:00:00Z"]
    );
}

#[test]
fn cron_strings_of_six_and_seven_fields_add_year_and_second() {
    assert_eq!(
        sequence(&cron(&["0 0 1 1 * 2030/5"]), "", "2022-12-31T23:00:00Z", 3),
        [
            "2030-01-01T00:00:00Z",
            "2035-01-01T00:00:00Z",
            "2040-01-01T00:00:00Z"
        ]
    );
    assert_eq!(
        sequence(
            &cron(&["TZ=Asia/Kolkata 15 45 */6 * * * 2023"]),
            "",
            "2022-12-31T23:00:00Z",
            3
        ),
        [
            "2023-01-01T01:15:15Z",
            "2023-01-01T07:15:15Z",
            "2023-01-01T13:15:15Z"
        ]
    );
}

#[test]
fn a_cron_zone_becomes_the_spec_zone() {
    let compiled = CompiledSpec::compile(&cron(&["CRON_TZ=America/New_York 0 9 * * *"])).unwrap();
    assert_eq!(compiled.canonical_spec().timezone_name, "America/New_York");
    let next = |after: &str| show(compiled.next_time("", at(after)).unwrap().next);
    assert_eq!(next("2024-01-10T00:00:00Z"), "2024-01-10T14:00:00Z");
    assert_eq!(next("2024-07-10T00:00:00Z"), "2024-07-10T13:00:00Z");
    // The same zone named twice is no conflict.
    let same = ScheduleSpec {
        timezone_name: "Europe/London".into(),
        ..cron(&["CRON_TZ=Europe/London 23 5,7 * * *"])
    };
    assert_eq!(
        CompiledSpec::compile(&same)
            .unwrap()
            .canonical_spec()
            .timezone_name,
        "Europe/London"
    );
}

#[test]
fn month_and_day_names() {
    let spec = calendar(CalendarSpec {
        month: "Sept".into(),
        day_of_week: "mon-Friday".into(),
        day_of_month: "1-3".into(),
        ..Default::default()
    });
    assert_eq!(
        sequence(&spec, "", "2024-01-01T00:00:00Z", 3),
        [
            "2024-09-02T00:00:00Z",
            "2024-09-03T00:00:00Z",
            "2025-09-01T00:00:00Z"
        ]
    );
    let structured = parse_calendar_to_structured(&CalendarSpec {
        month: "February/5".into(),
        day_of_week: "6,7".into(),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(structured.month, [range(2, 12, 5)]);
    assert_eq!(structured.day_of_week, [range(6, 0, 0), range(0, 0, 0)]);
    let sunday_ranges = |dow: &str| {
        parse_calendar_to_structured(&CalendarSpec {
            day_of_week: dow.into(),
            ..Default::default()
        })
        .unwrap()
        .day_of_week
    };
    assert_eq!(sunday_ranges("3-7"), [range(0, 0, 0), range(3, 6, 0)]);
    assert_eq!(sunday_ranges("1-7/2"), [range(0, 0, 0), range(1, 6, 2)]);
    assert_eq!(sunday_ranges("3-7/3"), [range(3, 6, 3)]);
    assert_eq!(sunday_ranges("0-7"), [range(0, 6, 0)]);
}

#[test]
fn calendar_field_syntax_errors_name_the_field() {
    let field = |minute: &str| {
        parse_calendar_to_structured(&CalendarSpec {
            minute: minute.into(),
            ..Default::default()
        })
        .map(|s| s.minute)
        .map_err(|e| e.to_string())
    };
    assert_eq!(
        field("13,18,44").unwrap(),
        [range(13, 0, 0), range(18, 0, 0), range(44, 0, 0)]
    );
    assert_eq!(
        field("2-5,7-9,11").unwrap(),
        [range(2, 5, 0), range(7, 9, 0), range(11, 0, 0)]
    );
    assert_eq!(
        field("2-6/4,7-8").unwrap(),
        [range(2, 6, 4), range(7, 8, 0)]
    );
    assert_eq!(field("*/3").unwrap(), [range(0, 59, 3)]);
    assert_eq!(field("2/3").unwrap(), [range(2, 59, 3)]);
    assert_eq!(field("133").unwrap_err(), "Minute is not in range [0-59]");
    assert_eq!(
        field("13,18,44,").unwrap_err(),
        "Minute is not in range [0-59]"
    );
    assert_eq!(
        field("18-13").unwrap_err(),
        "Minute End is before Start or not in range [0-59]"
    );
    assert_eq!(
        field("61-62").unwrap_err(),
        "Minute Start is not in range [0-59]"
    );
    assert_eq!(field("2/3/5").unwrap_err(), "Minute has too many slashes");
    assert_eq!(field("1-5-7").unwrap_err(), "Minute has too many dashes");
    assert_eq!(field("5/").unwrap_err(), "Minute missing step value");
    assert_eq!(field("*/0").unwrap_err(), "Minute has invalid Step");
    assert_eq!(
        field("*/x").unwrap_err(),
        "strconv.Atoi: parsing \"x\": invalid syntax"
    );
    let days = parse_calendar_to_structured(&CalendarSpec {
        day_of_week: "Fri-Tues".into(),
        ..Default::default()
    });
    assert_eq!(
        days.unwrap_err().to_string(),
        "DayOfWeek End is before Start or not in range [0-7]"
    );
}

// --- Daylight saving time ----------------------------------------------------------------------

#[test]
fn new_york_spring_forward_skips_the_missing_hour() {
    // 2022-03-13 02:00 EST became 03:00 EDT: there is no 2:30 that day.
    assert_eq!(
        sequence(
            &cron(&["CRON_TZ=America/New_York 30 2 * * *"]),
            "",
            "2022-03-11T12:00:00Z",
            3
        ),
        [
            "2022-03-12T07:30:00Z",
            "2022-03-14T06:30:00Z",
            "2022-03-15T06:30:00Z"
        ]
    );
    assert_eq!(
        sequence(
            &cron(&["CRON_TZ=America/New_York 30 * * * *"]),
            "",
            "2022-03-13T04:00:00Z",
            4
        ),
        [
            "2022-03-13T04:30:00Z",
            "2022-03-13T05:30:00Z",
            "2022-03-13T06:30:00Z",
            "2022-03-13T07:30:00Z"
        ],
        "23:30 EST, 00:30 EST, 01:30 EST, 03:30 EDT"
    );
}

#[test]
fn new_york_fall_back_runs_the_repeated_hour_twice() {
    // 2022-11-06 02:00 EDT became 01:00 EST: 1:30 happens twice, 2:30 once.
    assert_eq!(
        sequence(
            &cron(&["CRON_TZ=America/New_York 30 1 * * *"]),
            "",
            "2022-11-05T12:00:00Z",
            4
        ),
        [
            "2022-11-06T05:30:00Z",
            "2022-11-06T06:30:00Z",
            "2022-11-07T06:30:00Z",
            "2022-11-08T06:30:00Z"
        ]
    );
    assert_eq!(
        sequence(
            &cron(&["CRON_TZ=America/New_York 30 2 * * *"]),
            "",
            "2022-11-05T12:00:00Z",
            2
        ),
        ["2022-11-06T07:30:00Z", "2022-11-07T07:30:00Z"]
    );
    assert_eq!(
        sequence(
            &cron(&["CRON_TZ=America/New_York 30 * * * *"]),
            "",
            "2022-11-06T03:00:00Z",
            5
        ),
        [
            "2022-11-06T03:30:00Z",
            "2022-11-06T04:30:00Z",
            "2022-11-06T05:30:00Z",
            "2022-11-06T06:30:00Z",
            "2022-11-06T07:30:00Z"
        ]
    );
    // Temporal's own test: two of each in the repeated hour, whatever second the search starts from.
    let spec = cron(&["CRON_TZ=US/Pacific 33 33,44 1 * * * *"]);
    let expected = [
        "2021-11-07T08:33:33Z",
        "2021-11-07T08:44:33Z",
        "2021-11-07T09:33:33Z",
        "2021-11-07T09:44:33Z",
        "2021-11-08T09:33:33Z",
    ];
    assert_eq!(sequence(&spec, "", "2021-11-07T07:15:15Z", 5), expected);
    let compiled = CompiledSpec::compile(&spec).unwrap();
    let mut t = at("2021-11-07T07:15:15Z") / S;
    for next in expected.map(at) {
        while t * S < next {
            assert_eq!(
                compiled.next_time("", t * S).unwrap().next,
                next,
                "from {}",
                show(t * S)
            );
            t += 7;
        }
        t = next / S;
    }
}

#[test]
fn east_of_greenwich_the_hour_before_a_repeat_runs_twice() {
    // Europe/Berlin, 2022-10-30 03:00 CEST became 02:00 CET. Go resolves 02:xx to CET, and Temporal
    // reaches the 02:xx CEST copy by running 01:xx again an hour later: "30 1" fires at 01:30 CEST and
    // 02:30 CEST, "30 2" only at 02:30 CET.
    assert_eq!(
        sequence(
            &cron(&["CRON_TZ=Europe/Berlin 30 1 * * *"]),
            "",
            "2022-10-29T12:00:00Z",
            3
        ),
        [
            "2022-10-29T23:30:00Z",
            "2022-10-30T00:30:00Z",
            "2022-10-31T00:30:00Z"
        ]
    );
    assert_eq!(
        sequence(
            &cron(&["CRON_TZ=Europe/Berlin 30 2 * * *"]),
            "",
            "2022-10-29T12:00:00Z",
            2
        ),
        ["2022-10-30T01:30:00Z", "2022-10-31T01:30:00Z"]
    );
    assert_eq!(
        sequence(
            &cron(&["CRON_TZ=Europe/Berlin 30 2 * * *"]),
            "",
            "2022-03-26T12:00:00Z",
            2
        ),
        ["2022-03-28T00:30:00Z", "2022-03-29T00:30:00Z"]
    );
}

#[test]
fn a_half_hour_gap_resolves_into_the_same_hour() {
    // Lord Howe Island moves from 02:00 to 02:30 (+10:30 to +11): Go reads 02:15 as 02:45, same hour.
    assert_eq!(
        sequence(
            &cron(&["CRON_TZ=Australia/Lord_Howe 15 2 * * *"]),
            "",
            "2022-10-01T00:00:00Z",
            2
        ),
        ["2022-10-01T15:45:00Z", "2022-10-02T15:15:00Z"]
    );
}

#[test]
fn a_skipped_midnight_takes_the_previous_days_weekday() {
    // Santiago skipped 2022-09-11 00:00 (a Sunday); Go resolves that midnight to Saturday 23:00, so
    // Temporal's day-of-week check fails and the whole Sunday is passed over.
    let spec = cron(&["CRON_TZ=America/Santiago 0 * * * sun"]);
    assert_eq!(
        sequence(&spec, "", "2022-09-10T12:00:00Z", 2),
        ["2022-09-18T03:00:00Z", "2022-09-18T04:00:00Z"]
    );
    assert_eq!(
        sequence(&spec, "", "2022-09-04T02:00:00Z", 2),
        ["2022-09-04T04:00:00Z", "2022-09-04T05:00:00Z"]
    );
}

#[test]
fn zone_lookup_follows_go() {
    assert_eq!(Zone::load("").unwrap(), Zone::Utc);
    assert_eq!(Zone::load("UTC").unwrap(), Zone::Utc);
    assert!(matches!(Zone::load("America/New_York"), Ok(Zone::Named(_))));
    assert_eq!(
        Zone::load("Mars/Olympus"),
        Err(SpecError::UnknownTimeZone("Mars/Olympus".into()))
    );
    assert_eq!(
        Zone::load("../etc/passwd"),
        Err(SpecError::InvalidLocationName)
    );
    assert_eq!(
        Zone::load("/etc/passwd"),
        Err(SpecError::InvalidLocationName)
    );
    // Go's time.Date on a skipped local time uses the offset before the change: 02:30 is 01:30 EST.
    let ny = Zone::load("America/New_York").unwrap();
    assert_eq!(
        ny.date(2022, 3, 13, 2, 30, 0),
        at("2022-03-13T06:30:00Z") / S
    );
    // And on a repeated one the first offset Go looks up: EDT in New York, CET in Berlin.
    assert_eq!(
        ny.date(2022, 11, 6, 1, 30, 0),
        at("2022-11-06T05:30:00Z") / S
    );
    let berlin = Zone::load("Europe/Berlin").unwrap();
    assert_eq!(
        berlin.date(2022, 10, 30, 2, 30, 0),
        at("2022-10-30T01:30:00Z") / S
    );
}

// --- Exclusions, start and end times -------------------------------------------------------------

#[test]
fn exclusions_skip_matching_times() {
    #[allow(deprecated)]
    let spec = ScheduleSpec {
        interval: vec![every(90 * MINUTE, 0)],
        exclude_calendar: vec![CalendarSpec {
            hour: "12-14".into(),
            minute: "*".into(),
            second: "*".into(),
            ..Default::default()
        }],
        jitter: dur(S),
        ..Default::default()
    };
    assert_eq!(
        sequence(&spec, "", "2022-03-23T08:00:00Z", 4),
        [
            "2022-03-23T09:00:00.235Z",
            "2022-03-23T10:30:00.139Z",
            "2022-03-23T15:00:00.089Z",
            "2022-03-23T16:30:00.687Z"
        ]
    );
    #[allow(deprecated)]
    let weekdays = ScheduleSpec {
        exclude_calendar: vec![CalendarSpec {
            day_of_week: "sat,sun".into(),
            hour: "*".into(),
            minute: "*".into(),
            second: "*".into(),
            ..Default::default()
        }],
        ..cron(&["0 9 * * *"])
    };
    assert_eq!(
        sequence(&weekdays, "", "2024-01-04T10:00:00Z", 3),
        [
            "2024-01-05T09:00:00Z",
            "2024-01-08T09:00:00Z",
            "2024-01-09T09:00:00Z"
        ]
    );
}

#[test]
fn structured_exclusions_are_not_checked() {
    // Temporal accepts an out-of-range exclusion, which then never matches.
    let spec = ScheduleSpec {
        interval: vec![every(HOUR, 0)],
        exclude_structured_calendar: vec![StructuredCalendarSpec {
            second: vec![range(100, 0, 0)],
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(
        sequence(&spec, "", "2024-01-01T00:00:00Z", 1),
        ["2024-01-01T01:00:00Z"]
    );
    // Negative values and steps make Temporal fail while evaluating; they are refused here.
    let negative = ScheduleSpec {
        exclude_structured_calendar: vec![StructuredCalendarSpec {
            hour: vec![range(-3, 0, 0)],
            ..Default::default()
        }],
        ..spec.clone()
    };
    assert_eq!(
        error(&negative),
        "invalid exclude calendar: Hour has a negative value"
    );
    let negative_step = ScheduleSpec {
        exclude_structured_calendar: vec![StructuredCalendarSpec {
            minute: vec![range(3, 9, -1)],
            ..Default::default()
        }],
        ..spec
    };
    assert_eq!(
        error(&negative_step),
        "invalid exclude calendar: Minute has invalid Step"
    );
}

#[test]
fn excluding_everything_ends_the_schedule() {
    #[allow(deprecated)]
    let weekly = ScheduleSpec {
        interval: vec![every(7 * 24 * HOUR, 0)],
        exclude_calendar: vec![CalendarSpec {
            second: "*".into(),
            minute: "*".into(),
            hour: "*".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let compiled = CompiledSpec::compile(&weekly).unwrap();
    assert_eq!(
        compiled.next_time_checked("", at("2022-03-23T12:53:02.000000009Z")),
        Ok(None),
        "no week before 2101 is free"
    );
}

#[test]
fn a_spec_has_at_most_a_hundred_entries_of_each_kind() {
    let hourly = |count: usize| ScheduleSpec { interval: vec![every(3600 * S, 0); count], ..Default::default() };
    assert!(CompiledSpec::compile(&hourly(100)).is_ok());
    assert_eq!(
        CompiledSpec::compile(&hourly(101)).unwrap_err().to_string(),
        "the spec has 101 calendars, cron strings and intervals; at most 100 are allowed"
    );
    let excluding = ScheduleSpec {
        interval: vec![every(3600 * S, 0)],
        exclude_structured_calendar: vec![StructuredCalendarSpec::default(); 101],
        ..Default::default()
    };
    assert_eq!(
        CompiledSpec::compile(&excluding).unwrap_err().to_string(),
        "the spec has 101 exclusions; at most 100 are allowed"
    );
}

#[test]
fn the_search_gives_up_after_two_weeks_of_excluded_seconds() {
    assert_eq!(MAX_ITERATIONS, 1_209_600);
    #[allow(deprecated)]
    let excluding_days = |days: &str| ScheduleSpec {
        calendar: vec![CalendarSpec {
            second: "*".into(),
            minute: "*".into(),
            hour: "*".into(),
            ..Default::default()
        }],
        exclude_calendar: vec![CalendarSpec {
            second: "*".into(),
            minute: "*".into(),
            hour: "*".into(),
            day_of_month: days.into(),
            month: "1".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let after = at("2022-12-31T23:59:59Z");
    let thirteen_days = CompiledSpec::compile(&excluding_days("1-13")).unwrap();
    let found = thirteen_days.next_time_checked("", after).unwrap().unwrap();
    assert_eq!(show(found.next), "2023-01-14T00:00:00Z");
    let fourteen_days = CompiledSpec::compile(&excluding_days("1-14")).unwrap();
    assert_eq!(
        fourteen_days.next_time_checked("", after),
        Err(SpecError::ComputeLimitExceeded)
    );
    assert_eq!(fourteen_days.next_time("", after), None);
}

#[test]
fn the_start_time_is_the_first_possible_time() {
    let spec = ScheduleSpec {
        interval: vec![every(90 * MINUTE, 0)],
        start_time: timestamp("2022-03-23T12:00:00Z"),
        jitter: dur(S),
        ..Default::default()
    };
    assert_eq!(
        sequence(&spec, "", "2022-03-23T08:00:00Z", 3),
        [
            "2022-03-23T12:00:00.162Z",
            "2022-03-23T13:30:00.587Z",
            "2022-03-23T15:00:00.089Z"
        ]
    );
    // A start time within a second counts from its whole second.
    let hourly = ScheduleSpec {
        interval: vec![every(HOUR, 0)],
        start_time: timestamp("2022-03-23T12:00:00.456Z"),
        ..Default::default()
    };
    assert_eq!(
        sequence(&hourly, "", "2022-03-23T12:00:00.123Z", 1),
        ["2022-03-23T13:00:00Z"]
    );
}

#[test]
fn the_end_time_is_the_last_possible_time() {
    let spec = ScheduleSpec {
        interval: vec![every(90 * MINUTE, 0)],
        end_time: timestamp("2022-03-23T14:00:00Z"),
        jitter: dur(S),
        ..Default::default()
    };
    assert_eq!(
        sequence(&spec, "", "2022-03-23T11:00:00Z", 3),
        [
            "2022-03-23T12:00:00.162Z",
            "2022-03-23T13:30:00.587Z",
            "END"
        ]
    );
    let inclusive = ScheduleSpec {
        interval: vec![every(HOUR, 0)],
        end_time: timestamp("2022-03-23T13:00:00Z"),
        ..Default::default()
    };
    assert_eq!(
        sequence(&inclusive, "", "2022-03-23T11:00:00Z", 3),
        ["2022-03-23T12:00:00Z", "2022-03-23T13:00:00Z", "END"]
    );
}

// --- Jitter ------------------------------------------------------------------------------------

#[test]
fn jitter_matches_temporal_bit_for_bit() {
    let daily = ScheduleSpec {
        interval: vec![every(24 * HOUR, 0)],
        jitter: dur(HOUR),
        ..Default::default()
    };
    assert_eq!(
        sequence(&daily, "", "2022-03-23T11:00:00Z", 1),
        ["2022-03-24T00:35:24.276Z"]
    );
    assert_eq!(
        sequence(&daily, "seed-1", "2022-03-23T11:00:00Z", 1),
        ["2022-03-24T00:06:12.519Z"]
    );
    assert_eq!(
        sequence(&daily, "seed-2", "2022-03-23T11:00:00Z", 1),
        ["2022-03-24T00:39:16.922Z"]
    );
    // A seed longer than nine bytes takes the hash's long-input path.
    let hourly = ScheduleSpec {
        interval: vec![every(HOUR, 0)],
        jitter: dur(30 * MINUTE),
        ..Default::default()
    };
    assert_eq!(
        sequence(
            &hourly,
            "f81d4fae-7dec-11d0-a765-00a0c91e6bf6-nightly-report",
            "2024-01-01T00:00:00Z",
            3
        ),
        [
            "2024-01-01T01:29:17.125Z",
            "2024-01-01T02:02:22.134Z",
            "2024-01-01T03:11:35.121Z"
        ]
    );
    let once = |jitter| ScheduleSpec {
        calendar: vec![CalendarSpec {
            hour: "13".into(),
            minute: "55".into(),
            day_of_month: "7".into(),
            month: "4".into(),
            year: "2022".into(),
            ..Default::default()
        }],
        jitter,
        ..Default::default()
    };
    assert_eq!(
        sequence(&once(None), "", "2022-03-23T11:00:00Z", 2),
        ["2022-04-07T13:55:00Z", "END"]
    );
    assert_eq!(
        sequence(&once(dur(HOUR)), "", "2022-03-23T11:00:00Z", 1),
        ["2022-04-07T13:57:26.927Z"]
    );
}

#[test]
fn jitter_stays_before_the_following_nominal_time() {
    let spec = ScheduleSpec {
        interval: vec![every(90 * MINUTE, 0)],
        jitter: dur(24 * HOUR),
        ..Default::default()
    };
    assert_eq!(
        sequence(&spec, "", "2022-03-23T11:00:00Z", 3),
        [
            "2022-03-23T12:14:36.524Z",
            "2022-03-23T14:22:54.562Z",
            "2022-03-23T15:08:03.724Z"
        ]
    );
    let close = ScheduleSpec {
        jitter: dur(HOUR),
        ..cron(&["0 12 * * *", "1 12 * * *"])
    };
    assert_eq!(
        sequence(&close, "seed", "2024-01-01T00:00:00Z", 3),
        [
            "2024-01-01T12:00:48.417Z",
            "2024-01-01T12:06:44.830Z",
            "2024-01-02T12:00:04.287Z"
        ]
    );
}

#[test]
fn jitter_is_deterministic_and_within_bounds() {
    let spec = ScheduleSpec {
        interval: vec![every(HOUR, 0)],
        jitter: dur(10 * MINUTE),
        ..Default::default()
    };
    let compiled = CompiledSpec::compile(&spec).unwrap();
    let mut after = at("2024-01-01T00:00:00Z");
    let mut distinct = std::collections::BTreeSet::new();
    for _ in 0..500 {
        let NextTime { nominal, next } = compiled.next_time("ns-schedule", after).unwrap();
        assert_eq!(nominal % HOUR, 0);
        assert!(
            (0..10 * MINUTE).contains(&(next - nominal)),
            "{}",
            show(next)
        );
        assert_eq!((next - nominal) % 1_000_000, 0, "whole milliseconds");
        assert_eq!(
            compiled.next_time("ns-schedule", after),
            Some(NextTime { nominal, next })
        );
        assert_eq!(
            compiled.next_time("ns-schedule", nominal - 1).unwrap().next,
            next,
            "depends on the nominal time only"
        );
        distinct.insert(next - nominal);
        after = next;
    }
    assert!(
        distinct.len() > 450,
        "spread over the range: {}",
        distinct.len()
    );
    let negative = ScheduleSpec {
        jitter: Some(prost_types::Duration {
            seconds: -60,
            nanos: 0,
        }),
        ..spec
    };
    let t = CompiledSpec::compile(&negative)
        .unwrap()
        .next_time("x", 0)
        .unwrap();
    assert_eq!(t.next, t.nominal);
}

#[test]
fn fingerprint32_matches_go_farm() {
    let input = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let expected: [(usize, u32); 16] = [
        (0, 0xdc56d17a),
        (1, 0x3c973d4d),
        (3, 0x2f635ec7),
        (4, 0x98b51e95),
        (5, 0xa3f366ac),
        (8, 0xfd7ec8b9),
        (12, 0x697662d2),
        (13, 0x6adbd09c),
        (15, 0xe8f53e30),
        (20, 0xed51ea9d),
        (24, 0x0d4652a4),
        (25, 0x6e629503),
        (30, 0xf94ef591),
        (40, 0x839e030c),
        (45, 0x1bd9ddf7),
        (62, 0x01aea114),
    ];
    for (len, hash) in expected {
        assert_eq!(fingerprint32(&input[..len]), hash, "length {len}");
    }
    assert_eq!(
        fingerprint32(&[0xff, 0x80, 0x7f]),
        0x31ea1ac2,
        "bytes are signed in the short path"
    );
}

// --- Canonical form ----------------------------------------------------------------------------

#[test]
fn the_canonical_spec_has_only_structured_calendars_and_intervals() {
    #[allow(deprecated)]
    let spec = ScheduleSpec {
        calendar: vec![CalendarSpec {
            hour: "5,7".into(),
            minute: "23".into(),
            ..Default::default()
        }],
        cron_string: vec![
            "CRON_TZ=Europe/London 0 12 * * * # lunch".into(),
            "TZ=Europe/London @every 2h/1h".into(),
        ],
        exclude_calendar: vec![CalendarSpec {
            month: "dec".into(),
            ..Default::default()
        }],
        structured_calendar: vec![StructuredCalendarSpec {
            hour: vec![range(9, 0, 0)],
            ..Default::default()
        }],
        jitter: dur(5 * MINUTE),
        start_time: timestamp("2022-03-23T00:00:00Z"),
        ..Default::default()
    };
    let cleaned = |ranges: &[(i32, i32)]| {
        ranges
            .iter()
            .map(|&(s, e)| range(s, e, 1))
            .collect::<Vec<_>>()
    };
    #[allow(deprecated)]
    let expected = ScheduleSpec {
        structured_calendar: vec![
            StructuredCalendarSpec {
                hour: vec![range(9, 9, 1)],
                ..Default::default()
            },
            StructuredCalendarSpec {
                second: cleaned(&[(0, 0)]),
                minute: cleaned(&[(23, 23)]),
                hour: cleaned(&[(5, 5), (7, 7)]),
                day_of_month: cleaned(&[(1, 31)]),
                month: cleaned(&[(1, 12)]),
                day_of_week: cleaned(&[(0, 6)]),
                ..Default::default()
            },
            StructuredCalendarSpec {
                second: cleaned(&[(0, 0)]),
                minute: cleaned(&[(0, 0)]),
                hour: cleaned(&[(12, 12)]),
                day_of_month: cleaned(&[(1, 31)]),
                month: cleaned(&[(1, 12)]),
                day_of_week: cleaned(&[(0, 6)]),
                comment: "lunch".into(),
                ..Default::default()
            },
        ],
        interval: vec![every(2 * HOUR, HOUR)],
        exclude_structured_calendar: vec![StructuredCalendarSpec {
            second: cleaned(&[(0, 0)]),
            minute: cleaned(&[(0, 0)]),
            hour: cleaned(&[(0, 0)]),
            day_of_month: cleaned(&[(1, 31)]),
            month: cleaned(&[(12, 12)]),
            day_of_week: cleaned(&[(0, 6)]),
            ..Default::default()
        }],
        jitter: dur(5 * MINUTE),
        start_time: timestamp("2022-03-23T00:00:00Z"),
        timezone_name: "Europe/London".into(),
        ..Default::default()
    };
    // The two cron strings disagree on the zone (`@every` has none), so this spec is refused...
    assert_eq!(error(&spec), "conflicting timezone names");
    // ...and accepted once they agree.
    let spec = ScheduleSpec {
        cron_string: vec![spec.cron_string[0].clone()],
        interval: vec![every(2 * HOUR, HOUR)],
        ..spec
    };
    assert_eq!(
        CompiledSpec::compile(&spec).unwrap().canonical_spec(),
        expected
    );
    // Canonical specs compile to themselves.
    assert_eq!(
        CompiledSpec::compile(&expected).unwrap().canonical_spec(),
        expected
    );
    assert_eq!(
        CompiledSpec::compile(&ScheduleSpec::default())
            .unwrap()
            .canonical_spec(),
        ScheduleSpec::default()
    );
}

// --- Errors ------------------------------------------------------------------------------------

#[test]
fn bad_cron_strings_say_what_is_wrong() {
    for (cron_string, message) in [
        ("61 * * * *", "Minute is not in range [0-59]"),
        ("* * * *", "CronString does not have 5-7 fields"),
        ("5 5 5 5 5 5 5 5", "CronString does not have 5-7 fields"),
        (
            "CRON_TZ=America/New_York",
            "CronString has time zone but missing fields",
        ),
        ("@every", "CronString does not have interval after @every"),
        ("@every 5x", "time: unknown unit \"x\" in duration \"5x\""),
        ("@every 1h/x", "time: invalid duration \"x\""),
        ("@every 0.5s", "interval is too small"),
        ("@every 1h/2h", "phase cannot be greater than Interval"),
        ("*/x * * * *", "strconv.Atoi: parsing \"x\": invalid syntax"),
        (
            "CRON_TZ=Mars/Olympus 0 * * * *",
            "unknown time zone Mars/Olympus",
        ),
        ("0 0 30 2 mon 1999", "Year is not in range [2000-2100]"),
        ("1-2-3 * * * *", "Minute has too many dashes"),
        ("1/2/3 * * * *", "Minute has too many slashes"),
        ("5/ * * * *", "Minute missing step value"),
        ("@fortnightly", "CronString does not have 5-7 fields"),
    ] {
        assert_eq!(error(&cron(&[cron_string])), message, "{cron_string}");
    }
}

#[test]
fn conflicting_zones_are_refused() {
    let conflict = Err(SpecError::ConflictingTimezoneNames);
    let with_zone = ScheduleSpec {
        timezone_name: "Europe/London".into(),
        ..cron(&["CRON_TZ=America/New_York 23 5,7 * * *"])
    };
    assert_eq!(CompiledSpec::compile(&with_zone).map(|_| ()), conflict);
    for crons in [
        [
            "CRON_TZ=Europe/London 23 5,7 * * *",
            "CRON_TZ=America/New_York 23 5,7 * * *",
        ],
        ["CRON_TZ=Europe/London 23 5,7 * * *", "23 5,7 * * *"],
        ["23 5,7 * * *", "CRON_TZ=Europe/London 23 5,7 * * *"],
    ] {
        assert_eq!(
            CompiledSpec::compile(&cron(&crons)).map(|_| ()),
            conflict,
            "{crons:?}"
        );
    }
    // A cron string without a zone leaves the spec's alone.
    let plain = ScheduleSpec {
        timezone_name: "Europe/London".into(),
        ..cron(&["23 5,7 * * *"])
    };
    assert_eq!(
        CompiledSpec::compile(&plain)
            .unwrap()
            .canonical_spec()
            .timezone_name,
        "Europe/London"
    );
    assert_eq!(
        SpecError::ConflictingTimezoneNames.to_string(),
        "conflicting timezone names"
    );
}

#[test]
fn unknown_zones_are_refused() {
    let spec = ScheduleSpec {
        timezone_name: "Mars/Olympus".into(),
        ..Default::default()
    };
    assert_eq!(error(&spec), "unknown time zone Mars/Olympus");
    let spec = ScheduleSpec {
        timezone_name: "../etc/passwd".into(),
        ..Default::default()
    };
    assert_eq!(error(&spec), "time: invalid location name");
    let spec = ScheduleSpec {
        timezone_name: "Europe/Paris".into(),
        timezone_data: b"TZif".to_vec(),
        ..Default::default()
    };
    assert_eq!(
        CompiledSpec::compile(&spec).map(|_| ()),
        Err(SpecError::TimezoneDataUnsupported)
    );
}

#[test]
fn out_of_range_structured_calendars_are_refused() {
    for (cal, message) in [
        (StructuredCalendarSpec { second: vec![range(100, 0, 0)], ..Default::default() }, "Second Start is not in range [0-59]"),
        (StructuredCalendarSpec { second: vec![range(-3, 0, 0)], ..Default::default() }, "Second Start is not in range [0-59]"),
        (StructuredCalendarSpec { second: vec![range(30, 60, 0)], ..Default::default() }, "Second End is before Start or not in range [0-59]"),
        (StructuredCalendarSpec { second: vec![range(30, 40, -3)], ..Default::default() }, "Second has invalid Step"),
        (StructuredCalendarSpec { minute: vec![range(60, 0, 0)], ..Default::default() }, "Minute Start is not in range [0-59]"),
        (StructuredCalendarSpec { hour: vec![range(0, 24, 0)], ..Default::default() }, "Hour End is before Start or not in range [0-23]"),
        (StructuredCalendarSpec { hour: vec![range(16, 12, 0)], ..Default::default() }, "Hour End is before Start or not in range [0-23]"),
        (
            StructuredCalendarSpec { day_of_month: vec![range(0, 33, 0)], ..Default::default() },
            "DayOfMonth Start is not in range [1-31], DayOfMonth End is before Start or not in range [1-31]",
        ),
        (StructuredCalendarSpec { month: vec![range(0, 0, 0)], ..Default::default() }, "Month Start is not in range [1-12]"),
        (StructuredCalendarSpec { day_of_week: vec![range(6, 7, 0)], ..Default::default() }, "DayOfWeek End is before Start or not in range [0-6]"),
        (StructuredCalendarSpec { year: vec![range(1999, 0, 0)], ..Default::default() }, "Year Start is not in range [2000-2100]"),
        (StructuredCalendarSpec { comment: "x".repeat(201), ..Default::default() }, "comment is too long"),
    ] {
        let spec = ScheduleSpec { structured_calendar: vec![cal], ..Default::default() };
        assert_eq!(error(&spec), format!("invalid calendar spec: {message}"));
    }
    let spec = calendar(CalendarSpec {
        minute: "60".into(),
        hour: "x".into(),
        month: "smarch".into(),
        ..Default::default()
    });
    assert_eq!(
        error(&spec),
        "Minute is not in range [0-59], Hour is not in range [0-23], Month is not in range [1-12]"
    );
}

#[test]
fn bad_intervals_are_refused() {
    let with = |interval: Option<prost_types::Duration>, phase: Option<prost_types::Duration>| {
        error(&ScheduleSpec {
            interval: vec![IntervalSpec { interval, phase }],
            ..Default::default()
        })
    };
    assert_eq!(with(dur(-HOUR), None), "interval is too small");
    assert_eq!(with(None, None), "interval is too small");
    assert_eq!(with(dur(999_999_999), None), "interval is too small");
    assert_eq!(with(dur(HOUR), dur(-S)), "phase is negative");
    assert_eq!(
        with(dur(HOUR), dur(HOUR)),
        "phase cannot be greater than Interval"
    );
    assert_eq!(
        with(Some(prost_types::Duration { seconds: 60, nanos: -5 }), None),
        "interval is not a valid duration: proto: duration (seconds:60 nanos:-5) has seconds and nanos with different signs"
    );
    assert_eq!(
        with(dur(HOUR), Some(prost_types::Duration { seconds: 400_000_000_000, nanos: 0 })),
        "phase is not a valid duration: proto: duration (seconds:400000000000 nanos:0) exceeds +10000 years"
    );
}

#[test]
fn durations_parse_as_in_temporal() {
    assert_eq!(parse_duration("1.5h"), Ok(90 * MINUTE));
    assert_eq!(parse_duration("1d12h"), Ok(36 * HOUR));
    assert_eq!(parse_duration(".5d"), Ok(12 * HOUR));
    assert_eq!(
        parse_duration("1h30m15.5s"),
        Ok(HOUR + 30 * MINUTE + 15 * S + 500_000_000)
    );
    assert_eq!(parse_duration("-2m"), Ok(-2 * MINUTE));
    assert_eq!(parse_duration("0"), Ok(0));
    assert_eq!(parse_duration("100ns1µs1us"), Ok(2_100));
    assert_eq!(
        parse_duration("1"),
        Err("time: missing unit in duration \"1\"".into())
    );
    assert_eq!(
        parse_duration(""),
        Err("time: invalid duration \"\"".into())
    );
    assert_eq!(
        parse_duration("1.5.5d"),
        Err("time: missing unit in duration \"1.132.000000h\"".into())
    );
    assert_eq!(
        parse_duration("3w"),
        Err("time: unknown unit \"w\" in duration \"3w\"".into())
    );
    assert_eq!(
        parse_duration("9223372036854775808ns"),
        Err("time: invalid duration \"9223372036854775808ns\"".into())
    );
    assert_eq!(parse_duration("-9223372036854775808ns"), Ok(i64::MIN));
    assert_eq!(parse_duration("1.d"), Ok(24 * HOUR));
    assert_eq!(
        parse_duration("1e3d"),
        Err("time: unknown unit \"e\" in duration \"1e72.000000h\"".into())
    );
    assert_eq!(
        parse_duration("2.5.d"),
        Err("time: missing unit in duration \"2.120.000000h\"".into())
    );
}
