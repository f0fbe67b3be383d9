//! The visibility list filter: the `query` of `ListWorkflowExecutions`,
//! `CountWorkflowExecutions` and friends, e.g.
//! `WorkflowType = 'MyWorkflow' AND StartTime > '2024-01-01T00:00:00Z' ORDER BY StartTime DESC`.
//!
//! [`parse`] turns the text into a [`Query`]; `Display` on [`Query`] prints it
//! back in a canonical form that parses to the same [`Query`]. This module only
//! knows the syntax: whether an attribute exists, has a type that fits the
//! operator and value, or may be grouped or sorted by, is for the caller.
//!
//! # Grammar
//!
//! Keywords are case-insensitive; attribute names are case-sensitive.
//!
//! ```text
//! query       = [ filter ] [ group_by ] [ order_by ] [ ";" ] ;
//! group_by    = "GROUP" "BY" attribute { "," attribute } ;
//! order_by    = "ORDER" "BY" order_item { "," order_item } ;
//! order_item  = attribute [ "ASC" | "DESC" ] ;           (* ASC by default *)
//!
//! filter      = or_expr ;
//! or_expr     = and_expr { ( "OR" | "||" ) and_expr } ;  (* left-associative *)
//! and_expr    = not_expr { ( "AND" | "&&" ) not_expr } ; (* left-associative *)
//! not_expr    = "NOT" not_expr | primary ;
//! primary     = "(" or_expr ")" | predicate ;
//! predicate   = attribute comparison value
//!             | attribute [ "NOT" ] "BETWEEN" value ( "AND" | "&&" ) value
//!             | attribute [ "NOT" ] "IN" "(" value { "," value } ")"
//!             | attribute [ "NOT" ] "STARTS_WITH" string
//!             | attribute "IS" [ "NOT" ] "NULL" ;
//! comparison  = "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" ;
//! value       = string | [ "+" | "-" ] number | "TRUE" | "FALSE" ;
//!
//! attribute   = identifier | "`" { any character, "``" for a backtick } "`" ;
//! identifier  = ( letter | "_" | "@" ) { letter | digit | "_" | "@" } ;  (* not a keyword *)
//! string      = "'" { character | escape | "''" } "'"
//!             | '"' { character | escape | '""' } '"' ;
//! escape      = "\0" | "\b" | "\n" | "\r" | "\t" | "\Z" | "\" any character ;
//! number      = digits [ "." [ digits ] ] [ exponent ] | "." digits [ exponent ] ;
//! exponent    = ( "e" | "E" ) [ "+" | "-" ] digits ;
//! ```
//!
//! Keywords (reserved: quote an attribute named like one in backticks):
//! AND, OR, NOT, BETWEEN, IN, IS, NULL, STARTS_WITH, TRUE, FALSE, GROUP,
//! ORDER, BY, ASC, DESC, and LIKE, REGEXP, LIMIT, HAVING, which Temporal's
//! parser knows and its converter refuses, so they are refused here with a
//! message saying so.
//!
//! # Where this follows Temporal
//!
//! Temporal wraps the query into `select * from table1 where …`, parses it with
//! its MySQL parser fork (`github.com/temporalio/sqlparser`, `token.go` and
//! `sql.y`) and walks the tree in
//! `common/persistence/visibility/store/query/converter.go`; what the walk
//! refuses for every attribute type is refused here at parse time:
//! - NOT binds tighter than AND, AND tighter than OR (MySQL precedence), so
//!   `NOT a = 1 AND b = 2 OR c = 3` is `((NOT a = 1) AND b = 2) OR c = 3`;
//!   `&&` and `||` are AND and OR, `<>` is `!=`.
//! - The attribute is always on the left and a literal on the right: a name on
//!   the right, a value on the left, `NULL` as a value, arithmetic, functions,
//!   `IS TRUE`, `LIKE` and `REGEXP` are errors.
//! - Strings take either quote, MySQL backslash escapes (an unknown escape
//!   stands for the character itself) and a doubled quote for itself.
//! - An unsigned number without `.` or exponent is an integer; one that does
//!   not fit `i64` becomes a float, like Temporal's `ParseInt`-then-`ParseFloat`.
//!   A letter right after a number is an error, and so is a float out of range.
//! - `IN ()` is an error: the list needs a value.
//! - An empty (or blank) query has no filter, and a query may be only
//!   `ORDER BY …` or `GROUP BY …`; one trailing `;` is allowed.
//! - Nesting of parentheses and NOT is limited to [`MAX_NESTING`] levels, like
//!   Temporal's parser, and the depth of the expression tree (which long
//!   AND/OR chains grow) to [`MAX_EXPRESSION_DEPTH`], like its AST depth check.
//!
//! # Where this differs from Temporal, on purpose
//!
//! - A sign before a float is accepted (`-1.5`): Temporal's grammar folds a
//!   sign into integers only and then refuses the signed float, but every
//!   [`Literal::Float`] must print as text that reads back. Only one sign is
//!   accepted (Temporal folds `- -5`).
//! - No comments (`-- …`, `# …`, `/* … */`), hex or bit literals, bind
//!   variables or qualified names (`a.b`): MySQL syntax no filter needs.
//! - Only the keywords above are reserved; Temporal's MySQL parser reserves
//!   some 180 more (`key`, `from`, `values`, …), which need backticks there
//!   and are plain names here.
//! - Inside backticks a doubled backtick is one backtick of the name;
//!   Temporal deletes every backtick from the name.
//! - A string is kept exactly; Temporal trims every single quote from both
//!   ends of a string value (`'''a'''` is `a` there, `'a'` here).
//! - `STARTS_WITH` requires a string literal at parse time; Temporal checks
//!   later, and accepts `ExecutionStatus STARTS_WITH 1`, reading 1 as `Running`.
//! - `HAVING` is refused; Temporal parses and ignores it. `GROUP BY` takes any
//!   attributes and `ORDER BY` any attribute: the caller restricts them.
//! - Blanks are any ASCII whitespace anywhere; Temporal takes a query without
//!   filter only when it starts with exactly `order by` or `group by` with one
//!   space, and a lone `;` is an error there.

mod display;
mod lexer;
mod parser;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

/// A byte offset into the query text, 0-based.
pub type Position = usize;

/// The most parentheses and NOTs that may enclose one another: Temporal's
/// parser fails as the 200th level opens.
pub const MAX_NESTING: usize = 199;

/// The deepest expression tree accepted (a lone predicate has depth 1). A
/// chain of N predicates joined by AND or OR is N deep, and whoever walks the
/// tree recursively (drop included) needs the depth bounded. Temporal bounds
/// its syntax tree at 1000 levels as well.
pub const MAX_EXPRESSION_DEPTH: usize = 1000;

/// A parsed list filter; the default matches every execution.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    /// `None` when the query has no condition: every execution matches.
    pub filter: Option<Expr>,
    pub group_by: Vec<Attribute>,
    pub order_by: Vec<OrderBy>,
}

/// A search attribute as named in the query.
#[derive(Clone, Debug)]
pub struct Attribute {
    /// The name as written, without the backticks of a quoted name (and with
    /// a doubled backtick inside one turned into a single one). Never empty
    /// when parsed.
    pub name: String,
    /// Where the name starts: its first character, or the opening backtick.
    pub position: Position,
}

/// Positions are where something was written, not what it means: a printed
/// and re-parsed query must compare equal to the original.
impl PartialEq for Attribute {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderBy {
    pub attribute: Attribute,
    pub descending: bool,
}

/// A literal on the right-hand side of a predicate.
#[derive(Clone, Debug)]
pub struct Value {
    pub literal: Literal,
    /// Where the literal starts: its opening quote, sign or first digit.
    pub position: Position,
}

/// Ignores the position, like [`Attribute`]'s equality.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.literal == other.literal
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    String(String),
    Integer(i64),
    /// Always finite when parsed.
    Float(f64),
    Bool(bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    /// The operator as the canonical text writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Equal => "=",
            Comparison::NotEqual => "!=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Compare {
        attribute: Attribute,
        comparison: Comparison,
        value: Value,
    },
    /// Inclusive at both ends.
    Between {
        attribute: Attribute,
        low: Value,
        high: Value,
        negated: bool,
    },
    /// `values` is never empty when parsed.
    In {
        attribute: Attribute,
        values: Vec<Value>,
        negated: bool,
    },
    /// `prefix` is always a string when parsed.
    StartsWith {
        attribute: Attribute,
        prefix: Value,
        negated: bool,
    },
    /// `negated`: `IS NOT NULL`.
    IsNull {
        attribute: Attribute,
        negated: bool,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// Why a query could not be parsed, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub position: Position,
    pub message: String,
}

impl QueryError {
    pub(crate) fn new(position: Position, message: impl Into<String>) -> Self {
        QueryError { position, message: message.into() }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

impl std::error::Error for QueryError {}

/// Parses a list filter. An empty or blank text is a query without filter.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    parser::Parser::new(text)?.parse_query()
}
