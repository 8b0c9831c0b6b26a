//! Splits a query into tokens, each with the line and column the service reports in syntax
//! errors (`line [1,15]`: 1-based line, 0-based column in characters).

use super::KqlError;
use super::value::span_unit;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// Identifiers and keywords, including the hyphenated operators (`mv-expand`), negated
    /// string operators (`!has`, `!in`) and `in~`.
    Ident(String),
    Str(String),
    Long(i64),
    Real(f64),
    /// A timespan literal, in ticks.
    Span(i64),
    /// `datetime(...)`, `dynamic(...)`, `timespan(...)`, `int(null)`...: the keyword and the raw
    /// text between the parentheses.
    Typed(String, String),
    Punct(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    /// The source text, quoted in error messages.
    pub(super) text: String,
    pub(super) line: usize,
    pub(super) col: usize,
}

/// Keywords written with a hyphen. Anything else with a hyphen is a subtraction.
const HYPHENATED: &[&str] = &[
    "mv-expand",
    "mv-apply",
    "project-away",
    "project-keep",
    "project-rename",
    "project-reorder",
    "make-series",
    "top-nested",
    "top-hitters",
    "parse-where",
    "parse-kv",
];

/// Keywords whose parenthesized argument is literal text rather than an expression.
const TYPED_LITERALS: &[&str] = &[
    "datetime", "dynamic", "timespan", "time", "int", "long", "real", "double", "bool", "boolean",
    "guid",
];

const PUNCTS: &[&str] = &[
    "..", "==", "!=", "<=", ">=", "=~", "!~", "<>", "|", "(", ")", "[", "]", "{", "}", ",", ";",
    ".", "=", "<", ">", "+", "-", "*", "/", "%", ":",
];

pub(super) fn syntax_error(text: &str, line: usize, col: usize) -> KqlError {
    let mut shown: String = text.chars().take(64).collect();
    if shown.len() < text.len() {
        shown.push_str("...");
    }
    KqlError::new(format!(
        "Query could not be parsed at '{shown}' on line [{line},{col}]"
    ))
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    line_start: usize,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.line_start = self.pos;
        }
        Some(c)
    }

    fn col(&self) -> usize {
        self.pos - self.line_start
    }

    fn text(&self, start: usize) -> String {
        self.chars[start..self.pos].iter().collect()
    }

    fn skip_trivia(&mut self) {
        loop {
            match self.peek(0) {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('/') if self.peek(1) == Some('/') => {
                    while let Some(c) = self.peek(0) {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                _ => return,
            }
        }
    }

    fn is_ident_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '_'
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek(0).is_some_and(Self::is_ident_char) {
            self.bump();
        }
        self.text(start)
    }

    /// After a word: glues `-expand` etc. onto known hyphenated keywords.
    fn hyphenated(&mut self, word: &mut String) {
        if self.peek(0) != Some('-') || !self.peek(1).is_some_and(|c| c.is_ascii_alphabetic()) {
            return;
        }
        let mut end = self.pos + 1;
        while self.chars.get(end).is_some_and(|c| Self::is_ident_char(*c)) {
            end += 1;
        }
        let tail: String = self.chars[self.pos + 1..end].iter().collect();
        let joined = format!("{word}-{tail}");
        if HYPHENATED.contains(&joined.as_str()) {
            while self.pos < end {
                self.bump();
            }
            *word = joined;
        }
    }

    /// Reads `( ... )` after a typed-literal keyword, balancing brackets and skipping strings.
    fn raw_parens(&mut self) -> Option<String> {
        let mut depth = 0usize;
        let open = self.pos;
        loop {
            let c = self.bump()?;
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        if c != ')' {
                            return None;
                        }
                        return Some(self.chars[open + 1..self.pos - 1].iter().collect());
                    }
                }
                '"' | '\'' => loop {
                    match self.bump()? {
                        '\\' => {
                            self.bump()?;
                        }
                        q if q == c => break,
                        _ => {}
                    }
                },
                _ => {}
            }
        }
    }

    fn string(&mut self, quote: char, verbatim: bool) -> Option<String> {
        let mut out = String::new();
        loop {
            let c = self.bump()?;
            if c == '\n' {
                return None;
            }
            if c == quote {
                if verbatim && self.peek(0) == Some(quote) {
                    self.bump();
                    out.push(quote);
                    continue;
                }
                return Some(out);
            }
            if c == '\\' && !verbatim {
                let e = self.bump()?;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| self.bump()).collect();
                        char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                    }
                    other => other,
                });
                continue;
            }
            out.push(c);
        }
    }

    fn number(&mut self) -> Option<Tok> {
        let start = self.pos;
        if self.peek(0) == Some('0') && matches!(self.peek(1), Some('x' | 'X')) {
            self.bump();
            self.bump();
            let digits = self.word();
            return i64::from_str_radix(&digits, 16).ok().map(Tok::Long);
        }
        let mut is_real = false;
        while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            is_real = true;
            self.bump();
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            let digit_at = if matches!(self.peek(1), Some('+' | '-')) {
                2
            } else {
                1
            };
            if self.peek(digit_at).is_some_and(|c| c.is_ascii_digit()) {
                is_real = true;
                for _ in 0..digit_at {
                    self.bump();
                }
                while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
            }
        }
        let num = self.text(start);
        if self.peek(0).is_some_and(|c| c.is_ascii_alphabetic()) {
            let unit = self.word();
            let ticks_per = span_unit(&unit)?;
            let ticks = if is_real {
                let t = num.parse::<f64>().ok()? * ticks_per as f64;
                if !t.is_finite() || t >= i64::MAX as f64 {
                    return None;
                }
                t.round() as i64
            } else {
                num.parse::<i64>().ok()?.checked_mul(ticks_per)?
            };
            return Some(Tok::Span(ticks));
        }
        if is_real {
            num.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Tok::Real)
        } else {
            num.parse::<i64>().ok().map(Tok::Long)
        }
    }
}

pub(super) fn lex(src: &str) -> Result<Vec<Token>, KqlError> {
    let mut lx = Lexer {
        chars: src.chars().collect(),
        pos: 0,
        line: 1,
        line_start: 0,
    };
    let mut out = Vec::new();
    loop {
        lx.skip_trivia();
        let (start, line, col) = (lx.pos, lx.line, lx.col());
        let Some(c) = lx.peek(0) else {
            out.push(Token {
                tok: Tok::Eof,
                text: "<EOF>".to_owned(),
                line,
                col,
            });
            return Ok(out);
        };
        let fail = |lx: &Lexer| syntax_error(&lx.text(start), line, col);
        let tok = if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            if c == '$' {
                lx.bump();
            }
            let mut word = lx.text(start) + &lx.word();
            let quote = lx.peek(0);
            if matches!(word.as_str(), "h" | "H") && matches!(quote, Some('"' | '\'')) {
                lx.bump();
                let q = quote.unwrap_or('"');
                Tok::Str(lx.string(q, false).ok_or_else(|| fail(&lx))?)
            } else {
                lx.hyphenated(&mut word);
                if word == "in" && lx.peek(0) == Some('~') {
                    lx.bump();
                    word.push('~');
                }
                if TYPED_LITERALS.contains(&word.as_str()) {
                    let mut ahead = 0;
                    while lx.peek(ahead).is_some_and(char::is_whitespace) {
                        ahead += 1;
                    }
                    if lx.peek(ahead) == Some('(') {
                        for _ in 0..ahead {
                            lx.bump();
                        }
                        let raw = lx.raw_parens().ok_or_else(|| fail(&lx))?;
                        Tok::Typed(word, raw)
                    } else {
                        Tok::Ident(word)
                    }
                } else {
                    Tok::Ident(word)
                }
            }
        } else if c.is_ascii_digit() {
            lx.number().ok_or_else(|| {
                // Include the rest of a malformed literal (`5x`) in the message.
                while lx.peek(0).is_some_and(Lexer::is_ident_char) {
                    lx.bump();
                }
                fail(&lx)
            })?
        } else if c == '"' || c == '\'' {
            lx.bump();
            Tok::Str(lx.string(c, false).ok_or_else(|| fail(&lx))?)
        } else if c == '@' && matches!(lx.peek(1), Some('"' | '\'')) {
            lx.bump();
            let q = lx.bump().unwrap_or('"');
            Tok::Str(lx.string(q, true).ok_or_else(|| fail(&lx))?)
        } else if c == '!' && lx.peek(1).is_some_and(|c| c.is_ascii_alphabetic()) {
            lx.bump();
            let mut word = format!("!{}", lx.word());
            if word == "!in" && lx.peek(0) == Some('~') {
                lx.bump();
                word.push('~');
            }
            Tok::Ident(word)
        } else {
            let rest: String = lx.chars[lx.pos..(lx.pos + 2).min(lx.chars.len())]
                .iter()
                .collect();
            match PUNCTS.iter().find(|p| rest.starts_with(**p)) {
                Some(p) => {
                    for _ in 0..p.chars().count() {
                        lx.bump();
                    }
                    Tok::Punct(p)
                }
                None => {
                    lx.bump();
                    return Err(fail(&lx));
                }
            }
        };
        out.push(Token {
            tok,
            text: lx.text(start),
            line,
            col,
        });
    }
}
