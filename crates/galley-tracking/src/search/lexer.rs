//! Tokenizer for MLflow's search grammar: turns filter and order_by text into positioned tokens.
//!
//! Positions are counted in characters from 0 so that error messages point at what the user
//! typed, whatever their script.

/// One dot-separated part of a name. `quoted` keeps keywords and bare words apart: a quoted
/// `` `and` `` is a key, an unquoted `and` is the keyword.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Segment {
    pub text: String,
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind {
    /// A dotted name (`metrics.acc`, ``tags.`a b` ``, `run_id`) or a keyword such as `AND`.
    Ident(Vec<Segment>),
    /// A quoted string standing on its own, escapes already decoded.
    Str {
        value: String,
        quote: char,
    },
    Number {
        value: f64,
    },
    /// A whole run of `<>=!` characters, so that `>>` is reported as one bad operator.
    Op(String),
    LParen,
    RParen,
    Comma,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub kind: TokenKind,
    /// Character offset of the token's first character.
    pub pos: usize,
    /// The source text of the token, for error messages.
    pub text: String,
}

impl Token {
    /// True when this token is the bare word `keyword`, compared case-insensitively as SQL does.
    pub fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.kind, TokenKind::Ident(segments)
            if segments.len() == 1
                && !segments[0].quoted
                && segments[0].text.eq_ignore_ascii_case(keyword))
    }
}

/// Splits `src` into tokens; whitespace only separates them.
pub(super) fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        pos: 0,
    };
    let mut tokens = Vec::new();
    while let Some(token) = lexer.next_token()? {
        tokens.push(token);
    }
    Ok(tokens)
}

fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!')
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn next_token(&mut self) -> Result<Option<Token>, String> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let digit_at =
            |lexer: &Self, ahead| lexer.peek_at(ahead).is_some_and(|c| c.is_ascii_digit());
        let kind = match c {
            '(' => self.single(TokenKind::LParen),
            ')' => self.single(TokenKind::RParen),
            ',' => self.single(TokenKind::Comma),
            c if is_op_char(c) => {
                while self.peek().is_some_and(is_op_char) {
                    self.pos += 1;
                }
                TokenKind::Op(self.chars[start..self.pos].iter().collect())
            }
            '\'' => TokenKind::Str {
                value: self.quoted('\'', "string")?,
                quote: '\'',
            },
            '"' => {
                let value = self.quoted('"', "string")?;
                // A double-quoted word followed by a dot is the first part of a name, which
                // sqlparse would also have read as an identifier.
                if self.peek() == Some('.') {
                    self.ident_path(vec![Segment {
                        text: value,
                        quoted: true,
                    }])?
                } else {
                    TokenKind::Str { value, quote: '"' }
                }
            }
            '`' => {
                let text = self.quoted('`', "name")?;
                self.ident_path(vec![Segment { text, quoted: true }])?
            }
            c if c.is_ascii_digit() => self.number()?,
            '.' if digit_at(self, 1) => self.number()?,
            '-' if digit_at(self, 1) || (self.peek_at(1) == Some('.') && digit_at(self, 2)) => {
                self.number()?
            }
            c if is_word_start(c) => {
                let text = self.word();
                self.ident_path(vec![Segment {
                    text,
                    quoted: false,
                }])?
            }
            other => {
                // Control characters would garble the message, so they are shown escaped.
                let shown: String = if other.is_control() {
                    other.escape_debug().collect()
                } else {
                    other.to_string()
                };
                let hint = if other == '-' {
                    "; keys containing it must be quoted with backticks, e.g. metrics.`f1-score`"
                } else {
                    ""
                };
                return Err(format!(
                    "unexpected character '{shown}' at position {start}{hint}"
                ));
            }
        };
        Ok(Some(Token {
            kind,
            pos: start,
            text: self.chars[start..self.pos].iter().collect(),
        }))
    }

    fn single(&mut self, kind: TokenKind) -> TokenKind {
        self.pos += 1;
        kind
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_word_char) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// Reads the rest of a dotted name after its first segment. Dots bind without
    /// whitespace, as in SQL, so `metrics .acc` is not a name.
    fn ident_path(&mut self, mut segments: Vec<Segment>) -> Result<TokenKind, String> {
        while self.peek() == Some('.') {
            self.pos += 1;
            let segment = match self.peek() {
                Some('`') => Segment {
                    text: self.quoted('`', "name")?,
                    quoted: true,
                },
                Some('"') => Segment {
                    text: self.quoted('"', "name")?,
                    quoted: true,
                },
                Some(c) if is_word_char(c) => Segment {
                    text: self.word(),
                    quoted: false,
                },
                _ => return Err(format!("expected a key after '.' at position {}", self.pos)),
            };
            segments.push(segment);
        }
        Ok(TokenKind::Ident(segments))
    }

    /// Reads a quoted string starting at the opening `quote`. A doubled quote stands for one
    /// quote (SQL's rule). In single- and double-quoted strings a backslash may also escape the
    /// quote or another backslash; any other backslash is kept, so Windows paths and LIKE
    /// escapes pass through untouched. Backtick names follow sqlparse and only know doubling.
    fn quoted(&mut self, quote: char, what: &str) -> Result<String, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(format!(
                        "unterminated {what} starting at position {start}: missing closing {quote}"
                    ))
                }
                Some(c) if c == quote => {
                    if self.peek_at(1) == Some(quote) {
                        out.push(quote);
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        return Ok(out);
                    }
                }
                Some('\\') if quote != '`' => match self.peek_at(1) {
                    Some(next) if next == quote || next == '\\' => {
                        out.push(next);
                        self.pos += 2;
                    }
                    _ => {
                        out.push('\\');
                        self.pos += 1;
                    }
                },
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Reads `-?(digits[.[digits]]|.digits)([eE][+-]?digits)?`. A number running straight into
    /// letters or another dot (`1abc`, `1.2.3`) is rejected rather than split in two.
    fn number(&mut self) -> Result<TokenKind, String> {
        let start = self.pos;
        let digits = |lexer: &mut Self| {
            while lexer.peek().is_some_and(|c| c.is_ascii_digit()) {
                lexer.pos += 1;
            }
        };
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        digits(self);
        if self.peek() == Some('.') {
            self.pos += 1;
            digits(self);
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some('+' | '-')));
            if self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1 + sign;
                digits(self);
            }
        }
        if self.peek().is_some_and(|c| is_word_char(c) || c == '.') {
            while self.peek().is_some_and(|c| is_word_char(c) || c == '.') {
                self.pos += 1;
            }
            let text: String = self.chars[start..self.pos].iter().collect();
            return Err(format!("malformed number '{text}' at position {start}"));
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        text.parse::<f64>()
            .map(|value| TokenKind::Number { value })
            .map_err(|_| format!("malformed number '{text}' at position {start}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact picture of a token stream: `id:` names (quoted parts in backticks), strings in
    /// their own quotes with escapes decoded, `num:` numbers, `op:` operators.
    fn show(tokens: &[Token]) -> String {
        let show_one = |token: &Token| match &token.kind {
            TokenKind::Ident(segments) => {
                let parts: Vec<String> = segments
                    .iter()
                    .map(|s| match s.quoted {
                        true => format!("`{}`", s.text),
                        false => s.text.clone(),
                    })
                    .collect();
                format!("id:{}", parts.join("."))
            }
            TokenKind::Str { value, quote } => format!("{quote}{value}{quote}"),
            TokenKind::Number { value } => format!("num:{value}"),
            TokenKind::Op(op) => format!("op:{op}"),
            TokenKind::LParen => "(".into(),
            TokenKind::RParen => ")".into(),
            TokenKind::Comma => ",".into(),
        };
        tokens.iter().map(show_one).collect::<Vec<_>>().join(" ")
    }

    /// Tokenizes `src`; `want` is the stream as [`show`] draws it, or a phrase of the error.
    fn check(src: &str, want: Result<&str, &str>) {
        match (tokenize(src), want) {
            (Ok(got), Ok(want)) => assert_eq!(show(&got), want, "tokens of {src:?}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{src:?}: {got:?} lacks {want:?}"),
            (got, want) => panic!("{src:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn accepted_token_streams() {
        let cases = [
            ("", ""),
            ("  \t\n ", ""),
            ("metrics.acc > 0.9", "id:metrics.acc op:> num:0.9"),
            ("metrics.acc>=-1", "id:metrics.acc op:>= num:-1"),
            ("params.model.lr", "id:params.model.lr"),
            ("tags.`mlflow.source.name`", "id:tags.`mlflow.source.name`"),
            ("metrics.\"my metric\"", "id:metrics.`my metric`"),
            ("`run name`", "id:`run name`"),
            ("`metrics`.acc", "id:`metrics`.acc"),
            ("\"metrics\".acc", "id:`metrics`.acc"),
            ("metrics.1st", "id:metrics.1st"),
            ("tags.`a``b`", "id:tags.`a`b`"),
            ("tags.`a\\b`", "id:tags.`a\\b`"),
            ("données", "id:données"),
            ("'x'", "'x'"),
            ("\"x\"", "\"x\""),
            ("''", "''"),
            ("'it''s'", "'it's'"),
            ("'it\\'s'", "'it's'"),
            ("'a\\\\'", "'a\\'"),
            ("'C:\\dir\\file'", "'C:\\dir\\file'"),
            ("'%\\_%'", "'%\\_%'"),
            ("\"say \"\"hi\"\"\"", "\"say \"hi\"\""),
            ("\"it's\"", "\"it's\""),
            ("'a b\nc'", "'a b\nc'"),
            ("1", "num:1"),
            ("-1", "num:-1"),
            ("1.5", "num:1.5"),
            ("1.", "num:1"),
            (".5", "num:0.5"),
            ("-.5", "num:-0.5"),
            ("1e3", "num:1000"),
            ("1.5E-3", "num:0.0015"),
            ("2e+2", "num:200"),
            ("=", "op:="),
            ("!=", "op:!="),
            (">>", "op:>>"),
            ("<=>", "op:<=>"),
            ("('a', \"b\")", "( 'a' , \"b\" )"),
            ("tags.a='x'AND b", "id:tags.a op:= 'x' id:AND id:b"),
        ];
        for (src, want) in cases {
            check(src, Ok(want));
        }
    }

    #[test]
    fn rejected_inputs() {
        let cases = [
            ("'abc", "unterminated string starting at position 0"),
            ("x = \"abc", "unterminated string starting at position 4"),
            ("tags.`abc", "unterminated name starting at position 5"),
            ("'it\\'", "unterminated string"),
            ("metrics.", "expected a key after '.' at position 8"),
            ("metrics. acc", "expected a key after '.' at position 8"),
            (
                "metrics.f1-score",
                "unexpected character '-' at position 10; keys containing",
            ),
            ("x = 1abc", "malformed number '1abc' at position 4"),
            ("x = 1.2.3", "malformed number '1.2.3'"),
            ("x = 1e", "malformed number '1e'"),
            ("x; y", "unexpected character ';' at position 1"),
            ("a @ b", "unexpected character '@' at position 2"),
            ("- 1", "unexpected character '-' at position 0"),
            ("+1", "unexpected character '+' at position 0"),
            ("é = 'x' ; ", "unexpected character ';' at position 8"),
            ("a\u{0}", "unexpected character '\\0' at position 1"),
            ("a\u{7}", "unexpected character '\\u{7}' at position 1"),
        ];
        for (src, want) in cases {
            check(src, Err(want));
        }
    }

    #[test]
    fn positions_and_text_are_recorded() {
        let tokens = tokenize("métrics.acc  >= 'a b'").unwrap();
        let spans: Vec<(usize, &str)> = tokens.iter().map(|t| (t.pos, t.text.as_str())).collect();
        assert_eq!(spans, [(0, "métrics.acc"), (13, ">="), (16, "'a b'")]);
    }

    #[test]
    fn keywords_match_any_case_but_only_bare() {
        let tokens = tokenize("and AnD `and` x.and").unwrap();
        let is_and: Vec<bool> = tokens.iter().map(|t| t.is_keyword("AND")).collect();
        assert_eq!(is_and, [true, true, false, false]);
    }
}
