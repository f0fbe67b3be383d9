//! Values as the index stores and compares them: search attribute payloads
//! decoded into typed rows, RFC 3339 times and Temporal's duration syntax
//! turned into nanoseconds.

use rusqlite::types::Value;
use temper_proto::api::common::v1::Payload;
use temper_proto::api::enums::v1::IndexedValueType;

/// How a search attribute value is stored in `search_attributes.kind`; a
/// query compares only rows of the kind its attribute's type reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Keyword, KeywordList (a row per element) and Text: TEXT.
    String = 1,
    /// Int and Double: INTEGER or REAL, compared numerically.
    Number = 2,
    /// Bool: INTEGER 0 or 1.
    Bool = 3,
    /// Datetime: INTEGER nanoseconds since the Unix epoch, UTC.
    Datetime = 4,
}

impl Kind {
    pub(super) fn of(value_type: IndexedValueType) -> Kind {
        match value_type {
            IndexedValueType::Int | IndexedValueType::Double => Kind::Number,
            IndexedValueType::Bool => Kind::Bool,
            IndexedValueType::Datetime => Kind::Datetime,
            IndexedValueType::Keyword
            | IndexedValueType::KeywordList
            | IndexedValueType::Text
            | IndexedValueType::Unspecified => Kind::String,
        }
    }
}

/// The name Temporal's API gives a type (`IndexedValueType.String()` in Go).
pub(super) fn type_name(value_type: IndexedValueType) -> &'static str {
    match value_type {
        IndexedValueType::Unspecified => "Unspecified",
        IndexedValueType::Text => "Text",
        IndexedValueType::Keyword => "Keyword",
        IndexedValueType::Int => "Int",
        IndexedValueType::Double => "Double",
        IndexedValueType::Bool => "Bool",
        IndexedValueType::Datetime => "Datetime",
        IndexedValueType::KeywordList => "KeywordList",
    }
}

/// The type a payload's `type` metadata names, as Temporal's
/// `IndexedValueTypeFromString` reads it: `Keyword` or `INDEXED_VALUE_TYPE_KEYWORD`.
fn type_from_metadata(name: &[u8]) -> Option<IndexedValueType> {
    let name = std::str::from_utf8(name).ok()?;
    [
        IndexedValueType::Text,
        IndexedValueType::Keyword,
        IndexedValueType::Int,
        IndexedValueType::Double,
        IndexedValueType::Bool,
        IndexedValueType::Datetime,
        IndexedValueType::KeywordList,
    ]
    .into_iter()
    .find(|candidate| candidate.as_str_name() == name || type_name(*candidate) == name)
}

/// The rows one search attribute value is indexed as. The payload's `type`
/// metadata (which Temporal's SDKs and server set) decides how its JSON is
/// read; a value whose JSON does not fit that type is not indexed. Without
/// the metadata the JSON decides: a string is a Keyword (and a Datetime too
/// when it is an RFC 3339 time), a number a Double, a boolean a Bool, an
/// array of strings a KeywordList. `binary/null` (a removed value) and
/// other encodings index nothing.
pub(super) fn decode_search_attribute(name: &str, payload: &Payload) -> Vec<(Kind, Value)> {
    let encoding = payload.metadata.get("encoding").map(Vec::as_slice);
    match encoding {
        Some(b"json/plain") => {}
        Some(b"binary/null") => return Vec::new(),
        other => {
            tracing::debug!(name, encoding = ?other.map(String::from_utf8_lossy), "not indexing a search attribute that is not JSON");
            return Vec::new();
        }
    }
    let json: serde_json::Value = match serde_json::from_slice(&payload.data) {
        Ok(json) => json,
        Err(error) => {
            tracing::debug!(name, %error, "not indexing a search attribute whose JSON does not parse");
            return Vec::new();
        }
    };
    if json.is_null() {
        return Vec::new();
    }
    let declared = payload.metadata.get("type").and_then(|t| type_from_metadata(t));
    let rows = match declared {
        Some(value_type) => typed_rows(value_type, &json),
        None => inferred_rows(&json),
    };
    match rows {
        Some(rows) => rows,
        None => {
            tracing::debug!(name, ?declared, %json, "not indexing a search attribute whose value does not fit its type");
            Vec::new()
        }
    }
}

fn typed_rows(value_type: IndexedValueType, json: &serde_json::Value) -> Option<Vec<(Kind, Value)>> {
    use serde_json::Value as Json;
    let strings = |json: &Json| -> Option<Vec<(Kind, Value)>> {
        match json {
            Json::String(s) => Some(vec![(Kind::String, Value::Text(s.clone()))]),
            // Lists of keywords predate the KeywordList type: old SDKs send
            // them typed Keyword.
            Json::Array(items) => {
                items.iter().map(|item| Some((Kind::String, Value::Text(item.as_str()?.to_owned())))).collect()
            }
            _ => None,
        }
    };
    match value_type {
        IndexedValueType::Keyword | IndexedValueType::KeywordList | IndexedValueType::Text => strings(json),
        IndexedValueType::Int => Some(vec![(Kind::Number, Value::Integer(json.as_i64()?))]),
        IndexedValueType::Double => Some(vec![(Kind::Number, number(json)?)]),
        IndexedValueType::Bool => Some(vec![(Kind::Bool, Value::Integer(json.as_bool()? as i64))]),
        IndexedValueType::Datetime => Some(vec![(Kind::Datetime, Value::Integer(parse_rfc3339(json.as_str()?)?))]),
        IndexedValueType::Unspecified => inferred_rows(json),
    }
}

fn inferred_rows(json: &serde_json::Value) -> Option<Vec<(Kind, Value)>> {
    use serde_json::Value as Json;
    match json {
        Json::String(s) => {
            let mut rows = vec![(Kind::String, Value::Text(s.clone()))];
            if let Some(nanos) = parse_rfc3339(s) {
                rows.push((Kind::Datetime, Value::Integer(nanos)));
            }
            Some(rows)
        }
        Json::Number(_) => Some(vec![(Kind::Number, number(json)?)]),
        Json::Bool(b) => Some(vec![(Kind::Bool, Value::Integer(*b as i64))]),
        Json::Array(items) => {
            items.iter().map(|item| Some((Kind::String, Value::Text(item.as_str()?.to_owned())))).collect()
        }
        _ => None,
    }
}

fn number(json: &serde_json::Value) -> Option<Value> {
    match json.as_i64() {
        Some(integer) => Some(Value::Integer(integer)),
        None => json.as_f64().filter(|f| f.is_finite()).map(Value::Real),
    }
}

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Parses an RFC 3339 time (`2024-01-31T15:04:05Z`, `…05.123456789+02:00`)
/// into nanoseconds since the Unix epoch, as Go's `time.Parse(time.RFC3339Nano, …)`
/// reads it: a time zone is required, a fraction of any length is optional
/// (digits past nanoseconds are dropped). `None` for anything else or a
/// time outside what nanoseconds in an i64 reach (1677 to 2262).
pub(super) fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter().try_fold(0i64, |acc, d| acc.checked_mul(10)?.checked_add((d - b'0') as i64))
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut at = 19;
    let mut fraction: i128 = 0;
    if b[at] == b'.' {
        let start = at + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == start {
            return None;
        }
        let mut scale = NANOS_PER_SECOND;
        for &d in &b[start..end] {
            scale /= 10;
            fraction += (d - b'0') as i128 * scale;
        }
        at = end;
    }
    let offset_seconds: i64 = match b.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let field = |hi: u8, lo: u8| -> Option<i64> {
                (hi.is_ascii_digit() && lo.is_ascii_digit()).then(|| ((hi - b'0') * 10 + (lo - b'0')) as i64)
            };
            let (hours, minutes) = (field(*h1, *h2)?, field(*m1, *m2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days as i128 * 86_400 + (hour * 3600 + minute * 60 + second - offset_seconds) as i128;
    i64::try_from(seconds * NANOS_PER_SECOND + fraction).ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Formats nanoseconds since the epoch as RFC 3339 in UTC (for messages and tests).
#[cfg(test)]
pub(super) fn format_rfc3339(nanos: i64) -> String {
    let seconds = nanos.div_euclid(1_000_000_000);
    let fraction = nanos.rem_euclid(1_000_000_000);
    let days = seconds.div_euclid(86_400);
    let in_day = seconds.rem_euclid(86_400);
    // civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:09}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// An ExecutionDuration literal in nanoseconds, as Temporal's
/// `ParseExecutionDurationStr` reads it: an integer count of nanoseconds, a
/// Go duration (`300ms`, `-1.5h`, `2h45m`) that may also use `d` for days of
/// 24 hours, or `hh:mm:ss`.
pub(super) fn parse_execution_duration(text: &str) -> Option<i64> {
    if let Ok(nanos) = text.parse::<i64>() {
        return Some(nanos);
    }
    parse_go_duration(text).or_else(|| parse_hh_mm_ss(text))
}

/// Go's `time.ParseDuration`, plus the unit `d` of Temporal's `timestamp.ParseDuration`.
fn parse_go_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let integer_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let integer: i128 = if integer_digits == 0 { 0 } else { rest[..integer_digits].parse().ok()? };
        rest = &rest[integer_digits..];
        let mut fraction = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let fraction_digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            fraction = &after_dot[..fraction_digits];
            rest = &after_dot[fraction_digits..];
        }
        if integer_digits == 0 && fraction.is_empty() {
            return None;
        }
        let unit_length = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let unit: i128 = match &rest[..unit_length] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "h" => 3_600 * NANOS_PER_SECOND,
            "d" => 86_400 * NANOS_PER_SECOND,
            _ => return None,
        };
        rest = &rest[unit_length..];
        let mut part = integer.checked_mul(unit)?;
        let mut scale = 1i128;
        let mut fraction_value = 0i128;
        for d in fraction.bytes().take(30) {
            scale *= 10;
            fraction_value = fraction_value * 10 + (d - b'0') as i128;
        }
        if !fraction.is_empty() {
            part += fraction_value * unit / scale;
        }
        total = total.checked_add(part)?;
        if total > i64::MAX as i128 + 1 {
            return None;
        }
    }
    let total = if negative { -total } else { total };
    i64::try_from(total).ok()
}

fn parse_hh_mm_ss(text: &str) -> Option<i64> {
    let mut parts = text.split(':');
    let (hours, minutes, seconds) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (hours, minutes, seconds): (i64, i64, i64) =
        (hours.parse().ok()?, minutes.parse().ok()?, seconds.parse().ok()?);
    if hours < 0 || !(0..=59).contains(&minutes) || !(0..=59).contains(&seconds) {
        return None;
    }
    hours.checked_mul(3_600)?.checked_add(minutes * 60 + seconds)?.checked_mul(1_000_000_000)
}

/// Whether a Text value matches a Text query value the way Temporal's SQLite
/// visibility does (an FTS5 `MATCH` of `"token1" OR "token2" …`): the query
/// is split at spaces, and it matches when any of its tokens occurs in the
/// stored text as a phrase, comparing words case-insensitively and splitting
/// at every character that is not a letter or digit.
pub(super) fn text_matches(stored: &str, query: &str) -> bool {
    let words: Vec<String> = words(stored).collect();
    query.split(' ').filter(|token| !token.is_empty()).any(|token| {
        let phrase: Vec<String> = words_of(token);
        !phrase.is_empty() && words.windows(phrase.len()).any(|window| window == phrase.as_slice())
    })
}

fn words_of(text: &str) -> Vec<String> {
    words(text).collect()
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).map(str::to_lowercase)
}

/// The tokens Temporal finds in a Text query value; none is an error.
pub(super) fn text_query_has_tokens(query: &str) -> bool {
    query.split(' ').any(|token| !token.is_empty())
}
