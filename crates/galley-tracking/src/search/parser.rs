//! Recursive-descent parser for the shape of filters and order_by clauses, before any rule
//! about which keys or comparators a runs or experiments search allows.
//!
//! Grammar (keywords case-insensitive, whitespace between tokens):
//!
//! ```text
//! filter     := ε | comparison (AND comparison)*
//! comparison := name comparator value
//! comparator := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN
//! value      := number | string                       (after every comparator but IN, NOT IN)
//!             | "(" string ("," string)* [","] ")"    (after IN, NOT IN)
//! order_by   := name [ASC | DESC]
//! name       := [prefix "."] key
//! ```

use super::ast::Comparator;
use super::lexer::{tokenize, Segment, Token, TokenKind};

/// A name as written: `prefix` is what came before the first dot, `key` the rest, unquoted.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RawName {
    pub prefix: Option<String>,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum RawValue {
    /// `text` is the number as written, so messages can quote it.
    Number {
        value: f64,
        text: String,
    },
    Str(String),
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct RawComparison {
    pub name: RawName,
    pub comparator: Comparator,
    pub value: RawValue,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct RawOrderBy {
    pub name: RawName,
    pub ascending: bool,
}

/// Words that can never start a name, so `a = 1 AND AND b = 2` fails where the user erred.
const RESERVED: [&str; 8] = ["AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "ASC", "DESC"];

pub(super) fn parse_filter(src: &str) -> Result<Vec<RawComparison>, String> {
    let mut parser = Parser::new(src)?;
    if parser.at_end() {
        return Ok(Vec::new());
    }
    let mut comparisons = vec![parser.comparison()?];
    while let Some(token) = parser.peek() {
        if token.is_keyword("AND") {
            parser.bump();
            comparisons.push(parser.comparison()?);
        } else if token.is_keyword("OR") {
            return Err(format!(
                "OR is not supported (at position {}); conditions can only be combined with AND",
                token.pos
            ));
        } else {
            return Err(format!(
                "expected AND or the end of the filter at position {}, found {}",
                token.pos,
                describe(token)
            ));
        }
    }
    Ok(comparisons)
}

pub(super) fn parse_order_by(src: &str) -> Result<RawOrderBy, String> {
    let mut parser = Parser::new(src)?;
    if parser.at_end() {
        return Err("the clause is empty; expected a key such as metrics.acc or start_time".into());
    }
    let name = parser.name()?;
    let ascending = match parser.peek() {
        None => true,
        Some(token) if token.is_keyword("ASC") || token.is_keyword("DESC") => {
            let ascending = token.is_keyword("ASC");
            parser.bump();
            ascending
        }
        Some(token) => {
            let hint = if token.kind == TokenKind::Comma {
                "; give each key as its own order_by entry"
            } else {
                ""
            };
            return Err(format!(
                "expected ASC, DESC or the end of the clause at position {}, found {}{hint}",
                token.pos,
                describe(token)
            ));
        }
    };
    if let Some(token) = parser.peek() {
        return Err(format!(
            "unexpected {} at position {} after the sort direction; an order_by clause is one \
             key and an optional ASC or DESC",
            describe(token),
            token.pos
        ));
    }
    Ok(RawOrderBy { name, ascending })
}

/// How a token is named in error messages.
fn describe(token: &Token) -> String {
    const LIMIT: usize = 40;
    let text = if token.text.chars().count() > LIMIT {
        let head: String = token.text.chars().take(LIMIT).collect();
        format!("{head}...")
    } else {
        token.text.clone()
    };
    match token.kind {
        TokenKind::Str { .. } => format!("string {text}"),
        TokenKind::Number { .. } => format!("number {text}"),
        TokenKind::Ident(_) if RESERVED.iter().any(|k| token.is_keyword(k)) => {
            format!("keyword '{text}'")
        }
        _ => format!("'{text}'"),
    }
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// Character length of the source, where "end of input" is reported.
    end: usize,
}

impl Parser {
    fn new(src: &str) -> Result<Self, String> {
        Ok(Parser {
            tokens: tokenize(src)?,
            next: 0,
            end: src.chars().count(),
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn bump(&mut self) {
        self.next += 1;
    }

    fn peek_kind(&self) -> Option<&TokenKind> {
        self.peek().map(|t| &t.kind)
    }

    fn at_end(&self) -> bool {
        self.next >= self.tokens.len()
    }

    /// "at position N, found X" for whatever comes next, including the end.
    fn here(&self) -> String {
        match self.peek() {
            Some(token) => format!("at position {}, found {}", token.pos, describe(token)),
            None => format!("at position {}, found the end of the input", self.end),
        }
    }

    fn comparison(&mut self) -> Result<RawComparison, String> {
        let name = self.name()?;
        let comparator = self.comparator()?;
        let value = match comparator {
            Comparator::In | Comparator::NotIn => self.list()?,
            _ => self.scalar()?,
        };
        Ok(RawComparison {
            name,
            comparator,
            value,
        })
    }

    fn name(&mut self) -> Result<RawName, String> {
        let expected = format!("expected a key such as metrics.acc {}", self.here());
        let Some(token) = self.peek() else {
            return Err(expected);
        };
        let pos = token.pos;
        let name = match &token.kind {
            TokenKind::Ident(_) if RESERVED.iter().any(|k| token.is_keyword(k)) => {
                return Err(expected)
            }
            TokenKind::Ident(segments) => split_name(segments, pos)?,
            // sqlparse reads a double-quoted word on the left of a comparison as a name.
            TokenKind::Str { value, quote: '"' } => RawName {
                prefix: None,
                key: value.clone(),
            },
            TokenKind::LParen => {
                return Err(format!(
                    "parentheses are not supported (at position {pos}); a filter is a flat list \
                     of conditions joined by AND"
                ));
            }
            _ => return Err(expected),
        };
        if name.key.is_empty() {
            return Err(format!("empty key at position {pos}"));
        }
        self.bump();
        Ok(name)
    }

    fn comparator(&mut self) -> Result<Comparator, String> {
        const EXPECTED: &str =
            "expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)";
        let Some(token) = self.peek() else {
            return Err(format!("{EXPECTED} {}", self.here()));
        };
        let comparator = match &token.kind {
            TokenKind::Op(op) => match op.as_str() {
                "=" => Comparator::Eq,
                "!=" => Comparator::NotEq,
                "<" => Comparator::Lt,
                "<=" => Comparator::Le,
                ">" => Comparator::Gt,
                ">=" => Comparator::Ge,
                "<>" | "==" => {
                    let instead = if op == "<>" { "!=" } else { "=" };
                    return Err(format!("{EXPECTED} {}; use {instead}", self.here()));
                }
                _ => return Err(format!("{EXPECTED} {}", self.here())),
            },
            _ if token.is_keyword("LIKE") => Comparator::Like,
            _ if token.is_keyword("ILIKE") => Comparator::ILike,
            _ if token.is_keyword("IN") => Comparator::In,
            _ if token.is_keyword("NOT") => {
                self.bump();
                if !self.peek().is_some_and(|t| t.is_keyword("IN")) {
                    return Err(format!("expected IN after NOT {}", self.here()));
                }
                Comparator::NotIn
            }
            _ => return Err(format!("{EXPECTED} {}", self.here())),
        };
        self.bump();
        Ok(comparator)
    }

    fn scalar(&mut self) -> Result<RawValue, String> {
        let Some(token) = self.peek() else {
            return Err(format!("expected a value {}", self.here()));
        };
        let value = match &token.kind {
            TokenKind::Number { value } => RawValue::Number {
                value: *value,
                text: token.text.clone(),
            },
            TokenKind::Str { value, .. } => RawValue::Str(value.clone()),
            TokenKind::LParen => {
                return Err(format!(
                    "a parenthesised list (at position {}) can only follow IN or NOT IN",
                    token.pos
                ));
            }
            TokenKind::Ident(_) => {
                return Err(format!(
                    "expected a value {}; strings must be quoted, e.g. 'value'",
                    self.here()
                ));
            }
            _ => return Err(format!("expected a value {}", self.here())),
        };
        self.bump();
        Ok(value)
    }

    fn list(&mut self) -> Result<RawValue, String> {
        if self.peek_kind() != Some(&TokenKind::LParen) {
            return Err(format!(
                "expected a parenthesised list of quoted strings, e.g. ('a', 'b'), {}",
                self.here()
            ));
        }
        self.bump();
        if self.peek_kind() == Some(&TokenKind::RParen) {
            return Err(format!(
                "the list at position {} is empty; IN and NOT IN need at least one value",
                self.tokens[self.next - 1].pos
            ));
        }
        let mut items = Vec::new();
        loop {
            match self.peek_kind() {
                Some(TokenKind::Str { value, .. }) => items.push(value.clone()),
                _ => {
                    return Err(format!(
                        "expected a quoted string in the list {}",
                        self.here()
                    ))
                }
            }
            self.bump();
            match self.peek_kind() {
                Some(TokenKind::RParen) => break,
                Some(TokenKind::Comma) => {
                    self.bump();
                    // A trailing comma is fine: MLflow reads the list as a Python tuple.
                    if self.peek_kind() == Some(&TokenKind::RParen) {
                        break;
                    }
                }
                _ => return Err(format!("expected ',' or ')' in the list {}", self.here())),
            }
        }
        self.bump();
        Ok(RawValue::List(items))
    }
}

/// Splits at the first dot as MLflow does, so `params.model.lr` is the param `model.lr`.
fn split_name(segments: &[Segment], pos: usize) -> Result<RawName, String> {
    let (first, rest) = segments
        .split_first()
        .ok_or_else(|| format!("expected a key at position {pos}"))?;
    if rest.is_empty() {
        return Ok(RawName {
            prefix: None,
            key: first.text.clone(),
        });
    }
    if rest.len() > 1 && rest.iter().any(|s| s.quoted) {
        return Err(format!(
            "the key at position {pos} mixes quoted and unquoted parts; quote the whole key, \
             e.g. tags.`a.b.c`"
        ));
    }
    let key = rest
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(".");
    Ok(RawName {
        prefix: Some(first.text.clone()),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::super::rules::symbol;
    use super::*;

    /// `prefix:key`, or `-:key` without a prefix.
    fn show_name(name: &RawName) -> String {
        format!("{}:{}", name.prefix.as_deref().unwrap_or("-"), name.key)
    }

    /// A compact picture of a parsed filter: `prefix:key OP value` joined by ` & `, strings
    /// and lists in Rust debug form so their contents are unambiguous.
    fn show(comparisons: &[RawComparison]) -> String {
        let show_one = |c: &RawComparison| {
            let value = match &c.value {
                RawValue::Number { value, .. } => value.to_string(),
                RawValue::Str(s) => format!("{s:?}"),
                RawValue::List(items) => format!("{items:?}"),
            };
            format!("{} {} {value}", show_name(&c.name), symbol(c.comparator))
        };
        comparisons
            .iter()
            .map(show_one)
            .collect::<Vec<_>>()
            .join(" & ")
    }

    fn check_filter(src: &str, want: Result<&str, &str>) {
        match (parse_filter(src), want) {
            (Ok(got), Ok(want)) => assert_eq!(show(&got), want, "parse of {src:?}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{src:?}: {got:?} lacks {want:?}"),
            (got, want) => panic!("{src:?}: got {got:?}, want {want:?}"),
        }
    }

    fn check_order_by(src: &str, want: Result<&str, &str>) {
        let got = parse_order_by(src).map(|o| {
            let direction = if o.ascending { "ASC" } else { "DESC" };
            format!("{} {direction}", show_name(&o.name))
        });
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "parse of {src:?}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{src:?}: {got:?} lacks {want:?}"),
            (got, want) => panic!("{src:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn accepted_filters() {
        let cases = [
            ("", ""),
            ("   ", ""),
            ("metrics.acc > 0.9", "metrics:acc > 0.9"),
            ("metrics.acc>0.9", "metrics:acc > 0.9"),
            ("metrics.loss <= -1e-3", "metrics:loss <= -0.001"),
            ("metrics.a = 1", "metrics:a = 1"),
            ("metrics.a != 1", "metrics:a != 1"),
            ("metrics.a < 1", "metrics:a < 1"),
            ("metrics.a >= 1", "metrics:a >= 1"),
            ("params.model.lr = '0.1'", "params:model.lr = \"0.1\""),
            ("tags.x LIKE '%a%'", "tags:x LIKE \"%a%\""),
            ("tags.x like '%a%'", "tags:x LIKE \"%a%\""),
            ("tags.x iLiKe \"A\"", "tags:x ILIKE \"A\""),
            ("run_id IN ('a')", "-:run_id IN [\"a\"]"),
            ("run_id in ('a', \"b\",)", "-:run_id IN [\"a\", \"b\"]"),
            ("run_id NOT IN ('a','b')", "-:run_id NOT IN [\"a\", \"b\"]"),
            ("run_id not   in('a')", "-:run_id NOT IN [\"a\"]"),
            ("`Run Name` = 'x'", "-:Run Name = \"x\""),
            ("\"Run Name\" = 'x'", "-:Run Name = \"x\""),
            ("tags.`a.b c` = ''", "tags:a.b c = \"\""),
            ("`tags`.`a` = 'v'", "tags:a = \"v\""),
            ("tags.`and` = 'v'", "tags:and = \"v\""),
            (
                "metrics.a > 1 AND tags.b = 'x' and params.c != 'y'",
                "metrics:a > 1 & tags:b = \"x\" & params:c != \"y\"",
            ),
            (
                "\n metrics.a\t>\t1\nAND\ntags.b='x' \n",
                "metrics:a > 1 & tags:b = \"x\"",
            ),
        ];
        for (src, want) in cases {
            check_filter(src, Ok(want));
        }
    }

    #[test]
    fn rejected_filters() {
        let cases = [
            (
                "metrics.acc >> 1",
                "expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN) at \
                 position 12, found '>>'",
            ),
            ("metrics.acc <> 1", "found '<>'; use !="),
            ("metrics.acc == 1", "found '=='; use ="),
            ("metrics.acc", "at position 11, found the end of the input"),
            ("metrics.acc 1", "expected a comparator"),
            (
                "metrics.acc >",
                "expected a value at position 13, found the end of the input",
            ),
            (
                "tags.a = abc",
                "at position 9, found 'abc'; strings must be quoted",
            ),
            ("tags.a = =", "expected a value at position 9, found '='"),
            (
                "metrics.a > 1 AND",
                "expected a key such as metrics.acc at position 17, found the",
            ),
            (
                "AND metrics.a > 1",
                "key such as metrics.acc at position 0, found keyword 'AND'",
            ),
            (
                "metrics.a > 1 AND AND metrics.b > 1",
                "at position 18, found keyword 'AND'",
            ),
            (
                "metrics.a > 1 OR metrics.b > 1",
                "OR is not supported (at position 14)",
            ),
            (
                "metrics.a > 1 metrics.b > 1",
                "end of the filter at position 14, found 'metrics.b'",
            ),
            ("metrics.a > 1 1", "found number 1"),
            (
                "(metrics.a > 1)",
                "parentheses are not supported (at position 0)",
            ),
            (
                "metrics.a > 1 AND (tags.b = 'x')",
                "parentheses are not supported (at position 18)",
            ),
            (
                "tags.a = ('x')",
                "a parenthesised list (at position 9) can only follow IN or NOT",
            ),
            (
                "run_id IN 'a'",
                "('a', 'b'), at position 10, found string 'a'",
            ),
            ("run_id IN ()", "the list at position 10 is empty"),
            (
                "run_id IN ('a'",
                "expected ',' or ')' in the list at position 14, found the end",
            ),
            (
                "run_id IN ('a' 'b')",
                "expected ',' or ')' in the list at position 15",
            ),
            (
                "run_id IN (1, 2)",
                "expected a quoted string in the list at position 11, found number",
            ),
            (
                "run_id IN ('a',,)",
                "expected a quoted string in the list at position 15, found ','",
            ),
            (
                "run_id NOT LIKE 'a'",
                "expected IN after NOT at position 11, found keyword 'LIKE'",
            ),
            (
                "run_id NOT",
                "expected IN after NOT at position 10, found the end of the input",
            ),
            (
                "'run_id' = 'a'",
                "metrics.acc at position 0, found string 'run_id'",
            ),
            ("tags.`` = 'a'", "empty key at position 0"),
            ("\"\" = 'a'", "empty key at position 0"),
            ("tags.`a`.b = 'x'", "quote the whole key"),
            ("tags.a = 'x", "unterminated string starting at position 9"),
            ("tags.a = 'x' AND", "found the end of the input"),
            (
                "= 1",
                "expected a key such as metrics.acc at position 0, found '='",
            ),
            (
                "tags.a = 'x'; DROP TABLE runs",
                "unexpected character ';' at position 12",
            ),
        ];
        for (src, want) in cases {
            check_filter(src, Err(want));
        }
    }

    #[test]
    fn long_tokens_are_shortened_in_messages() {
        let long = "x".repeat(100);
        let err = parse_filter(&format!("tags.a = 'v' {long}")).unwrap_err();
        assert!(
            err.ends_with(&format!("found '{}...'", "x".repeat(40))),
            "{err}"
        );
    }

    #[test]
    fn order_by_clauses() {
        let accepted = [
            ("start_time", "-:start_time ASC"),
            ("start_time ASC", "-:start_time ASC"),
            ("start_time desc", "-:start_time DESC"),
            ("  metrics.acc   DeSc  ", "metrics:acc DESC"),
            ("metrics.`my metric` asc", "metrics:my metric ASC"),
            ("params.model.lr", "params:model.lr ASC"),
            ("\"Created\" DESC", "-:Created DESC"),
        ];
        for (src, want) in accepted {
            check_order_by(src, Ok(want));
        }
        let rejected = [
            ("", "the clause is empty"),
            ("   ", "the clause is empty"),
            (
                "DESC",
                "a key such as metrics.acc at position 0, found keyword 'DESC'",
            ),
            (
                "start_time DESC extra",
                "unexpected 'extra' at position 16 after the sort direction",
            ),
            (
                "start_time ASC DESC",
                "unexpected keyword 'DESC' at position 15",
            ),
            (
                "start_time up",
                "ASC, DESC or the end of the clause at position 11, found 'up'",
            ),
            (
                "start_time, end_time",
                "give each key as its own order_by entry",
            ),
            ("'start_time'", "found string 'start_time'"),
            ("metrics.acc > 1", "found '>'"),
        ];
        for (src, want) in rejected {
            check_order_by(src, Err(want));
        }
    }
}
