//! Runtime values: the engine's static types ([`Ty`]), the borrowed evaluation value ([`Val`]),
//! conversions to and from table cells ([`Value`]), comparison, and hashing for group keys.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::Value as Json;

use super::{ColumnType, Value};

/// 100-nanosecond ticks, Kusto's timespan unit.
pub(super) const TICKS_PER_SEC: i64 = 10_000_000;
pub(super) const TICKS_PER_MINUTE: i64 = 60 * TICKS_PER_SEC;
pub(super) const TICKS_PER_HOUR: i64 = 60 * TICKS_PER_MINUTE;
pub(super) const TICKS_PER_DAY: i64 = 24 * TICKS_PER_HOUR;
/// Ticks from 0001-01-01 (Kusto's and .NET's datetime origin) to the Unix epoch. `bin()` on
/// datetimes aligns to that origin, which matters for bins that do not divide a day (`7d`).
const TICKS_0001_TO_UNIX: i64 = 621_355_968_000_000_000;

/// A static (compile-time) type. `TimeSpan` exists only inside the engine: in rows it is stored
/// as `Value::Long` ticks and in the output it becomes a string (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    Bool,
    Int,
    Long,
    Real,
    DateTime,
    TimeSpan,
    String,
    Dynamic,
}

impl Ty {
    pub(super) fn from_column(t: ColumnType) -> Ty {
        match t {
            ColumnType::String => Ty::String,
            ColumnType::DateTime => Ty::DateTime,
            ColumnType::Int64 => Ty::Long,
            ColumnType::Int32 => Ty::Int,
            ColumnType::Double => Ty::Real,
            ColumnType::Boolean => Ty::Bool,
            ColumnType::Dynamic => Ty::Dynamic,
        }
    }

    pub(super) fn to_column(self) -> ColumnType {
        match self {
            Ty::Bool => ColumnType::Boolean,
            Ty::Int => ColumnType::Int32,
            Ty::Long => ColumnType::Int64,
            Ty::Real => ColumnType::Double,
            Ty::DateTime => ColumnType::DateTime,
            Ty::TimeSpan | Ty::String => ColumnType::String,
            Ty::Dynamic => ColumnType::Dynamic,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Long => "long",
            Ty::Real => "real",
            Ty::DateTime => "datetime",
            Ty::TimeSpan => "timespan",
            Ty::String => "string",
            Ty::Dynamic => "dynamic",
        }
    }

    /// The .NET type name `getschema` reports in `DataType`.
    pub(super) fn clr_name(self) -> &'static str {
        match self {
            Ty::Bool => "System.SByte",
            Ty::Int => "System.Int32",
            Ty::Long => "System.Int64",
            Ty::Real => "System.Double",
            Ty::DateTime => "System.DateTime",
            Ty::TimeSpan => "System.TimeSpan",
            Ty::String => "System.String",
            Ty::Dynamic => "System.Object",
        }
    }

    pub(super) fn is_numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Long | Ty::Real)
    }

    /// The type names `to typeof(...)` accepts.
    pub(super) fn from_type_name(name: &str) -> Option<Ty> {
        Some(match name {
            "bool" | "boolean" => Ty::Bool,
            "int" => Ty::Int,
            "long" => Ty::Long,
            "real" | "double" => Ty::Real,
            "datetime" | "date" => Ty::DateTime,
            "timespan" | "time" => Ty::TimeSpan,
            "string" => Ty::String,
            "dynamic" => Ty::Dynamic,
            _ => return None,
        })
    }
}

/// A value during evaluation. Strings and JSON borrow from the row or the compiled query
/// whenever possible, so filters and group keys do not allocate.
#[derive(Debug, Clone)]
pub(super) enum Val<'a> {
    Null,
    Bool(bool),
    /// Both `int` and `long`; the static type tells them apart.
    Long(i64),
    Real(f64),
    Date(DateTime<Utc>),
    /// Ticks (100 ns).
    Span(i64),
    Str(Cow<'a, str>),
    Dyn(Cow<'a, Json>),
}

impl<'a> Val<'a> {
    pub(super) fn str(s: &'a str) -> Val<'a> {
        Val::Str(Cow::Borrowed(s))
    }

    pub(super) fn string(s: String) -> Val<'a> {
        Val::Str(Cow::Owned(s))
    }

    pub(super) fn json(j: Json) -> Val<'a> {
        Val::Dyn(Cow::Owned(j))
    }

    /// Reads a cell whose column has static type `ty`.
    pub(super) fn from_cell(cell: &'a Value, ty: Ty) -> Val<'a> {
        match cell {
            Value::Null if ty == Ty::String => Val::str(""),
            Value::Null => Val::Null,
            Value::String(s) => Val::str(s),
            Value::DateTime(d) => Val::Date(*d),
            Value::Long(n) if ty == Ty::TimeSpan => Val::Span(*n),
            Value::Long(n) => Val::Long(*n),
            Value::Int(n) => Val::Long(i64::from(*n)),
            Value::Real(f) => Val::Real(*f),
            Value::Bool(b) => Val::Bool(*b),
            Value::Dynamic(Json::Null) => Val::Null,
            Value::Dynamic(j) => Val::Dyn(Cow::Borrowed(j)),
        }
    }

    /// Stores the value in a row cell of static type `ty`.
    pub(super) fn into_cell(self, ty: Ty) -> Value {
        if self.is_null() {
            return if ty == Ty::String {
                Value::String(String::new())
            } else {
                Value::Null
            };
        }
        match ty {
            Ty::String => Value::String(self.into_kstring()),
            Ty::Dynamic => match self.into_json() {
                Json::Null => Value::Null,
                j => Value::Dynamic(j),
            },
            Ty::Bool => self.as_bool().map_or(Value::Null, Value::Bool),
            Ty::Int => self.as_i64().map_or(Value::Null, |n| Value::Int(n as i32)),
            Ty::Long => self.as_i64().map_or(Value::Null, Value::Long),
            Ty::Real => self.as_f64().map_or(Value::Null, Value::Real),
            Ty::DateTime => match self.unwrap_dyn() {
                Val::Date(d) => Value::DateTime(d),
                Val::Str(s) => parse_datetime(&s).map_or(Value::Null, Value::DateTime),
                _ => Value::Null,
            },
            Ty::TimeSpan => match self {
                Val::Span(t) => Value::Long(t),
                _ => Value::Null,
            },
        }
    }

    /// A borrowed view of `self`.
    pub(super) fn view(&self) -> Val<'_> {
        match self {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(*b),
            Val::Long(n) => Val::Long(*n),
            Val::Real(f) => Val::Real(*f),
            Val::Date(d) => Val::Date(*d),
            Val::Span(t) => Val::Span(*t),
            Val::Str(s) => Val::Str(Cow::Borrowed(s)),
            Val::Dyn(j) => Val::Dyn(Cow::Borrowed(j)),
        }
    }

    pub(super) fn into_static(self) -> Val<'static> {
        match self {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(b),
            Val::Long(n) => Val::Long(n),
            Val::Real(f) => Val::Real(f),
            Val::Date(d) => Val::Date(d),
            Val::Span(t) => Val::Span(t),
            Val::Str(s) => Val::Str(Cow::Owned(s.into_owned())),
            Val::Dyn(j) => Val::Dyn(Cow::Owned(j.into_owned())),
        }
    }

    pub(super) fn is_null(&self) -> bool {
        match self {
            Val::Null => true,
            Val::Dyn(j) => j.is_null(),
            _ => false,
        }
    }

    /// Turns a dynamic scalar (string, number, bool, null) into the matching plain value;
    /// arrays and objects stay dynamic.
    pub(super) fn unwrap_dyn(self) -> Val<'a> {
        match self {
            Val::Dyn(Cow::Borrowed(j)) => match j {
                Json::Null => Val::Null,
                Json::Bool(b) => Val::Bool(*b),
                Json::Number(n) => number_val(n),
                Json::String(s) => Val::str(s),
                _ => Val::Dyn(Cow::Borrowed(j)),
            },
            Val::Dyn(Cow::Owned(j)) => match j {
                Json::Null => Val::Null,
                Json::Bool(b) => Val::Bool(b),
                Json::Number(n) => number_val(&n),
                Json::String(s) => Val::string(s),
                j => Val::json(j),
            },
            other => other,
        }
    }

    pub(super) fn as_bool(&self) -> Option<bool> {
        match self {
            Val::Bool(b) => Some(*b),
            Val::Dyn(j) => j.as_bool(),
            _ => None,
        }
    }

    pub(super) fn as_i64(&self) -> Option<i64> {
        match self.view().unwrap_dyn() {
            Val::Long(n) => Some(n),
            Val::Real(f) if f.is_finite() => Some(f as i64),
            Val::Bool(b) => Some(i64::from(b)),
            Val::Span(t) => Some(t),
            _ => None,
        }
    }

    pub(super) fn as_f64(&self) -> Option<f64> {
        match self.view().unwrap_dyn() {
            Val::Long(n) => Some(n as f64),
            Val::Real(f) => Some(f),
            Val::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }

    /// The value as Kusto's `tostring()` prints it.
    pub(super) fn to_kstring(&self) -> Cow<'_, str> {
        match self {
            Val::Str(s) => Cow::Borrowed(s),
            Val::Dyn(j) => match j.as_ref() {
                Json::String(s) => Cow::Borrowed(s),
                Json::Null => Cow::Borrowed(""),
                other => Cow::Owned(other.to_string()),
            },
            Val::Null => Cow::Borrowed(""),
            Val::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Val::Long(n) => Cow::Owned(n.to_string()),
            Val::Real(f) => Cow::Owned(format_real(*f)),
            Val::Date(d) => Cow::Owned(format_datetime(d)),
            Val::Span(t) => Cow::Owned(format_timespan(*t)),
        }
    }

    pub(super) fn into_kstring(self) -> String {
        match self {
            Val::Str(s) => s.into_owned(),
            Val::Dyn(Cow::Owned(Json::String(s))) => s,
            other => other.to_kstring().into_owned(),
        }
    }

    pub(super) fn into_json(self) -> Json {
        match self {
            Val::Dyn(j) => j.into_owned(),
            Val::Str(s) => Json::String(s.into_owned()),
            other => other.to_json(),
        }
    }

    pub(super) fn to_json(&self) -> Json {
        match self {
            Val::Null => Json::Null,
            Val::Bool(b) => Json::Bool(*b),
            Val::Long(n) => Json::from(*n),
            Val::Real(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Val::Date(d) => Json::String(format_datetime(d)),
            Val::Span(t) => Json::String(format_timespan(*t)),
            Val::Str(s) => Json::String(s.to_string()),
            Val::Dyn(j) => j.as_ref().clone(),
        }
    }
}

fn number_val<'a>(n: &serde_json::Number) -> Val<'a> {
    match n.as_i64() {
        Some(i) => Val::Long(i),
        None => n.as_f64().map_or(Val::Null, Val::Real),
    }
}

/// Orders two non-null values of compatible types; `None` when they cannot be compared.
pub(super) fn compare(a: &Val<'_>, b: &Val<'_>) -> Option<Ordering> {
    let a = a.view().unwrap_dyn();
    let b = b.view().unwrap_dyn();
    match (&a, &b) {
        (Val::Long(x), Val::Long(y)) => Some(x.cmp(y)),
        (Val::Long(x), Val::Real(y)) => (*x as f64).partial_cmp(y),
        (Val::Real(x), Val::Long(y)) => x.partial_cmp(&(*y as f64)),
        (Val::Real(x), Val::Real(y)) => x.partial_cmp(y),
        (Val::Date(x), Val::Date(y)) => Some(x.cmp(y)),
        (Val::Span(x), Val::Span(y)) => Some(x.cmp(y)),
        (Val::Str(x), Val::Str(y)) => Some(x.as_ref().cmp(y.as_ref())),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::Date(x), Val::Str(y)) => parse_datetime(y).map(|y| x.cmp(&y)),
        (Val::Str(x), Val::Date(y)) => parse_datetime(x).map(|x| x.cmp(y)),
        (Val::Dyn(x), Val::Dyn(y)) if x == y => Some(Ordering::Equal),
        _ => None,
    }
}

/// `==` with Kusto's null rule: `None` when either side is null.
pub(super) fn equals(a: &Val<'_>, b: &Val<'_>) -> Option<bool> {
    if a.is_null() || b.is_null() {
        return None;
    }
    Some(compare(a, b) == Some(Ordering::Equal))
}

/// A total order for sorting non-null values (values of different kinds order by kind).
pub(super) fn sort_order(a: &Val<'_>, b: &Val<'_>) -> Ordering {
    if let Some(o) = compare(a, b) {
        return o;
    }
    let (ra, rb) = (kind_rank(a), kind_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    a.to_kstring().cmp(&b.to_kstring())
}

fn kind_rank(v: &Val<'_>) -> u8 {
    match v.view().unwrap_dyn() {
        Val::Null => 0,
        Val::Bool(_) => 1,
        Val::Long(_) | Val::Real(_) => 2,
        Val::Date(_) => 3,
        Val::Span(_) => 4,
        Val::Str(_) => 5,
        Val::Dyn(_) => 6,
    }
}

/// ASCII-fast case-insensitive equality.
pub(super) fn eq_ci(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

pub(super) fn lower(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

// ---- datetime and timespan text -------------------------------------------------------------

pub(super) fn format_datetime(d: &DateTime<Utc>) -> String {
    let nanos = d.timestamp_subsec_nanos();
    if nanos == 0 {
        d.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        // Kusto prints the full 7-digit tick fraction.
        let base = d.format("%Y-%m-%dT%H:%M:%S");
        format!("{base}.{:07}Z", nanos / 100)
    }
}

/// `[-][d.]hh:mm:ss[.fffffff]`, as Kusto prints a timespan.
pub(super) fn format_timespan(ticks: i64) -> String {
    let neg = ticks < 0;
    let t = ticks.unsigned_abs();
    let tps = TICKS_PER_SEC.unsigned_abs();
    let days = t / TICKS_PER_DAY.unsigned_abs();
    let rem = t % TICKS_PER_DAY.unsigned_abs();
    let hours = rem / TICKS_PER_HOUR.unsigned_abs();
    let minutes = rem % TICKS_PER_HOUR.unsigned_abs() / TICKS_PER_MINUTE.unsigned_abs();
    let seconds = rem % TICKS_PER_MINUTE.unsigned_abs() / tps;
    let frac = rem % tps;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{hours:02}:{minutes:02}:{seconds:02}"));
    if frac > 0 {
        out.push_str(&format!(".{frac:07}"));
    }
    out
}

pub(super) fn format_real(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".to_owned()
        } else {
            "-Infinity".to_owned()
        }
    } else {
        f.to_string()
    }
}

/// Parses the datetime forms Kusto accepts in `datetime(...)` and `todatetime()`: ISO 8601 with
/// or without `T`, seconds, fraction and zone (no zone means UTC), or a bare date.
pub(super) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    let with_t = s.replacen(' ', "T", 1);
    if let Ok(d) = DateTime::parse_from_rfc3339(&with_t) {
        return Some(d.with_timezone(&Utc));
    }
    let naive = with_t
        .strip_suffix('Z')
        .or_else(|| with_t.strip_suffix('z'))
        .unwrap_or(&with_t);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(d.and_utc());
        }
    }
    for fmt in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(naive, fmt) {
            return d.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
        }
    }
    None
}

/// Timespan units accepted after a number (`1d`, `2h`, `30m`, `10s`, `1ms`, ...), in ticks.
pub(super) fn span_unit(unit: &str) -> Option<i64> {
    Some(match unit {
        "d" | "day" | "days" => TICKS_PER_DAY,
        "h" | "hr" | "hrs" | "hour" | "hours" => TICKS_PER_HOUR,
        "m" | "min" | "minute" | "minutes" => TICKS_PER_MINUTE,
        "s" | "sec" | "second" | "seconds" => TICKS_PER_SEC,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 10_000,
        "microsecond" | "microseconds" => 10,
        "tick" | "ticks" => 1,
        _ => return None,
    })
}

/// Parses a timespan written as a literal (`1.5h`) or as `[-][d.]hh:mm[:ss[.fffffff]]`.
pub(super) fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let ticks = if body.contains(':') {
        let (days, clock) = match body.split_once('.') {
            Some((d, rest)) if !d.contains(':') => (d.parse::<i64>().ok()?, rest),
            _ => (0, body),
        };
        let mut parts = clock.split(':');
        let hours: i64 = parts.next()?.parse().ok()?;
        let minutes: i64 = parts.next()?.parse().ok()?;
        let seconds: f64 = match parts.next() {
            Some(sec) => sec.parse().ok()?,
            None => 0.0,
        };
        if parts.next().is_some() || !(0.0..60.0).contains(&seconds) || minutes >= 60 {
            return None;
        }
        let whole = days
            .checked_mul(TICKS_PER_DAY)?
            .checked_add(hours.checked_mul(TICKS_PER_HOUR)?)?
            .checked_add(minutes.checked_mul(TICKS_PER_MINUTE)?)?;
        whole.checked_add((seconds * TICKS_PER_SEC as f64).round() as i64)?
    } else {
        let split = body.find(|c: char| c.is_ascii_alphabetic())?;
        let (num, unit) = body.split_at(split);
        let unit = span_unit(unit)?;
        let num: f64 = num.parse().ok()?;
        let t = num * unit as f64;
        if !t.is_finite() || t.abs() > i64::MAX as f64 {
            return None;
        }
        t.round() as i64
    };
    Some(if neg { -ticks } else { ticks })
}

/// Ticks since the Unix epoch.
pub(super) fn date_ticks(d: &DateTime<Utc>) -> Option<i64> {
    d.timestamp()
        .checked_mul(TICKS_PER_SEC)?
        .checked_add(i64::from(d.timestamp_subsec_nanos() / 100))
}

pub(super) fn ticks_date(t: i64) -> Option<DateTime<Utc>> {
    let secs = t.div_euclid(TICKS_PER_SEC);
    let nanos = u32::try_from(t.rem_euclid(TICKS_PER_SEC) * 100).ok()?;
    let d = DateTime::from_timestamp(secs, nanos)?;
    // Kusto's datetime range is years 1..9999.
    (1..=9999).contains(&d.year()).then_some(d)
}

pub(super) fn add_span(d: &DateTime<Utc>, ticks: i64) -> Option<DateTime<Utc>> {
    ticks_date(date_ticks(d)?.checked_add(ticks)?)
}

/// `bin(datetime, span)`: floor to a multiple of `span` counted from 0001-01-01.
pub(super) fn bin_date(d: &DateTime<Utc>, span: i64) -> Option<DateTime<Utc>> {
    if span <= 0 {
        return None;
    }
    let t = date_ticks(d)?.checked_add(TICKS_0001_TO_UNIX)?;
    let binned = t.div_euclid(span).checked_mul(span)?;
    ticks_date(binned.checked_sub(TICKS_0001_TO_UNIX)?)
}

// ---- group keys -----------------------------------------------------------------------------

/// An owned, hashable copy of a value, stored once per distinct key.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Null,
    Bool(bool),
    Num(i64),
    Real(u64),
    Date(i64, u32),
    Span(i64),
    Str(Box<str>),
    Json(Box<str>),
}

/// The normalized form used for both hashing and equality of keys.
enum KeyRef<'a> {
    Null,
    Bool(bool),
    Num(i64),
    Real(u64),
    Date(i64, u32),
    Span(i64),
    Str(Cow<'a, str>),
    Json(String),
}

fn key_ref<'v>(v: &'v Val<'_>) -> KeyRef<'v> {
    match v {
        Val::Null => KeyRef::Null,
        Val::Bool(b) => KeyRef::Bool(*b),
        Val::Long(n) => KeyRef::Num(*n),
        Val::Real(f) => real_key(*f),
        Val::Date(d) => KeyRef::Date(d.timestamp(), d.timestamp_subsec_nanos()),
        Val::Span(t) => KeyRef::Span(*t),
        Val::Str(s) => KeyRef::Str(Cow::Borrowed(s)),
        Val::Dyn(j) => match j.as_ref() {
            Json::Null => KeyRef::Null,
            Json::Bool(b) => KeyRef::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => KeyRef::Num(i),
                None => real_key(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => KeyRef::Str(Cow::Borrowed(s)),
            other => KeyRef::Json(other.to_string()),
        },
    }
}

fn real_key<'v>(f: f64) -> KeyRef<'v> {
    // Integral reals key like longs so that `1` and `1.0` meet in joins and sets.
    if f.fract() == 0.0 && f.abs() < 9.0e18 {
        KeyRef::Num(f as i64)
    } else if f.is_nan() {
        KeyRef::Real(f64::NAN.to_bits())
    } else {
        KeyRef::Real(f.to_bits())
    }
}

impl KeyRef<'_> {
    fn hash_into(&self, h: &mut impl Hasher) {
        match self {
            KeyRef::Null => h.write_u8(0),
            KeyRef::Bool(b) => {
                h.write_u8(1);
                b.hash(h);
            }
            KeyRef::Num(n) => {
                h.write_u8(2);
                n.hash(h);
            }
            KeyRef::Real(bits) => {
                h.write_u8(3);
                bits.hash(h);
            }
            KeyRef::Date(s, n) => {
                h.write_u8(4);
                s.hash(h);
                n.hash(h);
            }
            KeyRef::Span(t) => {
                h.write_u8(5);
                t.hash(h);
            }
            KeyRef::Str(s) => {
                h.write_u8(6);
                s.hash(h);
            }
            KeyRef::Json(s) => {
                h.write_u8(7);
                s.hash(h);
            }
        }
    }

    fn matches(&self, k: &Key) -> bool {
        match (self, k) {
            (KeyRef::Null, Key::Null) => true,
            (KeyRef::Bool(a), Key::Bool(b)) => a == b,
            (KeyRef::Num(a), Key::Num(b)) => a == b,
            (KeyRef::Real(a), Key::Real(b)) => a == b,
            (KeyRef::Date(a, b), Key::Date(c, d)) => a == c && b == d,
            (KeyRef::Span(a), Key::Span(b)) => a == b,
            (KeyRef::Str(a), Key::Str(b)) => a.as_ref() == b.as_ref(),
            (KeyRef::Json(a), Key::Json(b)) => a.as_str() == b.as_ref(),
            _ => false,
        }
    }

    fn to_key(&self) -> Key {
        match self {
            KeyRef::Null => Key::Null,
            KeyRef::Bool(b) => Key::Bool(*b),
            KeyRef::Num(n) => Key::Num(*n),
            KeyRef::Real(b) => Key::Real(*b),
            KeyRef::Date(s, n) => Key::Date(*s, *n),
            KeyRef::Span(t) => Key::Span(*t),
            KeyRef::Str(s) => Key::Str(Box::from(s.as_ref())),
            KeyRef::Json(s) => Key::Json(Box::from(s.as_str())),
        }
    }
}

/// Passes a precomputed 64-bit hash through unchanged.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const NONE: usize = usize::MAX;

/// Interns tuples of values: maps each distinct tuple to a dense index without allocating for
/// tuples it has already seen (lookups hash and compare the borrowed values).
#[derive(Default)]
pub(super) struct TupleIndex {
    heads: HashMap<u64, usize, BuildHasherDefault<IdHasher>>,
    next: Vec<usize>,
    keys: Vec<Box<[Key]>>,
}

impl TupleIndex {
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    fn hash_vals(vals: &[Val<'_>]) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        for v in vals {
            key_ref(v).hash_into(&mut h);
        }
        h.finish()
    }

    fn lookup(&self, hash: u64, vals: &[Val<'_>]) -> Option<usize> {
        let mut at = self.heads.get(&hash).copied().unwrap_or(NONE);
        while at != NONE {
            let key = &self.keys[at];
            if key.len() == vals.len()
                && vals
                    .iter()
                    .zip(key.iter())
                    .all(|(v, k)| key_ref(v).matches(k))
            {
                return Some(at);
            }
            at = self.next[at];
        }
        None
    }

    /// The tuple's index, and whether it was new.
    pub(super) fn insert(&mut self, vals: &[Val<'_>]) -> (usize, bool) {
        let hash = Self::hash_vals(vals);
        if let Some(at) = self.lookup(hash, vals) {
            return (at, false);
        }
        let at = self.keys.len();
        self.keys
            .push(vals.iter().map(|v| key_ref(v).to_key()).collect());
        let head = self.heads.insert(hash, at).unwrap_or(NONE);
        self.next.push(head);
        (at, true)
    }

    pub(super) fn find(&self, vals: &[Val<'_>]) -> Option<usize> {
        self.lookup(Self::hash_vals(vals), vals)
    }
}
