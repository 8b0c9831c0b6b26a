//! The OData subset the service accepts: `$filter` (eq, ne, gt, ge, lt, le, and, or,
//! parentheses, `startswith(prop,'x')`), `$top`, `$skip`, `$select`, `$orderby`, `$count=true`,
//! `$expand=evidence` (alerts). Property names are case-insensitive; strings compare
//! case-insensitively; datetimes are unquoted ISO 8601 with a zone. Anything else is a 400
//! `ODataError` with the message ASP.NET OData would give.

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::PagingMode;

/// The type of a property, for literal checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Str,
    DateTime,
    Number,
    Bool,
    /// A string collection (`machineTags`): `eq` matches any element.
    StrList,
}

impl FieldType {
    fn edm(self) -> &'static str {
        match self {
            FieldType::Str | FieldType::StrList => "Edm.String",
            FieldType::DateTime => "Edm.DateTimeOffset",
            FieldType::Number => "Edm.Int64",
            FieldType::Bool => "Edm.Boolean",
        }
    }
}

/// What an entity set allows.
pub(crate) struct EntitySpec {
    pub(crate) type_name: &'static str,
    /// (canonical name, type) of `$filter`-able properties.
    pub(crate) filterable: &'static [(&'static str, FieldType)],
    /// Every property in wire order (for `$select` and `$orderby`).
    pub(crate) properties: &'static [&'static str],
    pub(crate) expandable: &'static [&'static str],
}

/// A property value of one record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FVal {
    Null,
    Str(String),
    Num(f64),
    Bool(bool),
    Time(DateTime<Utc>),
    List(Vec<String>),
}

/// Something `$filter` and `$orderby` can read.
pub(crate) trait Record {
    /// The value of a property given by its canonical name.
    fn get(&self, property: &str) -> FVal;
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Null,
    Str(String),
    Num(f64),
    Bool(bool),
    Time(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn kind_name(self) -> &'static str {
        match self {
            Op::Eq => "Equal",
            Op::Ne => "NotEqual",
            Op::Gt => "GreaterThan",
            Op::Ge => "GreaterThanOrEqual",
            Op::Lt => "LessThan",
            Op::Le => "LessThanOrEqual",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(&'static str, Op, Lit),
    StartsWith(&'static str, String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    /// A bare literal starting with a digit: number or datetime.
    Bare(String),
    Open,
    Close,
    Comma,
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut idx = 0;
    while idx < chars.len() {
        let c = chars[idx];
        if c.is_whitespace() {
            idx += 1;
        } else if c == '(' {
            tokens.push(Tok::Open);
            idx += 1;
        } else if c == ')' {
            tokens.push(Tok::Close);
            idx += 1;
        } else if c == ',' {
            tokens.push(Tok::Comma);
            idx += 1;
        } else if c == '\'' {
            let mut value = String::new();
            idx += 1;
            loop {
                match chars.get(idx) {
                    None => {
                        return Err(format!(
                            "There is an unterminated string literal at position {idx} in '{text}'."
                        ));
                    }
                    Some('\'') if chars.get(idx + 1) == Some(&'\'') => {
                        value.push('\'');
                        idx += 2;
                    }
                    Some('\'') => {
                        idx += 1;
                        break;
                    }
                    Some(other) => {
                        value.push(*other);
                        idx += 1;
                    }
                }
            }
            tokens.push(Tok::Str(value));
        } else if c.is_ascii_digit() || c == '-' {
            let start = idx;
            while idx < chars.len()
                && (chars[idx].is_ascii_alphanumeric()
                    || matches!(chars[idx], ':' | '.' | '+' | '-'))
            {
                idx += 1;
            }
            tokens.push(Tok::Bare(chars[start..idx].iter().collect()));
        } else if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            let start = idx;
            while idx < chars.len()
                && (chars[idx].is_ascii_alphanumeric() || matches!(chars[idx], '_' | '.' | '/'))
            {
                idx += 1;
            }
            tokens.push(Tok::Ident(chars[start..idx].iter().collect()));
        } else {
            return Err(format!(
                "Syntax error: character '{c}' is not valid at position {idx} in '{text}'."
            ));
        }
    }
    Ok(tokens)
}

/// Parses an OData datetime literal: `2019-11-22T00:00:00Z`, `…T00:00:00.1234567+02:00`,
/// `2018-08-01Z`. A missing zone is an error, as in the service.
fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    let date = text.strip_suffix('Z').or_else(|| text.strip_suffix('z'))?;
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

const STARTSWITH_SIGNATURE: &str = "No function signature for the function with name 'startswith' matches the specified arguments. The function signatures considered are: startswith(Edm.String Nullable=true, Edm.String Nullable=true).";

struct Parser<'a> {
    tokens: Vec<Tok>,
    pos: usize,
    spec: &'a EntitySpec,
    text: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(ident)) if ident.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.primary()?;
        while self.keyword("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn property(&self, name: &str) -> Result<(&'static str, FieldType), String> {
        if let Some((canonical, kind)) = self
            .spec
            .filterable
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
        {
            return Ok((canonical, *kind));
        }
        if self
            .spec
            .properties
            .iter()
            .any(|known| known.eq_ignore_ascii_case(name))
        {
            return Err(format!(
                "The property '{name}', used in a query expression, is not defined in type '{}'.",
                self.spec.type_name
            ));
        }
        Err(format!(
            "Could not find a property named '{name}' on type '{}'.",
            self.spec.type_name
        ))
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(inner),
                    _ => Err(format!(
                        "')' or operator expected at position {} in '{}'.",
                        self.pos, self.text
                    )),
                }
            }
            Some(Tok::Ident(name))
                if name.eq_ignore_ascii_case("startswith") && self.peek() == Some(&Tok::Open) =>
            {
                self.pos += 1;
                let Some(Tok::Ident(property)) = self.next() else {
                    return Err(format!(
                        "Syntax error at position {} in '{}'.",
                        self.pos, self.text
                    ));
                };
                let (canonical, kind) = self.property(&property)?;
                if self.next() != Some(Tok::Comma) {
                    return Err(format!(
                        "',' expected at position {} in '{}'.",
                        self.pos, self.text
                    ));
                }
                let Some(Tok::Str(prefix)) = self.next() else {
                    return Err(STARTSWITH_SIGNATURE.to_owned());
                };
                if self.next() != Some(Tok::Close) {
                    return Err(format!(
                        "')' expected at position {} in '{}'.",
                        self.pos, self.text
                    ));
                }
                if !matches!(kind, FieldType::Str) {
                    return Err(STARTSWITH_SIGNATURE.to_owned());
                }
                Ok(Expr::StartsWith(canonical, prefix))
            }
            Some(Tok::Ident(name)) if self.peek() == Some(&Tok::Open) => {
                Err(format!("Unknown function '{name}'."))
            }
            Some(Tok::Ident(name)) => {
                let (canonical, kind) = self.property(&name)?;
                let op = match self.next() {
                    Some(Tok::Ident(op)) => match op.to_ascii_lowercase().as_str() {
                        "eq" => Op::Eq,
                        "ne" => Op::Ne,
                        "gt" => Op::Gt,
                        "ge" => Op::Ge,
                        "lt" => Op::Lt,
                        "le" => Op::Le,
                        other => {
                            return Err(format!(
                                "Syntax error at position {} in '{}': '{other}' is not a supported operator.",
                                self.pos, self.text
                            ));
                        }
                    },
                    _ => {
                        return Err(format!(
                            "Syntax error at position {} in '{}'.",
                            self.pos, self.text
                        ));
                    }
                };
                let literal = self.literal(kind, op)?;
                Ok(Expr::Cmp(canonical, op, literal))
            }
            _ => Err(format!(
                "Expression expected at position {} in '{}'.",
                self.pos, self.text
            )),
        }
    }

    fn literal(&mut self, kind: FieldType, op: Op) -> Result<Lit, String> {
        let mismatch = |found: &str| {
            format!(
                "A binary operator with incompatible types was detected. Found operand types '{}' and '{found}' for operator kind '{}'.",
                kind.edm(),
                op.kind_name()
            )
        };
        match self.next() {
            Some(Tok::Ident(word)) if word.eq_ignore_ascii_case("null") => Ok(Lit::Null),
            Some(Tok::Ident(word)) if word.eq_ignore_ascii_case("true") || word.eq_ignore_ascii_case("false") => {
                if kind != FieldType::Bool {
                    return Err(mismatch("Edm.Boolean"));
                }
                Ok(Lit::Bool(word.eq_ignore_ascii_case("true")))
            }
            Some(Tok::Str(value)) => match kind {
                FieldType::Str | FieldType::StrList => Ok(Lit::Str(value)),
                _ => Err(mismatch("Edm.String")),
            },
            Some(Tok::Bare(text)) => match kind {
                FieldType::DateTime => parse_datetime(&text).map(Lit::Time).ok_or_else(|| {
                    format!(
                        "The DateTimeOffset text '{text}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range."
                    )
                }),
                FieldType::Number => text
                    .parse::<f64>()
                    .map(Lit::Num)
                    .map_err(|_| format!("Syntax error: '{text}' is not a valid number.")),
                _ => {
                    if parse_datetime(&text).is_some() {
                        Err(mismatch("Edm.DateTimeOffset"))
                    } else {
                        Err(mismatch("Edm.Int32"))
                    }
                }
            },
            _ => Err(format!("Expression expected at position {} in '{}'.", self.pos, self.text)),
        }
    }
}

pub(crate) fn parse_filter(text: &str, spec: &EntitySpec) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        spec,
        text,
    };
    let expr = parser.or()?;
    if parser.pos < parser.tokens.len() {
        return Err(format!(
            "Syntax error at position {} in '{text}'.",
            parser.pos
        ));
    }
    Ok(expr)
}

fn compare_str(value: &str, op: Op, literal: &str) -> bool {
    let ordering = value.to_lowercase().cmp(&literal.to_lowercase());
    match op {
        Op::Eq => ordering.is_eq(),
        Op::Ne => ordering.is_ne(),
        Op::Gt => ordering.is_gt(),
        Op::Ge => ordering.is_ge(),
        Op::Lt => ordering.is_lt(),
        Op::Le => ordering.is_le(),
    }
}

fn compare<T: PartialOrd>(value: &T, op: Op, literal: &T) -> bool {
    match op {
        Op::Eq => value == literal,
        Op::Ne => value != literal,
        Op::Gt => value > literal,
        Op::Ge => value >= literal,
        Op::Lt => value < literal,
        Op::Le => value <= literal,
    }
}

impl Expr {
    pub(crate) fn matches(&self, record: &dyn Record) -> bool {
        match self {
            Expr::And(left, right) => left.matches(record) && right.matches(record),
            Expr::Or(left, right) => left.matches(record) || right.matches(record),
            Expr::StartsWith(property, prefix) => match record.get(property) {
                FVal::Str(value) => value.to_lowercase().starts_with(&prefix.to_lowercase()),
                _ => false,
            },
            Expr::Cmp(property, op, literal) => {
                let value = record.get(property);
                match (value, literal) {
                    (FVal::Null, Lit::Null) => *op == Op::Eq,
                    (FVal::Null, _) | (_, Lit::Null) => *op == Op::Ne,
                    (FVal::Str(value), Lit::Str(literal)) => compare_str(&value, *op, literal),
                    (FVal::List(values), Lit::Str(literal)) => match op {
                        Op::Ne => !values
                            .iter()
                            .any(|value| value.eq_ignore_ascii_case(literal)),
                        _ => values.iter().any(|value| compare_str(value, *op, literal)),
                    },
                    (FVal::Num(value), Lit::Num(literal)) => compare(&value, *op, literal),
                    (FVal::Bool(value), Lit::Bool(literal)) => compare(&value, *op, literal),
                    (FVal::Time(value), Lit::Time(literal)) => compare(&value, *op, literal),
                    _ => false,
                }
            }
        }
    }
}

/// A parsed query string.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pub(crate) filter: Option<Expr>,
    pub(crate) top: Option<usize>,
    pub(crate) skip: usize,
    /// Canonical property names in entity order.
    pub(crate) select: Option<Vec<&'static str>>,
    pub(crate) expand: Vec<&'static str>,
    /// `$orderby` keys in order: (property, descending).
    pub(crate) orderby: Vec<(&'static str, bool)>,
    pub(crate) count: bool,
}

/// Parses the OData options of a request against `spec`.
pub(crate) fn parse_query(
    params: &[(String, String)],
    spec: &EntitySpec,
    max_top: usize,
) -> Result<Query, String> {
    let mut query = Query::default();
    for (key, value) in params {
        let lower = key.to_ascii_lowercase();
        match lower.as_str() {
            "$filter" => query.filter = Some(parse_filter(value, spec)?),
            "$top" => {
                let top: usize = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("Invalid value '{value}' for $top query option found."))?;
                if top > max_top {
                    return Err(format!(
                        "The limit of '{max_top}' for Top query has been exceeded. The value from the incoming request is '{top}'."
                    ));
                }
                query.top = Some(top);
            }
            "$skip" => {
                query.skip = value.trim().parse().map_err(|_| {
                    format!("Invalid value '{value}' for $skip query option found.")
                })?;
            }
            "$select" => {
                let mut selected = Vec::new();
                for name in value
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                {
                    let canonical = spec
                        .properties
                        .iter()
                        .find(|known| known.eq_ignore_ascii_case(name))
                        .ok_or_else(|| {
                            format!(
                                "Could not find a property named '{name}' on type '{}'.",
                                spec.type_name
                            )
                        })?;
                    selected.push(*canonical);
                }
                selected.sort_by_key(|name| spec.properties.iter().position(|known| known == name));
                query.select = Some(selected);
            }
            "$expand" => {
                for name in value
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                {
                    let canonical = spec
                        .expandable
                        .iter()
                        .find(|known| known.eq_ignore_ascii_case(name))
                        .ok_or_else(|| {
                            format!(
                                "Property '{name}' on type '{}' is not a navigation property or complex property. Only navigation properties can be expanded.",
                                spec.type_name
                            )
                        })?;
                    query.expand.push(canonical);
                }
            }
            "$orderby" => {
                query.orderby.clear();
                for key in value.split(',') {
                    let mut words = key.split_whitespace();
                    let name = words.next().unwrap_or_default();
                    let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
                        None | Some("asc") => false,
                        Some("desc") => true,
                        Some(other) => {
                            return Err(format!("Syntax error: '{other}' is not asc or desc."));
                        }
                    };
                    if let Some(extra) = words.next() {
                        return Err(format!("Syntax error at '{extra}' in '{value}'."));
                    }
                    let canonical = spec
                        .properties
                        .iter()
                        .find(|known| known.eq_ignore_ascii_case(name))
                        .ok_or_else(|| {
                            format!(
                                "Could not find a property named '{name}' on type '{}'.",
                                spec.type_name
                            )
                        })?;
                    query.orderby.push((canonical, descending));
                }
            }
            "$count" => match value.to_ascii_lowercase().as_str() {
                "true" => query.count = true,
                "false" => query.count = false,
                _ => return Err(format!("'{value}' is not a valid count option.")),
            },
            "$skiptoken" | "$format" => {}
            other if other.starts_with('$') => {
                return Err(format!("The query parameter '{key}' is not supported."));
            }
            _ => {}
        }
    }
    Ok(query)
}

/// Sorts records for `$orderby`, key by key (stable; nulls first ascending, as SQL Server does).
pub(crate) fn order<R: Record>(records: &mut [R], orderby: &[(&'static str, bool)]) {
    if orderby.is_empty() {
        return;
    }
    records.sort_by(|a, b| {
        orderby
            .iter()
            .map(|(property, descending)| {
                let ordering = cmp_fval(&a.get(property), &b.get(property));
                if *descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

fn cmp_fval(a: &FVal, b: &FVal) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (FVal::Null, FVal::Null) => Ordering::Equal,
        (FVal::Null, _) => Ordering::Less,
        (_, FVal::Null) => Ordering::Greater,
        (FVal::Str(a), FVal::Str(b)) => a.to_lowercase().cmp(&b.to_lowercase()),
        (FVal::Num(a), FVal::Num(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
        (FVal::Time(a), FVal::Time(b)) => a.cmp(b),
        (FVal::Bool(a), FVal::Bool(b)) => a.cmp(b),
        _ => Ordering::Equal,
    }
}

/// Which slice of `n_matches` items to return and the `@odata.nextLink`, if any.
pub(crate) struct Page {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) next_link: Option<String>,
}

/// Pages a list endpoint according to the paging mode (docs/defender-api.md#paging).
pub(crate) fn page(
    n_matches: usize,
    query: &Query,
    mode: PagingMode,
    max_page: usize,
    link_base: &str,
    params: &[(String, String)],
) -> Page {
    let page_size = query.top.unwrap_or(max_page);
    let start = query.skip.min(n_matches);
    let end = (start + page_size).min(n_matches);
    let more = end < n_matches;
    let next_link = match mode {
        PagingMode::SkipOnly => None,
        PagingMode::GraphLike if more => Some(link_with_skip(link_base, params, end)),
        // The first page's link is sound; a followed page's link drops every key, keeps the
        // values (the `$skip` one too) and asks for `$skip` one page again:
        // `?=onboardingStatus+eq+…&=10000&$skip=10000`, which loops on page two.
        PagingMode::Buggy2022 if more && query.top.is_none() && query.skip == 0 => {
            Some(link_with_skip(link_base, params, end))
        }
        PagingMode::Buggy2022 if more && query.top.is_none() => {
            let mut parts: Vec<String> = params
                .iter()
                .filter(|(key, _)| !key.is_empty())
                .map(|(_, value)| format!("={}", encode(value)))
                .collect();
            parts.push(format!("$skip={page_size}"));
            Some(format!("{link_base}?{}", parts.join("&")))
        }
        _ => None,
    };
    Page {
        start,
        end,
        next_link,
    }
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `link_base?` + every parameter as sent, with `$skip` set to `skip`.
pub(crate) fn link_with_skip(link_base: &str, params: &[(String, String)], skip: usize) -> String {
    let mut parts: Vec<String> = params
        .iter()
        .filter(|(key, _)| !key.eq_ignore_ascii_case("$skip"))
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect();
    parts.push(format!("$skip={skip}"));
    format!("{link_base}?{}", parts.join("&"))
}

/// Whether `property` survives `$select` (`None` keeps everything).
pub(crate) fn keeps(
    select: Option<&[&'static str]>,
    property: &str,
    drop_onboarding: bool,
) -> bool {
    match select {
        None => true,
        Some(selected) => {
            if drop_onboarding && property == "onboardingStatus" {
                return false;
            }
            selected.contains(&property)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: EntitySpec = EntitySpec {
        type_name: "Machine",
        filterable: &[
            ("computerDnsName", FieldType::Str),
            ("lastSeen", FieldType::DateTime),
            ("rbacGroupId", FieldType::Number),
            ("machineTags", FieldType::StrList),
        ],
        properties: &[
            "id",
            "computerDnsName",
            "lastSeen",
            "rbacGroupId",
            "machineTags",
            "osBuild",
        ],
        expandable: &[],
    };

    struct Row;
    impl Record for Row {
        fn get(&self, property: &str) -> FVal {
            match property {
                "computerDnsName" => FVal::Str("Host1.Contoso.com".to_owned()),
                "lastSeen" => FVal::Time(parse_datetime("2024-05-01T10:00:00Z").unwrap()),
                "rbacGroupId" => FVal::Num(140.0),
                "machineTags" => FVal::List(vec!["VIP".to_owned()]),
                _ => FVal::Null,
            }
        }
    }

    fn eval(filter: &str) -> Result<bool, String> {
        Ok(parse_filter(filter, &SPEC)?.matches(&Row))
    }

    #[test]
    fn operators_and_precedence() {
        assert_eq!(eval("computerDnsName eq 'host1.contoso.com'"), Ok(true));
        assert_eq!(eval("ComputerDnsName ne 'host1.contoso.com'"), Ok(false));
        assert_eq!(
            eval("lastSeen gt 2024-05-01T09:00:00Z and rbacGroupId eq 140"),
            Ok(true)
        );
        assert_eq!(
            eval("lastSeen lt 2024-05-01T09:00:00Z or rbacGroupId le 140"),
            Ok(true)
        );
        assert_eq!(eval("lastSeen ge 2024-05-02Z"), Ok(false));
        assert_eq!(
            eval(
                "(rbacGroupId lt 100 or rbacGroupId ge 141) and lastSeen le 2024-05-01T10:00:00.0000000+00:00"
            ),
            Ok(false)
        );
        assert_eq!(eval("startswith(computerDnsName,'host')"), Ok(true));
        assert_eq!(eval("machineTags eq 'vip'"), Ok(true));
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(
            eval("lastSeen ge '2024-05-01T00:00:00Z'")
                .unwrap_err()
                .contains("incompatible types")
        );
        assert!(
            eval("lastSeen ge 2024-05-01T00:00:00")
                .unwrap_err()
                .contains("DateTimeOffset text")
        );
        assert!(eval("osBuild eq 1").unwrap_err().contains("not defined"));
        assert!(
            eval("nope eq 1")
                .unwrap_err()
                .contains("Could not find a property")
        );
        assert!(eval("computerDnsName has 'x'").is_err());
        assert!(eval("contains(computerDnsName,'x')").is_err());
        assert!(eval("computerDnsName eq 'x").is_err());
    }

    #[test]
    fn paging_modes() {
        let params = vec![("$filter".to_owned(), "a eq 'b'".to_owned())];
        let query = Query::default();
        let page_skip = page(
            25,
            &query,
            PagingMode::SkipOnly,
            10,
            "http://h/api/machines",
            &params,
        );
        assert_eq!(
            (page_skip.start, page_skip.end, page_skip.next_link),
            (0, 10, None)
        );
        let graph = page(
            25,
            &query,
            PagingMode::GraphLike,
            10,
            "http://h/api/machines",
            &params,
        );
        assert_eq!(
            graph.next_link.as_deref(),
            Some("http://h/api/machines?%24filter=a+eq+%27b%27&$skip=10")
        );
        let buggy = page(
            25,
            &query,
            PagingMode::Buggy2022,
            10,
            "http://h/api/machines",
            &params,
        );
        assert_eq!(
            buggy.next_link.as_deref(),
            Some("http://h/api/machines?%24filter=a+eq+%27b%27&$skip=10")
        );
        let second = Query {
            skip: 10,
            ..Query::default()
        };
        let followed = vec![
            ("$filter".to_owned(), "a eq 'b'".to_owned()),
            ("$skip".to_owned(), "10".to_owned()),
        ];
        let buggy = page(
            25,
            &second,
            PagingMode::Buggy2022,
            10,
            "http://h/api/machines",
            &followed,
        );
        assert_eq!(
            buggy.next_link.as_deref(),
            Some("http://h/api/machines?=a+eq+%27b%27&=10&$skip=10")
        );
    }
}
