//! Recursive descent over the grammar in the module documentation, one
//! function per rule. Recursion only happens through parentheses and NOT,
//! both counted against [`MAX_NESTING`]; AND/OR chains are loops.

use super::lexer::{Keyword, Lexer, Token, TokenKind};
use super::{Attribute, Expr, Literal, MAX_EXPRESSION_DEPTH, MAX_NESTING, OrderBy, Position, Query, QueryError, Value};

type Result<T> = std::result::Result<T, QueryError>;

/// An expression with the depth of its tree, so that joining two checks
/// [`MAX_EXPRESSION_DEPTH`] without walking them.
struct Node {
    expr: Expr,
    depth: usize,
}

/// Tokens quoted in messages are cut to this many characters: a message has
/// to point at the problem, not repeat a megabyte of query.
const EXCERPT_CHARS: usize = 40;

const OPERATORS: &str = "=, !=, <, <=, >, >=, BETWEEN, IN, STARTS_WITH or IS";
const RESERVED_WORD_HINT: &str = "a reserved word: quote it in backticks to use it as an attribute name";

pub(super) struct Parser<'a> {
    text: &'a str,
    lexer: Lexer<'a>,
    current: Token,
    /// The span of the last token consumed, quoted in "expected … after …".
    previous: Option<(Position, Position)>,
    nesting: usize,
}

impl<'a> Parser<'a> {
    pub fn new(text: &'a str) -> Result<Self> {
        let mut lexer = Lexer::new(text);
        let current = lexer.next_token()?;
        Ok(Parser { text, lexer, current, previous: None, nesting: 0 })
    }

    pub fn parse_query(mut self) -> Result<Query> {
        let filter = if self.at_filter_end() { None } else { Some(self.or_expr()?.expr) };
        let mut expected_next = "AND, OR, GROUP BY, ORDER BY or end of query";
        let group_by = if self.at(Keyword::Group) {
            expected_next = "\",\", ORDER BY or end of query";
            self.group_by()?
        } else {
            Vec::new()
        };
        let order_by = if self.at(Keyword::Order) {
            let (order_by, ends_with_direction) = self.order_by()?;
            expected_next =
                if ends_with_direction { "\",\" or end of query" } else { "\",\", ASC, DESC or end of query" };
            order_by
        } else {
            Vec::new()
        };
        self.end_of_query(expected_next, !order_by.is_empty())?;
        Ok(Query { filter, group_by, order_by })
    }

    fn at_filter_end(&self) -> bool {
        matches!(
            self.current.kind,
            TokenKind::End | TokenKind::Semicolon | TokenKind::Keyword(Keyword::Group | Keyword::Order)
        )
    }

    fn end_of_query(&mut self, expected_next: &str, after_order_by: bool) -> Result<()> {
        if self.current.kind == TokenKind::Semicolon {
            self.advance()?;
            if self.current.kind != TokenKind::End {
                return Err(self.expected(format!("end of query after {}", self.previous_text())));
            }
        }
        match self.current.kind {
            TokenKind::End => Ok(()),
            TokenKind::RightParen => Err(self.error_here("unmatched \")\"")),
            TokenKind::Keyword(Keyword::Limit) => Err(self.error_here("LIMIT is not supported")),
            TokenKind::Keyword(Keyword::Having) => Err(self.error_here("HAVING is not supported")),
            TokenKind::Keyword(Keyword::Group) if after_order_by => {
                Err(self.error_here("GROUP BY must come before ORDER BY"))
            }
            _ => Err(self.expected(expected_next)),
        }
    }

    // ---- Filter ----

    fn or_expr(&mut self) -> Result<Node> {
        let mut left = self.and_expr()?;
        while self.at(Keyword::Or) {
            let operator = self.advance()?;
            let right = self.and_expr()?;
            left = join(Expr::Or, left, right, operator.start)?;
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Node> {
        let mut left = self.not_expr()?;
        while self.at(Keyword::And) {
            let operator = self.advance()?;
            let right = self.not_expr()?;
            left = join(Expr::And, left, right, operator.start)?;
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Node> {
        if !self.at(Keyword::Not) {
            return self.primary();
        }
        let not = self.advance()?;
        self.enter_nesting(not.start)?;
        let operand = self.not_expr()?;
        self.nesting -= 1;
        limit_depth(Expr::Not(Box::new(operand.expr)), operand.depth + 1, not.start)
    }

    fn primary(&mut self) -> Result<Node> {
        match self.current.kind {
            TokenKind::LeftParen => self.parenthesized(),
            TokenKind::Name(_) => Ok(Node { expr: self.predicate()?, depth: 1 }),
            _ => Err(self.expected_condition()),
        }
    }

    fn parenthesized(&mut self) -> Result<Node> {
        let open = self.advance()?;
        self.enter_nesting(open.start)?;
        let inner = self.or_expr()?;
        if self.current.kind != TokenKind::RightParen {
            return Err(self.expected(format!("\")\" to close the \"(\" at position {}", open.start)));
        }
        self.advance()?;
        self.nesting -= 1;
        Ok(inner)
    }

    fn enter_nesting(&mut self, position: Position) -> Result<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(QueryError::new(
                position,
                format!("nested too deeply: at most {MAX_NESTING} levels of parentheses and NOT are allowed"),
            ));
        }
        Ok(())
    }

    fn expected_condition(&self) -> QueryError {
        let what = match self.previous {
            Some(_) => format!("an attribute name, NOT or \"(\" after {}", self.previous_text()),
            None => "an attribute name, NOT or \"(\"".to_owned(),
        };
        let hint = match self.current.kind {
            TokenKind::String(_)
            | TokenKind::Number
            | TokenKind::Plus
            | TokenKind::Minus
            | TokenKind::Keyword(Keyword::True | Keyword::False) => {
                Some("a condition starts with the attribute name, the value goes on the right")
            }
            TokenKind::Keyword(_) => Some(RESERVED_WORD_HINT),
            _ => None,
        };
        self.expected_with_hint(what, hint)
    }

    fn predicate(&mut self) -> Result<Expr> {
        let Some(attribute) = self.take_attribute()? else {
            return Err(self.expected_condition());
        };
        let negated = self.take(Keyword::Not)?;
        match self.current.kind {
            TokenKind::Comparison(comparison) if !negated => {
                self.advance()?;
                let value = self.value()?;
                Ok(Expr::Compare { attribute, comparison, value })
            }
            TokenKind::Keyword(Keyword::Between) => self.between(attribute, negated),
            TokenKind::Keyword(Keyword::In) => self.in_list(attribute, negated),
            TokenKind::Keyword(Keyword::StartsWith) => self.starts_with(attribute, negated),
            TokenKind::Keyword(Keyword::Is) if !negated => self.is_null(attribute),
            TokenKind::Keyword(Keyword::Like) => {
                Err(self.error_here("LIKE is not supported (STARTS_WITH matches a prefix)"))
            }
            TokenKind::Keyword(Keyword::Regexp) => Err(self.error_here("REGEXP is not supported")),
            _ if negated => Err(self.expected("BETWEEN, IN or STARTS_WITH after \"NOT\"")),
            _ => Err(self.expected(format!("an operator ({OPERATORS}) after {}", self.previous_text()))),
        }
    }

    fn between(&mut self, attribute: Attribute, negated: bool) -> Result<Expr> {
        self.advance()?;
        let low = self.value()?;
        if !self.at(Keyword::And) {
            return Err(self.expected("AND between the bounds of BETWEEN"));
        }
        self.advance()?;
        let high = self.value()?;
        Ok(Expr::Between { attribute, low, high, negated })
    }

    fn in_list(&mut self, attribute: Attribute, negated: bool) -> Result<Expr> {
        self.advance()?;
        if self.current.kind != TokenKind::LeftParen {
            return Err(self.expected(format!("\"(\" after {}", self.previous_text())));
        }
        let open = self.advance()?;
        if self.current.kind == TokenKind::RightParen {
            return Err(self.expected("a value: an IN list cannot be empty"));
        }
        let mut values = vec![self.value()?];
        loop {
            match self.current.kind {
                TokenKind::Comma => {
                    self.advance()?;
                    values.push(self.value()?);
                }
                TokenKind::RightParen => {
                    self.advance()?;
                    return Ok(Expr::In { attribute, values, negated });
                }
                _ => {
                    return Err(
                        self.expected(format!("\",\" or \")\" to close the IN list at position {}", open.start))
                    );
                }
            }
        }
    }

    /// Temporal's SQL store refuses anything but a literal string here, and
    /// the other stores only allow the operator on keywords, which take strings.
    fn starts_with(&mut self, attribute: Attribute, negated: bool) -> Result<Expr> {
        self.advance()?;
        let position = self.current.start;
        let TokenKind::String(prefix) = &self.current.kind else {
            let hint = matches!(self.current.kind, TokenKind::Name(_)).then_some("did you forget to quote it?");
            return Err(self.expected_with_hint(format!("a string after {}", self.previous_text()), hint));
        };
        let prefix = Value { literal: Literal::String(prefix.clone()), position };
        self.advance()?;
        Ok(Expr::StartsWith { attribute, prefix, negated })
    }

    fn is_null(&mut self, attribute: Attribute) -> Result<Expr> {
        self.advance()?;
        let negated = self.take(Keyword::Not)?;
        match self.current.kind {
            TokenKind::Keyword(Keyword::Null) => {
                self.advance()?;
                Ok(Expr::IsNull { attribute, negated })
            }
            TokenKind::Keyword(Keyword::True | Keyword::False) => {
                Err(self.expected("NULL: only IS NULL and IS NOT NULL are supported"))
            }
            _ => Err(self.expected(format!("NULL after {}", self.previous_text()))),
        }
    }

    // ---- Values ----

    fn value(&mut self) -> Result<Value> {
        let position = self.current.start;
        let literal = match &self.current.kind {
            TokenKind::String(content) => {
                let literal = Literal::String(content.clone());
                self.advance()?;
                literal
            }
            TokenKind::Keyword(Keyword::True) => {
                self.advance()?;
                Literal::Bool(true)
            }
            TokenKind::Keyword(Keyword::False) => {
                self.advance()?;
                Literal::Bool(false)
            }
            TokenKind::Number => {
                let number = self.advance()?;
                self.number(None, &number)?
            }
            TokenKind::Plus | TokenKind::Minus => {
                let sign = self.advance()?;
                if self.current.kind != TokenKind::Number {
                    return Err(self.expected(format!("a number after {}", self.previous_text())));
                }
                let number = self.advance()?;
                self.number(Some(&sign), &number)?
            }
            _ => return Err(self.expected_value()),
        };
        Ok(Value { literal, position })
    }

    fn expected_value(&self) -> QueryError {
        let hint = match self.current.kind {
            TokenKind::Name(_) => Some("did you forget to quote it?"),
            TokenKind::Keyword(Keyword::Null) => Some("IS NULL and IS NOT NULL test for a missing value"),
            TokenKind::LeftParen => Some("only IN takes a list of values"),
            _ => None,
        };
        self.expected_with_hint(format!("a value after {}", self.previous_text()), hint)
    }

    /// An integer unless it has a fraction or exponent, or does not fit: then
    /// a float, as Temporal tries `ParseInt` before `ParseFloat`.
    fn number(&self, sign: Option<&Token>, number: &Token) -> Result<Literal> {
        let digits = self.text.get(number.start..number.end).unwrap_or("");
        let negative = sign.is_some_and(|sign| sign.kind == TokenKind::Minus);
        let text = if negative { format!("-{digits}") } else { digits.to_owned() };
        if digits.bytes().all(|byte| byte.is_ascii_digit())
            && let Ok(integer) = text.parse::<i64>()
        {
            return Ok(Literal::Integer(integer));
        }
        match text.parse::<f64>() {
            Ok(float) if float.is_finite() => Ok(Literal::Float(float)),
            _ => {
                let position = sign.map_or(number.start, |sign| sign.start);
                Err(QueryError::new(position, format!("number {} is out of range", excerpt(&text))))
            }
        }
    }

    // ---- GROUP BY and ORDER BY ----

    fn group_by(&mut self) -> Result<Vec<Attribute>> {
        self.clause_by()?;
        let mut attributes = vec![self.listed_attribute()?];
        while self.take_comma()? {
            attributes.push(self.listed_attribute()?);
        }
        Ok(attributes)
    }

    /// Also says whether the last item had an explicit direction, which
    /// decides what may follow it.
    fn order_by(&mut self) -> Result<(Vec<OrderBy>, bool)> {
        self.clause_by()?;
        let mut items = Vec::new();
        loop {
            let attribute = self.listed_attribute()?;
            let descending = self.take(Keyword::Desc)?;
            let explicit = descending || self.take(Keyword::Asc)?;
            items.push(OrderBy { attribute, descending });
            if !self.take_comma()? {
                return Ok((items, explicit));
            }
        }
    }

    /// Consumes the GROUP or ORDER at hand and the BY after it.
    fn clause_by(&mut self) -> Result<()> {
        self.advance()?;
        if !self.at(Keyword::By) {
            return Err(self.expected(format!("BY after {}", self.previous_text())));
        }
        self.advance()?;
        Ok(())
    }

    fn listed_attribute(&mut self) -> Result<Attribute> {
        match self.take_attribute()? {
            Some(attribute) => Ok(attribute),
            None => {
                let hint = matches!(self.current.kind, TokenKind::Keyword(_)).then_some(RESERVED_WORD_HINT);
                Err(self.expected_with_hint(format!("an attribute name after {}", self.previous_text()), hint))
            }
        }
    }

    // ---- Tokens ----

    fn at(&self, keyword: Keyword) -> bool {
        self.current.kind == TokenKind::Keyword(keyword)
    }

    /// Consumes the current token, returning it, and reads the next one.
    fn advance(&mut self) -> Result<Token> {
        let next = self.lexer.next_token()?;
        let consumed = std::mem::replace(&mut self.current, next);
        self.previous = Some((consumed.start, consumed.end));
        Ok(consumed)
    }

    fn take(&mut self, keyword: Keyword) -> Result<bool> {
        let found = self.at(keyword);
        if found {
            self.advance()?;
        }
        Ok(found)
    }

    fn take_comma(&mut self) -> Result<bool> {
        let found = self.current.kind == TokenKind::Comma;
        if found {
            self.advance()?;
        }
        Ok(found)
    }

    fn take_attribute(&mut self) -> Result<Option<Attribute>> {
        let TokenKind::Name(name) = &self.current.kind else {
            return Ok(None);
        };
        let attribute = Attribute { name: name.clone(), position: self.current.start };
        self.advance()?;
        Ok(Some(attribute))
    }

    // ---- Messages ----

    fn error_here(&self, message: &str) -> QueryError {
        QueryError::new(self.current.start, message)
    }

    fn expected(&self, what: impl std::fmt::Display) -> QueryError {
        self.expected_with_hint(what, None)
    }

    fn expected_with_hint(&self, what: impl std::fmt::Display, hint: Option<&str>) -> QueryError {
        let found = self.describe_current();
        let message = match hint {
            Some(hint) => format!("expected {what}, found {found} ({hint})"),
            None => format!("expected {what}, found {found}"),
        };
        QueryError::new(self.current.start, message)
    }

    fn describe_current(&self) -> String {
        let written = excerpt(self.text.get(self.current.start..self.current.end).unwrap_or(""));
        match self.current.kind {
            TokenKind::End => "end of query".to_owned(),
            TokenKind::String(_) => format!("string {written}"),
            TokenKind::Number => format!("number {written}"),
            _ => format!("{written:?}"),
        }
    }

    fn previous_text(&self) -> String {
        let (start, end) = self.previous.unwrap_or((0, 0));
        format!("{:?}", excerpt(self.text.get(start..end).unwrap_or("")))
    }
}

fn join(make: fn(Box<Expr>, Box<Expr>) -> Expr, left: Node, right: Node, operator: Position) -> Result<Node> {
    let depth = 1 + left.depth.max(right.depth);
    limit_depth(make(Box::new(left.expr), Box::new(right.expr)), depth, operator)
}

fn limit_depth(expr: Expr, depth: usize, position: Position) -> Result<Node> {
    if depth > MAX_EXPRESSION_DEPTH {
        return Err(QueryError::new(
            position,
            format!("filter too complex: its expression tree would be more than {MAX_EXPRESSION_DEPTH} levels deep"),
        ));
    }
    Ok(Node { expr, depth })
}

fn excerpt(text: &str) -> String {
    if text.chars().count() <= EXCERPT_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(EXCERPT_CHARS).collect();
    cut.push('…');
    cut
}
