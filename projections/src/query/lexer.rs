//! Splits the query text into tokens, one at a time, so that a parse error
//! earlier in the text is reported before a lexical error further on.

use super::{Comparison, Position, QueryError};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum TokenKind {
    /// An attribute name, quoted or not (an unquoted keyword is a `Keyword`).
    Name(String),
    Keyword(Keyword),
    /// The decoded content of a quoted string.
    String(String),
    /// Unsigned; its text is read from the token's span, so that the parser
    /// can put the sign in front before converting (`-9223372036854775808`).
    Number,
    Comparison(Comparison),
    LeftParen,
    RightParen,
    Comma,
    Semicolon,
    Plus,
    Minus,
    End,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Token {
    pub kind: TokenKind,
    pub start: Position,
    pub end: Position,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Keyword {
    And,
    Or,
    Not,
    Between,
    In,
    Is,
    Null,
    StartsWith,
    True,
    False,
    Group,
    Order,
    By,
    Asc,
    Desc,
    Like,
    Regexp,
    Limit,
    Having,
}

const KEYWORDS: [(&str, Keyword); 19] = [
    ("AND", Keyword::And),
    ("OR", Keyword::Or),
    ("NOT", Keyword::Not),
    ("BETWEEN", Keyword::Between),
    ("IN", Keyword::In),
    ("IS", Keyword::Is),
    ("NULL", Keyword::Null),
    ("STARTS_WITH", Keyword::StartsWith),
    ("TRUE", Keyword::True),
    ("FALSE", Keyword::False),
    ("GROUP", Keyword::Group),
    ("ORDER", Keyword::Order),
    ("BY", Keyword::By),
    ("ASC", Keyword::Asc),
    ("DESC", Keyword::Desc),
    ("LIKE", Keyword::Like),
    ("REGEXP", Keyword::Regexp),
    ("LIMIT", Keyword::Limit),
    ("HAVING", Keyword::Having),
];

pub(super) fn keyword(word: &str) -> Option<Keyword> {
    KEYWORDS.iter().find(|(text, _)| text.eq_ignore_ascii_case(word)).map(|&(_, keyword)| keyword)
}

/// The characters of an unquoted name, as in Temporal's tokenizer (which
/// counts `@` as a letter).
pub(super) fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '@'
}

pub(super) fn is_name_continue(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit()
}

/// A name that needs no backticks: it lexes back as itself.
pub(super) fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_continue) && keyword(name).is_none()
}

pub(super) struct Lexer<'a> {
    text: &'a str,
    offset: Position,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Self {
        Lexer { text, offset: 0 }
    }

    pub fn next_token(&mut self) -> Result<Token, QueryError> {
        self.skip_whitespace();
        let start = self.offset;
        let kind = match self.peek() {
            None => TokenKind::End,
            Some(quote @ ('\'' | '"')) => self.string(quote)?,
            Some('`') => self.quoted_name()?,
            Some(c) if is_name_start(c) => self.word(),
            Some(c) if c.is_ascii_digit() => self.number()?,
            Some('.') if self.peek_second().is_some_and(|c| c.is_ascii_digit()) => self.number()?,
            Some('=' | '<' | '>' | '!') => self.comparison()?,
            Some('&') if self.peek_second() == Some('&') => self.pair(TokenKind::Keyword(Keyword::And)),
            Some('|') if self.peek_second() == Some('|') => self.pair(TokenKind::Keyword(Keyword::Or)),
            Some(c) => self.single(c)?,
        };
        Ok(Token { kind, start, end: self.offset })
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.offset..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.rest().chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.offset += c.len_utf8();
        Some(c)
    }

    fn bump_while(&mut self, accept: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&accept) {
            self.bump();
        }
    }

    fn text_from(&self, start: Position) -> &'a str {
        self.text.get(start..self.offset).unwrap_or("")
    }

    fn skip_whitespace(&mut self) {
        self.bump_while(|c| c.is_ascii_whitespace());
    }

    fn single(&mut self, c: char) -> Result<TokenKind, QueryError> {
        let kind = match c {
            '(' => TokenKind::LeftParen,
            ')' => TokenKind::RightParen,
            ',' => TokenKind::Comma,
            ';' => TokenKind::Semicolon,
            '+' => TokenKind::Plus,
            '-' => TokenKind::Minus,
            _ => return Err(QueryError::new(self.offset, format!("unexpected character {:?}", c.to_string()))),
        };
        self.bump();
        Ok(kind)
    }

    fn pair(&mut self, kind: TokenKind) -> TokenKind {
        self.bump();
        self.bump();
        kind
    }

    fn word(&mut self) -> TokenKind {
        let start = self.offset;
        self.bump_while(is_name_continue);
        let word = self.text_from(start);
        match keyword(word) {
            Some(keyword) => TokenKind::Keyword(keyword),
            None => TokenKind::Name(word.to_owned()),
        }
    }

    /// Inside backticks anything goes but a backtick, which is doubled.
    fn quoted_name(&mut self) -> Result<TokenKind, QueryError> {
        let start = self.offset;
        self.bump();
        let mut name = String::new();
        loop {
            match self.bump() {
                None => return Err(QueryError::new(start, "unterminated quoted attribute name")),
                Some('`') if self.peek() == Some('`') => {
                    self.bump();
                    name.push('`');
                }
                Some('`') => break,
                Some(c) => name.push(c),
            }
        }
        if name.is_empty() {
            return Err(QueryError::new(start, "empty attribute name"));
        }
        Ok(TokenKind::Name(name))
    }

    fn string(&mut self, quote: char) -> Result<TokenKind, QueryError> {
        let start = self.offset;
        self.bump();
        let mut content = String::new();
        loop {
            match self.bump() {
                None => return Err(QueryError::new(start, "unterminated string")),
                Some('\\') => match self.bump() {
                    None => return Err(QueryError::new(start, "unterminated string")),
                    Some(escaped) => content.push(unescape(escaped)),
                },
                Some(c) if c == quote && self.peek() == Some(quote) => {
                    self.bump();
                    content.push(quote);
                }
                Some(c) if c == quote => break,
                Some(c) => content.push(c),
            }
        }
        Ok(TokenKind::String(content))
    }

    fn number(&mut self) -> Result<TokenKind, QueryError> {
        let start = self.offset;
        self.bump_while(|c| c.is_ascii_digit());
        if self.peek() == Some('.') {
            self.bump();
            self.bump_while(|c| c.is_ascii_digit());
        }
        if self.at_exponent() {
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            self.bump_while(|c| c.is_ascii_digit());
        }
        // Like Temporal: `12abc`, `0x1F` or `1e` are no number followed by a name.
        if self.peek().is_some_and(is_name_continue) {
            self.bump_while(is_name_continue);
            return Err(QueryError::new(start, format!("invalid number {:?}", self.text_from(start))));
        }
        Ok(TokenKind::Number)
    }

    fn at_exponent(&self) -> bool {
        let mut ahead = self.rest().chars();
        if !matches!(ahead.next(), Some('e' | 'E')) {
            return false;
        }
        match ahead.next() {
            Some('+' | '-') => ahead.next().is_some_and(|c| c.is_ascii_digit()),
            next => next.is_some_and(|c| c.is_ascii_digit()),
        }
    }

    /// Takes every operator character in a row, so that `==` or `=>` is
    /// reported as one unknown operator rather than as a puzzling second `=`.
    fn comparison(&mut self) -> Result<TokenKind, QueryError> {
        let start = self.offset;
        self.bump_while(|c| matches!(c, '=' | '<' | '>' | '!'));
        let comparison = match self.text_from(start) {
            "=" => Comparison::Equal,
            "!=" | "<>" => Comparison::NotEqual,
            "<" => Comparison::Less,
            "<=" => Comparison::LessOrEqual,
            ">" => Comparison::Greater,
            ">=" => Comparison::GreaterOrEqual,
            unknown => return Err(QueryError::new(start, format!("unknown operator {unknown:?}"))),
        };
        Ok(TokenKind::Comparison(comparison))
    }
}

/// MySQL's escapes, as Temporal's tokenizer decodes them.
fn unescape(escaped: char) -> char {
    match escaped {
        '0' => '\0',
        'b' => '\u{8}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'Z' => '\u{1a}',
        other => other,
    }
}

/// The inverse of [`unescape`] for the characters the canonical text escapes.
pub(super) fn escape(c: char) -> Option<char> {
    match c {
        '\0' => Some('0'),
        '\u{8}' => Some('b'),
        '\n' => Some('n'),
        '\r' => Some('r'),
        '\t' => Some('t'),
        '\u{1a}' => Some('Z'),
        '\\' | '\'' => Some(c),
        _ => None,
    }
}
