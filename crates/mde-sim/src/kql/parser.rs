//! A hand-written recursive-descent parser: statements and tabular operators by keyword,
//! scalar expressions by precedence climbing. It only builds the syntax tree; names and types
//! are resolved by `compile`.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use super::KqlError;
use super::lexer::{Tok, Token, lex, syntax_error};
use super::value::{Ty, parse_datetime, parse_timespan};

/// The deepest expression tree accepted. Compilation and evaluation recurse over the tree, so
/// the bound keeps hostile input from exhausting the stack.
pub(super) const MAX_DEPTH: u32 = 64;

#[derive(Debug, Clone)]
pub(super) enum Lit {
    Null(Ty),
    Bool(bool),
    Long(i64),
    Int(i64),
    Real(f64),
    Str(String),
    Span(i64),
    Date(DateTime<Utc>),
    Dyn(Json),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    EqCi,
    NeCi,
}

impl BinOp {
    pub(super) fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::EqCi => "=~",
            BinOp::NeCi => "!~",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StrKind {
    Has,
    Contains,
    StartsWith,
    EndsWith,
    HasPrefix,
    HasSuffix,
}

/// A string operator such as `!contains_cs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StrOp {
    pub(super) kind: StrKind,
    pub(super) negated: bool,
    pub(super) case_sensitive: bool,
}

impl StrOp {
    fn from_word(word: &str) -> Option<StrOp> {
        let (negated, rest) = match word.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, word),
        };
        let (case_sensitive, base) = match rest.strip_suffix("_cs") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let kind = match base {
            "has" => StrKind::Has,
            "contains" => StrKind::Contains,
            "startswith" => StrKind::StartsWith,
            "endswith" => StrKind::EndsWith,
            "hasprefix" => StrKind::HasPrefix,
            "hassuffix" => StrKind::HasSuffix,
            _ => return None,
        };
        Some(StrOp {
            kind,
            negated,
            case_sensitive,
        })
    }
}

#[derive(Debug, Clone)]
pub(super) enum Expr {
    Lit(Lit),
    Name(String),
    /// `*` as a function argument (`arg_max(Timestamp, *)`).
    Star,
    Call(String, Vec<Expr>),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Str(StrOp, Box<Expr>, Box<Expr>),
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    HasAny {
        expr: Box<Expr>,
        list: Vec<Expr>,
        all: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
}

/// `[Name =] expr`
#[derive(Debug, Clone)]
pub(super) struct Assign {
    pub(super) name: Option<String>,
    pub(super) expr: Expr,
}

#[derive(Debug, Clone)]
pub(super) struct SortKey {
    pub(super) expr: Expr,
    pub(super) desc: bool,
    pub(super) nulls_first: bool,
}

#[derive(Debug, Clone)]
pub(super) struct MvItem {
    pub(super) assign: Assign,
    pub(super) to_type: Option<Ty>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JoinKind {
    InnerUnique,
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
    LeftSemi,
    LeftAnti,
    RightSemi,
    RightAnti,
}

#[derive(Debug, Clone)]
pub(super) enum Op {
    Where(Expr),
    Project(Vec<Assign>),
    ProjectAway(Vec<String>),
    ProjectKeep(Vec<String>),
    ProjectRename(Vec<(String, String)>),
    ProjectReorder(Vec<String>),
    Extend(Vec<Assign>),
    Summarize {
        aggs: Vec<Assign>,
        by: Vec<Assign>,
    },
    Sort {
        keyword: &'static str,
        keys: Vec<SortKey>,
    },
    Take(Expr),
    Top {
        count: Expr,
        key: SortKey,
    },
    Distinct(Option<Vec<Assign>>),
    MvExpand {
        bag_as_array: bool,
        index_column: Option<String>,
        items: Vec<MvItem>,
        limit: Option<Expr>,
    },
    Count,
    Join {
        kind: JoinKind,
        right: Box<Pipeline>,
        keys: Vec<(String, String)>,
    },
    Serialize,
    GetSchema,
}

#[derive(Debug, Clone)]
pub(super) enum Source {
    Table(String),
    Print(Vec<Assign>),
    Nested(Box<Pipeline>),
}

#[derive(Debug, Clone)]
pub(super) struct Pipeline {
    pub(super) source: Source,
    pub(super) ops: Vec<Op>,
}

#[derive(Debug, Clone)]
pub(super) enum Stmt {
    LetScalar(String, Expr),
    LetTabular(String, Pipeline),
    Query(Pipeline),
}

pub(super) fn parse(src: &str) -> Result<Vec<Stmt>, KqlError> {
    let mut p = Parser {
        toks: lex(src)?,
        at: 0,
        nesting: 0,
    };
    let mut stmts = Vec::new();
    loop {
        while p.eat_punct(";") {}
        if p.peek().tok == Tok::Eof {
            break;
        }
        stmts.push(p.statement()?);
        if !p.eat_punct(";") && p.peek().tok != Tok::Eof {
            return Err(p.error());
        }
    }
    Ok(stmts)
}

/// An expression and the depth of its tree.
struct E {
    e: Expr,
    depth: u32,
}

impl E {
    fn leaf(e: Expr) -> E {
        E { e, depth: 1 }
    }
}

struct Parser {
    toks: Vec<Token>,
    at: usize,
    /// Recursion depth of `expr()`, bounded like the tree depth.
    nesting: u32,
}

type R<T> = Result<T, KqlError>;

impl Parser {
    fn peek(&self) -> &Token {
        &self.toks[self.at.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        &self.toks[(self.at + ahead).min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.toks.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn error(&self) -> KqlError {
        let t = self.peek();
        syntax_error(&t.text, t.line, t.col)
    }

    fn error_at(t: &Token) -> KqlError {
        syntax_error(&t.text, t.line, t.col)
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(&self.peek().tok, Tok::Punct(q) if *q == p)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        let hit = self.is_punct(p);
        if hit {
            self.bump();
        }
        hit
    }

    fn expect_punct(&mut self, p: &str) -> R<()> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(x) if x == w)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        let hit = self.is_word(w);
        if hit {
            self.bump();
        }
        hit
    }

    fn expect_word(&mut self, w: &str) -> R<()> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// An identifier, or a bracketed name `['Name']`.
    fn name(&mut self) -> R<String> {
        if self.is_punct("[") {
            if let Tok::Str(s) = &self.peek_at(1).tok {
                let s = s.clone();
                if matches!(&self.peek_at(2).tok, Tok::Punct("]")) {
                    self.at += 3;
                    return Ok(s);
                }
            }
            return Err(self.error());
        }
        match &self.peek().tok {
            Tok::Ident(s) if !s.starts_with('!') && !s.contains('-') && !s.ends_with('~') => {
                let s = s.clone();
                self.bump();
                Ok(s)
            }
            _ => Err(self.error()),
        }
    }

    /// True when the next tokens are `Name =` (and not `Name ==`).
    fn at_assignment(&self) -> bool {
        let is_name = match &self.peek().tok {
            Tok::Ident(s) => !s.starts_with('!') && !s.contains('-'),
            Tok::Punct("[") => {
                matches!(self.peek_at(1).tok, Tok::Str(_))
                    && matches!(self.peek_at(2).tok, Tok::Punct("]"))
            }
            _ => false,
        };
        let eq_at = if matches!(self.peek().tok, Tok::Punct("[")) {
            3
        } else {
            1
        };
        is_name && matches!(self.peek_at(eq_at).tok, Tok::Punct("="))
    }

    fn statement(&mut self) -> R<Stmt> {
        if self.eat_word("let") {
            let name = self.name()?;
            self.expect_punct("=")?;
            // `let T = Table | ...` and `let x = name;` are tabular/ambiguous; other forms are
            // scalar. The compiler resolves a bare name against earlier lets and tables.
            let tabular = matches!(&self.peek().tok, Tok::Ident(_))
                && matches!(&self.peek_at(1).tok, Tok::Punct("|" | ";") | Tok::Eof);
            if tabular {
                return Ok(Stmt::LetTabular(name, self.pipeline()?));
            }
            if self.is_punct("(") && self.paren_holds_pipeline() {
                return Ok(Stmt::LetTabular(name, self.pipeline()?));
            }
            return Ok(Stmt::LetScalar(name, self.expr()?));
        }
        Ok(Stmt::Query(self.pipeline()?))
    }

    /// After `(`: does a tabular expression follow (`(Table | ...)`)?
    fn paren_holds_pipeline(&self) -> bool {
        matches!(&self.peek_at(1).tok, Tok::Ident(_))
            && matches!(&self.peek_at(2).tok, Tok::Punct("|" | ")"))
    }

    fn pipeline(&mut self) -> R<Pipeline> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(self.too_deep());
        }
        let p = self.pipeline_inner();
        self.nesting -= 1;
        p
    }

    fn pipeline_inner(&mut self) -> R<Pipeline> {
        let source = if self.eat_word("print") {
            Source::Print(self.assign_list()?)
        } else if self.is_punct("(") {
            self.bump();
            let inner = self.pipeline()?;
            self.expect_punct(")")?;
            Source::Nested(Box::new(inner))
        } else {
            Source::Table(self.name()?)
        };
        let mut ops = Vec::new();
        while self.eat_punct("|") {
            ops.push(self.operator()?);
        }
        Ok(Pipeline { source, ops })
    }

    fn operator(&mut self) -> R<Op> {
        let t = self.bump();
        let Tok::Ident(word) = &t.tok else {
            return Err(Self::error_at(&t));
        };
        Ok(match word.as_str() {
            "where" | "filter" => Op::Where(self.expr()?),
            "project" => Op::Project(self.assign_list()?),
            "extend" => Op::Extend(self.assign_list()?),
            "project-away" => Op::ProjectAway(self.pattern_list()?),
            "project-keep" => Op::ProjectKeep(self.pattern_list()?),
            "project-reorder" => Op::ProjectReorder(self.pattern_list()?),
            "project-rename" => {
                let mut pairs = Vec::new();
                loop {
                    let new = self.name()?;
                    self.expect_punct("=")?;
                    pairs.push((new, self.name()?));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                Op::ProjectRename(pairs)
            }
            "summarize" => {
                let aggs = if self.is_word("by") {
                    Vec::new()
                } else {
                    self.assign_list()?
                };
                let by = if self.eat_word("by") {
                    self.assign_list()?
                } else {
                    Vec::new()
                };
                if aggs.is_empty() && by.is_empty() {
                    return Err(self.error());
                }
                Op::Summarize { aggs, by }
            }
            "order" | "sort" => {
                self.expect_word("by")?;
                let mut keys = vec![self.sort_key()?];
                while self.eat_punct(",") {
                    keys.push(self.sort_key()?);
                }
                Op::Sort {
                    keyword: if word == "order" { "order" } else { "sort" },
                    keys,
                }
            }
            "take" | "limit" => Op::Take(self.expr()?),
            "top" => {
                let count = self.expr()?;
                self.expect_word("by")?;
                Op::Top {
                    count,
                    key: self.sort_key()?,
                }
            }
            "distinct" => {
                if self.eat_punct("*") {
                    Op::Distinct(None)
                } else {
                    Op::Distinct(Some(self.assign_list()?))
                }
            }
            "mv-expand" => self.mv_expand()?,
            "count" => Op::Count,
            "join" => self.join()?,
            "serialize" => Op::Serialize,
            "getschema" => Op::GetSchema,
            _ => return Err(Self::error_at(&t)),
        })
    }

    fn assign(&mut self) -> R<Assign> {
        let name = if self.at_assignment() {
            let n = self.name()?;
            self.bump();
            Some(n)
        } else {
            None
        };
        Ok(Assign {
            name,
            expr: self.expr()?,
        })
    }

    fn assign_list(&mut self) -> R<Vec<Assign>> {
        let mut items = vec![self.assign()?];
        while self.eat_punct(",") {
            items.push(self.assign()?);
        }
        Ok(items)
    }

    /// Column names with optional `*` wildcards (`project-away Initiating*`).
    fn pattern_list(&mut self) -> R<Vec<String>> {
        let mut items = Vec::new();
        loop {
            let mut pattern = String::new();
            loop {
                if self.eat_punct("*") {
                    pattern.push('*');
                } else if matches!(self.peek().tok, Tok::Ident(_)) || self.is_punct("[") {
                    if pattern.ends_with(|c: char| c != '*') {
                        break;
                    }
                    pattern.push_str(&self.name()?);
                } else {
                    break;
                }
            }
            if pattern.is_empty() {
                return Err(self.error());
            }
            items.push(pattern);
            if !self.eat_punct(",") {
                return Ok(items);
            }
        }
    }

    fn sort_key(&mut self) -> R<SortKey> {
        let expr = self.expr()?;
        // Kusto sorts descending unless told otherwise.
        let desc = if self.eat_word("asc") {
            false
        } else {
            self.eat_word("desc");
            true
        };
        let mut nulls_first = !desc;
        if self.eat_word("nulls") {
            if self.eat_word("first") {
                nulls_first = true;
            } else {
                self.expect_word("last")?;
                nulls_first = false;
            }
        }
        Ok(SortKey {
            expr,
            desc,
            nulls_first,
        })
    }

    fn mv_expand(&mut self) -> R<Op> {
        let mut bag_as_array = false;
        let mut index_column = None;
        loop {
            if self.is_word("kind") || self.is_word("bagexpansion") {
                if !matches!(self.peek_at(1).tok, Tok::Punct("=")) {
                    break;
                }
                self.bump();
                self.bump();
                let kind = self.bump();
                match &kind.tok {
                    Tok::Ident(k) if k == "bag" => bag_as_array = false,
                    Tok::Ident(k) if k == "array" => bag_as_array = true,
                    _ => return Err(Self::error_at(&kind)),
                }
            } else if self.is_word("with_itemindex")
                && matches!(self.peek_at(1).tok, Tok::Punct("="))
            {
                self.bump();
                self.bump();
                index_column = Some(self.name()?);
            } else {
                break;
            }
        }
        let mut items = Vec::new();
        loop {
            let assign = self.assign()?;
            let to_type = if self.eat_word("to") {
                self.expect_word("typeof")?;
                self.expect_punct("(")?;
                let t = self.bump();
                let ty = match &t.tok {
                    Tok::Ident(name) => Ty::from_type_name(name),
                    _ => None,
                };
                let ty = ty.ok_or_else(|| Self::error_at(&t))?;
                self.expect_punct(")")?;
                Some(ty)
            } else {
                None
            };
            items.push(MvItem { assign, to_type });
            if !self.eat_punct(",") {
                break;
            }
        }
        let limit = if self.eat_word("limit") {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(Op::MvExpand {
            bag_as_array,
            index_column,
            items,
            limit,
        })
    }

    fn join(&mut self) -> R<Op> {
        let mut kind = JoinKind::InnerUnique;
        loop {
            if self.is_word("kind") && matches!(self.peek_at(1).tok, Tok::Punct("=")) {
                self.bump();
                self.bump();
                let t = self.bump();
                kind = match &t.tok {
                    Tok::Ident(k) => match k.as_str() {
                        "innerunique" => JoinKind::InnerUnique,
                        "inner" => JoinKind::Inner,
                        "leftouter" => JoinKind::LeftOuter,
                        "rightouter" => JoinKind::RightOuter,
                        "fullouter" => JoinKind::FullOuter,
                        "leftsemi" => JoinKind::LeftSemi,
                        "leftanti" | "anti" | "leftantisemi" => JoinKind::LeftAnti,
                        "rightsemi" => JoinKind::RightSemi,
                        "rightanti" | "rightantisemi" => JoinKind::RightAnti,
                        _ => return Err(Self::error_at(&t)),
                    },
                    _ => return Err(Self::error_at(&t)),
                };
            } else if matches!(&self.peek().tok, Tok::Ident(w) if w.starts_with("hint"))
                && matches!(self.peek_at(1).tok, Tok::Punct("."))
            {
                // `hint.strategy=shuffle` and friends only tune the real service.
                self.bump();
                self.bump();
                self.name()?;
                self.expect_punct("=")?;
                self.bump();
            } else {
                break;
            }
        }
        let right = if self.eat_punct("(") {
            let inner = self.pipeline()?;
            self.expect_punct(")")?;
            inner
        } else {
            Pipeline {
                source: Source::Table(self.name()?),
                ops: Vec::new(),
            }
        };
        self.expect_word("on")?;
        let mut keys = Vec::new();
        loop {
            if self.is_word("$left") || self.is_word("$right") {
                let (side_a, col_a) = self.side_column()?;
                self.expect_punct("==")?;
                let (side_b, col_b) = self.side_column()?;
                match (side_a.as_str(), side_b.as_str()) {
                    ("$left", "$right") => keys.push((col_a, col_b)),
                    ("$right", "$left") => keys.push((col_b, col_a)),
                    _ => return Err(self.error()),
                }
            } else {
                let col = self.name()?;
                keys.push((col.clone(), col));
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(Op::Join {
            kind,
            right: Box::new(right),
            keys,
        })
    }

    fn side_column(&mut self) -> R<(String, String)> {
        let t = self.bump();
        let Tok::Ident(side) = t.tok else {
            return Err(Self::error_at(&t));
        };
        self.expect_punct(".")?;
        Ok((side, self.name()?))
    }

    // ---- scalar expressions ------------------------------------------------------------------

    pub(super) fn expr(&mut self) -> R<Expr> {
        Ok(self.expr_d()?.e)
    }

    fn expr_d(&mut self) -> R<E> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(self.too_deep());
        }
        let r = self.or_expr();
        self.nesting -= 1;
        r
    }

    fn too_deep(&self) -> KqlError {
        let t = self.peek();
        KqlError::new(format!(
            "Query could not be parsed at '{}' on line [{},{}]: expressions may nest at most {MAX_DEPTH} levels",
            t.text.chars().take(64).collect::<String>(),
            t.line,
            t.col
        ))
    }

    fn node(&self, e: Expr, depth: u32) -> R<E> {
        if depth > MAX_DEPTH {
            Err(self.too_deep())
        } else {
            Ok(E { e, depth })
        }
    }

    fn or_expr(&mut self) -> R<E> {
        let first = self.and_expr()?;
        if !self.is_word("or") {
            return Ok(first);
        }
        let mut depth = first.depth;
        let mut items = vec![first.e];
        while self.eat_word("or") {
            let next = self.and_expr()?;
            depth = depth.max(next.depth);
            items.push(next.e);
        }
        self.node(Expr::Or(items), depth + 1)
    }

    fn and_expr(&mut self) -> R<E> {
        let first = self.cmp_expr()?;
        if !self.is_word("and") {
            return Ok(first);
        }
        let mut depth = first.depth;
        let mut items = vec![first.e];
        while self.eat_word("and") {
            let next = self.cmp_expr()?;
            depth = depth.max(next.depth);
            items.push(next.e);
        }
        self.node(Expr::And(items), depth + 1)
    }

    fn cmp_expr(&mut self) -> R<E> {
        let mut left = self.add_expr()?;
        loop {
            let op = match &self.peek().tok {
                Tok::Punct("==") => Some(BinOp::Eq),
                Tok::Punct("!=" | "<>") => Some(BinOp::Ne),
                Tok::Punct("<") => Some(BinOp::Lt),
                Tok::Punct("<=") => Some(BinOp::Le),
                Tok::Punct(">") => Some(BinOp::Gt),
                Tok::Punct(">=") => Some(BinOp::Ge),
                Tok::Punct("=~") => Some(BinOp::EqCi),
                Tok::Punct("!~") => Some(BinOp::NeCi),
                _ => None,
            };
            if let Some(op) = op {
                self.bump();
                let right = self.add_expr()?;
                let depth = left.depth.max(right.depth) + 1;
                left = self.node(Expr::Bin(op, Box::new(left.e), Box::new(right.e)), depth)?;
                continue;
            }
            let Tok::Ident(word) = &self.peek().tok else {
                return Ok(left);
            };
            let word = word.clone();
            if let Some(sop) = StrOp::from_word(&word) {
                self.bump();
                let right = self.add_expr()?;
                let depth = left.depth.max(right.depth) + 1;
                left = self.node(Expr::Str(sop, Box::new(left.e), Box::new(right.e)), depth)?;
                continue;
            }
            match word.as_str() {
                "in" | "!in" | "in~" | "!in~" | "has_any" | "has_all" => {
                    self.bump();
                    let (list, list_depth) = self.paren_list()?;
                    let depth = left.depth.max(list_depth) + 1;
                    let expr = Box::new(left.e);
                    let e = match word.as_str() {
                        "has_any" => Expr::HasAny {
                            expr,
                            list,
                            all: false,
                        },
                        "has_all" => Expr::HasAny {
                            expr,
                            list,
                            all: true,
                        },
                        _ => Expr::In {
                            expr,
                            list,
                            negated: word.starts_with('!'),
                            case_insensitive: word.ends_with('~'),
                        },
                    };
                    left = self.node(e, depth)?;
                }
                "between" | "!between" => {
                    self.bump();
                    self.expect_punct("(")?;
                    let low = self.add_expr()?;
                    self.expect_punct("..")?;
                    let high = self.add_expr()?;
                    self.expect_punct(")")?;
                    let depth = left.depth.max(low.depth).max(high.depth) + 1;
                    let e = Expr::Between {
                        expr: Box::new(left.e),
                        low: Box::new(low.e),
                        high: Box::new(high.e),
                        negated: word.starts_with('!'),
                    };
                    left = self.node(e, depth)?;
                }
                _ => return Ok(left),
            }
        }
    }

    fn paren_list(&mut self) -> R<(Vec<Expr>, u32)> {
        self.expect_punct("(")?;
        let mut items = Vec::new();
        let mut depth = 0;
        if !self.is_punct(")") {
            loop {
                let item = self.expr_d()?;
                depth = depth.max(item.depth);
                items.push(item.e);
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        self.expect_punct(")")?;
        Ok((items, depth))
    }

    fn add_expr(&mut self) -> R<E> {
        let mut left = self.mul_expr()?;
        loop {
            let op = match self.peek().tok {
                Tok::Punct("+") => BinOp::Add,
                Tok::Punct("-") => BinOp::Sub,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.mul_expr()?;
            let depth = left.depth.max(right.depth) + 1;
            left = self.node(Expr::Bin(op, Box::new(left.e), Box::new(right.e)), depth)?;
        }
    }

    fn mul_expr(&mut self) -> R<E> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek().tok {
                Tok::Punct("*") => BinOp::Mul,
                Tok::Punct("/") => BinOp::Div,
                Tok::Punct("%") => BinOp::Mod,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.unary()?;
            let depth = left.depth.max(right.depth) + 1;
            left = self.node(Expr::Bin(op, Box::new(left.e), Box::new(right.e)), depth)?;
        }
    }

    fn unary(&mut self) -> R<E> {
        if self.is_punct("-") || self.is_punct("+") {
            let minus = self.is_punct("-");
            self.bump();
            self.nesting += 1;
            if self.nesting > MAX_DEPTH {
                return Err(self.too_deep());
            }
            let inner = self.unary();
            self.nesting -= 1;
            let inner = inner?;
            if !minus {
                return Ok(inner);
            }
            return match inner.e {
                Expr::Lit(Lit::Long(n)) => Ok(E::leaf(Expr::Lit(Lit::Long(n.wrapping_neg())))),
                Expr::Lit(Lit::Real(f)) => Ok(E::leaf(Expr::Lit(Lit::Real(-f)))),
                Expr::Lit(Lit::Span(t)) => Ok(E::leaf(Expr::Lit(Lit::Span(t.wrapping_neg())))),
                e => self.node(Expr::Neg(Box::new(e)), inner.depth + 1),
            };
        }
        self.postfix()
    }

    fn postfix(&mut self) -> R<E> {
        let mut base = self.primary()?;
        loop {
            if self.eat_punct(".") {
                let t = self.bump();
                let key = match t.tok {
                    Tok::Ident(k) if !k.starts_with('!') => k,
                    Tok::Long(n) => n.to_string(),
                    _ => return Err(Self::error_at(&t)),
                };
                base = self.node(Expr::Member(Box::new(base.e), key), base.depth + 1)?;
            } else if self.is_punct("[") {
                self.bump();
                let idx = self.expr_d()?;
                self.expect_punct("]")?;
                let depth = base.depth.max(idx.depth) + 1;
                base = self.node(Expr::Index(Box::new(base.e), Box::new(idx.e)), depth)?;
            } else {
                return Ok(base);
            }
        }
    }

    fn primary(&mut self) -> R<E> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Long(n) => {
                self.bump();
                Ok(E::leaf(Expr::Lit(Lit::Long(*n))))
            }
            Tok::Real(f) => {
                self.bump();
                Ok(E::leaf(Expr::Lit(Lit::Real(*f))))
            }
            Tok::Span(s) => {
                self.bump();
                Ok(E::leaf(Expr::Lit(Lit::Span(*s))))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(E::leaf(Expr::Lit(Lit::Str(s.clone()))))
            }
            Tok::Typed(kind, raw) => {
                self.bump();
                typed_literal(kind, raw)
                    .map(|l| E::leaf(Expr::Lit(l)))
                    .ok_or_else(|| Self::error_at(&t))
            }
            Tok::Punct("(") => {
                self.bump();
                let inner = self.expr_d()?;
                self.expect_punct(")")?;
                Ok(inner)
            }
            Tok::Punct("[") => Ok(E::leaf(Expr::Name(self.name()?))),
            Tok::Punct("*") => {
                self.bump();
                Ok(E::leaf(Expr::Star))
            }
            Tok::Ident(word) if word == "true" || word == "false" => {
                self.bump();
                Ok(E::leaf(Expr::Lit(Lit::Bool(word == "true"))))
            }
            Tok::Ident(_) => {
                let name = self.name()?;
                if !self.is_punct("(") {
                    return Ok(E::leaf(Expr::Name(name)));
                }
                let (args, depth) = self.paren_list()?;
                self.node(Expr::Call(name, args), depth + 1)
            }
            _ => Err(self.error()),
        }
    }
}

/// The value of `datetime(...)`, `dynamic(...)`, `timespan(...)`, `int(...)`...
fn typed_literal(kind: &str, raw: &str) -> Option<Lit> {
    let raw = raw.trim();
    let unquoted = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
        .unwrap_or(raw);
    let is_null = raw == "null";
    Some(match kind {
        "datetime" if is_null => Lit::Null(Ty::DateTime),
        "datetime" => Lit::Date(parse_datetime(unquoted)?),
        "timespan" | "time" if is_null => Lit::Null(Ty::TimeSpan),
        "timespan" | "time" => {
            let t = parse_timespan(unquoted).or_else(|| {
                unquoted
                    .parse::<i64>()
                    .ok()?
                    .checked_mul(super::value::TICKS_PER_DAY)
            })?;
            Lit::Span(t)
        }
        "dynamic" => Lit::Dyn(parse_dynamic_literal(raw)?),
        "int" if is_null => Lit::Null(Ty::Int),
        "int" => Lit::Int(i64::from(unquoted.parse::<i32>().ok()?)),
        "long" if is_null => Lit::Null(Ty::Long),
        "long" => Lit::Long(unquoted.parse().ok()?),
        "real" | "double" if is_null => Lit::Null(Ty::Real),
        "real" | "double" => Lit::Real(unquoted.parse().ok()?),
        "bool" | "boolean" if is_null => Lit::Null(Ty::Bool),
        "bool" | "boolean" => Lit::Bool(match unquoted {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return None,
        }),
        "guid" if is_null => Lit::Null(Ty::String),
        "guid" => Lit::Str(unquoted.to_owned()),
        _ => return None,
    })
}

/// `dynamic(...)` holds JSON, except that Kusto also accepts single-quoted strings.
fn parse_dynamic_literal(raw: &str) -> Option<Json> {
    if raw.is_empty() {
        return Some(Json::Null);
    }
    if let Ok(j) = serde_json::from_str(raw) {
        return Some(j);
    }
    let mut converted = String::with_capacity(raw.len());
    let mut quote: Option<char> = None;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match quote {
            None if c == '\'' => {
                quote = Some('\'');
                converted.push('"');
            }
            None if c == '"' => {
                quote = Some('"');
                converted.push('"');
            }
            Some(q) if c == q => {
                quote = None;
                converted.push('"');
            }
            Some(_) if c == '\\' => {
                converted.push('\\');
                converted.push(chars.next()?);
            }
            Some('\'') if c == '"' => converted.push_str("\\\""),
            _ => converted.push(c),
        }
    }
    serde_json::from_str(&converted).ok()
}
