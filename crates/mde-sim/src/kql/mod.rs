//! A documented subset of the Kusto Query Language (KQL), enough to answer the advanced-hunting
//! queries a Defender connector sends. The HTTP layer (`crate::hunting`) turns a [`KqlError`] into
//! the service's 400 body; this module knows nothing about HTTP.
//!
//! # The supported subset
//!
//! A query is zero or more `let` statements and one tabular expression, separated by `;`:
//! `let since = ago(7d); DeviceInfo | where Timestamp > since`. `let` binds a scalar (a constant
//! expression) or a tabular expression (`let T = DeviceInfo | where ...; T | count`). `//`
//! comments, line breaks and a trailing `;` are allowed anywhere between tokens.
//!
//! A tabular expression starts with a table name (or `print a = 1, b = "x"`, or a parenthesized
//! tabular expression) followed by `| operator` stages:
//!
//! | Operator | Forms |
//! |---|---|
//! | `where` (alias `filter`) | `where Predicate` |
//! | `project` | `project Col, Name = Expr, ...` |
//! | `project-away`, `project-keep`, `project-reorder` | column names, `*` wildcards allowed (`project-away Initiating*`) |
//! | `project-rename` | `project-rename New = Old, ...` |
//! | `extend` | `extend Name = Expr, ...`; later items see earlier ones; an existing name is replaced in place |
//! | `summarize` | `summarize [Name =] Agg(...), ... [by [Name =] Expr, ...]`; aggregates may sit inside expressions (`100.0 * countif(x) / count()`) |
//! | `order by` / `sort by` | `Expr [asc\|desc] [nulls first\|last]`, several keys; default `desc` |
//! | `take` / `limit` | `take N` |
//! | `top` | `top N by Expr [asc\|desc] [nulls first\|last]` |
//! | `distinct` | `distinct Col, ...` or `distinct *` |
//! | `mv-expand` | `mv-expand [kind=bag\|array] [with_itemindex=Ix] [Name =] Expr [to typeof(T)], ... [limit N]` |
//! | `count` | one row, column `Count` |
//! | `join` | `join [kind=innerunique\|inner\|leftouter\|rightouter\|fullouter\|leftsemi\|leftanti\|rightsemi\|rightanti] (Tabular) on Col, $left.A == $right.B`; clashing right-side names get a `1` suffix |
//! | `serialize` | accepted, does nothing |
//! | `getschema` | one row per input column: `ColumnName`, `ColumnOrdinal`, `DataType`, `ColumnType` |
//!
//! Aggregates (only inside `summarize`): `count()`, `countif(p)`, `dcount(x)` (exact, not
//! HyperLogLog), `dcountif(x, p)`, `sum(x)`, `sumif(x, p)`, `min(x)`, `max(x)`, `avg(x)`,
//! `avgif(x, p)`, `arg_max(x, *)` / `arg_max(x, c1, c2)`, `arg_min(...)`, `make_set(x [, max])`
//! (array arguments add their elements), `make_set_if(x, p [, max])`, `make_list(x [, max])`,
//! `make_list_if(x, p [, max])`, `take_any(x)` (alias `any`). Default names follow Kusto:
//! `count_`, `dcount_X`, `sum_X`, `min_X`, `set_X`, `list_X`, `any_X`; `arg_max(T, *)` yields `T`
//! and every other input column not already in `by`.
//!
//! Scalar expressions:
//! - literals: `"..."`, `'...'` (with `\` escapes), `@"..."` verbatim, `h"..."`, longs, reals,
//!   `true`/`false`, timespans (`1d`, `2h`, `30m`, `10s`, `1ms`, `1.5h`, `timespan(1.02:00:00)`),
//!   `datetime(2026-11-20T14:00:00Z)` / `datetime("...")` / `datetime(2026-11-20)`,
//!   `dynamic([...])` / `dynamic({...})`, typed nulls such as `int(null)`;
//! - arithmetic `+ - * / %` on numbers, `datetime ± timespan`, `datetime - datetime`,
//!   `timespan ± * /`;
//! - comparisons `== != < <= > >=`, `=~` / `!~` (case-insensitive), `and`, `or`, `not(...)`;
//! - `in (...)`, `!in (...)`, `in~`, `!in~` (a `dynamic([...])` item is flattened),
//!   `between (a .. b)` / `!between` (for datetimes `b` may be a timespan offset), `has_any (...)`,
//!   `has_all (...)`;
//! - string operators, case-insensitive unless suffixed `_cs`, each with a `!` negation:
//!   `has` (whole terms of ASCII letters and digits), `hasprefix`, `hassuffix`, `contains`,
//!   `startswith`, `endswith`;
//! - member access on dynamic values: `ip.IPAddress`, `ip["IPAddress"]`, `arr[0]`, `arr[-1]`.
//!
//! Functions: `ago`, `now`, `todatetime`, `totimespan`, `tostring`, `toint`, `tolong`,
//! `todouble`/`toreal`/`todecimal`, `tobool`, `todynamic`/`parse_json`, `tolower`, `toupper`,
//! `strlen`, `strcat`, `substring`, `split`, `replace_string`, `indexof`, `isempty`,
//! `isnotempty`, `isnull`, `isnotnull`, `iff`/`iif`, `case`, `coalesce`, `not`, `bin`/`floor`,
//! `startofday`, `startofweek`, `startofmonth`, `dayofweek`, `array_length`, `set_has_element`,
//! `pack_array`, `bag_pack`/`pack`, `ipv4_is_in_range`, `ipv4_is_private`, `parse_ipv4`, `abs`,
//! `round`, `min_of`, `max_of`.
//!
//! Output column names for unnamed expressions follow Kusto: a column keeps its name, member
//! access joins with `_` (`tostring(ip.IPAddress)` is `ip_IPAddress`), conversions and `bin()`
//! keep their argument's name, anything else is `Column1`, `Column2`...; clashes get a numeric
//! suffix (`Timestamp1`).
//!
//! Case rules are Kusto's: operator keywords, function names, table names and column names are
//! case-sensitive (`Where`, `ToString()`, `deviceinfo` and `deviceId` all fail).
//!
//! # Differences from the real service
//!
//! - Anything not listed above is rejected: `union`, `lookup`, `parse`, `extract` and regular
//!   expressions, `make-series`, `materialize`, user functions, `datatable`, multiple result
//!   tables. Unknown operators are syntax errors, unknown functions
//!   `'<op>' operator: Unknown function: 'f'`.
//! - Error texts imitate the service's (`Query could not be parsed at 'x' on line [1,15]` with a
//!   1-based line and 0-based column, `Failed to resolve table or column expression named 'T'`,
//!   `'where' operator: Failed to resolve scalar expression named 'C'`,
//!   `Cannot compare values of types string and long. Try adding explicit casts`); other
//!   semantic messages are our own wording.
//! - There is no `timespan` column type in [`ColumnType`]: timespan results are returned as
//!   `String` columns holding Kusto's text form (`1.02:03:04.5000000`).
//! - `dcount` is exact. Group and `distinct` output keeps first-seen order; the service's order
//!   is unspecified. `arg_max`/`arg_min` keep the first row on ties.
//! - Null handling is three-valued for comparisons (a `where` keeps only `true`); string columns
//!   read a null cell as `""`. Integer division by zero gives null.
//! - Member access and `mv-expand` need a `dynamic` value, as in Kusto: a `string` column that
//!   holds JSON text (Defender's `IPAddresses`, `LoggedOnUsers`) must go through `todynamic()` /
//!   `parse_json()` first. The refusal is a semantic error in our own words (`member access
//!   needs a value of type dynamic, not string (use todynamic())`).
//! - Expressions may nest at most 64 levels deep (deeper input is a syntax error rather than a
//!   stack overflow). No row, size or time limits are applied here; the endpoint applies the
//!   service's.
//!
//! # Execution
//!
//! Queries are parsed by hand (`lexer`, `parser`), compiled (`compile`: names resolved to column
//! indices once, types checked, constants such as `ago(1d)` folded) and run (`exec`):
//! `where`, `project`, `extend`, `mv-expand`, `take`, `distinct` and the left side of
//! `inner`/`innerunique`/`leftouter`/`leftsemi`/`leftanti` joins stream over
//! [`Tables::scan`]; `summarize`, sorting, `count`, right-driven joins and every join's right
//! side consume their input first, and `top N` keeps at most `max(2N, 1024)` rows.
//!
//! `Timestamp` bounds found in the `where` stages directly after the table (`Timestamp >
//! ago(1d)`, `>=`, `<`, `<=`, `==`, `between`, reversed operands, nested `and`; constant bounds
//! only, `let` names included) become the [`ScanHint`] passed to `scan`. Bounds are inclusive
//! and the `where` still runs, so a source may ignore the hint or return extra rows.

use chrono::{DateTime, Utc};

mod compile;
mod eval;
mod exec;
mod lexer;
mod parser;
mod value;

#[cfg(test)]
mod tests;

/// The column types the service reports in a response's `Schema[].Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    String,
    DateTime,
    Int64,
    Int32,
    Double,
    Boolean,
    /// A JSON value (array or object). The service delivers these columns as strings holding JSON.
    Dynamic,
}

/// One cell. `Dynamic` cells hold parsed JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    String(String),
    DateTime(DateTime<Utc>),
    Long(i64),
    Int(i32),
    Real(f64),
    Bool(bool),
    Dynamic(serde_json::Value),
}

/// A table's name and its columns in order.
#[derive(Debug, Clone)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<(String, ColumnType)>,
}

/// Bounds on `Timestamp` that the engine found in the query's leading `where` clauses, so a
/// table source can skip generating rows outside them. A source may ignore the hint.
#[derive(Debug, Clone, Default)]
pub struct ScanHint {
    pub min_time: Option<DateTime<Utc>>,
    pub max_time: Option<DateTime<Utc>>,
}

/// Where the rows come from: the simulated tenant implements this.
pub trait Tables {
    fn schema(&self, table: &str) -> Option<TableSchema>;
    /// Rows in schema column order.
    fn scan<'a>(
        &'a self,
        table: &str,
        hint: &ScanHint,
    ) -> Box<dyn Iterator<Item = Vec<Value>> + 'a>;
}

/// A query's answer.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    pub schema: Vec<(String, ColumnType)>,
    pub rows: Vec<Vec<Value>>,
}

/// Why a query could not run; `message` is shown to the caller as the service would.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct KqlError {
    pub message: String,
}

impl KqlError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        KqlError {
            message: message.into(),
        }
    }
}

/// Parses and runs `query` against `tables`, with `now` as the value of `now()` and `ago()`'s base.
pub fn run(query: &str, tables: &dyn Tables, now: DateTime<Utc>) -> Result<QueryOutput, KqlError> {
    let stmts = parser::parse(query)?;
    let plan = compile::compile(&stmts, tables, now)?;
    let mut rows: Vec<Vec<Value>> = exec::run_plan(&plan, tables).collect();
    let spans: Vec<usize> = plan
        .schema
        .iter()
        .enumerate()
        .filter(|(_, (_, ty))| *ty == value::Ty::TimeSpan)
        .map(|(i, _)| i)
        .collect();
    if !spans.is_empty() {
        for row in &mut rows {
            for i in &spans {
                if let Some(cell) = row.get_mut(*i)
                    && let Value::Long(ticks) = cell
                {
                    *cell = Value::String(value::format_timespan(*ticks));
                }
            }
        }
    }
    let schema = plan
        .schema
        .into_iter()
        .map(|(name, ty)| (name, ty.to_column()))
        .collect();
    Ok(QueryOutput { schema, rows })
}
