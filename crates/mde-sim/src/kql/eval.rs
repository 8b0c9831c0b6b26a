//! Compiled scalar expressions ([`CExpr`]: columns resolved to indices, types checked,
//! constants folded) and their evaluation against one row.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::net::Ipv4Addr;

use chrono::{Datelike, TimeZone, Utc};
use serde_json::Value as Json;

use super::Value;
use super::parser::{StrKind, StrOp};
use super::value::{
    TICKS_PER_DAY, Ty, Val, add_span, bin_date, compare, date_ticks, eq_ci, equals, lower,
    parse_datetime, parse_timespan,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Scalar functions. `ago()` and `now()` compile to arithmetic on a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Func {
    ToString,
    ToInt,
    ToLong,
    ToReal,
    ToBool,
    ToDateTime,
    ToTimeSpan,
    ToDynamic,
    ToLower,
    ToUpper,
    StrLen,
    StrCat,
    Substring,
    Split,
    ReplaceString,
    IndexOf,
    IsEmpty,
    IsNotEmpty,
    IsNull,
    IsNotNull,
    Iff,
    Case,
    Coalesce,
    Not,
    Bin,
    StartOfDay,
    StartOfWeek,
    StartOfMonth,
    DayOfWeek,
    ArrayLength,
    SetHasElement,
    PackArray,
    BagPack,
    Ipv4IsInRange,
    Ipv4IsPrivate,
    ParseIpv4,
    Abs,
    Round,
    MinOf,
    MaxOf,
}

/// The right-hand side of a string operator: constants are lower-cased once at compile time.
#[derive(Debug)]
pub(super) enum Needle {
    Const(String),
    Expr(Box<CExpr>),
}

#[derive(Debug)]
pub(super) enum CExpr {
    Const(Val<'static>),
    Col(usize, Ty),
    Member(Box<CExpr>, String),
    Index(Box<CExpr>, Box<CExpr>),
    Neg(Box<CExpr>),
    Arith(Arith, Box<CExpr>, Box<CExpr>),
    Cmp(Cmp, Box<CExpr>, Box<CExpr>),
    EqCi {
        negated: bool,
        left: Box<CExpr>,
        right: Box<CExpr>,
    },
    And(Vec<CExpr>),
    Or(Vec<CExpr>),
    Str {
        op: StrOp,
        left: Box<CExpr>,
        needle: Needle,
    },
    In {
        expr: Box<CExpr>,
        list: Vec<CExpr>,
        set: Option<HashSet<String>>,
        negated: bool,
        ci: bool,
    },
    HasAny {
        expr: Box<CExpr>,
        needles: Vec<String>,
        all: bool,
    },
    Between {
        expr: Box<CExpr>,
        low: Box<CExpr>,
        high: Box<CExpr>,
        negated: bool,
    },
    Call(Func, Vec<CExpr>),
}

impl CExpr {
    pub(super) fn is_const(&self) -> bool {
        matches!(self, CExpr::Const(_))
    }

    /// True when the node is not a constant or column and all its children are constants, so
    /// it can be evaluated once at compile time.
    pub(super) fn foldable(&self) -> bool {
        let all = |xs: &[CExpr]| xs.iter().all(CExpr::is_const);
        match self {
            CExpr::Const(_) | CExpr::Col(..) => false,
            CExpr::Member(b, _) | CExpr::Neg(b) => b.is_const(),
            CExpr::Index(a, b) | CExpr::Arith(_, a, b) | CExpr::Cmp(_, a, b) => {
                a.is_const() && b.is_const()
            }
            CExpr::EqCi { left, right, .. } => left.is_const() && right.is_const(),
            CExpr::And(xs) | CExpr::Or(xs) | CExpr::Call(_, xs) => all(xs),
            CExpr::Str { left, needle, .. } => {
                left.is_const()
                    && matches!(needle, Needle::Const(_) | Needle::Expr(_))
                    && match needle {
                        Needle::Const(_) => true,
                        Needle::Expr(e) => e.is_const(),
                    }
            }
            CExpr::In { expr, list, .. } => expr.is_const() && all(list),
            CExpr::HasAny { expr, .. } => expr.is_const(),
            CExpr::Between {
                expr, low, high, ..
            } => expr.is_const() && low.is_const() && high.is_const(),
        }
    }

    /// Evaluates a foldable node now.
    pub(super) fn fold(self) -> CExpr {
        if self.foldable() {
            CExpr::Const(eval(&self, &[]).into_static())
        } else {
            self
        }
    }
}

pub(super) fn eval<'r>(e: &'r CExpr, row: &'r [Value]) -> Val<'r> {
    match e {
        CExpr::Const(v) => v.view(),
        CExpr::Col(i, ty) => row.get(*i).map_or(Val::Null, |c| Val::from_cell(c, *ty)),
        CExpr::Member(base, key) => member(eval(base, row), key),
        CExpr::Index(base, idx) => {
            let idx = eval(idx, row).unwrap_dyn();
            match idx {
                Val::Long(i) => element(eval(base, row), i),
                Val::Str(k) => member(eval(base, row), &k),
                _ => Val::Null,
            }
        }
        CExpr::Neg(x) => match eval(x, row).unwrap_dyn() {
            Val::Long(n) => Val::Long(n.wrapping_neg()),
            Val::Real(f) => Val::Real(-f),
            Val::Span(t) => Val::Span(t.wrapping_neg()),
            _ => Val::Null,
        },
        CExpr::Arith(op, a, b) => arith(*op, eval(a, row), eval(b, row)),
        CExpr::Cmp(op, a, b) => {
            let (a, b) = (eval(a, row), eval(b, row));
            if a.is_null() || b.is_null() {
                return Val::Null;
            }
            let ord = compare(&a, &b);
            Val::Bool(match op {
                Cmp::Eq => ord == Some(Ordering::Equal),
                Cmp::Ne => ord != Some(Ordering::Equal),
                Cmp::Lt => ord == Some(Ordering::Less),
                Cmp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                Cmp::Gt => ord == Some(Ordering::Greater),
                Cmp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
            })
        }
        CExpr::EqCi {
            negated,
            left,
            right,
        } => {
            let (a, b) = (eval(left, row), eval(right, row));
            Val::Bool(eq_ci(&a.to_kstring(), &b.to_kstring()) != *negated)
        }
        CExpr::And(xs) => {
            let mut unknown = false;
            for x in xs {
                match eval(x, row).as_bool() {
                    Some(false) => return Val::Bool(false),
                    Some(true) => {}
                    None => unknown = true,
                }
            }
            if unknown { Val::Null } else { Val::Bool(true) }
        }
        CExpr::Or(xs) => {
            let mut unknown = false;
            for x in xs {
                match eval(x, row).as_bool() {
                    Some(true) => return Val::Bool(true),
                    Some(false) => {}
                    None => unknown = true,
                }
            }
            if unknown { Val::Null } else { Val::Bool(false) }
        }
        CExpr::Str { op, left, needle } => {
            let hay = eval(left, row);
            let hay = hay.to_kstring();
            let hit = match needle {
                Needle::Const(n) => str_match(*op, &hay, n),
                Needle::Expr(e) => {
                    let n = eval(e, row);
                    let n = n.to_kstring();
                    if op.case_sensitive {
                        str_match(*op, &hay, &n)
                    } else {
                        str_match(*op, &hay, &lower(&n))
                    }
                }
            };
            Val::Bool(hit != op.negated)
        }
        CExpr::In {
            expr,
            list,
            set,
            negated,
            ci,
        } => {
            let v = eval(expr, row);
            if v.is_null() {
                return Val::Null;
            }
            let hit = match set {
                Some(set) => {
                    let s = v.to_kstring();
                    if *ci {
                        set.contains(lower(&s).as_ref())
                    } else {
                        set.contains(s.as_ref())
                    }
                }
                None => list.iter().any(|item| {
                    let item = eval(item, row);
                    if *ci {
                        eq_ci(&v.to_kstring(), &item.to_kstring())
                    } else {
                        equals(&v, &item) == Some(true)
                    }
                }),
            };
            Val::Bool(hit != *negated)
        }
        CExpr::HasAny { expr, needles, all } => {
            let hay = eval(expr, row);
            let hay = hay.to_kstring();
            let op = StrOp {
                kind: StrKind::Has,
                negated: false,
                case_sensitive: false,
            };
            let hit = if *all {
                needles.iter().all(|n| str_match(op, &hay, n))
            } else {
                needles.iter().any(|n| str_match(op, &hay, n))
            };
            Val::Bool(hit)
        }
        CExpr::Between {
            expr,
            low,
            high,
            negated,
        } => {
            let (v, lo, hi) = (eval(expr, row), eval(low, row), eval(high, row));
            if v.is_null() || lo.is_null() || hi.is_null() {
                return Val::Null;
            }
            let above = matches!(compare(&v, &lo), Some(Ordering::Greater | Ordering::Equal));
            let below = matches!(compare(&v, &hi), Some(Ordering::Less | Ordering::Equal));
            Val::Bool((above && below) != *negated)
        }
        CExpr::Call(f, args) => call(*f, args, row),
    }
}

fn member<'r>(base: Val<'r>, key: &str) -> Val<'r> {
    match base {
        Val::Dyn(Cow::Borrowed(j)) => j.get(key).map_or(Val::Null, |v| Val::Dyn(Cow::Borrowed(v))),
        Val::Dyn(Cow::Owned(mut j)) => j.get_mut(key).map_or(Val::Null, |v| Val::json(v.take())),
        Val::Str(s) => match serde_json::from_str::<Json>(&s) {
            Ok(mut j) => j.get_mut(key).map_or(Val::Null, |v| Val::json(v.take())),
            Err(_) => Val::Null,
        },
        _ => Val::Null,
    }
}

fn element(base: Val<'_>, i: i64) -> Val<'_> {
    let pick = |len: usize| -> Option<usize> {
        let len = i64::try_from(len).ok()?;
        let at = if i < 0 { len.checked_add(i)? } else { i };
        if (0..len).contains(&at) {
            usize::try_from(at).ok()
        } else {
            None
        }
    };
    match base {
        Val::Dyn(Cow::Borrowed(Json::Array(a))) => {
            pick(a.len()).map_or(Val::Null, |k| Val::Dyn(Cow::Borrowed(&a[k])))
        }
        Val::Dyn(Cow::Owned(Json::Array(mut a))) => {
            pick(a.len()).map_or(Val::Null, |k| Val::json(a.swap_remove(k)))
        }
        Val::Str(s) => match serde_json::from_str::<Json>(&s) {
            Ok(Json::Array(mut a)) => {
                pick(a.len()).map_or(Val::Null, |k| Val::json(a.swap_remove(k)))
            }
            _ => Val::Null,
        },
        _ => Val::Null,
    }
}

pub(super) fn arith(op: Arith, a: Val<'_>, b: Val<'_>) -> Val<'static> {
    use Val::{Date, Long, Real, Span};
    let (a, b) = (a.unwrap_dyn(), b.unwrap_dyn());
    let real = |x: f64, y: f64| {
        Real(match op {
            Arith::Add => x + y,
            Arith::Sub => x - y,
            Arith::Mul => x * y,
            Arith::Div => x / y,
            Arith::Mod => x % y,
        })
    };
    let opt = |v: Option<Val<'static>>| v.unwrap_or(Val::Null);
    match (a, b) {
        (Long(x), Long(y)) => opt(match op {
            Arith::Add => Some(Long(x.wrapping_add(y))),
            Arith::Sub => Some(Long(x.wrapping_sub(y))),
            Arith::Mul => Some(Long(x.wrapping_mul(y))),
            Arith::Div => x.checked_div(y).map(Long),
            Arith::Mod => x.checked_rem(y).map(Long),
        }),
        (Long(x), Real(y)) => real(x as f64, y),
        (Real(x), Long(y)) => real(x, y as f64),
        (Real(x), Real(y)) => real(x, y),
        (Date(d), Span(t)) => opt(match op {
            Arith::Add => add_span(&d, t).map(Date),
            Arith::Sub => add_span(&d, t.wrapping_neg()).map(Date),
            _ => None,
        }),
        (Span(t), Date(d)) if op == Arith::Add => opt(add_span(&d, t).map(Date)),
        (Date(x), Date(y)) if op == Arith::Sub => opt(date_ticks(&x)
            .zip(date_ticks(&y))
            .and_then(|(x, y)| x.checked_sub(y))
            .map(Span)),
        (Span(x), Span(y)) => opt(match op {
            Arith::Add => x.checked_add(y).map(Span),
            Arith::Sub => x.checked_sub(y).map(Span),
            Arith::Div if y != 0 => Some(Real(x as f64 / y as f64)),
            Arith::Mod => x.checked_rem(y).map(Span),
            _ => None,
        }),
        (Span(t), Long(n)) | (Long(n), Span(t)) if op == Arith::Mul => {
            opt(t.checked_mul(n).map(Span))
        }
        (Span(t), Real(f)) | (Real(f), Span(t)) if op == Arith::Mul => span_from_f64(t as f64 * f),
        (Span(t), Long(n)) if op == Arith::Div => opt(t.checked_div(n).map(Span)),
        (Span(t), Real(f)) if op == Arith::Div => span_from_f64(t as f64 / f),
        _ => Val::Null,
    }
}

fn span_from_f64(t: f64) -> Val<'static> {
    if t.is_finite() && t.abs() < i64::MAX as f64 {
        Val::Span(t.round() as i64)
    } else {
        Val::Null
    }
}

// ---- string operators -----------------------------------------------------------------------

/// Evaluates `hay <op> needle` ignoring `op.negated`. Case-insensitive needles arrive lower-cased.
pub(super) fn str_match(op: StrOp, hay: &str, needle: &str) -> bool {
    let ci = !op.case_sensitive;
    match op.kind {
        StrKind::Contains if !ci => hay.contains(needle),
        StrKind::StartsWith if !ci => hay.starts_with(needle),
        StrKind::EndsWith if !ci => hay.ends_with(needle),
        StrKind::StartsWith => prefix_len(hay, needle).is_some_and(|n| eq_ci(&hay[..n], needle)),
        StrKind::EndsWith => {
            hay.len()
                .checked_sub(needle.len())
                .filter(|at| hay.is_char_boundary(*at))
                .is_some_and(|at| eq_ci(&hay[at..], needle))
                || (!needle.is_ascii() && lower(hay).ends_with(needle))
        }
        StrKind::Contains => find_each(hay, needle, ci, |_, _| true),
        StrKind::Has => find_each(hay, needle, ci, |h, at| {
            term_start(h, at, needle) && term_end(h, at + needle.len(), needle)
        }),
        StrKind::HasPrefix => find_each(hay, needle, ci, |h, at| term_start(h, at, needle)),
        StrKind::HasSuffix => find_each(hay, needle, ci, |h, at| {
            term_end(h, at + needle.len(), needle)
        }),
    }
}

fn prefix_len(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.len();
    (hay.len() >= n && hay.is_char_boundary(n)).then_some(n)
}

fn is_term_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// A match at `at` starts a term (or the needle itself starts with a separator).
fn term_start(hay: &[u8], at: usize, needle: &str) -> bool {
    at == 0 || !is_term_byte(hay[at - 1]) || !needle.bytes().next().is_some_and(is_term_byte)
}

fn term_end(hay: &[u8], end: usize, needle: &str) -> bool {
    end >= hay.len() || !is_term_byte(hay[end]) || !needle.bytes().last().is_some_and(is_term_byte)
}

/// Calls `accept(hay_bytes, position)` for each occurrence of `needle` until it returns true.
/// Case-insensitive search folds ASCII in place and lower-cases only for non-ASCII needles.
fn find_each(hay: &str, needle: &str, ci: bool, accept: impl Fn(&[u8], usize) -> bool) -> bool {
    if ci && !needle.is_ascii() {
        let lowered = hay.to_lowercase();
        return find_each(&lowered, needle, false, accept);
    }
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    if n.len() > h.len() {
        return false;
    }
    (0..=h.len() - n.len()).any(|at| {
        let window = &h[at..at + n.len()];
        let same = if ci {
            window.eq_ignore_ascii_case(n)
        } else {
            window == n
        };
        same && accept(h, at)
    })
}

// ---- functions ------------------------------------------------------------------------------

fn call<'r>(f: Func, args: &'r [CExpr], row: &'r [Value]) -> Val<'r> {
    let arg = |i: usize| args.get(i).map_or(Val::Null, |a| eval(a, row));
    match f {
        Func::ToString => Val::string(arg(0).into_kstring()),
        Func::ToInt => to_long(arg(0))
            .and_then(|n| i32::try_from(n).ok())
            .map_or(Val::Null, |n| Val::Long(i64::from(n))),
        Func::ToLong => to_long(arg(0)).map_or(Val::Null, Val::Long),
        Func::ToReal => match arg(0).unwrap_dyn() {
            Val::Str(s) => s.trim().parse::<f64>().map_or(Val::Null, Val::Real),
            Val::Span(t) => Val::Real(t as f64),
            v => v.as_f64().map_or(Val::Null, Val::Real),
        },
        Func::ToBool => match arg(0).unwrap_dyn() {
            Val::Bool(b) => Val::Bool(b),
            Val::Long(n) => Val::Bool(n != 0),
            Val::Real(f) => Val::Bool(f != 0.0),
            Val::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Val::Bool(true),
                "false" | "0" => Val::Bool(false),
                _ => Val::Null,
            },
            _ => Val::Null,
        },
        Func::ToDateTime => match arg(0).unwrap_dyn() {
            Val::Date(d) => Val::Date(d),
            Val::Str(s) => parse_datetime(&s).map_or(Val::Null, Val::Date),
            _ => Val::Null,
        },
        Func::ToTimeSpan => match arg(0).unwrap_dyn() {
            Val::Span(t) => Val::Span(t),
            Val::Str(s) => parse_timespan(&s).map_or(Val::Null, Val::Span),
            Val::Long(n) => Val::Span(n),
            _ => Val::Null,
        },
        Func::ToDynamic => match arg(0) {
            Val::Str(s) => match serde_json::from_str::<Json>(&s) {
                Ok(j) => Val::json(j),
                // Kusto keeps text that is not JSON as a dynamic string.
                Err(_) => Val::json(Json::String(s.into_owned())),
            },
            Val::Dyn(j) => Val::Dyn(j),
            v => Val::json(v.to_json()),
        },
        Func::ToLower => {
            let v = arg(0);
            let s = v.to_kstring();
            let out = if s.is_ascii() {
                s.to_ascii_lowercase()
            } else {
                s.to_lowercase()
            };
            Val::string(out)
        }
        Func::ToUpper => {
            let v = arg(0);
            let s = v.to_kstring();
            let out = if s.is_ascii() {
                s.to_ascii_uppercase()
            } else {
                s.to_uppercase()
            };
            Val::string(out)
        }
        Func::StrLen => {
            let v = arg(0);
            let n = v.to_kstring().chars().count();
            Val::Long(i64::try_from(n).unwrap_or(i64::MAX))
        }
        Func::StrCat => {
            let mut out = String::new();
            for a in args {
                out.push_str(&eval(a, row).to_kstring());
            }
            Val::string(out)
        }
        Func::Substring => {
            let v = arg(0);
            let s = v.to_kstring();
            let start = arg(1).as_i64().unwrap_or(0).max(0);
            let start = usize::try_from(start).unwrap_or(usize::MAX);
            let taken: String = match args.len() {
                3 => {
                    let len = arg(2).as_i64().unwrap_or(0).max(0);
                    s.chars()
                        .skip(start)
                        .take(usize::try_from(len).unwrap_or(usize::MAX))
                        .collect()
                }
                _ => s.chars().skip(start).collect(),
            };
            Val::string(taken)
        }
        Func::Split => {
            let (v, d) = (arg(0), arg(1));
            let (s, d) = (v.to_kstring(), d.to_kstring());
            let parts: Vec<Json> = if d.is_empty() {
                vec![Json::String(s.to_string())]
            } else {
                s.split(d.as_ref())
                    .map(|p| Json::String(p.to_owned()))
                    .collect()
            };
            if args.len() == 3 {
                let picked = arg(2)
                    .as_i64()
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| parts.get(i).cloned());
                return Val::json(Json::Array(picked.into_iter().collect()));
            }
            Val::json(Json::Array(parts))
        }
        Func::ReplaceString => {
            let (t, l, r) = (arg(0), arg(1), arg(2));
            let (t, l, r) = (t.to_kstring(), l.to_kstring(), r.to_kstring());
            if l.is_empty() {
                Val::string(t.into_owned())
            } else {
                Val::string(t.replace(l.as_ref(), &r))
            }
        }
        Func::IndexOf => {
            let (s, l) = (arg(0), arg(1));
            let (s, l) = (s.to_kstring(), l.to_kstring());
            match s.find(l.as_ref()) {
                Some(at) => Val::Long(i64::try_from(s[..at].chars().count()).unwrap_or(-1)),
                None => Val::Long(-1),
            }
        }
        Func::IsEmpty => Val::Bool(is_empty(&arg(0))),
        Func::IsNotEmpty => Val::Bool(!is_empty(&arg(0))),
        Func::IsNull => Val::Bool(arg(0).is_null()),
        Func::IsNotNull => Val::Bool(!arg(0).is_null()),
        Func::Iff => {
            if arg(0).as_bool() == Some(true) {
                arg(1)
            } else {
                arg(2)
            }
        }
        Func::Case => {
            let mut i = 0;
            while i + 1 < args.len() {
                if arg(i).as_bool() == Some(true) {
                    return arg(i + 1);
                }
                i += 2;
            }
            arg(args.len().saturating_sub(1))
        }
        Func::Coalesce => {
            for a in args {
                let v = eval(a, row);
                if !is_empty(&v) {
                    return v;
                }
            }
            Val::Null
        }
        Func::Not => arg(0).as_bool().map_or(Val::Null, |b| Val::Bool(!b)),
        Func::Bin => bin(arg(0).unwrap_dyn(), arg(1).unwrap_dyn()),
        Func::StartOfDay => match arg(0).unwrap_dyn() {
            Val::Date(d) => bin_date(&d, TICKS_PER_DAY).map_or(Val::Null, Val::Date),
            _ => Val::Null,
        },
        Func::StartOfWeek => match arg(0).unwrap_dyn() {
            Val::Date(d) => {
                let back = i64::from(d.weekday().num_days_from_sunday()) * TICKS_PER_DAY;
                bin_date(&d, TICKS_PER_DAY)
                    .and_then(|day| add_span(&day, -back))
                    .map_or(Val::Null, Val::Date)
            }
            _ => Val::Null,
        },
        Func::StartOfMonth => match arg(0).unwrap_dyn() {
            Val::Date(d) => Utc
                .with_ymd_and_hms(d.year(), d.month(), 1, 0, 0, 0)
                .single()
                .map_or(Val::Null, Val::Date),
            _ => Val::Null,
        },
        Func::DayOfWeek => match arg(0).unwrap_dyn() {
            Val::Date(d) => {
                Val::Span(i64::from(d.weekday().num_days_from_sunday()) * TICKS_PER_DAY)
            }
            _ => Val::Null,
        },
        Func::ArrayLength => match as_json(arg(0)).as_deref() {
            Some(Json::Array(a)) => Val::Long(i64::try_from(a.len()).unwrap_or(i64::MAX)),
            _ => Val::Null,
        },
        Func::SetHasElement => {
            let needle = arg(1);
            match as_json(arg(0)).as_deref() {
                Some(Json::Array(a)) => Val::Bool(
                    a.iter()
                        .any(|x| equals(&Val::Dyn(Cow::Borrowed(x)), &needle) == Some(true)),
                ),
                _ => Val::Null,
            }
        }
        Func::PackArray => Val::json(Json::Array(
            args.iter().map(|a| eval(a, row).into_json()).collect(),
        )),
        Func::BagPack => {
            let mut map = serde_json::Map::new();
            for pair in args.chunks(2) {
                if let [k, v] = pair {
                    map.insert(eval(k, row).into_kstring(), eval(v, row).into_json());
                }
            }
            Val::json(Json::Object(map))
        }
        Func::Ipv4IsInRange => {
            let (ip, range) = (arg(0), arg(1));
            match (
                parse_ipv4(&ip.to_kstring()),
                parse_ipv4(&range.to_kstring()),
            ) {
                (Some((ip, _)), Some((net, bits))) => {
                    let mask = if bits == 0 {
                        0
                    } else {
                        u32::MAX << (32 - bits)
                    };
                    Val::Bool(ip & mask == net & mask)
                }
                _ => Val::Null,
            }
        }
        Func::Ipv4IsPrivate => match parse_ipv4(&arg(0).to_kstring()) {
            Some((ip, _)) => {
                let o = Ipv4Addr::from(ip).octets();
                Val::Bool(
                    o[0] == 10
                        || (o[0] == 172 && (16..32).contains(&o[1]))
                        || (o[0] == 192 && o[1] == 168),
                )
            }
            None => Val::Null,
        },
        Func::ParseIpv4 => parse_ipv4(&arg(0).to_kstring()).map_or(Val::Null, |(ip, bits)| {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            Val::Long(i64::from(ip & mask))
        }),
        Func::Abs => match arg(0).unwrap_dyn() {
            Val::Long(n) => Val::Long(n.wrapping_abs()),
            Val::Real(f) => Val::Real(f.abs()),
            Val::Span(t) => Val::Span(t.wrapping_abs()),
            _ => Val::Null,
        },
        Func::Round => {
            let digits = if args.len() > 1 {
                arg(1).as_i64().unwrap_or(0)
            } else {
                0
            };
            match arg(0).unwrap_dyn() {
                Val::Long(n) if digits >= 0 => Val::Long(n),
                v => match v.as_f64() {
                    Some(f) => {
                        let scale = 10f64.powi(i32::try_from(digits.clamp(-300, 300)).unwrap_or(0));
                        Val::Real((f * scale).round() / scale)
                    }
                    None => Val::Null,
                },
            }
        }
        Func::MinOf | Func::MaxOf => {
            let want = if f == Func::MinOf {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            let mut best: Val<'r> = Val::Null;
            for a in args {
                let v = eval(a, row);
                if v.is_null() {
                    continue;
                }
                if best.is_null() || compare(&v, &best) == Some(want) {
                    best = v;
                }
            }
            best
        }
    }
}

fn to_long(v: Val<'_>) -> Option<i64> {
    match v.unwrap_dyn() {
        Val::Str(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                let f = s.parse::<f64>().ok().filter(|f| f.is_finite())?;
                (f.abs() < 9.2e18).then_some(f.trunc() as i64)
            })
        }
        Val::Real(f) if f.is_finite() && f.abs() < 9.2e18 => Some(f.trunc() as i64),
        Val::Real(_) | Val::Date(_) | Val::Dyn(_) | Val::Null => None,
        v => v.as_i64(),
    }
}

fn is_empty(v: &Val<'_>) -> bool {
    match v {
        Val::Null => true,
        Val::Str(s) => s.is_empty(),
        Val::Dyn(j) => j.is_null() || j.as_str() == Some(""),
        _ => false,
    }
}

fn as_json(v: Val<'_>) -> Option<Cow<'_, Json>> {
    match v {
        Val::Dyn(j) => Some(j),
        Val::Str(s) => serde_json::from_str(&s).ok().map(Cow::Owned),
        _ => None,
    }
}

fn bin(v: Val<'_>, size: Val<'_>) -> Val<'static> {
    match (v, size) {
        (Val::Date(d), Val::Span(s)) => bin_date(&d, s).map_or(Val::Null, Val::Date),
        (Val::Span(t), Val::Span(s)) if s > 0 => Val::Span(t.div_euclid(s).wrapping_mul(s)),
        (Val::Long(n), Val::Long(s)) if s > 0 => Val::Long(n.div_euclid(s).wrapping_mul(s)),
        (v, s) => match (v.as_f64(), s.as_f64()) {
            (Some(x), Some(s)) if s > 0.0 && !matches!(v, Val::Date(_) | Val::Span(_)) => {
                Val::Real((x / s).floor() * s)
            }
            _ => Val::Null,
        },
    }
}

/// `a.b.c.d` or `a.b.c.d/n`; returns the address and prefix length.
fn parse_ipv4(s: &str) -> Option<(u32, u32)> {
    let (addr, bits) = match s.trim().split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok().filter(|b| *b <= 32)?),
        None => (s.trim(), 32),
    };
    let ip: Ipv4Addr = addr.parse().ok()?;
    Some((u32::from(ip), bits))
}

/// Converts a date to ticks for `Timestamp` comparisons in scan hints.
pub(super) fn const_date(e: &CExpr) -> Option<chrono::DateTime<Utc>> {
    match e {
        CExpr::Const(Val::Date(d)) => Some(*d),
        _ => None,
    }
}
