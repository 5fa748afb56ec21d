//! MLflow's search grammar, parsed into clauses and evaluated in Rust; no filter ever reaches
//! SQL as text. A filter is clauses joined by `AND`; a clause is `entity.key OP value`:
//!
//! - entities: `metrics`/`metric`, `params`/`param`/`parameters`, `tags`/`tag`,
//!   `attributes`/`attribute`/`attr`/`run`; keys may be quoted with backticks or double quotes;
//! - operators: `=`, `!=`, `<`, `<=`, `>`, `>=` (numbers, and strings for `=`/`!=`), `LIKE`,
//!   `ILIKE` (with `%` and `_`), `IN` and `NOT IN` (a parenthesised list of strings);
//! - values: numbers, and strings in single or double quotes.
//!
//! A run or experiment without the key never matches a clause about it. Sorting (`order_by`)
//! uses the same identifiers, optionally followed by `ASC` or `DESC`.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Number(f64),
    Text(String),
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub entity: Entity,
    pub key: String,
    pub op: Op,
    pub value: Operand,
    /// Registry searches count a missing key as "not equal" (MLflow hides prompts from model
    /// searches with `tags.mlflow.prompt.is_prompt != 'true'`); run searches never match it.
    pub missing_is_unequal: bool,
}

/// A searched thing's value for an identifier.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub entity: Entity,
    pub key: String,
    pub ascending: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Backticked(String),
    Number(f64),
    Symbol(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' || c == '`' {
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("a {c}quoted{c} string is not closed")),
                    Some(&ch) if ch == c => {
                        // A doubled quote inside a string stands for one quote.
                        if chars.get(i + 1) == Some(&c) {
                            value.push(c);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&ch) => {
                        value.push(ch);
                        i += 1;
                    }
                }
            }
            tokens.push(if c == '`' {
                Token::Backticked(value)
            } else {
                Token::Quoted(value)
            });
        } else if let Some(symbol) = ["!=", "<=", ">=", "=", "<", ">", "(", ")", ",", "."]
            .into_iter()
            .find(|s| chars[i..].starts_with(&s.chars().collect::<Vec<_>>()))
        {
            // A '.' starting a number (".5") is a number, not a separator.
            if symbol == "." && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                let (number, next) = read_number(&chars, i)?;
                tokens.push(Token::Number(number));
                i = next;
            } else {
                tokens.push(Token::Symbol(symbol));
                i += symbol.len();
            }
        } else if c.is_ascii_digit()
            || (c == '-'
                && chars
                    .get(i + 1)
                    .is_some_and(|d| d.is_ascii_digit() || *d == '.'))
        {
            let (number, next) = read_number(&chars, i)?;
            tokens.push(Token::Number(number));
            i = next;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-')) {
                i += 1;
            }
            tokens.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            return Err(format!("unexpected character '{c}'"));
        }
    }
    Ok(tokens)
}

fn read_number(chars: &[char], start: usize) -> Result<(f64, usize), String> {
    let mut end = start + 1;
    while end < chars.len()
        && (chars[end].is_ascii_digit()
            || matches!(chars[end], '.' | 'e' | 'E')
            || (matches!(chars[end], '+' | '-') && matches!(chars[end - 1], 'e' | 'E')))
    {
        end += 1;
    }
    let text: String = chars[start..end].iter().collect();
    text.parse()
        .map(|n| (n, end))
        .map_err(|_| format!("'{text}' is not a number"))
}

fn entity_of(word: &str) -> Option<Entity> {
    match word.to_ascii_lowercase().as_str() {
        "metric" | "metrics" => Some(Entity::Metric),
        "param" | "params" | "parameter" | "parameters" => Some(Entity::Param),
        "tag" | "tags" => Some(Entity::Tag),
        "attribute" | "attributes" | "attr" | "run" => Some(Entity::Attribute),
        _ => None,
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// Registry searches name attributes bare (`name = 'x'`); run searches need an entity.
    bare_attributes: bool,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    /// `entity.key`, the key a word, a quoted string or a backticked name (dots allowed).
    fn identifier(&mut self) -> Result<(Entity, String), String> {
        if self.bare_attributes
            && let Some(Token::Word(word)) = self.peek()
            && entity_of(word)
                .is_none_or(|_| self.tokens.get(self.at + 1) != Some(&Token::Symbol(".")))
        {
            let key = word.clone();
            self.at += 1;
            return Ok((Entity::Attribute, key));
        }
        let entity = match self.next() {
            Some(Token::Word(word)) => entity_of(&word).ok_or_else(|| {
                format!(
                    "'{word}' is not an entity: use metrics., params., tags. or attributes. before the key"
                )
            })?,
            other => return Err(format!("expected an identifier such as metrics.loss, found {}", describe(other.as_ref()))),
        };
        if self.next() != Some(Token::Symbol(".")) {
            return Err("expected '.' between the entity and the key".into());
        }
        let mut key = match self.next() {
            Some(Token::Word(word)) => word,
            Some(Token::Quoted(text) | Token::Backticked(text)) => return Ok((entity, text)),
            other => {
                return Err(format!(
                    "expected a key after '.', found {}",
                    describe(other.as_ref())
                ));
            }
        };
        // Unquoted keys may themselves contain dots (tags.mlflow.runName).
        while self.peek() == Some(&Token::Symbol(".")) {
            self.at += 1;
            match self.next() {
                Some(Token::Word(word)) => {
                    key.push('.');
                    key.push_str(&word);
                }
                other => {
                    return Err(format!(
                        "expected a key part after '.', found {}",
                        describe(other.as_ref())
                    ));
                }
            }
        }
        if key.is_empty() {
            return Err("a key is empty".into());
        }
        Ok((entity, key))
    }

    fn operator(&mut self) -> Result<Op, String> {
        match self.next() {
            Some(Token::Symbol("=")) => Ok(Op::Eq),
            Some(Token::Symbol("!=")) => Ok(Op::Ne),
            Some(Token::Symbol("<")) => Ok(Op::Lt),
            Some(Token::Symbol("<=")) => Ok(Op::Le),
            Some(Token::Symbol(">")) => Ok(Op::Gt),
            Some(Token::Symbol(">=")) => Ok(Op::Ge),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("like") => Ok(Op::Like),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("ilike") => Ok(Op::ILike),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => Ok(Op::In),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => match self.next() {
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => Ok(Op::NotIn),
                other => Err(format!(
                    "expected IN after NOT, found {}",
                    describe(other.as_ref())
                )),
            },
            other => Err(format!(
                "expected a comparison (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN), found {}",
                describe(other.as_ref())
            )),
        }
    }

    fn operand(&mut self, op: Op) -> Result<Operand, String> {
        if matches!(op, Op::In | Op::NotIn) {
            if self.next() != Some(Token::Symbol("(")) {
                return Err("IN needs a parenthesised list, e.g. IN ('a', 'b')".into());
            }
            let mut items = Vec::new();
            loop {
                match self.next() {
                    Some(Token::Quoted(text)) => items.push(text),
                    other => {
                        return Err(format!(
                            "IN lists hold quoted strings, found {}",
                            describe(other.as_ref())
                        ));
                    }
                }
                match self.next() {
                    Some(Token::Symbol(",")) => {}
                    Some(Token::Symbol(")")) => return Ok(Operand::List(items)),
                    other => {
                        return Err(format!(
                            "expected ',' or ')' in an IN list, found {}",
                            describe(other.as_ref())
                        ));
                    }
                }
            }
        }
        match self.next() {
            Some(Token::Number(n)) => Ok(Operand::Number(n)),
            Some(Token::Quoted(text)) => Ok(Operand::Text(text)),
            other => Err(format!(
                "expected a number or a quoted string, found {}",
                describe(other.as_ref())
            )),
        }
    }
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "the end of the filter".into(),
        Some(Token::Word(w)) => format!("'{w}'"),
        Some(Token::Quoted(t)) => format!("the string '{t}'"),
        Some(Token::Backticked(t)) => format!("`{t}`"),
        Some(Token::Number(n)) => format!("the number {n}"),
        Some(Token::Symbol(s)) => format!("'{s}'"),
    }
}

fn is_numeric_attribute(key: &str) -> bool {
    matches!(
        key,
        "start_time" | "end_time" | "creation_time" | "last_update_time" | "created"
    )
}

fn check(clause: &Clause) -> Result<(), String> {
    let name = format!("{}.{}", entity_name(clause.entity), clause.key);
    let numeric = clause.entity == Entity::Metric
        || (clause.entity == Entity::Attribute && is_numeric_attribute(&clause.key));
    match (&clause.value, clause.op, numeric) {
        (Operand::Number(_), Op::Like | Op::ILike, _) => {
            Err(format!("{name}: LIKE and ILIKE take a quoted string"))
        }
        (Operand::Number(_), _, true) => Ok(()),
        (_, _, true) => Err(format!(
            "{name} is numeric: compare it with a number using =, !=, <, <=, > or >="
        )),
        (Operand::Number(_), _, false) => Err(format!(
            "{name} is a string: compare it with a quoted string"
        )),
        (Operand::Text(_), Op::Lt | Op::Le | Op::Gt | Op::Ge, false) => Err(format!(
            "{name} is a string: use =, !=, LIKE, ILIKE, IN or NOT IN"
        )),
        _ => Ok(()),
    }
}

fn entity_name(entity: Entity) -> &'static str {
    match entity {
        Entity::Metric => "metrics",
        Entity::Param => "params",
        Entity::Tag => "tags",
        Entity::Attribute => "attributes",
    }
}

/// Parses a run or experiment filter; the error says what is wrong and where.
pub fn parse_filter(text: &str) -> Result<Vec<Clause>, String> {
    parse_clauses(text, false)
}

/// Parses a model registry filter, whose attributes are named bare: `name LIKE 'digits%'`.
pub fn parse_registry_filter(text: &str) -> Result<Vec<Clause>, String> {
    parse_clauses(text, true)
}

fn parse_clauses(text: &str, bare_attributes: bool) -> Result<Vec<Clause>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
        bare_attributes,
    };
    let mut clauses = Vec::new();
    loop {
        let (entity, key) = parser.identifier()?;
        let op = parser.operator()?;
        let value = parser.operand(op)?;
        let clause = Clause {
            entity,
            key,
            op,
            value,
            missing_is_unequal: bare_attributes,
        };
        check(&clause)?;
        clauses.push(clause);
        match parser.next() {
            None => return Ok(clauses),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("and") => {}
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("or") => {
                return Err("OR is not supported: clauses are joined with AND".into());
            }
            other => {
                return Err(format!(
                    "expected AND between clauses, found {}",
                    describe(other.as_ref())
                ));
            }
        }
    }
}

/// Parses one `order_by` entry: an identifier, then optionally `ASC` or `DESC`.
pub fn parse_order_by(text: &str, bare_attributes: bool) -> Result<SortKey, String> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
        bare_attributes,
    };
    let (entity, key) = parser.identifier()?;
    let ascending = if parser.keyword("desc") {
        parser.at += 1;
        false
    } else {
        if parser.keyword("asc") {
            parser.at += 1;
        }
        true
    };
    match parser.next() {
        None => Ok(SortKey {
            entity,
            key,
            ascending,
        }),
        other => Err(format!(
            "expected ASC or DESC at the end, found {}",
            describe(other.as_ref())
        )),
    }
}

/// SQL LIKE: `%` any run of characters, `_` any one character. Dynamic programming over
/// (pattern, text) prefixes, so no pattern can make it take more than their product in steps.
fn like(pattern: &[char], text: &[char]) -> bool {
    // matched[j]: the pattern so far matches the first j characters of the text.
    let mut matched = vec![false; text.len() + 1];
    matched[0] = true;
    for p in pattern {
        let mut next = vec![false; text.len() + 1];
        match p {
            '%' => {
                let mut any = false;
                for j in 0..=text.len() {
                    any |= matched[j];
                    next[j] = any;
                }
            }
            _ => {
                for j in 0..text.len() {
                    next[j + 1] = matched[j] && (*p == '_' || *p == text[j]);
                }
            }
        }
        matched = next;
    }
    matched[text.len()]
}

impl Clause {
    /// Whether the thing whose fields `lookup` reads satisfies this clause.
    pub fn matches(&self, lookup: &dyn Fn(Entity, &str) -> Option<Field>) -> bool {
        let Some(field) = lookup(self.entity, &self.key) else {
            return self.missing_is_unequal && matches!(self.op, Op::Ne | Op::NotIn);
        };
        match (&field, &self.value) {
            (Field::Number(have), Operand::Number(want)) => match self.op {
                Op::Eq => have == want,
                Op::Ne => have != want,
                Op::Lt => have < want,
                Op::Le => have <= want,
                Op::Gt => have > want,
                Op::Ge => have >= want,
                _ => false,
            },
            (Field::Text(have), Operand::Text(want)) => match self.op {
                Op::Eq => have == want,
                Op::Ne => have != want,
                Op::Like => like(
                    &want.chars().collect::<Vec<_>>(),
                    &have.chars().collect::<Vec<_>>(),
                ),
                Op::ILike => like(
                    &want.to_lowercase().chars().collect::<Vec<_>>(),
                    &have.to_lowercase().chars().collect::<Vec<_>>(),
                ),
                _ => false,
            },
            (Field::Text(have), Operand::List(items)) => {
                let found = items.iter().any(|item| item == have);
                if self.op == Op::In { found } else { !found }
            }
            _ => false,
        }
    }
}

impl SortKey {
    /// An attribute key, as the tie-breaks every search appends.
    pub fn attribute(key: &str, ascending: bool) -> Self {
        Self {
            entity: Entity::Attribute,
            key: key.to_owned(),
            ascending,
        }
    }
}

/// The items every clause matches, ordered by `order`; `field` reads an item's value for an
/// identifier.
pub fn select<T>(
    items: Vec<T>,
    clauses: &[Clause],
    order: &[SortKey],
    field: impl Fn(&T, Entity, &str) -> Option<Field>,
) -> Vec<T> {
    let mut kept: Vec<T> = items
        .into_iter()
        .filter(|item| {
            clauses
                .iter()
                .all(|clause| clause.matches(&|entity, key| field(item, entity, key)))
        })
        .collect();
    kept.sort_by(|a, b| {
        order
            .iter()
            .map(|key| {
                compare(
                    field(a, key.entity, &key.key).as_ref(),
                    field(b, key.entity, &key.key).as_ref(),
                    key.ascending,
                )
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    kept
}

/// Orders two things by a sort key; things without the key come last either way.
pub fn compare(a: Option<&Field>, b: Option<&Field>, ascending: bool) -> Ordering {
    let ordered = |x: &Field, y: &Field| match (x, y) {
        (Field::Number(x), Field::Number(y)) => x.total_cmp(y),
        (Field::Text(x), Field::Text(y)) => x.cmp(y),
        (Field::Number(_), Field::Text(_)) => Ordering::Less,
        (Field::Text(_), Field::Number(_)) => Ordering::Greater,
    };
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) if ascending => ordered(x, y),
        (Some(x), Some(y)) => ordered(y, x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run_fields(entity: Entity, key: &str) -> Option<Field> {
        match (entity, key) {
            (Entity::Metric, "acc") => Some(Field::Number(0.9)),
            (Entity::Param, "lr") => Some(Field::Text("0.01".into())),
            (Entity::Tag, "mlflow.runName") => Some(Field::Text("Baseline-1".into())),
            (Entity::Attribute, "status") => Some(Field::Text("FINISHED".into())),
            (Entity::Attribute, "start_time") => Some(Field::Number(1000.0)),
            _ => None,
        }
    }

    fn matches(filter: &str) -> bool {
        parse_filter(filter)
            .unwrap()
            .iter()
            .all(|clause| clause.matches(&run_fields))
    }

    #[test]
    fn clauses_compare_metrics_params_tags_and_attributes() {
        assert!(matches("metrics.acc > 0.5 and params.lr = '0.01'"));
        assert!(!matches("metrics.acc < 0.5"));
        assert!(matches(
            "metrics.acc >= .9 AND attributes.start_time <= 1000"
        ));
        assert!(matches("tags.mlflow.runName LIKE 'Base%'"));
        assert!(matches("tags.`mlflow.runName` ILIKE 'base%1'"));
        assert!(!matches("tags.\"mlflow.runName\" LIKE 'base%'"));
        assert!(matches("attributes.status IN ('FINISHED', 'FAILED')"));
        assert!(matches("run.status NOT IN ('RUNNING')"));
        assert!(matches("params.lr != '0.1'"));
        // A run without the key never matches, even for !=.
        assert!(!matches("metrics.missing != 1"));
        assert!(matches(""));
    }

    #[test]
    fn malformed_filters_say_what_is_wrong() {
        for (filter, expected) in [
            ("acc > 1", "'acc' is not an entity"),
            ("metrics.acc > 'high'", "metrics.acc is numeric"),
            ("params.lr > '1'", "params.lr is a string"),
            ("params.lr = 1", "params.lr is a string"),
            ("metrics.acc > 1 or metrics.acc < 0", "OR is not supported"),
            ("metrics.acc >", "found the end of the filter"),
            ("tags.x = 'open", "is not closed"),
            ("metrics.acc ~ 1", "unexpected character '~'"),
            ("tags.x IN 'a'", "parenthesised list"),
            ("metrics.acc > 1 metrics.b < 2", "expected AND"),
        ] {
            let error = parse_filter(filter).unwrap_err();
            assert!(error.contains(expected), "{filter}: {error}");
        }
    }

    #[test]
    fn registry_filters_name_attributes_bare() {
        let clauses = parse_registry_filter("name = 'digits' and tags.stage = 'prod'").unwrap();
        assert_eq!(clauses[0].entity, Entity::Attribute);
        assert_eq!(clauses[0].key, "name");
        assert_eq!(clauses[1].entity, Entity::Tag);
        assert!(parse_registry_filter("name LIKE").is_err());
        let hide_prompts =
            parse_registry_filter("tags.`mlflow.prompt.is_prompt` != 'true'").unwrap();
        assert!(hide_prompts[0].matches(&|_, _| None));
        assert!(!parse_filter("tags.x != 'true'").unwrap()[0].matches(&|_, _| None));
        assert_eq!(parse_order_by("name DESC", true).unwrap().key, "name");
    }

    #[test]
    fn order_by_takes_an_identifier_and_a_direction() {
        let key = parse_order_by("metrics.acc DESC", false).unwrap();
        assert_eq!(
            (key.entity, key.key.as_str(), key.ascending),
            (Entity::Metric, "acc", false)
        );
        assert!(
            parse_order_by("attributes.start_time", false)
                .unwrap()
                .ascending
        );
        assert!(parse_order_by("metrics.acc sideways", false).is_err());
        let (high, low) = (Field::Number(2.0), Field::Number(1.0));
        assert_eq!(compare(Some(&high), Some(&low), false), Ordering::Less);
        assert_eq!(compare(None, Some(&low), false), Ordering::Greater);
        assert_eq!(compare(None, Some(&low), true), Ordering::Greater);
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,80}") {
            let _ = parse_filter(&text);
            let _ = parse_order_by(&text, true);
            let _ = parse_registry_filter(&text);
        }

        #[test]
        fn like_agrees_with_equality_when_the_pattern_has_no_wildcards(text in "[a-z.]{0,12}", other in "[a-z.]{0,12}") {
            let chars: Vec<char> = text.chars().collect();
            let others: Vec<char> = other.chars().collect();
            prop_assert!(like(&chars, &chars));
            prop_assert_eq!(like(&chars, &others), text == other);
            let mut wild = vec!['%'];
            wild.extend(&chars);
            wild.push('%');
            prop_assert!(like(&wild, &chars));
        }
    }
}
