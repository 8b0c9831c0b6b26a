//! Hostile answers: an endpoint answers a given body, or its own answer edited, instead of what
//! the service would say. For tests of what a client does with an answer no documented service
//! sends (wrong types, nulls, huge or deeply nested values, HTML, a link to another host).
//!
//! An [`Answer`] is set per endpoint with [`crate::Faults::answer`] (or the binary's
//! `--answer ENDPOINT=SPEC`) and stays until [`crate::Faults::clear_answers`] or
//! [`crate::Faults::clear`]. It replaces only answers the simulator would send with a 2xx
//! status, so sign-in, roles, rate limits and the other faults still apply first; the bare
//! numbers of `…/$count` are left alone.
//! [`crate::Faults::answered`] counts the answers it replaced: a test can tell an edit that
//! found nothing to edit (that request is answered 500, `mde-sim: …`, and not counted) from one
//! that reached the client.
//!
//! # The text form ([`Answer::parse`])
//!
//! - `body STATUS TYPE TEXT`: status, content type (`json`, `html`, `text`, or a full media
//!   type such as `application/xml`) and the body, the rest of the line as given (`body 200
//!   json {"value": 5}`); `body 200 json` alone is an empty body.
//! - Edits of the endpoint's own JSON answer, one or more joined by ` && `, with JSON Pointers
//!   (RFC 6901: `/value/0/id`; `~1` is `/`, `~0` is `~`; a last `-` is an array's next index,
//!   and a `*` stands for every item of an array, so `set /Results/*/Timestamp "x"` edits every
//!   row, and none of an empty answer):
//!   - `set POINTER JSON`: the value at POINTER becomes JSON (a new key of an object, or an
//!     array's next index, is added), e.g. `set /value/0/healthStatus "SomethingNew"`;
//!   - `copy FROM TO`: the value at FROM is also set at TO (`copy /value/0/id /value/1/id`
//!     makes two records share an id);
//!   - `remove POINTER`: the key or array item is taken out.

use std::sync::Arc;

use serde_json::Value;

/// What an endpoint answers instead of its own 2xx answer (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// This status, content type and body, whatever the request.
    Body {
        status: u16,
        content_type: String,
        body: Arc<str>,
    },
    /// The endpoint's own answer with these edits, applied in order.
    Edit(Vec<Edit>),
}

/// One edit of a JSON answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    Set { pointer: String, value: Value },
    Copy { from: String, to: String },
    Remove { pointer: String },
}

impl Answer {
    /// Parses the text form of the module docs.
    pub fn parse(spec: &str) -> Result<Answer, String> {
        let spec = spec.trim_start();
        if let Some(rest) = spec.strip_prefix("body ") {
            let mut parts = rest.splitn(3, ' ');
            let status = parts.next().unwrap_or_default();
            let status: u16 = status
                .parse()
                .ok()
                .filter(|status| (100..=599).contains(status))
                .ok_or_else(|| {
                    format!("bad status {status:?} in answer {spec:?}: give 100 to 599")
                })?;
            let kind = parts.next().unwrap_or_default();
            let content_type = match kind {
                "json" => "application/json; charset=utf-8".to_owned(),
                "html" => "text/html; charset=utf-8".to_owned(),
                "text" => "text/plain; charset=utf-8".to_owned(),
                other if other.contains('/') => other.to_owned(),
                other => {
                    return Err(format!(
                        "bad content type {other:?} in answer {spec:?}: give json, html, text or a media type such as application/xml"
                    ));
                }
            };
            return Ok(Answer::Body {
                status,
                content_type,
                body: Arc::from(parts.next().unwrap_or_default()),
            });
        }
        spec.split(" && ")
            .map(Edit::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Answer::Edit)
    }
}

impl Edit {
    fn parse(spec: &str) -> Result<Edit, String> {
        let spec = spec.trim();
        let usage = || {
            format!(
                "bad answer {spec:?}: give `body STATUS TYPE TEXT`, or edits `set POINTER JSON`, `copy FROM TO`, `remove POINTER` joined by ` && `"
            )
        };
        let (verb, rest) = spec.split_once(' ').ok_or_else(usage)?;
        let pointer = |text: &str| -> Result<String, String> {
            if text.is_empty() || text.starts_with('/') {
                Ok(text.to_owned())
            } else {
                Err(format!(
                    "bad JSON pointer {text:?} in answer {spec:?}: it starts with / (e.g. /value/0/id)"
                ))
            }
        };
        match verb {
            "set" => {
                let (target, json) = rest.split_once(' ').ok_or_else(usage)?;
                let value = serde_json::from_str(json)
                    .map_err(|error| format!("the value of {spec:?} is not JSON: {error}"))?;
                Ok(Edit::Set {
                    pointer: pointer(target)?,
                    value,
                })
            }
            "copy" => {
                let (from, to) = rest.trim().split_once(' ').ok_or_else(usage)?;
                Ok(Edit::Copy {
                    from: pointer(from)?,
                    to: pointer(to.trim())?,
                })
            }
            "remove" => Ok(Edit::Remove {
                pointer: pointer(rest.trim())?,
            }),
            _ => Err(usage()),
        }
    }

    /// Applies the edit to `json` (at every match of a `*`); `Err` names what was not there.
    pub(crate) fn apply(&self, json: &mut Value) -> Result<(), String> {
        let pointer = match self {
            Edit::Set { pointer, .. } | Edit::Remove { pointer } => pointer,
            Edit::Copy { to, .. } => to,
        };
        if pointer.split('/').any(|token| token == "*") {
            // Last match first, so removing array items keeps the indices ahead valid.
            for concrete in matches(json, pointer).into_iter().rev() {
                let edit = match self {
                    Edit::Set { value, .. } => Edit::Set {
                        pointer: concrete,
                        value: value.clone(),
                    },
                    Edit::Remove { .. } => Edit::Remove { pointer: concrete },
                    Edit::Copy { from, .. } => Edit::Copy {
                        from: from.clone(),
                        to: concrete,
                    },
                };
                edit.apply(json)?;
            }
            return Ok(());
        }
        match self {
            Edit::Set { pointer, value } => set(json, pointer, value.clone()),
            Edit::Copy { from, to } => {
                let value = json
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| format!("the answer has nothing at {from}"))?;
                set(json, to, value)
            }
            Edit::Remove { pointer } => {
                let (parent, last) = split(pointer)?;
                match json.pointer_mut(parent) {
                    Some(Value::Object(map)) => map
                        .remove(&last)
                        .map(drop)
                        .ok_or_else(|| format!("the answer has nothing at {pointer}")),
                    Some(Value::Array(items)) => match last.parse::<usize>() {
                        Ok(idx) if idx < items.len() => {
                            items.remove(idx);
                            Ok(())
                        }
                        _ => Err(format!("the answer has nothing at {pointer}")),
                    },
                    _ => Err(format!("the answer has nothing at {pointer}")),
                }
            }
        }
    }
}

/// The pointers `pointer` stands for, each `*` replaced by every index of the array there.
fn matches(json: &Value, pointer: &str) -> Vec<String> {
    let mut found = vec![String::new()];
    for token in pointer.split('/').skip(1) {
        let mut next = Vec::new();
        for prefix in found {
            if token == "*" {
                if let Some(Value::Array(items)) = json.pointer(&prefix) {
                    next.extend((0..items.len()).map(|idx| format!("{prefix}/{idx}")));
                }
            } else {
                next.push(format!("{prefix}/{token}"));
            }
        }
        found = next;
    }
    found
}

/// (parent pointer, last token unescaped).
fn split(pointer: &str) -> Result<(&str, String), String> {
    let at = pointer
        .rfind('/')
        .ok_or_else(|| format!("the pointer {pointer:?} names no key"))?;
    let last = pointer[at + 1..].replace("~1", "/").replace("~0", "~");
    Ok((&pointer[..at], last))
}

fn set(json: &mut Value, pointer: &str, value: Value) -> Result<(), String> {
    if pointer.is_empty() {
        *json = value;
        return Ok(());
    }
    let (parent, last) = split(pointer)?;
    match json.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(last, value);
            Ok(())
        }
        Some(Value::Array(items)) => match last.parse::<usize>() {
            Ok(idx) if idx < items.len() => {
                items[idx] = value;
                Ok(())
            }
            Ok(idx) if idx == items.len() => {
                items.push(value);
                Ok(())
            }
            _ if last == "-" => {
                items.push(value);
                Ok(())
            }
            _ => Err(format!("the answer has no array index {pointer}")),
        },
        _ => Err(format!("the answer has nothing at {parent}")),
    }
}

/// The answer `answer` makes of an endpoint's own 2xx `status` and `body`: (status, a new
/// content type if any, body); `Err` names what an edit did not find.
pub(crate) fn replace(
    answer: &Answer,
    status: u16,
    body: &str,
) -> Result<(u16, Option<String>, String), String> {
    match answer {
        Answer::Body {
            status,
            content_type,
            body,
        } => Ok((*status, Some(content_type.clone()), body.to_string())),
        Answer::Edit(edits) => {
            let mut json: Value = serde_json::from_str(body)
                .map_err(|error| format!("the endpoint's own answer is not JSON: {error}"))?;
            for edit in edits {
                edit.apply(&mut json)?;
            }
            Ok((status, None, json.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_set_copy_and_remove_by_pointer() {
        let answer = Answer::parse(
            r#"set /value/0/healthStatus "SomethingNew" && copy /value/0/id /value/1/id && remove /value/0/osBuild && set /value/2 {"id":"x"}"#,
        )
        .unwrap();
        let body = r#"{"value":[{"id":"a","osBuild":1},{"id":"b"}]}"#;
        let (status, content_type, text) = replace(&answer, 200, body).unwrap();
        assert_eq!((status, content_type), (200, None));
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"value":[{"id":"a","healthStatus":"SomethingNew"},{"id":"a"},{"id":"x"}]})
        );
    }

    #[test]
    fn a_star_edits_every_item_and_a_dash_appends() {
        let answer =
            Answer::parse(r#"set /Results/*/Timestamp "x" && copy /Results/0 /Results/-"#).unwrap();
        let (_, _, text) = replace(&answer, 200, r#"{"Results":[{"a":1},{"a":2}]}"#).unwrap();
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"Results":[{"a":1,"Timestamp":"x"},{"a":2,"Timestamp":"x"},{"a":1,"Timestamp":"x"}]})
        );
        let every = Answer::parse(r#"set /Results/*/Timestamp "x""#).unwrap();
        let (_, _, empty) = replace(&every, 200, r#"{"Results":[]}"#).unwrap();
        assert_eq!(empty, r#"{"Results":[]}"#);
    }

    #[test]
    fn an_edit_of_what_is_not_there_says_so() {
        let answer = Answer::parse("set /value/5/id 1").unwrap();
        let error = replace(&answer, 200, r#"{"value":[]}"#).unwrap_err();
        assert!(error.contains("/value/5"), "{error}");
        assert!(
            Answer::parse("remove /nope")
                .unwrap()
                .eq(&Answer::Edit(vec![Edit::Remove {
                    pointer: "/nope".to_owned()
                }]))
        );
        let error = replace(&Answer::parse("remove /nope").unwrap(), 200, "{}").unwrap_err();
        assert!(error.contains("/nope"), "{error}");
    }

    #[test]
    fn bodies_keep_their_text_and_type() {
        let answer = Answer::parse("body 200 html <html><body>Sign in</body></html>").unwrap();
        let (status, content_type, text) = replace(&answer, 200, "{}").unwrap();
        assert_eq!(status, 200);
        assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
        assert_eq!(text, "<html><body>Sign in</body></html>");
        assert_eq!(
            replace(&Answer::parse("body 200 json").unwrap(), 200, "{}")
                .unwrap()
                .2,
            ""
        );
    }

    #[test]
    fn bad_specs_are_refused_with_the_form() {
        for (spec, expected) in [
            ("body 999 json {}", "100 to 599"),
            ("body 200 yaml x", "media type"),
            ("set value/0 1", "starts with /"),
            ("set /value/0 {", "not JSON"),
            ("frobnicate /x", "set POINTER JSON"),
        ] {
            let error = Answer::parse(spec).unwrap_err();
            assert!(error.contains(expected), "{spec}: {error}");
        }
    }
}
