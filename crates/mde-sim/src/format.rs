//! Wire formatting shared by the endpoints: the service's timestamp styles and an ordered JSON
//! object writer (property order is part of the contract, and `serde_json::Map` sorts keys).

use chrono::{DateTime, Utc};

/// ISO 8601 UTC with up to 7 fractional digits, trailing zeros trimmed:
/// `2023-04-19T13:27:53.1618923Z`, `2021-01-26T20:33:59.2Z`, `2019-12-18T08:02:54Z`.
pub fn timestamp(time: DateTime<Utc>) -> String {
    let base = time.format("%Y-%m-%dT%H:%M:%S");
    let ticks = time.timestamp_subsec_nanos() / 100;
    if ticks == 0 {
        format!("{base}Z")
    } else {
        let fraction = format!("{ticks:07}");
        format!("{base}.{}Z", fraction.trim_end_matches('0'))
    }
}

/// Whole seconds, as the logonusers endpoint prints them: `2019-12-18T08:02:54Z`.
pub fn timestamp_seconds(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The export endpoints' non-ISO style: `2021-01-11 11:01:00`.
pub fn timestamp_export(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Entra's error timestamp style: `2023-05-06 06:03:00Z`.
pub fn timestamp_entra(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// A JSON string literal.
pub fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serializes")
}

/// Writes one JSON object with properties in call order, optionally keeping only a selection.
pub struct Obj<'a> {
    buf: String,
    empty: bool,
    keep: Option<&'a dyn Fn(&str) -> bool>,
}

impl<'a> Obj<'a> {
    pub fn new() -> Obj<'a> {
        Obj {
            buf: String::from("{"),
            empty: true,
            keep: None,
        }
    }

    /// Only properties for which `keep` answers true are written (`$select`).
    pub fn selecting(keep: Option<&'a dyn Fn(&str) -> bool>) -> Obj<'a> {
        Obj {
            buf: String::from("{"),
            empty: true,
            keep,
        }
    }

    /// Writes `key` with an already serialized JSON value.
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        if let Some(keep) = self.keep
            && !keep(key)
        {
            return self;
        }
        if !self.empty {
            self.buf.push(',');
        }
        self.empty = false;
        self.buf.push_str(&quote(key));
        self.buf.push(':');
        self.buf.push_str(json);
        self
    }

    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.raw(key, &quote(value))
    }

    pub fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.str(key, value),
            None => self.raw(key, "null"),
        }
    }

    pub fn int(&mut self, key: &str, value: i64) -> &mut Self {
        self.raw(key, &value.to_string())
    }

    pub fn opt_int(&mut self, key: &str, value: Option<i64>) -> &mut Self {
        match value {
            Some(value) => self.int(key, value),
            None => self.raw(key, "null"),
        }
    }

    pub fn float(&mut self, key: &str, value: f64) -> &mut Self {
        self.raw(key, &float(value))
    }

    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.raw(key, if value { "true" } else { "false" })
    }

    pub fn opt_bool(&mut self, key: &str, value: Option<bool>) -> &mut Self {
        match value {
            Some(value) => self.bool(key, value),
            None => self.raw(key, "null"),
        }
    }

    pub fn time(&mut self, key: &str, value: DateTime<Utc>) -> &mut Self {
        self.str(key, &timestamp(value))
    }

    pub fn opt_time(&mut self, key: &str, value: Option<DateTime<Utc>>) -> &mut Self {
        match value {
            Some(value) => self.time(key, value),
            None => self.raw(key, "null"),
        }
    }

    pub fn strs<S: AsRef<str>>(&mut self, key: &str, values: &[S]) -> &mut Self {
        let items: Vec<String> = values.iter().map(|value| quote(value.as_ref())).collect();
        self.raw(key, &format!("[{}]", items.join(",")))
    }

    pub fn finish(&mut self) -> String {
        let mut out = std::mem::take(&mut self.buf);
        out.push('}');
        out
    }
}

impl Default for Obj<'_> {
    fn default() -> Self {
        Obj::new()
    }
}

/// A JSON number for a double: `7.8`, `10.0` (always with a fraction, as .NET prints doubles in
/// these payloads would not, but clients must accept both).
pub fn float(value: f64) -> String {
    if value.is_finite() {
        serde_json::to_string(&value).expect("a finite float serializes")
    } else {
        "null".to_owned()
    }
}

/// Joins serialized JSON values into an array.
pub fn array(items: &[String]) -> String {
    let mut out = String::with_capacity(items.iter().map(|item| item.len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (idx, item) in items.iter().enumerate() {
        if idx > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_trim_trailing_zeros_of_seven_digits() {
        let base = Utc.with_ymd_and_hms(2023, 4, 19, 13, 27, 53).unwrap();
        assert_eq!(timestamp(base), "2023-04-19T13:27:53Z");
        let t = base + chrono::Duration::nanoseconds(161_892_300);
        assert_eq!(timestamp(t), "2023-04-19T13:27:53.1618923Z");
        let t = base + chrono::Duration::nanoseconds(200_000_000);
        assert_eq!(timestamp(t), "2023-04-19T13:27:53.2Z");
        assert_eq!(timestamp_export(t), "2023-04-19 13:27:53");
        assert_eq!(timestamp_entra(t), "2023-04-19 13:27:53Z");
    }

    #[test]
    fn obj_keeps_order_and_selection() {
        let mut obj = Obj::new();
        obj.str("z", "a\"b").int("a", 3).opt_str("m", None);
        assert_eq!(obj.finish(), r#"{"z":"a\"b","a":3,"m":null}"#);
        let keep = |key: &str| key != "a";
        let mut obj = Obj::selecting(Some(&keep));
        obj.int("a", 1).bool("b", true);
        assert_eq!(obj.finish(), r#"{"b":true}"#);
    }
}
