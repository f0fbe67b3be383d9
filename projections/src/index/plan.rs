//! Translating a parsed [`Query`] into SQL over the index's tables. Every
//! value of the query is a bound parameter; the SQL text holds only fixed
//! column names, operators and placeholders.

use rusqlite::types::Value as SqlValue;
use temper_proto::api::enums::v1::IndexedValueType;

use super::attributes::{self, NAMESPACE_DIVISION, Place, Resolved, STATUS_NAMES, Special};
use super::values::{self, Kind, type_name};
use super::{IndexError, SearchAttributeTypes};
use crate::query::{Attribute, Comparison, Expr, Literal, Query, Value};

/// SQL text with its positional parameters, in order.
#[derive(Debug, Default)]
pub(super) struct Sql {
    pub text: String,
    pub params: Vec<SqlValue>,
}

impl Sql {
    pub(super) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub(super) fn param(&mut self, value: impl Into<SqlValue>) -> &mut Self {
        self.text.push('?');
        self.params.push(value.into());
        self
    }

    fn append(&mut self, other: Sql) -> &mut Self {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
        self
    }
}

/// The name of the SQL function that matches Text values (see [`values::text_matches`]).
pub(super) const TEXT_MATCH_FUNCTION: &str = "temper_text_match";

/// One key of a listing's order. The run id, ascending, always follows the
/// last one, so the order is total.
#[derive(Clone, Debug)]
pub(super) struct SortKey {
    expr: KeyExpr,
    pub descending: bool,
    nullable: bool,
}

#[derive(Clone, Debug)]
enum KeyExpr {
    Column(&'static str),
    /// The value of a single-valued attribute, or the least (ascending) or
    /// greatest (descending) element of a KeywordList.
    Rows {
        name: String,
        kind: Kind,
        aggregate: Option<&'static str>,
    },
}

impl SortKey {
    fn emit(&self, sql: &mut Sql) {
        match &self.expr {
            KeyExpr::Column(column) => {
                sql.push(column);
            }
            KeyExpr::Rows { name, kind, aggregate } => {
                let value = match aggregate {
                    Some(aggregate) => format!("{aggregate}(a.value)"),
                    None => "a.value".to_owned(),
                };
                sql.push("(SELECT ").push(&value);
                sql.push(" FROM search_attributes a WHERE a.execution = e.id AND a.name = ").param(name.clone());
                sql.push(" AND a.kind = ").param(*kind as i64);
                if aggregate.is_none() {
                    sql.push(" ORDER BY a.value LIMIT 1");
                }
                sql.push(")");
            }
        }
    }

    /// Identifies the key in a page token, so a token fits only the order it came from.
    fn describe(&self) -> String {
        let direction = if self.descending { "desc" } else { "asc" };
        match &self.expr {
            KeyExpr::Column(column) => format!("{column} {direction}"),
            KeyExpr::Rows { name, kind, aggregate } => {
                format!("{name}:{}:{} {direction}", *kind as i64, aggregate.unwrap_or(""))
            }
        }
    }
}

/// A listing: which executions, in which order.
pub(super) struct ListPlan {
    filter: Sql,
    pub order: Vec<SortKey>,
}

/// Where the listing resumes: the last row's sort key values and run id.
pub(super) struct Cursor {
    pub keys: Vec<SqlValue>,
    pub run_id: String,
}

impl ListPlan {
    /// What a page token must carry to fit this listing.
    pub(super) fn fingerprint(&self, namespace_id: &str) -> String {
        let mut description = format!("{namespace_id}\n");
        for key in &self.order {
            description.push_str(&key.describe());
            description.push('\n');
        }
        format!("{:016x}", fnv1a(description.as_bytes()))
    }

    /// `SELECT record, k0, k1, …, run_id` of the page after `cursor`, one row
    /// more than `page_size` to tell whether another page follows.
    pub(super) fn select(&self, namespace_id: &str, cursor: Option<&Cursor>, limit: usize) -> Sql {
        let mut sql = Sql::default();
        sql.push("SELECT e.record");
        for (i, key) in self.order.iter().enumerate() {
            sql.push(", ");
            key.emit(&mut sql);
            sql.push(&format!(" AS k{i}"));
        }
        sql.push(", e.run_id FROM executions e WHERE e.namespace_id = ").param(namespace_id.to_owned());
        sql.push(" AND ").append(self.filter_sql());
        if let Some(cursor) = cursor {
            if let (Some(first), Some(value)) = (self.order.first(), cursor.keys.first())
                && !first.nullable
                && *value != SqlValue::Null
            {
                // Implied by the condition below, but lets SQLite seek the
                // index of the order rather than scan from its start.
                sql.push(" AND ");
                first.emit(&mut sql);
                sql.push(if first.descending { " <= " } else { " >= " }).param(value.clone());
            }
            sql.push(" AND ");
            self.after(&mut sql, cursor, 0);
        }
        sql.push(" ORDER BY ");
        for (i, key) in self.order.iter().enumerate() {
            sql.push(&format!("k{i} {} NULLS LAST, ", if key.descending { "DESC" } else { "ASC" }));
        }
        sql.push("e.run_id ASC LIMIT ").param(limit as i64);
        sql
    }

    fn filter_sql(&self) -> Sql {
        Sql { text: self.filter.text.clone(), params: self.filter.params.clone() }
    }

    /// Rows strictly after the cursor in the order (nulls last in either direction).
    fn after(&self, sql: &mut Sql, cursor: &Cursor, i: usize) {
        let Some(key) = self.order.get(i) else {
            sql.push("e.run_id > ").param(cursor.run_id.clone());
            return;
        };
        let value = &cursor.keys[i];
        sql.push("(");
        if *value == SqlValue::Null {
            // Nothing sorts after a null within this key; equal means null too.
            key.emit(sql);
            sql.push(" IS NULL AND ");
            self.after(sql, cursor, i + 1);
        } else {
            key.emit(sql);
            sql.push(if key.descending { " < " } else { " > " }).param(value.clone());
            if key.nullable {
                sql.push(" OR ");
                key.emit(sql);
                sql.push(" IS NULL");
            }
            sql.push(" OR (");
            key.emit(sql);
            sql.push(" = ").param(value.clone());
            sql.push(" AND ");
            self.after(sql, cursor, i + 1);
            sql.push(")");
        }
        sql.push(")");
    }
}

/// A count: which executions, and whether by status.
pub(super) struct CountPlan {
    filter: Sql,
    pub by_status: bool,
}

impl CountPlan {
    pub(super) fn select(&self, namespace_id: &str) -> Sql {
        let mut sql = Sql::default();
        sql.push(if self.by_status { "SELECT e.status, COUNT(*)" } else { "SELECT COUNT(*)" });
        sql.push(" FROM executions e WHERE e.namespace_id = ").param(namespace_id.to_owned());
        sql.push(" AND ").append(Sql { text: self.filter.text.clone(), params: self.filter.params.clone() });
        if self.by_status {
            sql.push(" GROUP BY e.status ORDER BY e.status");
        }
        sql
    }
}

pub(super) fn plan_list(query: &Query, custom: &SearchAttributeTypes) -> Result<ListPlan, IndexError> {
    let mut translator = Translator { custom, seen_division: false };
    if let Some(group_by) = query.group_by.first() {
        return Err(invalid(
            group_by.position,
            "GROUP BY is only supported when counting workflow executions, not when listing them",
        ));
    }
    let order = translator.order(query)?;
    let filter = translator.filter(query)?;
    Ok(ListPlan { filter, order })
}

pub(super) fn plan_count(query: &Query, custom: &SearchAttributeTypes) -> Result<CountPlan, IndexError> {
    let mut translator = Translator { custom, seen_division: false };
    if let Some(extra) = query.group_by.get(1) {
        return Err(invalid(extra.position, "GROUP BY supports only a single field: ExecutionStatus"));
    }
    let by_status = match query.group_by.first() {
        Some(attribute) => {
            let resolved = translator.resolve(attribute)?;
            if !matches!(resolved.place, Place::Column { special: Special::Status, .. }) {
                return Err(invalid(
                    attribute.position,
                    format!("GROUP BY is only supported for ExecutionStatus, not '{}'", attribute.name),
                ));
            }
            true
        }
        None => false,
    };
    // A count has no order, but its names must still be valid (as in Temporal).
    translator.order(query)?;
    let filter = translator.filter(query)?;
    Ok(CountPlan { filter, by_status })
}

fn invalid(position: usize, message: impl Into<String>) -> IndexError {
    IndexError::InvalidQuery { position, message: message.into() }
}

struct Translator<'a> {
    custom: &'a SearchAttributeTypes,
    /// The query names TemporalNamespaceDivision, which lifts the default
    /// filter on it (Temporal's `seenNamespaceDivision`).
    seen_division: bool,
}

#[derive(Clone, Copy)]
enum Operator {
    Compare(Comparison),
    Between { negated: bool },
    In { negated: bool },
    StartsWith { negated: bool },
}

impl Operator {
    fn name(self) -> &'static str {
        match self {
            Operator::Compare(comparison) => comparison.symbol(),
            Operator::Between { negated: false } => "BETWEEN",
            Operator::Between { negated: true } => "NOT BETWEEN",
            Operator::In { negated: false } => "IN",
            Operator::In { negated: true } => "NOT IN",
            Operator::StartsWith { negated: false } => "STARTS_WITH",
            Operator::StartsWith { negated: true } => "NOT STARTS_WITH",
        }
    }

    /// Which operators a type takes, after Temporal's converter
    /// (`supportedKeywordOperators` and friends, `supportedTypesRangeCond`).
    fn allowed_for(self, value_type: IndexedValueType) -> bool {
        use IndexedValueType::*;
        match (self, value_type) {
            (Operator::Compare(Comparison::Equal | Comparison::NotEqual), _) => true,
            (Operator::Compare(_), KeywordList | Text) => false,
            (Operator::Compare(_), _) => true,
            (Operator::Between { .. }, Datetime | Double | Int | Keyword) => true,
            (Operator::Between { .. }, _) => false,
            (Operator::In { .. }, Text) => false,
            (Operator::In { .. }, _) => true,
            (Operator::StartsWith { .. }, Keyword) => true,
            (Operator::StartsWith { .. }, _) => false,
        }
    }
}

fn supported_operators(value_type: IndexedValueType) -> &'static str {
    use IndexedValueType::*;
    match value_type {
        Keyword => "=, !=, <, <=, >, >=, BETWEEN, IN, NOT IN, STARTS_WITH, IS NULL",
        KeywordList => "=, !=, IN, NOT IN, IS NULL",
        Text => "=, !=, IS NULL",
        Int | Double | Datetime => "=, !=, <, <=, >, >=, BETWEEN, IN, NOT IN, IS NULL",
        Bool | Unspecified => "=, !=, IN, NOT IN, IS NULL",
    }
}

impl Translator<'_> {
    fn resolve(&mut self, attribute: &Attribute) -> Result<Resolved, IndexError> {
        let Some(resolved) = attributes::resolve(&attribute.name, self.custom) else {
            return Err(invalid(
                attribute.position,
                format!(
                    "'{}' is not a valid search attribute: it is neither a system attribute (such as WorkflowId, WorkflowType, \
                     ExecutionStatus, StartTime or CloseTime) nor one registered in this namespace",
                    attribute.name
                ),
            ));
        };
        if resolved.value_type == IndexedValueType::Unspecified {
            return Err(invalid(
                attribute.position,
                format!("search attribute '{}' is registered without a type", attribute.name),
            ));
        }
        if resolved.field() == NAMESPACE_DIVISION || resolved.field() == "e.namespace_division" {
            self.seen_division = true;
        }
        Ok(resolved)
    }

    fn order(&mut self, query: &Query) -> Result<Vec<SortKey>, IndexError> {
        if query.order_by.is_empty() {
            // Temporal's SQL visibility order: running executions first (a
            // null close time sorts as the greatest), latest closed next,
            // then by start time, latest first.
            return Ok(vec![
                SortKey { expr: KeyExpr::Column("e.close_order"), descending: true, nullable: false },
                SortKey { expr: KeyExpr::Column("e.start_time"), descending: true, nullable: true },
            ]);
        }
        let mut keys = Vec::with_capacity(query.order_by.len());
        for order_by in &query.order_by {
            let resolved = self.resolve(&order_by.attribute)?;
            let descending = order_by.descending;
            let key = match (&resolved.place, resolved.value_type) {
                (_, IndexedValueType::Text) => {
                    return Err(invalid(
                        order_by.attribute.position,
                        format!(
                            "cannot sort by '{}': it is a Text search attribute; sort by a Keyword one instead",
                            resolved.alias
                        ),
                    ));
                }
                (Place::Column { sql, nullable, .. }, _) => {
                    SortKey { expr: KeyExpr::Column(sql), descending, nullable: *nullable }
                }
                (Place::Rows { name }, IndexedValueType::KeywordList) => SortKey {
                    expr: KeyExpr::Rows {
                        name: name.clone(),
                        kind: Kind::String,
                        aggregate: Some(if descending { "MAX" } else { "MIN" }),
                    },
                    descending,
                    nullable: true,
                },
                (Place::Rows { name }, value_type) => SortKey {
                    expr: KeyExpr::Rows { name: name.clone(), kind: Kind::of(value_type), aggregate: None },
                    descending,
                    nullable: true,
                },
            };
            keys.push(key);
        }
        Ok(keys)
    }

    fn filter(&mut self, query: &Query) -> Result<Sql, IndexError> {
        let mut sql = Sql::default();
        match &query.filter {
            Some(filter) => {
                sql.push("(");
                self.expr(filter, &mut sql)?;
                sql.push(")");
            }
            None => {
                sql.push("1");
            }
        }
        if !self.seen_division {
            sql.push(" AND e.namespace_division IS NULL");
        }
        Ok(sql)
    }

    fn expr(&mut self, expr: &Expr, sql: &mut Sql) -> Result<(), IndexError> {
        match expr {
            Expr::And(..) | Expr::Or(..) => {
                let and = matches!(expr, Expr::And(..));
                let mut operands = Vec::new();
                chain(expr, and, &mut operands);
                self.balanced(&operands, if and { " AND " } else { " OR " }, sql)
            }
            Expr::Not(inner) => {
                sql.push("(NOT ");
                self.expr(inner, sql)?;
                sql.push(")");
                Ok(())
            }
            Expr::Compare { attribute, comparison, value } => {
                self.predicate(attribute, Operator::Compare(*comparison), std::slice::from_ref(value), sql)
            }
            Expr::Between { attribute, low, high, negated } => {
                self.predicate(attribute, Operator::Between { negated: *negated }, &[low.clone(), high.clone()], sql)
            }
            Expr::In { attribute, values, negated } => {
                self.predicate(attribute, Operator::In { negated: *negated }, values, sql)
            }
            Expr::StartsWith { attribute, prefix, negated } => {
                self.predicate(attribute, Operator::StartsWith { negated: *negated }, std::slice::from_ref(prefix), sql)
            }
            Expr::IsNull { attribute, negated } => {
                let resolved = self.resolve(attribute)?;
                let not = if *negated { "NOT " } else { "" };
                match &resolved.place {
                    Place::Column { sql: column, .. } => {
                        sql.push("(").push(column).push(&format!(" IS {not}NULL)"));
                    }
                    Place::Rows { name } => {
                        let exists = if *negated { "EXISTS" } else { "NOT EXISTS" };
                        sql.push(&format!(
                            "({exists} (SELECT 1 FROM search_attributes a WHERE a.execution = e.id AND a.name = "
                        ));
                        sql.param(name.clone())
                            .push(" AND a.kind = ")
                            .param(Kind::of(resolved.value_type) as i64)
                            .push("))");
                    }
                }
                Ok(())
            }
        }
    }

    /// AND and OR are associative, so a chain of either is emitted as a
    /// balanced tree: SQLite limits how deep an expression may nest, and a
    /// long chain would otherwise nest as deep as it is long.
    fn balanced(&mut self, operands: &[&Expr], operator: &str, sql: &mut Sql) -> Result<(), IndexError> {
        if let [single] = operands {
            return self.expr(single, sql);
        }
        let (left, right) = operands.split_at(operands.len() / 2);
        sql.push("(");
        self.balanced(left, operator, sql)?;
        sql.push(operator);
        self.balanced(right, operator, sql)?;
        sql.push(")");
        Ok(())
    }

    fn predicate(
        &mut self,
        attribute: &Attribute,
        operator: Operator,
        values: &[Value],
        sql: &mut Sql,
    ) -> Result<(), IndexError> {
        let resolved = self.resolve(attribute)?;
        let value_type = resolved.value_type;
        if !operator.allowed_for(value_type) {
            return Err(invalid(
                attribute.position,
                format!(
                    "operator '{}' is not supported for {} search attribute '{}'; it supports {}",
                    operator.name(),
                    type_name(value_type),
                    resolved.alias,
                    supported_operators(value_type)
                ),
            ));
        }
        let is_status = matches!(resolved.place, Place::Column { special: Special::Status, .. });
        if let (Operator::StartsWith { .. }, true) = (operator, is_status) {
            return Err(invalid(
                attribute.position,
                "operator 'STARTS_WITH' is not supported for ExecutionStatus; compare it with = or IN (e.g. ExecutionStatus = 'Running')",
            ));
        }
        let bound: Vec<SqlValue> = values.iter().map(|value| literal(&resolved, value)).collect::<Result<_, _>>()?;
        match (&resolved.place, value_type) {
            (Place::Rows { name }, IndexedValueType::KeywordList | IndexedValueType::Text) => {
                // Multi-valued (or matched by words): whether some value
                // matches, true or false, never null (Temporal's SQL matches
                // them with `rowid IN (…)` likewise).
                let (exists, condition) = match operator {
                    Operator::Compare(Comparison::Equal) => (true, MultiCondition::Equal),
                    Operator::Compare(_) => (false, MultiCondition::Equal),
                    Operator::In { negated } => (!negated, MultiCondition::In),
                    _ => unreachable!("refused above for KeywordList and Text"),
                };
                let condition = if value_type == IndexedValueType::Text { MultiCondition::Words } else { condition };
                if value_type == IndexedValueType::Text
                    && let Some(Literal::String(text)) = values.first().map(|v| &v.literal)
                    && !values::text_query_has_tokens(text)
                {
                    return Err(invalid(
                        values[0].position,
                        format!("the value for Text search attribute '{}' has no words to match", resolved.alias),
                    ));
                }
                sql.push(if exists { "(EXISTS " } else { "(NOT EXISTS " });
                sql.push("(SELECT 1 FROM search_attributes a WHERE a.execution = e.id AND a.name = ")
                    .param(name.clone());
                sql.push(" AND a.kind = ").param(Kind::String as i64).push(" AND ");
                match condition {
                    MultiCondition::Equal => {
                        sql.push("a.value = ").param(bound[0].clone());
                    }
                    MultiCondition::In => {
                        sql.push("a.value IN (");
                        list(&bound, sql);
                        sql.push(")");
                    }
                    MultiCondition::Words => {
                        sql.push(&format!("{TEXT_MATCH_FUNCTION}(a.value, ")).param(bound[0].clone()).push(")");
                    }
                }
                sql.push("))");
            }
            (place, _) => {
                // Single-valued: the value or null, compared as SQL does, so
                // a missing value matches neither `= x` nor `!= x`, as with
                // Temporal's columns.
                let subject = |sql: &mut Sql| match place {
                    Place::Column { sql: column, .. } => {
                        sql.push(column);
                    }
                    Place::Rows { name } => {
                        sql.push("(SELECT a.value FROM search_attributes a WHERE a.execution = e.id AND a.name = ")
                            .param(name.clone());
                        sql.push(" AND a.kind = ")
                            .param(Kind::of(value_type) as i64)
                            .push(" ORDER BY a.value LIMIT 1)");
                    }
                };
                sql.push("(");
                match operator {
                    Operator::Compare(comparison) => {
                        subject(sql);
                        sql.push(&format!(" {} ", comparison.symbol())).param(bound[0].clone());
                    }
                    Operator::Between { negated } => {
                        subject(sql);
                        sql.push(if negated { " NOT BETWEEN " } else { " BETWEEN " }).param(bound[0].clone());
                        sql.push(" AND ").param(bound[1].clone());
                    }
                    Operator::In { negated } => {
                        subject(sql);
                        sql.push(if negated { " NOT IN (" } else { " IN (" });
                        list(&bound, sql);
                        sql.push(")");
                    }
                    Operator::StartsWith { negated } => {
                        let SqlValue::Text(prefix) = &bound[0] else { unreachable!("a Keyword literal is text") };
                        if negated {
                            sql.push("NOT ");
                        }
                        // Case-sensitive, like a prefix of the value; the
                        // range lets SQLite use an index on the column.
                        sql.push("(");
                        subject(sql);
                        sql.push(" >= ").param(prefix.clone()).push(" AND substr(");
                        subject(sql);
                        sql.push(", 1, ")
                            .param(prefix.chars().count() as i64)
                            .push(") = ")
                            .param(prefix.clone())
                            .push(")");
                    }
                }
                sql.push(")");
            }
        }
        Ok(())
    }
}

enum MultiCondition {
    Equal,
    In,
    Words,
}

fn list(values: &[SqlValue], sql: &mut Sql) {
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.param(value.clone());
    }
}

fn chain<'a>(expr: &'a Expr, and: bool, operands: &mut Vec<&'a Expr>) {
    match expr {
        Expr::And(left, right) if and => {
            chain(left, and, operands);
            chain(right, and, operands);
        }
        Expr::Or(left, right) if !and => {
            chain(left, and, operands);
            chain(right, and, operands);
        }
        _ => operands.push(expr),
    }
}

/// A literal as the attribute's column or rows compare it, or why it does not fit.
fn literal(resolved: &Resolved, value: &Value) -> Result<SqlValue, IndexError> {
    let name = &resolved.alias;
    let value_type = resolved.value_type;
    let special = match resolved.place {
        Place::Column { special, .. } => special,
        Place::Rows { .. } => Special::None,
    };
    let shown = || match &value.literal {
        Literal::String(s) => format!("'{s}'"),
        Literal::Integer(i) => i.to_string(),
        Literal::Float(f) => f.to_string(),
        Literal::Bool(b) => b.to_string(),
    };
    match special {
        Special::Status => {
            let status = match &value.literal {
                Literal::String(text) => attributes::status_from_name(text),
                Literal::Integer(number) if attributes::status_is_valid(*number) => Some(*number as i32),
                _ => None,
            };
            return status.map(|status| SqlValue::Integer(status as i64)).ok_or_else(|| {
                let names: Vec<String> = STATUS_NAMES.iter().map(|(n, _)| format!("'{n}'")).collect();
                invalid(
                    value.position,
                    format!("invalid {name} value {}: expected one of {}", shown(), names.join(", ")),
                )
            });
        }
        Special::Duration => {
            let nanos = match &value.literal {
                Literal::Integer(nanos) => Some(*nanos),
                Literal::String(text) => values::parse_execution_duration(text),
                _ => None,
            };
            return nanos.map(SqlValue::Integer).ok_or_else(|| {
                invalid(
                    value.position,
                    format!(
                        "invalid {name} value {}: expected nanoseconds (an integer) or a duration such as '1h30m', '2d' or '01:30:00'",
                        shown()
                    ),
                )
            });
        }
        Special::None => {}
    }
    let expected = match value_type {
        IndexedValueType::Keyword | IndexedValueType::KeywordList | IndexedValueType::Text => match &value.literal {
            Literal::String(text) => return Ok(SqlValue::Text(text.clone())),
            _ => "a string in quotes",
        },
        IndexedValueType::Int | IndexedValueType::Double => match &value.literal {
            Literal::Integer(i) => return Ok(SqlValue::Integer(*i)),
            Literal::Float(f) => return Ok(SqlValue::Real(*f)),
            _ => "a number",
        },
        IndexedValueType::Bool => match &value.literal {
            Literal::Bool(b) => return Ok(SqlValue::Integer(*b as i64)),
            _ => "true or false",
        },
        IndexedValueType::Datetime => match &value.literal {
            Literal::Integer(nanos) => return Ok(SqlValue::Integer(*nanos)),
            Literal::String(text) => match values::parse_rfc3339(text) {
                Some(nanos) => return Ok(SqlValue::Integer(nanos)),
                None => "an RFC 3339 time such as '2024-01-31T15:04:05Z' (or nanoseconds since the epoch)",
            },
            _ => "an RFC 3339 time such as '2024-01-31T15:04:05Z' (or nanoseconds since the epoch)",
        },
        IndexedValueType::Unspecified => "a value of a known type",
    };
    Err(invalid(
        value.position,
        format!(
            "invalid value {} for search attribute '{name}' of type {}: expected {expected}",
            shown(),
            type_name(value_type)
        ),
    ))
}

/// 64-bit FNV-1a: stable across builds and processes, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ *byte as u64).wrapping_mul(0x0100_0000_01b3))
}
