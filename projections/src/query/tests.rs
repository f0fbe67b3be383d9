use super::*;

// ---- Builders: positions are 0 because equality ignores them ----

fn attribute(name: &str) -> Attribute {
    Attribute { name: name.to_owned(), position: 0 }
}

fn value(literal: Literal) -> Value {
    Value { literal, position: 0 }
}

fn string(text: &str) -> Value {
    value(Literal::String(text.to_owned()))
}

fn integer(integer: i64) -> Value {
    value(Literal::Integer(integer))
}

fn float(float: f64) -> Value {
    value(Literal::Float(float))
}

fn compare(name: &str, comparison: Comparison, value: Value) -> Expr {
    Expr::Compare { attribute: attribute(name), comparison, value }
}

fn equal(name: &str, value: Value) -> Expr {
    compare(name, Comparison::Equal, value)
}

fn and(left: Expr, right: Expr) -> Expr {
    Expr::And(Box::new(left), Box::new(right))
}

fn or(left: Expr, right: Expr) -> Expr {
    Expr::Or(Box::new(left), Box::new(right))
}

fn not(operand: Expr) -> Expr {
    Expr::Not(Box::new(operand))
}

fn ascending(name: &str) -> OrderBy {
    OrderBy { attribute: attribute(name), descending: false }
}

fn descending(name: &str) -> OrderBy {
    OrderBy { attribute: attribute(name), descending: true }
}

fn filter(text: &str) -> Expr {
    let query = parse(text).unwrap_or_else(|error| panic!("{text:?} failed: {error}"));
    assert!(query.group_by.is_empty() && query.order_by.is_empty(), "{text:?} has clauses");
    query.filter.unwrap_or_else(|| panic!("{text:?} has no filter"))
}

fn literal_of(text: &str) -> Literal {
    match filter(&format!("A = {text}")) {
        Expr::Compare { value, .. } => value.literal,
        other => panic!("{text:?} parsed as {other:?}"),
    }
}

fn assert_error(text: &str, position: Position, message: &str) {
    assert_eq!(parse(text), Err(QueryError { position, message: message.to_owned() }), "query {text:?}");
}

fn assert_round_trip(query: &Query) {
    let text = query.to_string();
    assert_eq!(parse(&text).as_ref(), Ok(query), "canonical text {text:?}");
}

// ---- Operators ----

#[test]
fn parses_every_comparison() {
    let cases = [
        ("=", Comparison::Equal),
        ("!=", Comparison::NotEqual),
        ("<>", Comparison::NotEqual),
        ("<", Comparison::Less),
        ("<=", Comparison::LessOrEqual),
        (">", Comparison::Greater),
        (">=", Comparison::GreaterOrEqual),
    ];
    for (symbol, comparison) in cases {
        assert_eq!(filter(&format!("Count {symbol} 3")), compare("Count", comparison, integer(3)), "{symbol}");
        assert_eq!(filter(&format!("Count{symbol}3")), compare("Count", comparison, integer(3)), "{symbol}");
    }
}

#[test]
fn parses_between_and_not_between() {
    assert_eq!(
        filter("StartTime BETWEEN '2024-01-01T00:00:00Z' AND '2024-02-01T00:00:00Z'"),
        Expr::Between {
            attribute: attribute("StartTime"),
            low: string("2024-01-01T00:00:00Z"),
            high: string("2024-02-01T00:00:00Z"),
            negated: false,
        }
    );
    assert_eq!(
        filter("Count NOT BETWEEN -1 AND 2.5"),
        Expr::Between { attribute: attribute("Count"), low: integer(-1), high: float(2.5), negated: true }
    );
}

#[test]
fn between_takes_its_and_before_the_boolean_and() {
    assert_eq!(
        filter("A BETWEEN 1 AND 2 AND B = 3"),
        and(
            Expr::Between { attribute: attribute("A"), low: integer(1), high: integer(2), negated: false },
            equal("B", integer(3))
        )
    );
}

#[test]
fn parses_in_and_not_in() {
    assert_eq!(
        filter("ExecutionStatus IN ('Running', 'Failed')"),
        Expr::In {
            attribute: attribute("ExecutionStatus"),
            values: vec![string("Running"), string("Failed")],
            negated: false,
        }
    );
    assert_eq!(
        filter("Id NOT IN (1)"),
        Expr::In { attribute: attribute("Id"), values: vec![integer(1)], negated: true }
    );
    assert_eq!(
        filter("Id in ( 1 , 'two' , 3.0 , true )"),
        Expr::In {
            attribute: attribute("Id"),
            values: vec![integer(1), string("two"), float(3.0), value(Literal::Bool(true))],
            negated: false,
        }
    );
}

#[test]
fn parses_starts_with_and_not_starts_with() {
    assert_eq!(
        filter("WorkflowId STARTS_WITH 'order-'"),
        Expr::StartsWith { attribute: attribute("WorkflowId"), prefix: string("order-"), negated: false }
    );
    assert_eq!(
        filter("WorkflowId NOT STARTS_WITH \"tmp\""),
        Expr::StartsWith { attribute: attribute("WorkflowId"), prefix: string("tmp"), negated: true }
    );
}

#[test]
fn parses_is_null_and_is_not_null() {
    assert_eq!(filter("CloseTime IS NULL"), Expr::IsNull { attribute: attribute("CloseTime"), negated: false });
    assert_eq!(filter("CloseTime IS NOT NULL"), Expr::IsNull { attribute: attribute("CloseTime"), negated: true });
}

#[test]
fn keywords_are_case_insensitive_and_names_are_not() {
    let query = parse("workflowType = 'a' aNd NoT x iS nOt NuLl oR y not in (1) Or z starts_with 'p' and w between 1 AnD 2 order BY a DeSc, b aSc").unwrap();
    let expected = Query {
        filter: Some(or(
            or(
                and(equal("workflowType", string("a")), not(Expr::IsNull { attribute: attribute("x"), negated: true })),
                Expr::In { attribute: attribute("y"), values: vec![integer(1)], negated: true },
            ),
            and(
                Expr::StartsWith { attribute: attribute("z"), prefix: string("p"), negated: false },
                Expr::Between { attribute: attribute("w"), low: integer(1), high: integer(2), negated: false },
            ),
        )),
        group_by: vec![],
        order_by: vec![descending("a"), ascending("b")],
    };
    assert_eq!(query, expected);
    assert_ne!(filter("a = 1"), filter("A = 1"));
}

#[test]
fn symbolic_and_or_are_and_or() {
    assert_eq!(
        filter("A = 1 && B = 2 || C = 3"),
        or(and(equal("A", integer(1)), equal("B", integer(2))), equal("C", integer(3)))
    );
}

// ---- Literals ----

#[test]
fn strings_take_either_quote_and_mysql_escapes() {
    assert_eq!(literal_of("'single'"), Literal::String("single".into()));
    assert_eq!(literal_of("\"double\""), Literal::String("double".into()));
    assert_eq!(literal_of("'it''s'"), Literal::String("it's".into()));
    assert_eq!(literal_of("\"say \"\"hi\"\"\""), Literal::String("say \"hi\"".into()));
    assert_eq!(literal_of("'a \"quoted\" word'"), Literal::String("a \"quoted\" word".into()));
    assert_eq!(literal_of("\"it's\""), Literal::String("it's".into()));
    assert_eq!(literal_of(r"'it\'s'"), Literal::String("it's".into()));
    assert_eq!(literal_of(r#""\"x\"""#), Literal::String("\"x\"".into()));
    assert_eq!(literal_of(r"'back\\slash'"), Literal::String("back\\slash".into()));
    assert_eq!(literal_of(r"'\0\b\n\r\t\Z'"), Literal::String("\0\u{8}\n\r\t\u{1a}".into()));
    // An unknown escape stands for the character itself, as in Temporal.
    assert_eq!(literal_of(r"'\%\_\q\é'"), Literal::String("%_qé".into()));
    assert_eq!(literal_of("''"), Literal::String(String::new()));
    assert_eq!(literal_of("'ünïcødé ✓ 日本'"), Literal::String("ünïcødé ✓ 日本".into()));
    assert_eq!(literal_of("'line\nbreak'"), Literal::String("line\nbreak".into()));
}

#[test]
fn backticks_quote_any_name() {
    assert_eq!(filter("`Order` = 1"), equal("Order", integer(1)));
    assert_eq!(filter("`with space` = 1"), equal("with space", integer(1)));
    assert_eq!(filter("`back``tick` = 1"), equal("back`tick", integer(1)));
    assert_eq!(filter("`日本` = 1"), equal("日本", integer(1)));
    assert_eq!(filter("`WorkflowType` = 1"), filter("WorkflowType = 1"));
    assert_eq!(filter("_Under@score9 = 1"), equal("_Under@score9", integer(1)));
}

#[test]
fn integers() {
    assert_eq!(literal_of("42"), Literal::Integer(42));
    assert_eq!(literal_of("007"), Literal::Integer(7));
    assert_eq!(literal_of("-42"), Literal::Integer(-42));
    assert_eq!(literal_of("- 42"), Literal::Integer(-42));
    assert_eq!(literal_of("+42"), Literal::Integer(42));
    assert_eq!(literal_of("9223372036854775807"), Literal::Integer(i64::MAX));
    assert_eq!(literal_of("-9223372036854775808"), Literal::Integer(i64::MIN));
}

#[test]
fn integers_too_big_for_i64_become_floats_like_in_temporal() {
    assert_eq!(literal_of("9223372036854775808"), Literal::Float(9223372036854775808.0));
    assert_eq!(literal_of("-9223372036854775809"), Literal::Float(-9223372036854775809.0));
}

#[test]
fn floats() {
    assert_eq!(literal_of("1.5"), Literal::Float(1.5));
    assert_eq!(literal_of("-1.5"), Literal::Float(-1.5));
    assert_eq!(literal_of(".5"), Literal::Float(0.5));
    assert_eq!(literal_of("5."), Literal::Float(5.0));
    assert_eq!(literal_of("1e3"), Literal::Float(1000.0));
    assert_eq!(literal_of("1E+3"), Literal::Float(1000.0));
    assert_eq!(literal_of("-2.5e-3"), Literal::Float(-0.0025));
    assert_eq!(literal_of("1.0"), Literal::Float(1.0));
}

#[test]
fn booleans() {
    assert_eq!(literal_of("true"), Literal::Bool(true));
    assert_eq!(literal_of("FALSE"), Literal::Bool(false));
    assert_eq!(literal_of("True"), Literal::Bool(true));
}

#[test]
fn positions_point_at_first_characters() {
    let text = "A = 'x' AND `B c` IN (-1, 2) OR D BETWEEN .5 AND \"z\"";
    let Some(Expr::Or(left, right)) = parse(text).unwrap().filter else { panic!("not an OR") };
    let Expr::And(compare, in_list) = *left else { panic!("not an AND") };
    let Expr::Compare { attribute, value, .. } = *compare else { panic!("not a comparison") };
    assert_eq!((attribute.position, value.position), (0, 4));
    let Expr::In { attribute, values, .. } = *in_list else { panic!("not IN") };
    assert_eq!(attribute.position, 12);
    assert_eq!(values.iter().map(|value| value.position).collect::<Vec<_>>(), vec![22, 26]);
    let Expr::Between { attribute, low, high, .. } = *right else { panic!("not BETWEEN") };
    assert_eq!((attribute.position, low.position, high.position), (32, 42, 49));
    let query = parse("ORDER BY x, `y` DESC").unwrap();
    assert_eq!(query.order_by.iter().map(|item| item.attribute.position).collect::<Vec<_>>(), vec![9, 12]);
}

// ---- Precedence and associativity ----

#[test]
fn and_binds_tighter_than_or() {
    let (a, b, c) = (equal("A", integer(1)), equal("B", integer(2)), equal("C", integer(3)));
    assert_eq!(filter("A = 1 OR B = 2 AND C = 3"), or(a.clone(), and(b.clone(), c.clone())));
    assert_eq!(filter("A = 1 AND B = 2 OR C = 3"), or(and(a, b), c));
}

#[test]
fn not_binds_tighter_than_and() {
    let (a, b) = (equal("A", integer(1)), equal("B", integer(2)));
    assert_eq!(filter("NOT A = 1 AND B = 2"), and(not(a.clone()), b.clone()));
    assert_eq!(filter("NOT (A = 1 AND B = 2)"), not(and(a.clone(), b)));
    assert_eq!(filter("NOT NOT A = 1"), not(not(a)));
}

#[test]
fn and_and_or_associate_to_the_left() {
    let (a, b, c) = (equal("A", integer(1)), equal("B", integer(2)), equal("C", integer(3)));
    assert_eq!(filter("A = 1 AND B = 2 AND C = 3"), and(and(a.clone(), b.clone()), c.clone()));
    assert_eq!(filter("A = 1 OR B = 2 OR C = 3"), or(or(a.clone(), b.clone()), c.clone()));
    assert_eq!(filter("A = 1 AND (B = 2 AND C = 3)"), and(a, and(b, c)));
}

#[test]
fn parentheses_override_precedence() {
    let (a, b, c) = (equal("A", integer(1)), equal("B", integer(2)), equal("C", integer(3)));
    assert_eq!(filter("(A = 1 OR B = 2) AND C = 3"), and(or(a.clone(), b.clone()), c.clone()));
    assert_eq!(filter("((((A = 1))))"), a);
}

// ---- Clauses ----

#[test]
fn order_by_takes_several_columns_ascending_by_default() {
    let query = parse("WorkflowType = 'w' ORDER BY StartTime DESC, WorkflowId, CloseTime ASC").unwrap();
    assert_eq!(query.filter, Some(equal("WorkflowType", string("w"))));
    assert_eq!(query.order_by, vec![descending("StartTime"), ascending("WorkflowId"), ascending("CloseTime")]);
    assert!(query.group_by.is_empty());
}

#[test]
fn group_by_takes_an_attribute_list() {
    let query = parse("GROUP BY ExecutionStatus").unwrap();
    assert_eq!(query, Query { filter: None, group_by: vec![attribute("ExecutionStatus")], order_by: vec![] });
    let query = parse("WorkflowType = 'w' GROUP BY ExecutionStatus, `Other` ORDER BY StartTime").unwrap();
    assert_eq!(query.group_by, vec![attribute("ExecutionStatus"), attribute("Other")]);
    assert_eq!(query.order_by, vec![ascending("StartTime")]);
}

#[test]
fn an_empty_query_has_no_filter() {
    let empty = Query { filter: None, group_by: vec![], order_by: vec![] };
    assert_eq!(parse(""), Ok(empty.clone()));
    assert_eq!(parse(" \t\r\n "), Ok(empty.clone()));
    assert_eq!(empty.to_string(), "");
}

#[test]
fn a_query_may_be_only_order_by() {
    assert_eq!(
        parse("  order by StartTime desc "),
        Ok(Query { filter: None, group_by: vec![], order_by: vec![descending("StartTime")] })
    );
}

#[test]
fn one_trailing_semicolon_is_allowed() {
    assert_eq!(parse("A = 1;"), parse("A = 1"));
    assert_eq!(parse("ORDER BY A ;  "), parse("ORDER BY A"));
}

// ---- Canonical text ----

#[test]
fn prints_the_canonical_text() {
    let cases = [
        ("a=1", "a = 1"),
        ("a <> 'x' and not b is not null", "a != 'x' AND NOT b IS NOT NULL"),
        ("(a = 1 or b = 2) and c = 3", "(a = 1 OR b = 2) AND c = 3"),
        ("a = 1 or (b = 2 and c = 3)", "a = 1 OR b = 2 AND c = 3"),
        ("a = 1 and (b = 2 and c = 3)", "a = 1 AND (b = 2 AND c = 3)"),
        ("(a = 1 and b = 2) and c = 3", "a = 1 AND b = 2 AND c = 3"),
        ("not (not a = 1)", "NOT NOT a = 1"),
        ("not (a = 1 or b = 2)", "NOT (a = 1 OR b = 2)"),
        ("x not in (1,2) && y not between -1 and 1.5", "x NOT IN (1, 2) AND y NOT BETWEEN -1 AND 1.5"),
        ("x starts_with \"it's\" || y = TRUE", "x STARTS_WITH 'it\\'s' OR y = true"),
        ("`order` = 'a\\\\b\nc'", "`order` = 'a\\\\b\\nc'"),
        ("`a``b` = 1e20", "`a``b` = 1e20"),
        ("`1x` = 5.", "`1x` = 5.0"),
        ("GROUP BY s order by a asc, b desc", "GROUP BY s ORDER BY a, b DESC"),
        ("a = 1 group by s", "a = 1 GROUP BY s"),
    ];
    for (text, canonical) in cases {
        let query = parse(text).unwrap_or_else(|error| panic!("{text:?}: {error}"));
        assert_eq!(query.to_string(), canonical, "{text:?}");
        assert_round_trip(&query);
    }
}

#[test]
fn prints_extreme_numbers_so_that_they_read_back() {
    for literal in [
        Literal::Integer(i64::MIN),
        Literal::Integer(i64::MAX),
        Literal::Float(f64::MAX),
        Literal::Float(f64::MIN),
        Literal::Float(f64::MIN_POSITIVE),
        Literal::Float(5e-324),
        Literal::Float(-0.0),
        Literal::Float(1e16),
        Literal::Float(9223372036854775808.0),
    ] {
        let query = Query { filter: Some(equal("A", value(literal))), group_by: vec![], order_by: vec![] };
        assert_round_trip(&query);
    }
}

// ---- Errors ----

#[test]
fn reports_malformed_queries_where_they_go_wrong() {
    assert_error("WorkflowType = 'abc", 15, "unterminated string");
    assert_error("WorkflowType = \"abc\\\"", 15, "unterminated string");
    assert_error("WorkflowType =", 14, "expected a value after \"=\", found end of query");
    assert_error("(WorkflowType = 'a'", 19, "expected \")\" to close the \"(\" at position 0, found end of query");
    assert_error("Id BETWEEN 1 2", 13, "expected AND between the bounds of BETWEEN, found number 2");
    assert_error("Id IN ()", 7, "expected a value: an IN list cannot be empty, found \")\"");
    assert_error("Id IN 1", 6, "expected \"(\" after \"IN\", found number 1");
    assert_error("Id IN (1, 2", 11, "expected \",\" or \")\" to close the IN list at position 6, found end of query");
    assert_error("Id = 1 garbage", 7, "expected AND, OR, GROUP BY, ORDER BY or end of query, found \"garbage\"");
    assert_error("Id = 1)", 6, "unmatched \")\"");
    assert_error("Id == 1", 3, "unknown operator \"==\"");
    assert_error("Id <=> 1", 3, "unknown operator \"<=>\"");
    assert_error("! Id = 1", 0, "unknown operator \"!\"");
    assert_error("Id = 'a' & x", 9, "unexpected character \"&\"");
    assert_error("Id = Running", 5, "expected a value after \"=\", found \"Running\" (did you forget to quote it?)");
    assert_error(
        "Id = NULL",
        5,
        "expected a value after \"=\", found \"NULL\" (IS NULL and IS NOT NULL test for a missing value)",
    );
    assert_error(
        "'x' = Id",
        0,
        "expected an attribute name, NOT or \"(\", found string 'x' (a condition starts with the attribute name, the value goes on the right)",
    );
    assert_error("Id = 1 AND", 10, "expected an attribute name, NOT or \"(\" after \"AND\", found end of query");
    assert_error(
        "Id = 1 AND Order = 2",
        11,
        "expected an attribute name, NOT or \"(\" after \"AND\", found \"Order\" (a reserved word: quote it in backticks to use it as an attribute name)",
    );
    assert_error("Id STARTS_WITH 5", 15, "expected a string after \"STARTS_WITH\", found number 5");
    assert_error("Id IS TRUE", 6, "expected NULL: only IS NULL and IS NOT NULL are supported, found \"TRUE\"");
    assert_error("Id NOT = 1", 7, "expected BETWEEN, IN or STARTS_WITH after \"NOT\", found \"=\"");
    assert_error(
        "Id 'a'",
        3,
        "expected an operator (=, !=, <, <=, >, >=, BETWEEN, IN, STARTS_WITH or IS) after \"Id\", found string 'a'",
    );
    assert_error("Id LIKE 'a%'", 3, "LIKE is not supported (STARTS_WITH matches a prefix)");
    assert_error("Id = -x", 6, "expected a number after \"-\", found \"x\"");
    assert_error("Id = 12abc", 5, "invalid number \"12abc\"");
    assert_error("Id = 0x1F", 5, "invalid number \"0x1F\"");
    assert_error("Id = 1e", 5, "invalid number \"1e\"");
    assert_error("Id = 1e400", 5, "number 1e400 is out of range");
    assert_error("Id = -1e400", 5, "number -1e400 is out of range");
    assert_error("`Id = 1", 0, "unterminated quoted attribute name");
    assert_error("`` = 1", 0, "empty attribute name");
    assert_error("Id = 1; x", 8, "expected end of query after \";\", found \"x\"");
    assert_error("Id = 1 LIMIT 10", 7, "LIMIT is not supported");
    assert_error("ORDER BY", 8, "expected an attribute name after \"BY\", found end of query");
    assert_error("ORDER StartTime", 6, "expected BY after \"ORDER\", found \"StartTime\"");
    assert_error("ORDER BY a GROUP BY b", 11, "GROUP BY must come before ORDER BY");
    assert_error("ORDER BY a DESC x", 16, "expected \",\" or end of query, found \"x\"");
    assert_error("ORDER BY a x", 11, "expected \",\", ASC, DESC or end of query, found \"x\"");
    assert_error("GROUP BY a x", 11, "expected \",\", ORDER BY or end of query, found \"x\"");
    assert_error(
        "ORDER BY desc",
        9,
        "expected an attribute name after \"BY\", found \"desc\" (a reserved word: quote it in backticks to use it as an attribute name)",
    );
    assert_error("()", 1, "expected an attribute name, NOT or \"(\" after \"(\", found \")\"");
}

#[test]
fn an_earlier_syntax_error_wins_over_a_later_lexical_one() {
    assert_error("Id = = 'unterminated", 5, "expected a value after \"=\", found \"=\"");
}

#[test]
fn long_tokens_are_cut_in_messages() {
    let long_name = "N".repeat(100);
    let error = parse(&format!("Id = 1 {long_name}")).unwrap_err();
    assert_eq!(
        error.message,
        format!("expected AND, OR, GROUP BY, ORDER BY or end of query, found \"{}…\"", "N".repeat(40))
    );
}

#[test]
fn error_display_names_the_position() {
    let error = parse("WorkflowType = ").unwrap_err();
    assert_eq!(error.to_string(), "expected a value after \"=\", found end of query at position 15");
}

// ---- Limits ----

fn nested_parentheses(levels: usize) -> String {
    format!("{}A = 1{}", "(".repeat(levels), ")".repeat(levels))
}

#[test]
fn nesting_is_limited_like_in_temporal() {
    assert_eq!(filter(&nested_parentheses(MAX_NESTING)), equal("A", integer(1)));
    assert_error(
        &nested_parentheses(MAX_NESTING + 1),
        MAX_NESTING,
        "nested too deeply: at most 199 levels of parentheses and NOT are allowed",
    );
    let nots = "NOT ".repeat(MAX_NESTING);
    assert!(parse(&format!("{nots}A = 1")).is_ok());
    assert_error(
        &format!("{nots}NOT A = 1"),
        4 * MAX_NESTING,
        "nested too deeply: at most 199 levels of parentheses and NOT are allowed",
    );
    assert_error(
        &format!("{}NOT (A = 1)", "(".repeat(MAX_NESTING - 1)),
        MAX_NESTING + 3,
        "nested too deeply: at most 199 levels of parentheses and NOT are allowed",
    );
}

#[test]
fn hostile_nesting_is_an_error_not_a_stack_overflow() {
    assert_eq!(parse(&"(".repeat(1_000_000)).unwrap_err().position, MAX_NESTING);
    assert_eq!(parse(&"NOT ".repeat(1_000_000)).unwrap_err().position, 4 * MAX_NESTING);
}

#[test]
fn expression_depth_is_limited() {
    let chain = |predicates: usize| format!("A = 1{}", " OR A = 1".repeat(predicates - 1));
    let query = parse(&chain(MAX_EXPRESSION_DEPTH)).unwrap();
    // Whoever walks the deepest accepted tree recursively must survive it.
    let text = query.to_string();
    assert_eq!(parse(&text).as_ref(), Ok(&query));
    assert!(format!("{query:?}").len() > text.len());
    assert_error(
        &chain(MAX_EXPRESSION_DEPTH + 1),
        5 + 9 * (MAX_EXPRESSION_DEPTH - 1) + 1,
        "filter too complex: its expression tree would be more than 1000 levels deep",
    );
    assert!(parse(&chain(100_000)).is_err());
}

#[test]
fn a_long_flat_in_list_is_fine() {
    let values = vec!["'x'"; 100_000].join(",");
    let Expr::In { values, .. } = filter(&format!("A IN ({values})")) else { panic!("not IN") };
    assert_eq!(values.len(), 100_000);
}
