//! Runs a [`Plan`]: row-wise stages (`where`, `project`, `extend`, `mv-expand`, `take`,
//! `distinct`) stream over the table scan; `summarize`, `sort`, `top`, `count` and `join`
//! consume their input before producing rows.

use std::cmp::Ordering;
use std::mem;

use serde_json::Value as Json;

use super::compile::{
    AggKind, AggSpec, JoinPlan, MvPlan, Plan, ProjItem, SortPlan, SourcePlan, Stage, SummarizePlan,
};
use super::eval::{CExpr, eval};
use super::parser::JoinKind;
use super::value::{TupleIndex, Ty, Val, compare, sort_order};
use super::{Tables, Value};

pub(super) type Row = Vec<Value>;
pub(super) type Rows<'a> = Box<dyn Iterator<Item = Row> + 'a>;

pub(super) fn run_plan<'a>(plan: &'a Plan, tables: &'a dyn Tables) -> Rows<'a> {
    let source: Rows<'a> = match &plan.source {
        SourcePlan::Table { name, hint } => tables.scan(name, hint),
        SourcePlan::Row(row) => Box::new(std::iter::once(row.clone())),
    };
    plan.stages
        .iter()
        .fold(source, |rows, stage| apply(stage, rows, tables))
}

fn apply<'a>(stage: &'a Stage, input: Rows<'a>, tables: &'a dyn Tables) -> Rows<'a> {
    match stage {
        Stage::Filter(pred) => {
            Box::new(input.filter(move |row| eval(pred, row).as_bool() == Some(true)))
        }
        Stage::Project(items) => Box::new(input.map(move |row| project(items, row))),
        Stage::Extend(items) => Box::new(input.map(move |mut row| {
            for item in items {
                let v = eval(&item.expr, &row).into_cell(item.ty);
                match item.replace {
                    Some(i) if i < row.len() => row[i] = v,
                    _ => row.push(v),
                }
            }
            row
        })),
        Stage::Take(n) => Box::new(input.take(*n)),
        Stage::MvExpand(plan) => Box::new(input.flat_map(move |row| mv_expand(plan, row))),
        Stage::Distinct(exprs) => {
            let mut seen = TupleIndex::default();
            Box::new(input.filter_map(move |row| {
                let vals: Vec<Val<'_>> = exprs.iter().map(|(e, _)| eval(e, &row)).collect();
                let (_, new) = seen.insert(&vals);
                new.then(|| {
                    vals.into_iter()
                        .zip(exprs)
                        .map(|(v, (_, t))| v.into_cell(*t))
                        .collect()
                })
            }))
        }
        Stage::Count => {
            let n = input.count();
            Box::new(std::iter::once(vec![Value::Long(
                i64::try_from(n).unwrap_or(i64::MAX),
            )]))
        }
        Stage::Summarize(plan) => Box::new(summarize(plan, input).into_iter()),
        Stage::Sort(keys) => {
            let mut rows: Vec<Row> = input.collect();
            sort_rows(&mut rows, keys);
            Box::new(rows.into_iter())
        }
        Stage::Top(n, key) => Box::new(top(*n, key, input).into_iter()),
        Stage::Join(plan) => join(plan, input, tables),
        Stage::Replace(rows) => Box::new(rows.iter().cloned()),
    }
}

fn project(items: &[ProjItem], mut row: Row) -> Row {
    let mut out: Row = items
        .iter()
        .map(|item| match item {
            ProjItem::Eval(e, ty) => eval(e, &row).into_cell(*ty),
            ProjItem::Clone(i) => row.get(*i).cloned().unwrap_or(Value::Null),
            ProjItem::Move(_) => Value::Null,
        })
        .collect();
    for (k, item) in items.iter().enumerate() {
        if let ProjItem::Move(i) = item
            && let Some(cell) = row.get_mut(*i)
        {
            out[k] = mem::replace(cell, Value::Null);
        }
    }
    out
}

// ---- mv-expand ------------------------------------------------------------------------------

fn expand_elements(v: Val<'_>, bag_as_array: bool) -> Vec<Json> {
    let j = match v {
        Val::Str(s) => {
            serde_json::from_str::<Json>(&s).unwrap_or_else(|_| Json::String(s.into_owned()))
        }
        other => other.into_json(),
    };
    match j {
        Json::Array(items) => items,
        Json::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                if bag_as_array {
                    Json::Array(vec![Json::String(k), v])
                } else {
                    let mut one = serde_json::Map::new();
                    one.insert(k, v);
                    Json::Object(one)
                }
            })
            .collect(),
        // A null or scalar expands to one row holding it.
        other => vec![other],
    }
}

fn typed_element(j: Json, to: Option<Ty>) -> Value {
    let Some(ty) = to else {
        return if j.is_null() {
            Value::Null
        } else {
            Value::Dynamic(j)
        };
    };
    // `to typeof(T)` casts: elements that are not already of type T become null.
    match (ty, j) {
        (Ty::String, Json::String(s)) => Value::String(s),
        (Ty::String, _) => Value::String(String::new()),
        (Ty::Long, Json::Number(n)) => n.as_i64().map_or(Value::Null, Value::Long),
        (Ty::Int, Json::Number(n)) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .map_or(Value::Null, Value::Int),
        (Ty::Real, Json::Number(n)) => n.as_f64().map_or(Value::Null, Value::Real),
        (Ty::Bool, Json::Bool(b)) => Value::Bool(b),
        (Ty::DateTime, Json::String(s)) => {
            super::value::parse_datetime(&s).map_or(Value::Null, Value::DateTime)
        }
        (Ty::TimeSpan, Json::String(s)) => {
            super::value::parse_timespan(&s).map_or(Value::Null, Value::Long)
        }
        (Ty::Dynamic, j) if !j.is_null() => Value::Dynamic(j),
        _ => Value::Null,
    }
}

fn mv_expand(plan: &MvPlan, row: Row) -> Vec<Row> {
    let lists: Vec<Vec<Json>> = plan
        .items
        .iter()
        .map(|item| expand_elements(eval(&item.expr, &row), plan.bag_as_array))
        .collect();
    let n = lists
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .min(plan.limit);
    let mut iters: Vec<_> = lists.into_iter().map(IntoIterator::into_iter).collect();
    let mut template = row;
    for item in &plan.items {
        // The expanded cells are overwritten below: don't copy the whole array into each row.
        if let Some(cell) = item.replace.and_then(|i| template.get_mut(i)) {
            *cell = Value::Null;
        }
    }
    let mut template = Some(template);
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let mut r = if k + 1 == n {
            template.take().unwrap_or_default()
        } else {
            template.clone().unwrap_or_default()
        };
        for (item, it) in plan.items.iter().zip(iters.iter_mut()) {
            let cell = typed_element(it.next().unwrap_or(Json::Null), item.to_type);
            match item.replace {
                Some(i) if i < r.len() => r[i] = cell,
                _ => r.push(cell),
            }
        }
        if plan.with_index {
            r.push(Value::Long(i64::try_from(k).unwrap_or(i64::MAX)));
        }
        out.push(r);
    }
    out
}

// ---- sort and top ---------------------------------------------------------------------------

fn cmp_cells(a: &Value, b: &Value, key: &SortPlan) -> Ordering {
    let (va, vb) = (Val::from_cell(a, key.ty), Val::from_cell(b, key.ty));
    match (va.is_null(), vb.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => {
            if key.nulls_first {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (false, true) => {
            if key.nulls_first {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (false, false) => {
            let o = sort_order(&va, &vb);
            if key.desc { o.reverse() } else { o }
        }
    }
}

/// Where each sort key lives in a row: a column, or a computed cell appended at the end.
fn key_cells(keys: &[SortPlan], width: usize) -> Vec<usize> {
    let mut extra = width;
    keys.iter()
        .map(|k| match k.expr {
            CExpr::Col(i, _) => i,
            _ => {
                extra += 1;
                extra - 1
            }
        })
        .collect()
}

fn add_key_cells(row: &mut Row, keys: &[SortPlan]) {
    let computed: Vec<Value> = keys
        .iter()
        .filter(|k| !matches!(k.expr, CExpr::Col(..)))
        .map(|k| eval(&k.expr, row).into_cell(k.ty))
        .collect();
    row.extend(computed);
}

fn compare_rows(a: &Row, b: &Row, keys: &[SortPlan], at: &[usize]) -> Ordering {
    for (k, i) in keys.iter().zip(at) {
        let (Some(x), Some(y)) = (a.get(*i), b.get(*i)) else {
            continue;
        };
        let o = cmp_cells(x, y, k);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn sort_rows(rows: &mut [Row], keys: &[SortPlan]) {
    let Some(width) = rows.first().map(Vec::len) else {
        return;
    };
    let computed = keys.iter().any(|k| !matches!(k.expr, CExpr::Col(..)));
    if computed {
        for r in rows.iter_mut() {
            add_key_cells(r, keys);
        }
    }
    let at = key_cells(keys, width);
    rows.sort_by(|a, b| compare_rows(a, b, keys, &at));
    if computed {
        for r in rows.iter_mut() {
            r.truncate(width);
        }
    }
}

/// The first `n` rows in key order, keeping at most about `2n` rows in memory.
fn top<'a>(n: usize, key: &SortPlan, input: Rows<'a>) -> Vec<Row> {
    let keys = std::slice::from_ref(key);
    let computed = !matches!(key.expr, CExpr::Col(..));
    let mut width = None;
    let mut buf: Vec<Row> = Vec::new();
    let cap = n.saturating_mul(2).max(1024);
    for mut row in input {
        if n == 0 {
            break;
        }
        let w = *width.get_or_insert(row.len());
        if computed {
            add_key_cells(&mut row, keys);
        }
        buf.push(row);
        if buf.len() >= cap {
            let at = key_cells(keys, w);
            buf.sort_by(|a, b| compare_rows(a, b, keys, &at));
            buf.truncate(n);
        }
    }
    if let Some(w) = width {
        let at = key_cells(keys, w);
        buf.sort_by(|a, b| compare_rows(a, b, keys, &at));
        buf.truncate(n);
        if computed {
            for r in &mut buf {
                r.truncate(w);
            }
        }
    }
    buf
}

// ---- summarize ------------------------------------------------------------------------------

enum AggState {
    Count(i64),
    Distinct(TupleIndex),
    SumLong(i64),
    SumReal(f64),
    Best(Option<Value>),
    Avg(f64, i64),
    Arg {
        best: Option<Value>,
        row: Option<Row>,
    },
    Set {
        seen: TupleIndex,
        items: Vec<Json>,
    },
    List(Vec<Json>),
    Any(Option<Value>),
}

fn init_state(spec: &AggSpec) -> AggState {
    match spec.kind {
        AggKind::Count | AggKind::CountIf => AggState::Count(0),
        AggKind::DCount | AggKind::DCountIf => AggState::Distinct(TupleIndex::default()),
        AggKind::Sum | AggKind::SumIf => match spec.arg_ty {
            Ty::Int | Ty::Long | Ty::TimeSpan => AggState::SumLong(0),
            _ => AggState::SumReal(0.0),
        },
        AggKind::Min | AggKind::Max => AggState::Best(None),
        AggKind::Avg | AggKind::AvgIf => AggState::Avg(0.0, 0),
        AggKind::ArgMax | AggKind::ArgMin => AggState::Arg {
            best: None,
            row: None,
        },
        AggKind::MakeSet | AggKind::MakeSetIf => AggState::Set {
            seen: TupleIndex::default(),
            items: Vec::new(),
        },
        AggKind::MakeList | AggKind::MakeListIf => AggState::List(Vec::new()),
        AggKind::TakeAny => AggState::Any(None),
    }
}

/// Folds one row into the state. Returns true when an `arg_max`/`arg_min` wants to keep the
/// row (the caller moves or clones it in).
fn update(spec: &AggSpec, state: &mut AggState, row: &[Value]) -> bool {
    let pred_ok = |at: usize| {
        spec.args
            .get(at)
            .is_none_or(|p| eval(p, row).as_bool() == Some(true))
    };
    match (spec.kind, state) {
        (AggKind::Count, AggState::Count(n)) => *n += 1,
        (AggKind::CountIf, AggState::Count(n)) if pred_ok(0) => {
            *n += 1;
        }
        (AggKind::DCount | AggKind::DCountIf, AggState::Distinct(seen))
            if (spec.kind == AggKind::DCount || pred_ok(1)) =>
        {
            let v = eval(&spec.args[0], row);
            if !v.is_null() {
                seen.insert(std::slice::from_ref(&v));
            }
        }
        (AggKind::Sum | AggKind::SumIf, s) if (spec.kind == AggKind::Sum || pred_ok(1)) => {
            let v = eval(&spec.args[0], row).unwrap_dyn();
            match s {
                AggState::SumLong(total) => {
                    if let Some(x) = v.as_i64() {
                        *total = total.wrapping_add(x);
                    }
                }
                AggState::SumReal(total) => {
                    if let Some(x) = v.as_f64() {
                        *total += x;
                    }
                }
                _ => {}
            }
        }
        (AggKind::Min | AggKind::Max, AggState::Best(best)) => {
            let v = eval(&spec.args[0], row);
            if v.is_null() {
                return false;
            }
            let want = if spec.kind == AggKind::Min {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            let better = match best {
                None => true,
                Some(b) => compare(&v, &Val::from_cell(b, spec.arg_ty)) == Some(want),
            };
            if better {
                *best = Some(v.into_cell(spec.arg_ty));
            }
        }
        (AggKind::Avg | AggKind::AvgIf, AggState::Avg(sum, n)) => {
            if (spec.kind == AggKind::Avg || pred_ok(1))
                && let Some(x) = eval(&spec.args[0], row).as_f64()
            {
                *sum += x;
                *n += 1;
            }
        }
        (AggKind::ArgMax | AggKind::ArgMin, AggState::Arg { best, row: kept }) => {
            let v = eval(&spec.args[0], row);
            if v.is_null() {
                // Rows whose key is null only count when nothing better exists.
                return kept.is_none();
            }
            let want = if spec.kind == AggKind::ArgMin {
                Ordering::Less
            } else {
                Ordering::Greater
            };
            let better = match best {
                None => true,
                Some(b) => compare(&v, &Val::from_cell(b, spec.arg_ty)) == Some(want),
            };
            if better {
                *best = Some(v.into_cell(spec.arg_ty));
                return true;
            }
        }
        (AggKind::MakeSet | AggKind::MakeSetIf, AggState::Set { seen, items })
            if (spec.kind == AggKind::MakeSet || pred_ok(1)) && items.len() < spec.limit =>
        {
            let v = eval(&spec.args[0], row);
            if v.is_null() {
                return false;
            }
            // An array argument adds its elements, as Kusto's make_set does.
            let elems = match v {
                Val::Dyn(j) if j.is_array() => match j.into_owned() {
                    Json::Array(a) => a,
                    other => vec![other],
                },
                other => vec![other.into_json()],
            };
            for e in elems {
                if items.len() >= spec.limit || e.is_null() {
                    continue;
                }
                let key = Val::json(e);
                if seen.insert(std::slice::from_ref(&key)).1 {
                    items.push(key.into_json());
                }
            }
        }
        (AggKind::MakeList | AggKind::MakeListIf, AggState::List(items))
            if (spec.kind == AggKind::MakeList || pred_ok(1)) && items.len() < spec.limit =>
        {
            let v = eval(&spec.args[0], row);
            if !v.is_null() {
                items.push(v.into_json());
            }
        }
        (AggKind::TakeAny, AggState::Any(slot)) if slot.is_none() => {
            let v = eval(&spec.args[0], row);
            if !v.is_null() {
                *slot = Some(v.into_cell(spec.arg_ty));
            }
        }
        _ => {}
    }
    false
}

fn finish(spec: &AggSpec, state: AggState, out: &mut Row) {
    match state {
        AggState::Count(n) => out.push(Value::Long(n)),
        AggState::Distinct(seen) => {
            out.push(Value::Long(i64::try_from(seen.len()).unwrap_or(i64::MAX)))
        }
        AggState::SumLong(n) => out.push(Value::Long(n)),
        AggState::SumReal(f) => out.push(Value::Real(f)),
        AggState::Best(b) | AggState::Any(b) => out.push(b.unwrap_or(Value::Null)),
        AggState::Avg(sum, n) => out.push(if n == 0 {
            Value::Null
        } else {
            Value::Real(sum / n as f64)
        }),
        AggState::Arg { best, row } => {
            out.push(best.unwrap_or(Value::Null));
            for (e, ty) in &spec.outputs {
                out.push(match &row {
                    Some(r) => eval(e, r).into_cell(*ty),
                    None => Value::Null,
                });
            }
        }
        AggState::Set { items, .. } | AggState::List(items) => {
            out.push(Value::Dynamic(Json::Array(items)))
        }
    }
}

struct Group {
    by: Row,
    states: Vec<AggState>,
}

fn summarize(plan: &SummarizePlan, input: Rows<'_>) -> Vec<Row> {
    let mut index = TupleIndex::default();
    let mut groups: Vec<Group> = Vec::new();
    let new_group = |by: Row| Group {
        by,
        states: plan.aggs.iter().map(init_state).collect(),
    };
    if plan.by.is_empty() {
        // Without `by`, summarize returns one row even for empty input.
        groups.push(new_group(Vec::new()));
    }
    let mut wanting: Vec<usize> = Vec::new();
    for row in input {
        let gi = if plan.by.is_empty() {
            0
        } else {
            let keys: Vec<Val<'_>> = plan.by.iter().map(|(e, _)| eval(e, &row)).collect();
            let (gi, is_new) = index.insert(&keys);
            if is_new {
                let by = keys
                    .into_iter()
                    .zip(&plan.by)
                    .map(|(v, (_, t))| v.into_cell(*t))
                    .collect();
                groups.push(new_group(by));
            }
            gi
        };
        let Some(group) = groups.get_mut(gi) else {
            continue;
        };
        wanting.clear();
        for (k, (spec, state)) in plan.aggs.iter().zip(group.states.iter_mut()).enumerate() {
            if update(spec, state, &row) {
                wanting.push(k);
            }
        }
        if let Some((last, rest)) = wanting.split_last() {
            for k in rest {
                if let AggState::Arg { row: kept, .. } = &mut group.states[*k] {
                    *kept = Some(row.clone());
                }
            }
            if let AggState::Arg { row: kept, .. } = &mut group.states[*last] {
                *kept = Some(row);
            }
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let mut agg_row = g.by;
            for (spec, state) in plan.aggs.iter().zip(g.states) {
                finish(spec, state, &mut agg_row);
            }
            match &plan.outputs {
                None => agg_row,
                Some(outputs) => outputs
                    .iter()
                    .map(|(e, ty)| eval(e, &agg_row).into_cell(*ty))
                    .collect(),
            }
        })
        .collect()
}

// ---- join -----------------------------------------------------------------------------------

fn key_vals<'r>(row: &'r [Value], keys: &[(usize, Ty)]) -> Option<Vec<Val<'r>>> {
    let vals: Vec<Val<'r>> = keys
        .iter()
        .map(|(i, t)| row.get(*i).map_or(Val::Null, |c| Val::from_cell(c, *t)))
        .collect();
    // Null keys never match.
    (!vals.iter().any(Val::is_null)).then_some(vals)
}

/// The right side of a join, indexed by key.
struct JoinIndex {
    rows: Vec<Row>,
    index: TupleIndex,
    /// Row numbers in `rows` per key number in `index`.
    matches: Vec<Vec<usize>>,
}

impl JoinIndex {
    fn build(rows: Vec<Row>, keys: &[(usize, Ty)]) -> JoinIndex {
        let mut index = TupleIndex::default();
        let mut matches: Vec<Vec<usize>> = Vec::new();
        for (ri, row) in rows.iter().enumerate() {
            if let Some(k) = key_vals(row, keys) {
                let (at, new) = index.insert(&k);
                if new {
                    matches.push(Vec::new());
                }
                if let Some(m) = matches.get_mut(at) {
                    m.push(ri);
                }
            }
        }
        JoinIndex {
            rows,
            index,
            matches,
        }
    }

    fn lookup(&self, row: &[Value], keys: &[(usize, Ty)]) -> &[usize] {
        key_vals(row, keys)
            .and_then(|k| self.index.find(&k))
            .and_then(|at| self.matches.get(at))
            .map_or(&[], Vec::as_slice)
    }
}

/// Left-driven kinds stream over the left input; right-driven kinds need all of it first.
fn join<'a>(plan: &'a JoinPlan, left: Rows<'a>, tables: &'a dyn Tables) -> Rows<'a> {
    let right = JoinIndex::build(run_plan(&plan.right, tables).collect(), &plan.right_keys);
    let keys = &plan.left_keys;
    match plan.kind {
        JoinKind::LeftSemi | JoinKind::LeftAnti => {
            let want = plan.kind == JoinKind::LeftSemi;
            Box::new(left.filter(move |row| right.lookup(row, keys).is_empty() != want))
        }
        JoinKind::Inner | JoinKind::InnerUnique | JoinKind::LeftOuter => {
            let mut seen_left = TupleIndex::default();
            Box::new(left.flat_map(move |row| {
                if plan.kind == JoinKind::InnerUnique {
                    // innerunique keeps one left row per key.
                    match key_vals(&row, keys) {
                        Some(k) if seen_left.insert(&k).1 => {}
                        _ => return Vec::new(),
                    }
                }
                let found = right.lookup(&row, keys);
                if found.is_empty() {
                    if plan.kind != JoinKind::LeftOuter {
                        return Vec::new();
                    }
                    let mut r = row;
                    r.extend(std::iter::repeat_n(Value::Null, plan.right_width));
                    return vec![r];
                }
                found
                    .iter()
                    .map(|ri| {
                        let mut r = row.clone();
                        r.extend(right.rows[*ri].iter().cloned());
                        r
                    })
                    .collect()
            }))
        }
        JoinKind::RightSemi | JoinKind::RightAnti | JoinKind::RightOuter | JoinKind::FullOuter => {
            let mut hit = vec![false; right.rows.len()];
            let mut out: Vec<Row> = Vec::new();
            let outer = matches!(plan.kind, JoinKind::RightOuter | JoinKind::FullOuter);
            for row in left {
                let found = right.lookup(&row, keys);
                for ri in found {
                    hit[*ri] = true;
                    if outer {
                        let mut r = row.clone();
                        r.extend(right.rows[*ri].iter().cloned());
                        out.push(r);
                    }
                }
                if found.is_empty() && plan.kind == JoinKind::FullOuter {
                    let mut r = row;
                    r.extend(std::iter::repeat_n(Value::Null, plan.right_width));
                    out.push(r);
                }
            }
            for (r, h) in right.rows.into_iter().zip(hit) {
                match plan.kind {
                    JoinKind::RightSemi if h => out.push(r),
                    JoinKind::RightAnti if !h => out.push(r),
                    JoinKind::RightOuter | JoinKind::FullOuter if !h => {
                        let mut row = vec![Value::Null; plan.left_width];
                        row.extend(r);
                        out.push(row);
                    }
                    _ => {}
                }
            }
            Box::new(out.into_iter())
        }
    }
}
