//! The canonical text of a query: keywords in capitals, strings in single
//! quotes, backticks only where a name needs them, and parentheses only where
//! precedence and left-associativity would otherwise change the tree, so that
//! `parse(&query.to_string()) == Ok(query)`.

use std::fmt::{self, Display, Formatter, Write};

use super::lexer::{escape, is_plain_name};
use super::{Attribute, Comparison, Expr, Literal, OrderBy, Query, Value};

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        if let Some(filter) = &self.filter {
            write!(f, "{filter}")?;
            separator = " ";
        }
        if !self.group_by.is_empty() {
            write!(f, "{separator}GROUP BY ")?;
            write_list(f, &self.group_by)?;
            separator = " ";
        }
        if !self.order_by.is_empty() {
            write!(f, "{separator}ORDER BY ")?;
            write_list(f, &self.order_by)?;
        }
        Ok(())
    }
}

fn write_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for OrderBy {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attribute)?;
        if self.descending {
            f.write_str(" DESC")?;
        }
        Ok(())
    }
}

impl Display for Attribute {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if is_plain_name(&self.name) {
            return f.write_str(&self.name);
        }
        f.write_char('`')?;
        for c in self.name.chars() {
            if c == '`' {
                f.write_char('`')?;
            }
            f.write_char(c)?;
        }
        f.write_char('`')
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.literal)
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(content) => write_string(f, content),
            Literal::Integer(integer) => write!(f, "{integer}"),
            Literal::Float(float) => write_float(f, *float),
            Literal::Bool(true) => f.write_str("true"),
            Literal::Bool(false) => f.write_str("false"),
        }
    }
}

/// Escapes control characters too, so that the text stays on one line.
fn write_string(f: &mut Formatter<'_>, content: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in content.chars() {
        match escape(c) {
            Some(escaped) => {
                f.write_char('\\')?;
                f.write_char(escaped)?;
            }
            None => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}

/// `Debug` is the shortest text that reads back as the same `f64`, and it
/// always has a `.` or an exponent, so it does not read back as an integer.
fn write_float(f: &mut Formatter<'_>, float: f64) -> fmt::Result {
    let text = format!("{float:?}");
    f.write_str(&text)?;
    if float.is_finite() && !text.contains(['.', 'e', 'E']) {
        f.write_str(".0")?;
    }
    Ok(())
}

impl Display for Comparison {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// How tightly an expression binds: an operand that binds more loosely than
/// its operator needs parentheses.
fn binding(expr: &Expr) -> u8 {
    match expr {
        Expr::Or(..) => 1,
        Expr::And(..) => 2,
        Expr::Not(_) => 3,
        _ => 4,
    }
}

/// AND and OR associate to the left, so a right operand of the same
/// operator needs parentheses where a left one does not.
fn write_operand(f: &mut Formatter<'_>, operand: &Expr, operator_binding: u8, is_right: bool) -> fmt::Result {
    let operand_binding = binding(operand);
    let parenthesize = if is_right { operand_binding <= operator_binding } else { operand_binding < operator_binding };
    if parenthesize { write!(f, "({operand})") } else { write!(f, "{operand}") }
}

fn write_binary(f: &mut Formatter<'_>, expr: &Expr, left: &Expr, keyword: &str, right: &Expr) -> fmt::Result {
    let operator_binding = binding(expr);
    write_operand(f, left, operator_binding, false)?;
    write!(f, " {keyword} ")?;
    write_operand(f, right, operator_binding, true)
}

fn not_prefix(negated: bool) -> &'static str {
    if negated { "NOT " } else { "" }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Compare { attribute, comparison, value } => write!(f, "{attribute} {comparison} {value}"),
            Expr::Between { attribute, low, high, negated } => {
                write!(f, "{attribute} {}BETWEEN {low} AND {high}", not_prefix(*negated))
            }
            Expr::In { attribute, values, negated } => {
                write!(f, "{attribute} {}IN (", not_prefix(*negated))?;
                write_list(f, values)?;
                f.write_char(')')
            }
            Expr::StartsWith { attribute, prefix, negated } => {
                write!(f, "{attribute} {}STARTS_WITH {prefix}", not_prefix(*negated))
            }
            Expr::IsNull { attribute, negated } => write!(f, "{attribute} IS {}NULL", not_prefix(*negated)),
            Expr::And(left, right) => write_binary(f, self, left, "AND", right),
            Expr::Or(left, right) => write_binary(f, self, left, "OR", right),
            Expr::Not(operand) => {
                f.write_str("NOT ")?;
                write_operand(f, operand, binding(self), false)
            }
        }
    }
}
