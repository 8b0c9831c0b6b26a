//! Turns the syntax tree into an executable [`Plan`]: resolves `let` names, tables and columns
//! (to indices), checks types, folds constants, names output columns as Kusto does, and derives
//! the [`ScanHint`] from the leading `where` clauses.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::eval::{Arith, CExpr, Cmp, Func, Needle, const_date, eval};
use super::parser::{
    Assign, BinOp, Expr, JoinKind, Lit, MvItem, Op, Pipeline, SortKey, Source, Stmt, StrOp,
};
use super::value::{Ty, Val, lower};
use super::{KqlError, ScanHint, Tables, Value};

pub(super) type Schema = Vec<(String, Ty)>;

pub(super) enum SourcePlan {
    Table { name: String, hint: ScanHint },
    Row(Vec<Value>),
}

pub(super) struct Plan {
    pub(super) source: SourcePlan,
    pub(super) stages: Vec<Stage>,
    pub(super) schema: Schema,
}

pub(super) enum Stage {
    Filter(CExpr),
    Project(Vec<ProjItem>),
    Extend(Vec<ExtendItem>),
    Take(usize),
    Summarize(Box<SummarizePlan>),
    Sort(Vec<SortPlan>),
    Top(usize, SortPlan),
    Distinct(Vec<(CExpr, Ty)>),
    MvExpand(Box<MvPlan>),
    Count,
    Join(Box<JoinPlan>),
    /// Ignores the input and yields these rows (`getschema`).
    Replace(Vec<Vec<Value>>),
}

pub(super) enum ProjItem {
    /// Moves the input cell (its last use in the projection).
    Move(usize),
    Clone(usize),
    Eval(CExpr, Ty),
}

pub(super) struct ExtendItem {
    pub(super) expr: CExpr,
    pub(super) ty: Ty,
    /// `Some(i)` replaces column `i`; `None` appends.
    pub(super) replace: Option<usize>,
}

pub(super) struct SortPlan {
    pub(super) expr: CExpr,
    pub(super) ty: Ty,
    pub(super) desc: bool,
    pub(super) nulls_first: bool,
}

pub(super) struct MvPlan {
    pub(super) items: Vec<MvExpandItem>,
    pub(super) bag_as_array: bool,
    pub(super) with_index: bool,
    pub(super) limit: usize,
}

pub(super) struct MvExpandItem {
    pub(super) expr: CExpr,
    pub(super) replace: Option<usize>,
    pub(super) to_type: Option<Ty>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AggKind {
    Count,
    CountIf,
    DCount,
    DCountIf,
    Sum,
    SumIf,
    Min,
    Max,
    Avg,
    AvgIf,
    ArgMax,
    ArgMin,
    MakeSet,
    MakeSetIf,
    MakeList,
    MakeListIf,
    TakeAny,
}

pub(super) struct AggSpec {
    pub(super) kind: AggKind,
    /// The aggregated expression (and for `*if` kinds the predicate after it).
    pub(super) args: Vec<CExpr>,
    pub(super) arg_ty: Ty,
    /// `make_set`/`make_list` size limit.
    pub(super) limit: usize,
    /// `arg_max`/`arg_min`: the columns reported from the chosen row.
    pub(super) outputs: Vec<(CExpr, Ty)>,
}

pub(super) struct SummarizePlan {
    pub(super) by: Vec<(CExpr, Ty)>,
    pub(super) aggs: Vec<AggSpec>,
    /// Output columns computed from the aggregate row; `None` when the row is the output.
    pub(super) outputs: Option<Vec<(CExpr, Ty)>>,
}

pub(super) struct JoinPlan {
    pub(super) kind: JoinKind,
    pub(super) right: Plan,
    pub(super) left_keys: Vec<(usize, Ty)>,
    pub(super) right_keys: Vec<(usize, Ty)>,
    pub(super) left_width: usize,
    pub(super) right_width: usize,
}

pub(super) fn compile(
    stmts: &[Stmt],
    tables: &dyn Tables,
    now: DateTime<Utc>,
) -> Result<Plan, KqlError> {
    let mut c = Compiler {
        tables,
        now,
        lets: HashMap::new(),
        planned: Cell::new(0),
    };
    let mut query = None;
    for stmt in stmts {
        if query.is_some() {
            return Err(KqlError::new(
                "Only one tabular expression statement is supported, and it must come last",
            ));
        }
        match stmt {
            Stmt::LetScalar(name, e) => {
                let (v, ty) = c.constant(e)?;
                c.lets.insert(name.clone(), LetVal::Scalar(v, ty));
            }
            Stmt::LetTabular(name, p) => {
                let alias = match (&p.source, p.ops.is_empty()) {
                    (Source::Table(t), true) => match c.lets.get(t) {
                        Some(LetVal::Scalar(v, ty)) => Some((v.clone(), *ty)),
                        _ => None,
                    },
                    _ => None,
                };
                let value = match alias {
                    Some((v, ty)) => LetVal::Scalar(v, ty),
                    None => {
                        let flat = c.flatten(p)?;
                        if let FlatSource::Table(t) = &flat.source
                            && tables.schema(t).is_none()
                        {
                            return Err(unresolved_table(t));
                        }
                        LetVal::Tabular(flat)
                    }
                };
                c.lets.insert(name.clone(), value);
            }
            Stmt::Query(p) => query = Some(p),
        }
    }
    let Some(query) = query else {
        return Err(KqlError::new(
            "Query could not be parsed at '<EOF>': the query has no tabular expression",
        ));
    };
    let flat = c.flatten(query)?;
    c.plan(&flat)
}

fn unresolved_table(name: &str) -> KqlError {
    KqlError::new(format!(
        "Failed to resolve table or column expression named '{name}'"
    ))
}

enum LetVal {
    Scalar(Val<'static>, Ty),
    Tabular(FlatPipeline),
}

#[derive(Clone)]
enum FlatSource {
    Table(String),
    Print(Vec<Assign>),
}

#[derive(Clone)]
struct FlatPipeline {
    source: FlatSource,
    ops: Vec<Op>,
}

/// Where an expression is compiled: the columns it sees and the operator named in errors.
#[derive(Clone, Copy)]
struct Scope<'a> {
    schema: &'a [(String, Ty)],
    op: Option<&'a str>,
}

impl Scope<'_> {
    fn err(&self, msg: impl std::fmt::Display) -> KqlError {
        match self.op {
            Some(op) => KqlError::new(format!("'{op}' operator: {msg}")),
            None => KqlError::new(msg.to_string()),
        }
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.schema.iter().position(|(n, _)| n == name)
    }
}

/// Collects aggregate calls while compiling a `summarize` expression.
struct Aggs {
    specs: Vec<AggSpec>,
    row_types: Vec<Ty>,
}

type R<T> = Result<T, KqlError>;

struct Compiler<'t> {
    tables: &'t dyn Tables,
    now: DateTime<Utc>,
    lets: HashMap<String, LetVal>,
    /// Pipelines planned so far: `let` bodies are planned where they are used, so a chain of
    /// self-joins could otherwise grow the plan exponentially.
    planned: Cell<usize>,
}

/// More pipelines than any real query plans (each `join` side is one).
const MAX_PIPELINES: usize = 256;

const AGGREGATES: &[&str] = &[
    "count",
    "countif",
    "dcount",
    "dcountif",
    "sum",
    "sumif",
    "min",
    "max",
    "avg",
    "avgif",
    "arg_max",
    "arg_min",
    "make_set",
    "make_set_if",
    "make_list",
    "make_list_if",
    "take_any",
    "any",
    "makeset",
    "makelist",
];

/// Functions whose result keeps the name of their first argument (`tostring(ip.Address)` is
/// named `ip_Address`, `bin(Timestamp, 1h)` is named `Timestamp`).
const NAME_PRESERVING: &[&str] = &[
    "tostring",
    "toint",
    "tolong",
    "todouble",
    "toreal",
    "todecimal",
    "tobool",
    "toboolean",
    "todatetime",
    "totimespan",
    "todynamic",
    "parse_json",
    "bin",
    "floor",
];

fn infer_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Name(n) => Some(n.clone()),
        Expr::Member(b, k) => infer_name(b).map(|b| format!("{b}_{k}")),
        Expr::Index(b, i) => match i.as_ref() {
            Expr::Lit(Lit::Str(k)) => infer_name(b).map(|b| format!("{b}_{k}")),
            Expr::Lit(Lit::Long(n)) => infer_name(b).map(|b| format!("{b}_{n}")),
            _ => None,
        },
        Expr::Call(f, args) if NAME_PRESERVING.contains(&f.as_str()) => {
            args.first().and_then(infer_name)
        }
        _ => None,
    }
}

/// `name`, or `name1`, `name2`... if taken.
fn unique(name: &str, taken: &[(String, Ty)]) -> String {
    let is_taken = |n: &str| taken.iter().any(|(t, _)| t == n);
    if !is_taken(name) {
        return name.to_owned();
    }
    (1..)
        .map(|i| format!("{name}{i}"))
        .find(|n| !is_taken(n))
        .unwrap_or_default()
}

/// The next free `Column<N>` name.
fn generated(taken: &[(String, Ty)]) -> String {
    (1..)
        .map(|i| format!("Column{i}"))
        .find(|n| !taken.iter().any(|(t, _)| t == n))
        .unwrap_or_default()
}

fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    true
}

fn comparable(a: Ty, b: Ty) -> bool {
    a == b || (a.is_numeric() && b.is_numeric()) || a == Ty::Dynamic || b == Ty::Dynamic
}

fn unify(a: Ty, b: Ty) -> Option<Ty> {
    if a == b {
        Some(a)
    } else if a == Ty::Dynamic || b == Ty::Dynamic {
        Some(Ty::Dynamic)
    } else if a.is_numeric() && b.is_numeric() {
        Some(if a == Ty::Real || b == Ty::Real {
            Ty::Real
        } else {
            Ty::Long
        })
    } else {
        None
    }
}

fn arith_type(op: Arith, a: Ty, b: Ty) -> Option<Ty> {
    use Ty::{DateTime as D, Dynamic, Int, Long, Real, TimeSpan as S};
    Some(match (op, a, b) {
        (_, Dynamic, t) | (_, t, Dynamic) if t.is_numeric() || t == Dynamic => Dynamic,
        (_, x, y) if x.is_numeric() && y.is_numeric() => {
            if x == Real || y == Real {
                Real
            } else if x == Int && y == Int {
                Int
            } else {
                Long
            }
        }
        (Arith::Add, D, S) | (Arith::Add, S, D) | (Arith::Sub, D, S) => D,
        (Arith::Sub, D, D) => S,
        (Arith::Add | Arith::Sub | Arith::Mod, S, S) => S,
        (Arith::Div, S, S) => Real,
        (Arith::Mul, S, n) | (Arith::Mul, n, S) if n.is_numeric() => S,
        (Arith::Div, S, n) if n.is_numeric() => S,
        _ => return None,
    })
}

fn func_of(name: &str) -> Option<(Func, usize, usize)> {
    const MANY: usize = 64;
    Some(match name {
        "tostring" => (Func::ToString, 1, 1),
        "toint" => (Func::ToInt, 1, 1),
        "tolong" => (Func::ToLong, 1, 1),
        "todouble" | "toreal" | "todecimal" => (Func::ToReal, 1, 1),
        "tobool" | "toboolean" => (Func::ToBool, 1, 1),
        "todatetime" => (Func::ToDateTime, 1, 1),
        "totimespan" | "totime" => (Func::ToTimeSpan, 1, 1),
        "todynamic" | "parse_json" | "toobject" => (Func::ToDynamic, 1, 1),
        "tolower" => (Func::ToLower, 1, 1),
        "toupper" => (Func::ToUpper, 1, 1),
        "strlen" => (Func::StrLen, 1, 1),
        "strcat" => (Func::StrCat, 1, MANY),
        "substring" => (Func::Substring, 2, 3),
        "split" => (Func::Split, 2, 3),
        "replace_string" => (Func::ReplaceString, 3, 3),
        "indexof" => (Func::IndexOf, 2, 2),
        "isempty" => (Func::IsEmpty, 1, 1),
        "isnotempty" => (Func::IsNotEmpty, 1, 1),
        "isnull" => (Func::IsNull, 1, 1),
        "isnotnull" => (Func::IsNotNull, 1, 1),
        "iff" | "iif" => (Func::Iff, 3, 3),
        "case" => (Func::Case, 3, MANY),
        "coalesce" => (Func::Coalesce, 1, MANY),
        "not" => (Func::Not, 1, 1),
        "bin" | "floor" => (Func::Bin, 2, 2),
        "startofday" => (Func::StartOfDay, 1, 1),
        "startofweek" => (Func::StartOfWeek, 1, 1),
        "startofmonth" => (Func::StartOfMonth, 1, 1),
        "dayofweek" => (Func::DayOfWeek, 1, 1),
        "array_length" => (Func::ArrayLength, 1, 1),
        "set_has_element" => (Func::SetHasElement, 2, 2),
        "pack_array" => (Func::PackArray, 1, MANY),
        "bag_pack" | "pack" => (Func::BagPack, 2, MANY),
        "ipv4_is_in_range" => (Func::Ipv4IsInRange, 2, 2),
        "ipv4_is_private" => (Func::Ipv4IsPrivate, 1, 1),
        "parse_ipv4" => (Func::ParseIpv4, 1, 1),
        "abs" => (Func::Abs, 1, 1),
        "round" => (Func::Round, 1, 2),
        "min_of" => (Func::MinOf, 2, MANY),
        "max_of" => (Func::MaxOf, 2, MANY),
        _ => return None,
    })
}

fn is_boolish(t: Ty) -> bool {
    matches!(t, Ty::Bool | Ty::Dynamic)
}

impl Compiler<'_> {
    fn constant(&self, e: &Expr) -> R<(Val<'static>, Ty)> {
        let scope = Scope {
            schema: &[],
            op: None,
        };
        let (c, ty) = self.expr(e, scope, None)?;
        match c {
            CExpr::Const(v) => Ok((v, ty)),
            other => Ok((eval(&other, &[]).into_static(), ty)),
        }
    }

    fn flatten(&self, p: &Pipeline) -> R<FlatPipeline> {
        let mut flat = match &p.source {
            Source::Table(name) => match self.lets.get(name) {
                Some(LetVal::Tabular(f)) => f.clone(),
                Some(LetVal::Scalar(..)) => return Err(unresolved_table(name)),
                None => FlatPipeline {
                    source: FlatSource::Table(name.clone()),
                    ops: Vec::new(),
                },
            },
            Source::Print(items) => FlatPipeline {
                source: FlatSource::Print(items.clone()),
                ops: Vec::new(),
            },
            Source::Nested(inner) => self.flatten(inner)?,
        };
        flat.ops.extend(p.ops.iter().cloned());
        Ok(flat)
    }

    fn plan(&self, p: &FlatPipeline) -> R<Plan> {
        self.planned.set(self.planned.get() + 1);
        if self.planned.get() > MAX_PIPELINES {
            return Err(KqlError::new(format!(
                "The query is too complex: it plans more than {MAX_PIPELINES} tabular expressions"
            )));
        }
        let (mut source, mut schema) = match &p.source {
            FlatSource::Table(name) => {
                let ts = self
                    .tables
                    .schema(name)
                    .ok_or_else(|| unresolved_table(name))?;
                let schema: Schema = ts
                    .columns
                    .iter()
                    .map(|(n, t)| (n.clone(), Ty::from_column(*t)))
                    .collect();
                (
                    SourcePlan::Table {
                        name: name.clone(),
                        hint: ScanHint::default(),
                    },
                    schema,
                )
            }
            FlatSource::Print(items) => {
                let scope = Scope {
                    schema: &[],
                    op: Some("print"),
                };
                let mut schema: Schema = Vec::new();
                let mut row = Vec::new();
                for (i, a) in items.iter().enumerate() {
                    let (c, ty) = self.expr(&a.expr, scope, None)?;
                    let name = a.name.clone().unwrap_or_else(|| format!("print_{i}"));
                    schema.push((unique(&name, &schema), ty));
                    row.push(eval(&c, &[]).into_cell(ty));
                }
                (SourcePlan::Row(row), schema)
            }
        };
        let table_schema = schema.clone();
        let mut stages = Vec::new();
        for op in &p.ops {
            self.op(op, &mut schema, &mut stages)?;
        }
        if let SourcePlan::Table { hint, .. } = &mut source {
            *hint = scan_hint(&stages, &table_schema);
        }
        Ok(Plan {
            source,
            stages,
            schema,
        })
    }

    fn op(&self, op: &Op, schema: &mut Schema, stages: &mut Vec<Stage>) -> R<()> {
        match op {
            Op::Where(e) => {
                let scope = Scope {
                    schema,
                    op: Some("where"),
                };
                let (c, ty) = self.expr(e, scope, None)?;
                if !is_boolish(ty) {
                    return Err(scope.err(format!(
                        "the predicate must be of type bool, not {}",
                        ty.name()
                    )));
                }
                stages.push(Stage::Filter(c));
            }
            Op::Project(items) => self.project(items, schema, stages)?,
            Op::Extend(items) => self.extend(items, schema, stages)?,
            Op::ProjectAway(patterns) => {
                let scope = Scope {
                    schema,
                    op: Some("project-away"),
                };
                let drop = self.matching(patterns, scope)?;
                let keep: Vec<usize> = (0..schema.len()).filter(|i| !drop.contains(i)).collect();
                reorder(schema, stages, &keep);
            }
            Op::ProjectKeep(patterns) => {
                let scope = Scope {
                    schema,
                    op: Some("project-keep"),
                };
                let keep = self.matching(patterns, scope)?;
                let keep: Vec<usize> = (0..schema.len()).filter(|i| keep.contains(i)).collect();
                reorder(schema, stages, &keep);
            }
            Op::ProjectReorder(patterns) => {
                let scope = Scope {
                    schema,
                    op: Some("project-reorder"),
                };
                let mut order = Vec::new();
                for p in patterns {
                    let hits = self.matching(std::slice::from_ref(p), scope)?;
                    order.extend(
                        hits.into_iter()
                            .filter(|i| !order.contains(i))
                            .collect::<Vec<_>>(),
                    );
                }
                order.extend(
                    (0..schema.len())
                        .filter(|i| !order.contains(i))
                        .collect::<Vec<_>>(),
                );
                reorder(schema, stages, &order);
            }
            Op::ProjectRename(pairs) => {
                let scope = Scope {
                    schema,
                    op: Some("project-rename"),
                };
                let mut renamed = schema.clone();
                for (new, old) in pairs {
                    let i = scope.find(old).ok_or_else(|| {
                        scope.err(format!("Failed to resolve scalar expression named '{old}'"))
                    })?;
                    renamed[i].0.clone_from(new);
                }
                let mut seen = HashSet::new();
                if let Some((dup, _)) = renamed.iter().find(|(n, _)| !seen.insert(n.as_str())) {
                    return Err(scope.err(format!("a column named '{dup}' already exists")));
                }
                *schema = renamed;
            }
            Op::Summarize { aggs, by } => self.summarize(aggs, by, schema, stages)?,
            Op::Sort { keyword, keys } => {
                let scope = Scope {
                    schema,
                    op: Some(keyword),
                };
                let keys = keys
                    .iter()
                    .map(|k| self.sort_key(k, scope))
                    .collect::<R<Vec<_>>>()?;
                stages.push(Stage::Sort(keys));
            }
            Op::Take(e) => {
                let scope = Scope {
                    schema,
                    op: Some("take"),
                };
                stages.push(Stage::Take(self.count_arg(e, scope)?));
            }
            Op::Top { count, key } => {
                let scope = Scope {
                    schema,
                    op: Some("top"),
                };
                let n = self.count_arg(count, scope)?;
                stages.push(Stage::Top(n, self.sort_key(key, scope)?));
            }
            Op::Distinct(items) => {
                let scope = Scope {
                    schema,
                    op: Some("distinct"),
                };
                let mut out: Schema = Vec::new();
                let mut exprs = Vec::new();
                match items {
                    None => {
                        for (i, (n, t)) in schema.iter().enumerate() {
                            exprs.push((CExpr::Col(i, *t), *t));
                            out.push((n.clone(), *t));
                        }
                    }
                    Some(items) => {
                        for a in items {
                            let (c, ty) = self.expr(&a.expr, scope, None)?;
                            let name = a
                                .name
                                .clone()
                                .or_else(|| infer_name(&a.expr))
                                .unwrap_or_else(|| generated(&out));
                            out.push((unique(&name, &out), ty));
                            exprs.push((c, ty));
                        }
                    }
                }
                *schema = out;
                stages.push(Stage::Distinct(exprs));
            }
            Op::MvExpand {
                bag_as_array,
                index_column,
                items,
                limit,
            } => {
                self.mv_expand(
                    items,
                    *bag_as_array,
                    index_column.as_deref(),
                    limit.as_ref(),
                    schema,
                    stages,
                )?;
            }
            Op::Count => {
                *schema = vec![("Count".to_owned(), Ty::Long)];
                stages.push(Stage::Count);
            }
            Op::Join { kind, right, keys } => self.join(*kind, right, keys, schema, stages)?,
            Op::Serialize => {}
            Op::GetSchema => {
                let rows = schema
                    .iter()
                    .enumerate()
                    .map(|(i, (name, ty))| {
                        vec![
                            Value::String(name.clone()),
                            Value::Int(i32::try_from(i).unwrap_or(i32::MAX)),
                            Value::String(ty.clr_name().to_owned()),
                            Value::String(ty.name().to_owned()),
                        ]
                    })
                    .collect();
                *schema = vec![
                    ("ColumnName".to_owned(), Ty::String),
                    ("ColumnOrdinal".to_owned(), Ty::Int),
                    ("DataType".to_owned(), Ty::String),
                    ("ColumnType".to_owned(), Ty::String),
                ];
                stages.push(Stage::Replace(rows));
            }
        }
        Ok(())
    }

    fn matching(&self, patterns: &[String], scope: Scope<'_>) -> R<Vec<usize>> {
        let mut hits = Vec::new();
        for p in patterns {
            let found: Vec<usize> = (0..scope.schema.len())
                .filter(|i| glob(p, &scope.schema[*i].0))
                .collect();
            if found.is_empty() && !p.contains('*') {
                return Err(scope.err(format!("Failed to resolve scalar expression named '{p}'")));
            }
            hits.extend(found);
        }
        Ok(hits)
    }

    fn count_arg(&self, e: &Expr, scope: Scope<'_>) -> R<usize> {
        let (c, _) = self.expr(e, scope, None)?;
        match c {
            CExpr::Const(v) => match v.unwrap_dyn() {
                Val::Long(n) if n >= 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
                _ => Err(scope.err("the row count must be a non-negative integer constant")),
            },
            _ => Err(scope.err("the row count must be a non-negative integer constant")),
        }
    }

    fn sort_key(&self, k: &SortKey, scope: Scope<'_>) -> R<SortPlan> {
        let (expr, ty) = self.expr(&k.expr, scope, None)?;
        Ok(SortPlan {
            expr,
            ty,
            desc: k.desc,
            nulls_first: k.nulls_first,
        })
    }

    fn project(&self, items: &[Assign], schema: &mut Schema, stages: &mut Vec<Stage>) -> R<()> {
        let scope = Scope {
            schema,
            op: Some("project"),
        };
        let mut out: Schema = Vec::new();
        let mut compiled = Vec::new();
        for a in items {
            let (c, ty) = self.expr(&a.expr, scope, None)?;
            let name = match &a.name {
                Some(n) => {
                    if out.iter().any(|(o, _)| o == n) {
                        return Err(scope.err(format!("a column named '{n}' is projected twice")));
                    }
                    n.clone()
                }
                None => unique(
                    &infer_name(&a.expr).unwrap_or_else(|| generated(&out)),
                    &out,
                ),
            };
            out.push((name, ty));
            compiled.push((c, ty));
        }
        let mut last_use: HashMap<usize, usize> = HashMap::new();
        for (k, (c, _)) in compiled.iter().enumerate() {
            if let CExpr::Col(i, _) = c {
                last_use.insert(*i, k);
            }
        }
        let items = compiled
            .into_iter()
            .enumerate()
            .map(|(k, (c, ty))| match c {
                CExpr::Col(i, _) if last_use.get(&i) == Some(&k) => ProjItem::Move(i),
                CExpr::Col(i, _) => ProjItem::Clone(i),
                c => ProjItem::Eval(c, ty),
            })
            .collect();
        *schema = out;
        stages.push(Stage::Project(items));
        Ok(())
    }

    fn extend(&self, items: &[Assign], schema: &mut Schema, stages: &mut Vec<Stage>) -> R<()> {
        let mut out = Vec::new();
        for a in items {
            let scope = Scope {
                schema,
                op: Some("extend"),
            };
            let (expr, ty) = self.expr(&a.expr, scope, None)?;
            let replace = match &a.name {
                Some(n) => match scope.find(n) {
                    Some(i) => {
                        schema[i].1 = ty;
                        Some(i)
                    }
                    None => {
                        schema.push((n.clone(), ty));
                        None
                    }
                },
                None => {
                    let name = infer_name(&a.expr).unwrap_or_else(|| generated(schema));
                    let name = unique(&name, schema);
                    schema.push((name, ty));
                    None
                }
            };
            out.push(ExtendItem { expr, ty, replace });
        }
        stages.push(Stage::Extend(out));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn mv_expand(
        &self,
        items: &[MvItem],
        bag_as_array: bool,
        index_column: Option<&str>,
        limit: Option<&Expr>,
        schema: &mut Schema,
        stages: &mut Vec<Stage>,
    ) -> R<()> {
        let input = schema.clone();
        let scope = Scope {
            schema: &input,
            op: Some("mv-expand"),
        };
        let mut out = Vec::new();
        for item in items {
            let (expr, ty) = self.expr(&item.assign.expr, scope, None)?;
            if ty != Ty::Dynamic {
                return Err(scope.err(format!(
                    "the expanded expression must be of type dynamic, not {} (use todynamic())",
                    ty.name()
                )));
            }
            let name = item
                .assign
                .name
                .clone()
                .or_else(|| infer_name(&item.assign.expr));
            let new_ty = item.to_type.unwrap_or(Ty::Dynamic);
            let replace = match name.as_deref().and_then(|n| scope.find(n)) {
                Some(i) => {
                    schema[i].1 = new_ty;
                    Some(i)
                }
                None => {
                    let name = name.unwrap_or_else(|| generated(schema));
                    let name = unique(&name, schema);
                    schema.push((name, new_ty));
                    None
                }
            };
            out.push(MvExpandItem {
                expr,
                replace,
                to_type: item.to_type,
            });
        }
        if let Some(ix) = index_column {
            let name = unique(ix, schema);
            schema.push((name, Ty::Long));
        }
        let limit = match limit {
            Some(e) => self.count_arg(e, scope)?,
            None => usize::MAX,
        };
        stages.push(Stage::MvExpand(Box::new(MvPlan {
            items: out,
            bag_as_array,
            with_index: index_column.is_some(),
            limit,
        })));
        Ok(())
    }

    fn join(
        &self,
        kind: JoinKind,
        right: &Pipeline,
        keys: &[(String, String)],
        schema: &mut Schema,
        stages: &mut Vec<Stage>,
    ) -> R<()> {
        let right = self.plan(&self.flatten(right)?)?;
        let left_scope = Scope {
            schema,
            op: Some("join"),
        };
        let right_scope = Scope {
            schema: &right.schema,
            op: Some("join"),
        };
        let mut left_keys = Vec::new();
        let mut right_keys = Vec::new();
        for (l, r) in keys {
            let li = left_scope.find(l).ok_or_else(|| {
                left_scope.err(format!("Failed to resolve scalar expression named '{l}'"))
            })?;
            let ri = right_scope.find(r).ok_or_else(|| {
                right_scope.err(format!("Failed to resolve scalar expression named '{r}'"))
            })?;
            let (lt, rt) = (schema[li].1, right.schema[ri].1);
            if !comparable(lt, rt) {
                return Err(left_scope.err(format!(
                    "join key '{l}' of type {} cannot be matched with '{r}' of type {}",
                    lt.name(),
                    rt.name()
                )));
            }
            left_keys.push((li, lt));
            right_keys.push((ri, rt));
        }
        let right_width = right.schema.len();
        let left_width = schema.len();
        match kind {
            JoinKind::LeftSemi | JoinKind::LeftAnti => {}
            JoinKind::RightSemi | JoinKind::RightAnti => schema.clone_from(&right.schema),
            _ => {
                for (n, t) in &right.schema {
                    let name = unique(n, schema);
                    schema.push((name, *t));
                }
            }
        }
        stages.push(Stage::Join(Box::new(JoinPlan {
            kind,
            right,
            left_keys,
            right_keys,
            left_width,
            right_width,
        })));
        Ok(())
    }

    fn summarize(
        &self,
        aggs: &[Assign],
        by: &[Assign],
        schema: &mut Schema,
        stages: &mut Vec<Stage>,
    ) -> R<()> {
        let scope = Scope {
            schema,
            op: Some("summarize"),
        };
        let mut out: Schema = Vec::new();
        let mut by_plan = Vec::new();
        for a in by {
            let (c, ty) = self.expr(&a.expr, scope, None)?;
            let name = a
                .name
                .clone()
                .or_else(|| infer_name(&a.expr))
                .unwrap_or_else(|| generated(&out));
            out.push((unique(&name, &out), ty));
            by_plan.push((c, ty));
        }
        let mut collected = Aggs {
            specs: Vec::new(),
            row_types: by_plan.iter().map(|(_, t)| *t).collect(),
        };
        let mut outputs: Vec<(CExpr, Ty)> = by_plan
            .iter()
            .enumerate()
            .map(|(i, (_, t))| (CExpr::Col(i, *t), *t))
            .collect();
        for a in aggs {
            if let Expr::Call(f, args) = &a.expr
                && (f == "arg_max" || f == "arg_min")
            {
                let first_slot = collected.row_types.len();
                let names = self.arg_agg(f, args, scope, &out, &mut collected)?;
                for (k, name) in names.into_iter().enumerate() {
                    let name = if k == 0 {
                        a.name.clone().unwrap_or(name)
                    } else {
                        name
                    };
                    let ty = collected.row_types[first_slot + k];
                    out.push((unique(&name, &out), ty));
                    outputs.push((CExpr::Col(first_slot + k, ty), ty));
                }
                continue;
            }
            let (c, ty) = self.expr(&a.expr, scope, Some(&mut collected))?;
            let name = match &a.name {
                Some(n) => n.clone(),
                None => match &a.expr {
                    Expr::Call(f, args) => default_agg_name(f, args),
                    _ => generated(&out),
                },
            };
            out.push((unique(&name, &out), ty));
            outputs.push((c, ty));
        }
        let identity = outputs.len() == collected.row_types.len()
            && outputs
                .iter()
                .enumerate()
                .all(|(k, (c, _))| matches!(c, CExpr::Col(i, _) if *i == k));
        *schema = out;
        stages.push(Stage::Summarize(Box::new(SummarizePlan {
            by: by_plan,
            aggs: collected.specs,
            outputs: if identity { None } else { Some(outputs) },
        })));
        Ok(())
    }

    /// `arg_max(expr, cols | *)`: registers the aggregate and returns its output column names.
    fn arg_agg(
        &self,
        f: &str,
        args: &[Expr],
        scope: Scope<'_>,
        by_names: &Schema,
        collected: &mut Aggs,
    ) -> R<Vec<String>> {
        if args.len() < 2 {
            return Err(scope.err(format!(
                "the function '{f}' expects at least 2 arguments: an expression and the columns to return (or *)"
            )));
        }
        let (key, key_ty) = self.expr(&args[0], scope, None)?;
        let key_name = infer_name(&args[0])
            .unwrap_or_else(|| format!("{}_", if f == "arg_max" { "max" } else { "min" }));
        let mut names = vec![key_name.clone()];
        let mut outputs = Vec::new();
        for a in &args[1..] {
            if let Expr::Star = a {
                for (i, (n, t)) in scope.schema.iter().enumerate() {
                    let skip =
                        *n == key_name || by_names.iter().any(|(b, _)| b == n) || names.contains(n);
                    if !skip {
                        names.push(n.clone());
                        outputs.push((CExpr::Col(i, *t), *t));
                    }
                }
            } else {
                let (c, t) = self.expr(a, scope, None)?;
                names.push(infer_name(a).unwrap_or_else(|| generated(by_names)));
                outputs.push((c, t));
            }
        }
        collected.row_types.push(key_ty);
        collected.row_types.extend(outputs.iter().map(|(_, t)| *t));
        collected.specs.push(AggSpec {
            kind: if f == "arg_max" {
                AggKind::ArgMax
            } else {
                AggKind::ArgMin
            },
            args: vec![key],
            arg_ty: key_ty,
            limit: 0,
            outputs,
        });
        Ok(names)
    }

    /// An aggregate call inside `summarize`; returns a reference to its slot in the agg row.
    fn aggregate(
        &self,
        f: &str,
        args: &[Expr],
        scope: Scope<'_>,
        aggs: &mut Aggs,
    ) -> R<(CExpr, Ty)> {
        let (kind, min, max) = match f {
            "count" => (AggKind::Count, 0, 0),
            "countif" => (AggKind::CountIf, 1, 1),
            "dcount" => (AggKind::DCount, 1, 2),
            "dcountif" => (AggKind::DCountIf, 2, 3),
            "sum" => (AggKind::Sum, 1, 1),
            "sumif" => (AggKind::SumIf, 2, 2),
            "min" => (AggKind::Min, 1, 1),
            "max" => (AggKind::Max, 1, 1),
            "avg" => (AggKind::Avg, 1, 1),
            "avgif" => (AggKind::AvgIf, 2, 2),
            "make_set" | "makeset" => (AggKind::MakeSet, 1, 2),
            "make_set_if" => (AggKind::MakeSetIf, 2, 3),
            "make_list" | "makelist" => (AggKind::MakeList, 1, 2),
            "make_list_if" => (AggKind::MakeListIf, 2, 3),
            "take_any" | "any" => (AggKind::TakeAny, 1, 1),
            "arg_max" | "arg_min" => {
                return Err(scope.err(format!(
                    "'{f}' must be used on its own, as in 'summarize {f}(Timestamp, *) by DeviceId'"
                )));
            }
            _ => return Err(scope.err(format!("Unknown function: '{f}'"))),
        };
        let args = if f == "count" && matches!(args, [Expr::Star]) {
            &[][..]
        } else {
            args
        };
        if args.len() < min || args.len() > max {
            return Err(arity(scope, f, min, max));
        }
        let mut compiled = Vec::new();
        let mut types = Vec::new();
        for a in args {
            let (c, t) = self.expr(a, scope, None)?;
            compiled.push(c);
            types.push(t);
        }
        let arg_ty = types.first().copied().unwrap_or(Ty::Long);
        let pred_at = match kind {
            AggKind::CountIf => Some(0),
            AggKind::DCountIf
            | AggKind::SumIf
            | AggKind::AvgIf
            | AggKind::MakeSetIf
            | AggKind::MakeListIf => Some(1),
            _ => None,
        };
        if let Some(p) = pred_at
            && !is_boolish(types[p])
        {
            return Err(scope.err(format!(
                "the predicate of '{f}' must be of type bool, not {}",
                types[p].name()
            )));
        }
        let numeric = |t: Ty| t.is_numeric() || t == Ty::TimeSpan || t == Ty::Dynamic;
        if matches!(
            kind,
            AggKind::Sum | AggKind::SumIf | AggKind::Avg | AggKind::AvgIf
        ) && !numeric(arg_ty)
        {
            return Err(scope.err(format!(
                "'{f}' needs a numeric argument, not {}",
                arg_ty.name()
            )));
        }
        let out_ty = match kind {
            AggKind::Count | AggKind::CountIf | AggKind::DCount | AggKind::DCountIf => Ty::Long,
            AggKind::Sum | AggKind::SumIf => match arg_ty {
                Ty::Int | Ty::Long => Ty::Long,
                Ty::TimeSpan => Ty::TimeSpan,
                _ => Ty::Real,
            },
            AggKind::Avg | AggKind::AvgIf => Ty::Real,
            AggKind::MakeSet | AggKind::MakeSetIf | AggKind::MakeList | AggKind::MakeListIf => {
                Ty::Dynamic
            }
            _ => arg_ty,
        };
        let limit_at = match kind {
            AggKind::MakeSet | AggKind::MakeList => Some(1),
            AggKind::MakeSetIf | AggKind::MakeListIf => Some(2),
            _ => None,
        };
        let mut limit = 1_048_576;
        if let Some(at) = limit_at.filter(|at| *at < compiled.len()) {
            match compiled.remove(at) {
                CExpr::Const(v) => match v.unwrap_dyn() {
                    Val::Long(n) if n > 0 => limit = usize::try_from(n).unwrap_or(limit).min(limit),
                    _ => {
                        return Err(scope.err(format!(
                            "the size limit of '{f}' must be a positive integer"
                        )));
                    }
                },
                _ => return Err(scope.err(format!("the size limit of '{f}' must be a constant"))),
            }
        }
        if kind == AggKind::DCountIf && compiled.len() == 3 {
            compiled.truncate(2);
        }
        if kind == AggKind::DCount {
            compiled.truncate(1);
        }
        let slot = aggs.row_types.len();
        aggs.row_types.push(out_ty);
        aggs.specs.push(AggSpec {
            kind,
            args: compiled,
            arg_ty,
            limit,
            outputs: Vec::new(),
        });
        Ok((CExpr::Col(slot, out_ty), out_ty))
    }

    // ---- scalar expressions ------------------------------------------------------------------

    fn expr(&self, e: &Expr, scope: Scope<'_>, mut aggs: Option<&mut Aggs>) -> R<(CExpr, Ty)> {
        let (c, ty) = match e {
            Expr::Lit(l) => lit(l),
            Expr::Name(n) => {
                if aggs.is_some() {
                    return Err(scope.err(format!(
                        "'{n}' is not an aggregate; use it in 'by', or aggregate it (e.g. take_any({n}))"
                    )));
                }
                if let Some(i) = scope.find(n) {
                    let ty = scope.schema[i].1;
                    (CExpr::Col(i, ty), ty)
                } else if let Some(LetVal::Scalar(v, ty)) = self.lets.get(n) {
                    (CExpr::Const(v.clone()), *ty)
                } else {
                    return Err(
                        scope.err(format!("Failed to resolve scalar expression named '{n}'"))
                    );
                }
            }
            Expr::Star => {
                return Err(
                    scope.err("'*' is only allowed as an argument of arg_max, arg_min or count")
                );
            }
            Expr::Call(f, args) => {
                if AGGREGATES.contains(&f.as_str()) {
                    return match aggs {
                        Some(aggs) => self.aggregate(f, args, scope, aggs),
                        None => Err(scope.err(format!(
                            "the aggregation function '{f}' can only be used in 'summarize'"
                        ))),
                    };
                }
                self.call(f, args, scope, aggs)?
            }
            Expr::Member(base, key) => {
                let (b, bt) = self.expr(base, scope, aggs)?;
                check_dynamic(scope, bt)?;
                (CExpr::Member(Box::new(b), key.clone()), Ty::Dynamic)
            }
            Expr::Index(base, idx) => {
                let (b, bt) = self.expr(base, scope, aggs.as_deref_mut())?;
                check_dynamic(scope, bt)?;
                let (i, _) = self.expr(idx, scope, aggs)?;
                (CExpr::Index(Box::new(b), Box::new(i)), Ty::Dynamic)
            }
            Expr::Neg(x) => {
                let (c, t) = self.expr(x, scope, aggs)?;
                if !(t.is_numeric() || t == Ty::TimeSpan || t == Ty::Dynamic) {
                    return Err(scope.err(format!("Cannot negate a value of type {}", t.name())));
                }
                (CExpr::Neg(Box::new(c)), t)
            }
            Expr::Bin(op, a, b) => {
                let (ca, ta) = self.expr(a, scope, aggs.as_deref_mut())?;
                let (cb, tb) = self.expr(b, scope, aggs)?;
                binary(*op, ca, ta, cb, tb, scope)?
            }
            Expr::And(items) | Expr::Or(items) => {
                let word = if matches!(e, Expr::And(_)) {
                    "and"
                } else {
                    "or"
                };
                let mut out = Vec::new();
                for item in items {
                    let (c, t) = self.expr(item, scope, aggs.as_deref_mut())?;
                    if !is_boolish(t) {
                        return Err(scope.err(format!(
                            "the operands of '{word}' must be of type bool, not {}",
                            t.name()
                        )));
                    }
                    out.push(c);
                }
                (
                    if word == "and" {
                        CExpr::And(out)
                    } else {
                        CExpr::Or(out)
                    },
                    Ty::Bool,
                )
            }
            Expr::Str(op, a, b) => {
                let (ca, _) = self.expr(a, scope, aggs.as_deref_mut())?;
                let (cb, _) = self.expr(b, scope, aggs)?;
                (str_op(*op, ca, cb), Ty::Bool)
            }
            Expr::In {
                expr,
                list,
                negated,
                case_insensitive,
            } => {
                let (c, t) = self.expr(expr, scope, aggs.as_deref_mut())?;
                let mut items = Vec::new();
                for item in list {
                    let (ci, ti) = self.expr(item, scope, aggs.as_deref_mut())?;
                    match ci {
                        CExpr::Const(Val::Dyn(j)) if j.is_array() => {
                            let elems = j.as_array().cloned().unwrap_or_default();
                            items.extend(
                                elems
                                    .into_iter()
                                    .map(|x| CExpr::Const(Val::json(x).unwrap_dyn())),
                            );
                        }
                        ci => {
                            if !*case_insensitive && !comparable(t, ti) {
                                return Err(scope.err(format!(
                                    "Cannot compare values of types {} and {}. Try adding explicit casts",
                                    t.name(),
                                    ti.name()
                                )));
                            }
                            items.push(ci);
                        }
                    }
                }
                let all_strings = matches!(t, Ty::String | Ty::Dynamic)
                    && items.iter().all(|i| matches!(i, CExpr::Const(Val::Str(_))));
                let set = (all_strings && !items.is_empty()).then(|| {
                    items
                        .iter()
                        .filter_map(|i| match i {
                            CExpr::Const(Val::Str(s)) if *case_insensitive => {
                                Some(lower(s).into_owned())
                            }
                            CExpr::Const(Val::Str(s)) => Some(s.to_string()),
                            _ => None,
                        })
                        .collect()
                });
                (
                    CExpr::In {
                        expr: Box::new(c),
                        list: items,
                        set,
                        negated: *negated,
                        ci: *case_insensitive,
                    },
                    Ty::Bool,
                )
            }
            Expr::HasAny { expr, list, all } => {
                let (c, _) = self.expr(expr, scope, aggs.as_deref_mut())?;
                let mut needles = Vec::new();
                for item in list {
                    let (ci, _) = self.expr(item, scope, aggs.as_deref_mut())?;
                    match ci {
                        CExpr::Const(Val::Dyn(j)) if j.is_array() => {
                            for x in j.as_array().into_iter().flatten() {
                                needles.push(
                                    lower(&Val::Dyn(std::borrow::Cow::Borrowed(x)).to_kstring())
                                        .into_owned(),
                                );
                            }
                        }
                        CExpr::Const(v) => needles.push(lower(&v.to_kstring()).into_owned()),
                        _ => {
                            let word = if *all { "has_all" } else { "has_any" };
                            return Err(
                                scope.err(format!("the values of '{word}' must be constants"))
                            );
                        }
                    }
                }
                (
                    CExpr::HasAny {
                        expr: Box::new(c),
                        needles,
                        all: *all,
                    },
                    Ty::Bool,
                )
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let (c, t) = self.expr(expr, scope, aggs.as_deref_mut())?;
                let (lo, lt) = self.expr(low, scope, aggs.as_deref_mut())?;
                let (hi, ht) = self.expr(high, scope, aggs)?;
                let mismatch = |other: Ty| {
                    scope.err(format!(
                        "Cannot compare values of types {} and {}. Try adding explicit casts",
                        t.name(),
                        other.name()
                    ))
                };
                if !comparable(t, lt) {
                    return Err(mismatch(lt));
                }
                // `Timestamp between (datetime(...) .. 1d)`: the upper bound is an offset.
                let hi = if t == Ty::DateTime && lt == Ty::DateTime && ht == Ty::TimeSpan {
                    match &lo {
                        CExpr::Const(v) => CExpr::Arith(Arith::Add, Box::new(CExpr::Const(v.clone())), Box::new(hi)).fold(),
                        _ => return Err(scope.err("the lower bound of 'between' must be a constant when the upper bound is a timespan")),
                    }
                } else if !comparable(t, ht) {
                    return Err(mismatch(ht));
                } else {
                    hi
                };
                (
                    CExpr::Between {
                        expr: Box::new(c),
                        low: Box::new(lo),
                        high: Box::new(hi),
                        negated: *negated,
                    },
                    Ty::Bool,
                )
            }
        };
        Ok((c.fold(), ty))
    }

    fn call(
        &self,
        f: &str,
        args: &[Expr],
        scope: Scope<'_>,
        mut aggs: Option<&mut Aggs>,
    ) -> R<(CExpr, Ty)> {
        let mut compiled = Vec::new();
        let mut types = Vec::new();
        for a in args {
            let (c, t) = self.expr(a, scope, aggs.as_deref_mut())?;
            compiled.push(c);
            types.push(t);
        }
        let now = CExpr::Const(Val::Date(self.now));
        match f {
            "ago" => {
                if args.len() != 1 {
                    return Err(arity(scope, f, 1, 1));
                }
                expect_type(scope, f, 1, types[0], &[Ty::TimeSpan])?;
                let arg = compiled.pop().unwrap_or(CExpr::Const(Val::Null));
                return Ok((
                    CExpr::Arith(Arith::Sub, Box::new(now), Box::new(arg)),
                    Ty::DateTime,
                ));
            }
            "now" => {
                return match compiled.pop() {
                    None => Ok((now, Ty::DateTime)),
                    Some(offset) if args.len() == 1 => {
                        expect_type(scope, f, 1, types[0], &[Ty::TimeSpan])?;
                        Ok((
                            CExpr::Arith(Arith::Add, Box::new(now), Box::new(offset)),
                            Ty::DateTime,
                        ))
                    }
                    Some(_) => Err(arity(scope, f, 0, 1)),
                };
            }
            _ => {}
        }
        let Some((func, min, max)) = func_of(f) else {
            return Err(scope.err(format!("Unknown function: '{f}'")));
        };
        if args.len() < min || args.len() > max {
            return Err(arity(scope, f, min, max));
        }
        let incompatible = |a: Ty, b: Ty| {
            scope.err(format!(
                "the arguments of '{f}' have incompatible types {} and {}",
                a.name(),
                b.name()
            ))
        };
        let unify_all = |ts: &[Ty]| -> R<Ty> {
            let mut acc = ts[0];
            for t in &ts[1..] {
                acc = unify(acc, *t).ok_or_else(|| incompatible(acc, *t))?;
            }
            Ok(acc)
        };
        let ty = match func {
            Func::ToString
            | Func::ToLower
            | Func::ToUpper
            | Func::StrCat
            | Func::Substring
            | Func::ReplaceString => Ty::String,
            Func::ToInt => Ty::Int,
            Func::ToLong | Func::StrLen | Func::IndexOf | Func::ArrayLength | Func::ParseIpv4 => {
                Ty::Long
            }
            Func::ToReal => Ty::Real,
            Func::ToBool
            | Func::IsEmpty
            | Func::IsNotEmpty
            | Func::IsNull
            | Func::IsNotNull
            | Func::SetHasElement
            | Func::Ipv4IsInRange
            | Func::Ipv4IsPrivate => Ty::Bool,
            Func::ToDateTime => Ty::DateTime,
            Func::ToTimeSpan | Func::DayOfWeek => Ty::TimeSpan,
            Func::ToDynamic | Func::Split | Func::PackArray | Func::BagPack => Ty::Dynamic,
            Func::Not => {
                expect_type(scope, f, 1, types[0], &[Ty::Bool])?;
                Ty::Bool
            }
            Func::Iff => {
                expect_type(scope, f, 1, types[0], &[Ty::Bool])?;
                unify_all(&types[1..])?
            }
            Func::Case => {
                if args.len().is_multiple_of(2) {
                    return Err(
                        scope.err("'case' expects predicate/value pairs followed by an else value")
                    );
                }
                let mut values: Vec<Ty> = types.iter().skip(1).step_by(2).copied().collect();
                values.push(types[types.len() - 1]);
                for p in types.iter().step_by(2).take(args.len() / 2) {
                    expect_type(scope, f, 1, *p, &[Ty::Bool])?;
                }
                unify_all(&values)?
            }
            Func::Coalesce | Func::MinOf | Func::MaxOf => unify_all(&types)?,
            Func::Bin => {
                let ok = match (types[0], types[1]) {
                    (Ty::DateTime | Ty::TimeSpan, Ty::TimeSpan) => true,
                    (a, b) => {
                        (a.is_numeric() || a == Ty::Dynamic) && (b.is_numeric() || b == Ty::Dynamic)
                    }
                };
                if !ok {
                    return Err(incompatible(types[0], types[1]));
                }
                types[0]
            }
            Func::StartOfDay | Func::StartOfWeek | Func::StartOfMonth => {
                expect_type(scope, f, 1, types[0], &[Ty::DateTime])?;
                Ty::DateTime
            }
            Func::Abs => types[0],
            Func::Round => {
                if matches!(types[0], Ty::Int | Ty::Long) {
                    Ty::Long
                } else {
                    Ty::Real
                }
            }
        };
        Ok((CExpr::Call(func, compiled), ty))
    }
}

fn arity(scope: Scope<'_>, f: &str, min: usize, max: usize) -> KqlError {
    let count = if min == max {
        format!("{min}")
    } else {
        format!("{min} to {max}")
    };
    let plural = if max == 1 { "argument" } else { "arguments" };
    scope.err(format!("The function '{f}' expects {count} {plural}"))
}

fn expect_type(scope: Scope<'_>, f: &str, n: usize, got: Ty, want: &[Ty]) -> R<()> {
    if got == Ty::Dynamic || want.contains(&got) {
        return Ok(());
    }
    let want: Vec<&str> = want.iter().map(|t| t.name()).collect();
    Err(scope.err(format!(
        "{f}(): argument #{n} expected to be of type {}, but it is of type {}",
        want.join(" or "),
        got.name()
    )))
}

fn check_dynamic(scope: Scope<'_>, t: Ty) -> R<()> {
    if t == Ty::Dynamic {
        Ok(())
    } else {
        Err(scope.err(format!(
            "member access needs a value of type dynamic, not {} (use todynamic())",
            t.name()
        )))
    }
}

fn lit(l: &Lit) -> (CExpr, Ty) {
    let (v, ty) = match l {
        Lit::Null(t) => (Val::Null, *t),
        Lit::Bool(b) => (Val::Bool(*b), Ty::Bool),
        Lit::Long(n) => (Val::Long(*n), Ty::Long),
        Lit::Int(n) => (Val::Long(*n), Ty::Int),
        Lit::Real(f) => (Val::Real(*f), Ty::Real),
        Lit::Str(s) => (Val::string(s.clone()), Ty::String),
        Lit::Span(t) => (Val::Span(*t), Ty::TimeSpan),
        Lit::Date(d) => (Val::Date(*d), Ty::DateTime),
        Lit::Dyn(serde_json::Value::Null) => (Val::Null, Ty::Dynamic),
        Lit::Dyn(j) => (Val::json(j.clone()), Ty::Dynamic),
    };
    (CExpr::Const(v), ty)
}

fn binary(op: BinOp, a: CExpr, ta: Ty, b: CExpr, tb: Ty, scope: Scope<'_>) -> R<(CExpr, Ty)> {
    let (a, b) = (Box::new(a), Box::new(b));
    let arith = match op {
        BinOp::Add => Some(Arith::Add),
        BinOp::Sub => Some(Arith::Sub),
        BinOp::Mul => Some(Arith::Mul),
        BinOp::Div => Some(Arith::Div),
        BinOp::Mod => Some(Arith::Mod),
        _ => None,
    };
    if let Some(o) = arith {
        let ty = arith_type(o, ta, tb).ok_or_else(|| {
            scope.err(format!(
                "Cannot apply operator '{}' to operands of types {} and {}",
                op.symbol(),
                ta.name(),
                tb.name()
            ))
        })?;
        return Ok((CExpr::Arith(o, a, b), ty));
    }
    let cmp = match op {
        BinOp::Eq => Cmp::Eq,
        BinOp::Ne => Cmp::Ne,
        BinOp::Lt => Cmp::Lt,
        BinOp::Le => Cmp::Le,
        BinOp::Gt => Cmp::Gt,
        BinOp::Ge => Cmp::Ge,
        _ => {
            let stringish = |t: Ty| matches!(t, Ty::String | Ty::Dynamic);
            if !stringish(ta) || !stringish(tb) {
                return Err(scope.err(format!(
                    "Cannot compare values of types {} and {} with '{}'. Try adding explicit casts",
                    ta.name(),
                    tb.name(),
                    op.symbol()
                )));
            }
            return Ok((
                CExpr::EqCi {
                    negated: op == BinOp::NeCi,
                    left: a,
                    right: b,
                },
                Ty::Bool,
            ));
        }
    };
    if !comparable(ta, tb) {
        return Err(scope.err(format!(
            "Cannot compare values of types {} and {}. Try adding explicit casts",
            ta.name(),
            tb.name()
        )));
    }
    Ok((CExpr::Cmp(cmp, a, b), Ty::Bool))
}

fn str_op(op: StrOp, left: CExpr, right: CExpr) -> CExpr {
    let needle = match right {
        CExpr::Const(v) => {
            let s = v.to_kstring();
            Needle::Const(if op.case_sensitive {
                s.into_owned()
            } else {
                lower(&s).into_owned()
            })
        }
        other => Needle::Expr(Box::new(other)),
    };
    CExpr::Str {
        op,
        left: Box::new(left),
        needle,
    }
}

fn default_agg_name(f: &str, args: &[Expr]) -> String {
    let arg = args.first().and_then(infer_name).unwrap_or_default();
    match f {
        "count" => "count_".to_owned(),
        "countif" => "countif_".to_owned(),
        "make_set" | "makeset" | "make_set_if" => format!("set_{arg}"),
        "make_list" | "makelist" | "make_list_if" => format!("list_{arg}"),
        "take_any" | "any" => format!("any_{arg}"),
        other => format!("{other}_{arg}"),
    }
}

/// Replaces the stages' output with the given input columns, in order.
fn reorder(schema: &mut Schema, stages: &mut Vec<Stage>, keep: &[usize]) {
    let identity = keep.len() == schema.len() && keep.iter().enumerate().all(|(k, i)| k == *i);
    if identity {
        return;
    }
    let items = keep.iter().map(|i| ProjItem::Move(*i)).collect();
    *schema = keep.iter().map(|i| schema[*i].clone()).collect();
    stages.push(Stage::Project(items));
}

/// Reads `Timestamp` bounds from the `where` stages at the start of a table's pipeline.
fn scan_hint(stages: &[Stage], table: &Schema) -> ScanHint {
    let mut hint = ScanHint::default();
    let Some(ts) = table
        .iter()
        .position(|(n, t)| n == "Timestamp" && *t == Ty::DateTime)
    else {
        return hint;
    };
    let is_ts = |e: &CExpr| matches!(e, CExpr::Col(i, _) if *i == ts);
    let mut raise = |d: DateTime<Utc>| {
        if hint.min_time.is_none_or(|m| d > m) {
            hint.min_time = Some(d);
        }
    };
    let mut lowers = Vec::new();
    let mut uppers = Vec::new();
    for stage in stages {
        let Stage::Filter(pred) = stage else { break };
        let mut conjuncts = Vec::new();
        let mut todo = vec![pred];
        while let Some(e) = todo.pop() {
            match e {
                CExpr::And(items) => todo.extend(items),
                other => conjuncts.push(other),
            }
        }
        for c in conjuncts {
            match c {
                CExpr::Cmp(op, a, b) => {
                    let (op, d) = if is_ts(a) {
                        (*op, const_date(b))
                    } else if is_ts(b) {
                        let flipped = match op {
                            Cmp::Lt => Cmp::Gt,
                            Cmp::Le => Cmp::Ge,
                            Cmp::Gt => Cmp::Lt,
                            Cmp::Ge => Cmp::Le,
                            other => *other,
                        };
                        (flipped, const_date(a))
                    } else {
                        continue;
                    };
                    let Some(d) = d else { continue };
                    match op {
                        Cmp::Gt | Cmp::Ge => lowers.push(d),
                        Cmp::Lt | Cmp::Le => uppers.push(d),
                        Cmp::Eq => {
                            lowers.push(d);
                            uppers.push(d);
                        }
                        Cmp::Ne => {}
                    }
                }
                CExpr::Between {
                    expr,
                    low,
                    high,
                    negated: false,
                } if is_ts(expr) => {
                    if let Some(d) = const_date(low) {
                        lowers.push(d);
                    }
                    if let Some(d) = const_date(high) {
                        uppers.push(d);
                    }
                }
                _ => {}
            }
        }
    }
    for d in lowers {
        raise(d);
    }
    hint.max_time = uppers.into_iter().min();
    hint
}
