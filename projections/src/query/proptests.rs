use proptest::prelude::*;

use super::*;

const CASES: u32 = 256;

fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_@][A-Za-z0-9_@]{0,12}",
        // Keywords in any case, which need backticks.
        prop::sample::select(vec!["and", "OR", "Not", "order", "GROUP", "by", "Desc", "null", "true", "starts_with"])
            .prop_map(str::to_owned),
        // Spaces, quotes, backticks, digits first, unicode, control characters.
        "[0-9 `'\"\\\\a-z]{1,8}",
        any::<String>().prop_filter("a name is not empty", |name| !name.is_empty()),
    ]
}

fn any_attribute() -> impl Strategy<Value = Attribute> {
    any_name().prop_map(|name| Attribute { name, position: 0 })
}

fn any_string() -> impl Strategy<Value = String> {
    prop_oneof!["[ab'\"`\\\\\n\t\0\u{8}\u{1a}]{0,10}", any::<String>()]
}

fn any_literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any_string().prop_map(Literal::String),
        prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(0), -10i64..10].prop_map(Literal::Integer),
        any::<f64>().prop_filter("finite", |float| float.is_finite()).prop_map(Literal::Float),
        any::<bool>().prop_map(Literal::Bool),
    ]
}

fn any_value() -> impl Strategy<Value = Value> {
    any_literal().prop_map(|literal| Value { literal, position: 0 })
}

fn any_comparison() -> impl Strategy<Value = Comparison> {
    prop::sample::select(vec![
        Comparison::Equal,
        Comparison::NotEqual,
        Comparison::Less,
        Comparison::LessOrEqual,
        Comparison::Greater,
        Comparison::GreaterOrEqual,
    ])
}

fn any_predicate() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (any_attribute(), any_comparison(), any_value()).prop_map(|(attribute, comparison, value)| Expr::Compare {
            attribute,
            comparison,
            value
        }),
        (any_attribute(), any_value(), any_value(), any::<bool>())
            .prop_map(|(attribute, low, high, negated)| Expr::Between { attribute, low, high, negated }),
        (any_attribute(), prop::collection::vec(any_value(), 1..4), any::<bool>())
            .prop_map(|(attribute, values, negated)| Expr::In { attribute, values, negated }),
        (any_attribute(), any_string(), any::<bool>()).prop_map(|(attribute, prefix, negated)| Expr::StartsWith {
            attribute,
            prefix: Value { literal: Literal::String(prefix), position: 0 },
            negated,
        }),
        (any_attribute(), any::<bool>()).prop_map(|(attribute, negated)| Expr::IsNull { attribute, negated }),
    ]
}

fn any_expr() -> impl Strategy<Value = Expr> {
    any_predicate().prop_recursive(6, 48, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(left, right)| Expr::And(Box::new(left), Box::new(right))),
            (inner.clone(), inner.clone()).prop_map(|(left, right)| Expr::Or(Box::new(left), Box::new(right))),
            inner.prop_map(|operand| Expr::Not(Box::new(operand))),
        ]
    })
}

fn any_query() -> impl Strategy<Value = Query> {
    let order_item =
        (any_attribute(), any::<bool>()).prop_map(|(attribute, descending)| OrderBy { attribute, descending });
    (
        prop::option::of(any_expr()),
        prop::collection::vec(any_attribute(), 0..3),
        prop::collection::vec(order_item, 0..3),
    )
        .prop_map(|(filter, group_by, order_by)| Query { filter, group_by, order_by })
}

/// Pieces of queries, valid or not.
fn query_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "A",
            "`b c`",
            "`",
            "=",
            "!=",
            "<>",
            "<",
            ">=",
            "==",
            "!",
            "(",
            ")",
            ",",
            ";",
            "-",
            "+",
            "AND",
            "or",
            "NOT",
            "BETWEEN",
            "IN",
            "STARTS_WITH",
            "IS",
            "NULL",
            "true",
            "ORDER",
            "GROUP",
            "BY",
            "DESC",
            "LIMIT",
            "LIKE",
            "'x'",
            "'",
            "\"",
            "\\",
            "1",
            "-9223372036854775808",
            "1.5e3",
            ".5",
            "1e",
            "0x1",
            "&&",
            "||",
            "&",
            "é",
            "日",
            "A = 1",
            "B IN (1, 'x')",
            "C IS NOT NULL",
            "D STARTS_WITH 'p'",
            "E BETWEEN 1 AND 2",
        ])
        .prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
        "\\PC{0,4}",
    ]
}

/// Pieces glued together in any order.
fn query_soup() -> impl Strategy<Value = String> {
    let separator = prop::sample::select(vec!["", " ", "  ", "\n"]);
    prop::collection::vec((query_piece(), separator), 0..24)
        .prop_map(|pieces| pieces.into_iter().map(|(piece, separator)| piece + separator).collect())
}

/// The canonical text of a query with a few of its words deleted, inserted,
/// replaced or repeated: mostly almost right, which is where a parser's
/// corner cases are.
fn mutated_query() -> impl Strategy<Value = String> {
    let edit = (any::<prop::sample::Index>(), 0u8..4, query_piece());
    (any_query(), prop::collection::vec(edit, 0..3)).prop_map(|(query, edits)| {
        let mut words: Vec<String> = query.to_string().split(' ').map(str::to_owned).collect();
        for (index, kind, piece) in edits {
            let at = index.index(words.len());
            match kind {
                0 => {
                    words.remove(at);
                }
                1 => words.insert(at, piece),
                2 => words[at] = piece,
                _ => words.insert(at, words[at].clone()),
            }
            if words.is_empty() {
                words.push(String::new());
            }
        }
        words.join(" ")
    })
}

fn almost_query() -> impl Strategy<Value = String> {
    prop_oneof![query_soup(), mutated_query()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn canonical_text_parses_back_to_the_same_query(query in any_query()) {
        let text = query.to_string();
        prop_assert_eq!(parse(&text), Ok(query), "canonical text {:?}", text);
    }

    #[test]
    fn parse_never_panics_and_what_it_accepts_round_trips(text in almost_query()) {
        if let Ok(query) = parse(&text) {
            let canonical = query.to_string();
            prop_assert_eq!(parse(&canonical), Ok(query), "{:?} printed as {:?}", text, canonical);
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "\\PC{0,64}|.{0,64}") {
        let _ = parse(&text);
    }

    #[test]
    fn errors_point_inside_the_text(text in almost_query()) {
        if let Err(error) = parse(&text) {
            prop_assert!(error.position <= text.len(), "{:?}: {}", text, error);
            prop_assert!(text.is_char_boundary(error.position), "{:?}: {}", text, error);
        }
    }
}
