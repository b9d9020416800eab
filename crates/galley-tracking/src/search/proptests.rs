//! Property tests for the search grammar: no input panics, rendered ASTs parse back to
//! themselves, and keywords are case-insensitive.

use proptest::prelude::*;

use super::ast::{Comparator, Comparison, EntityKind, OrderBy, Value};
use super::{
    parse_experiment_filter, parse_experiment_order_by, parse_run_filter, parse_run_order_by,
};

const NUMERIC: [Comparator; 6] = [
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Lt,
    Comparator::Le,
    Comparator::Gt,
    Comparator::Ge,
];
const STRING: [Comparator; 4] = [
    Comparator::Eq,
    Comparator::NotEq,
    Comparator::Like,
    Comparator::ILike,
];
const LIST: [Comparator; 2] = [Comparator::In, Comparator::NotIn];

/// How to spell the parts of a rendered filter that may vary without changing its meaning.
#[derive(Debug, Clone)]
struct Style {
    /// Consumed one per keyword letter: true writes it in lower case.
    lower: Vec<bool>,
    /// Consumed one per gap between tokens.
    gaps: Vec<String>,
    /// Picks among the spellings of a prefix or attribute alias.
    pick: Vec<usize>,
}

/// Test-only renderer: keys in backticks, strings in single quotes, numbers via `Display`
/// (which prints the shortest text that reads back as the same f64).
struct Renderer {
    style: Style,
    lower_at: usize,
    gap_at: usize,
    pick_at: usize,
}

impl Renderer {
    fn new(style: Style) -> Self {
        Renderer {
            style,
            lower_at: 0,
            gap_at: 0,
            pick_at: 0,
        }
    }

    fn keyword(&mut self, word: &str) -> String {
        word.chars()
            .map(|c| {
                let lower = self.style.lower[self.lower_at % self.style.lower.len()];
                self.lower_at += 1;
                if lower {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect()
    }

    fn gap(&mut self) -> String {
        let gap = self.style.gaps[self.gap_at % self.style.gaps.len()].clone();
        self.gap_at += 1;
        gap
    }

    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        let choice = self.style.pick[self.pick_at % self.style.pick.len()];
        self.pick_at += 1;
        options[choice % options.len()]
    }

    fn name(&mut self, kind: EntityKind, key: &str, experiments: bool) -> String {
        let prefixes: &[&str] = match (kind, experiments) {
            (EntityKind::Metric, _) => &["metrics", "metric"],
            (EntityKind::Param, _) => &["params", "param", "parameters", "parameter"],
            (EntityKind::Tag, _) => &["tags", "tag"],
            (EntityKind::Attribute, false) => &["", "attributes", "attribute", "attr", "run"],
            (EntityKind::Attribute, true) => &["", "attribute"],
            (EntityKind::Dataset, _) => &["datasets", "dataset"],
        };
        let prefix = self.pick(prefixes);
        let key = if kind == EntityKind::Attribute && !experiments {
            match key {
                "start_time" => self.pick(&["start_time", "created", "Created"]).to_string(),
                "run_name" => self
                    .pick(&["run_name", "run name", "Run name", "Run Name"])
                    .to_string(),
                _ => key.to_string(),
            }
        } else {
            key.to_string()
        };
        let quoted = format!("`{}`", key.replace('`', "``"));
        if prefix.is_empty() {
            quoted
        } else {
            format!("{prefix}.{quoted}")
        }
    }

    fn comparator(&mut self, comparator: Comparator) -> String {
        match comparator {
            Comparator::Eq => "=".into(),
            Comparator::NotEq => "!=".into(),
            Comparator::Lt => "<".into(),
            Comparator::Le => "<=".into(),
            Comparator::Gt => ">".into(),
            Comparator::Ge => ">=".into(),
            Comparator::Like => self.keyword("LIKE"),
            Comparator::ILike => self.keyword("ILIKE"),
            Comparator::In => self.keyword("IN"),
            Comparator::NotIn => {
                let not = self.keyword("NOT");
                let gap = self.gap();
                let keyword = self.keyword("IN");
                format!("{not}{gap}{keyword}")
            }
        }
    }

    fn value(&mut self, value: &Value) -> String {
        match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => string_literal(s),
            Value::List(items) => {
                let mut out = String::from("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        out.push_str(&self.gap());
                    }
                    out.push_str(&string_literal(item));
                }
                out.push(')');
                out
            }
        }
    }

    fn filter(&mut self, comparisons: &[Comparison], experiments: bool) -> String {
        let mut out = self.gap();
        for (i, c) in comparisons.iter().enumerate() {
            if i > 0 {
                let and = self.keyword("AND");
                out.push_str(&and);
                out.push_str(&self.gap());
            }
            out.push_str(&self.name(c.kind, &c.key, experiments));
            out.push_str(&self.gap());
            out.push_str(&self.comparator(c.comparator));
            out.push_str(&self.gap());
            out.push_str(&self.value(&c.value));
            out.push_str(&self.gap());
        }
        out
    }

    fn order_by(&mut self, order: &OrderBy, experiments: bool) -> String {
        let mut out = self.gap();
        out.push_str(&self.name(order.kind, &order.key, experiments));
        let direction = if !order.ascending {
            "DESC"
        } else {
            self.pick(&["", "ASC"])
        };
        if !direction.is_empty() {
            out.push_str(&self.gap());
            out.push_str(&self.keyword(direction));
        }
        out.push_str(&self.gap());
        out
    }
}

fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

fn render_filter(comparisons: &[Comparison], experiments: bool, style: Style) -> String {
    Renderer::new(style).filter(comparisons, experiments)
}

fn render_order_by(order: &OrderBy, experiments: bool, style: Style) -> String {
    Renderer::new(style).order_by(order, experiments)
}

fn style() -> impl Strategy<Value = Style> {
    (
        prop::collection::vec(any::<bool>(), 1..16),
        prop::collection::vec("[ \t\n\r]{1,3}", 1..8),
        prop::collection::vec(0usize..8, 1..8),
    )
        .prop_map(|(lower, gaps, pick)| Style { lower, gaps, pick })
}

/// The style that writes keywords in upper case with single spaces.
fn plain_style() -> Style {
    Style {
        lower: vec![false],
        gaps: vec![" ".into()],
        pick: vec![0],
    }
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_.]{0,10}",
        "[a `'\"\\\\.\\-]{1,8}",
        any::<String>().prop_filter("keys are non-empty", |k| !k.is_empty()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9%_]{0,10}", "[a `'\"\\\\]{0,8}", any::<String>()]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-10_000i32..10_000).prop_map(f64::from),
        any::<f64>().prop_filter("finite", |n| n.is_finite()),
    ]
}

fn list() -> impl Strategy<Value = Value> {
    prop::collection::vec(text(), 1..4).prop_map(Value::List)
}

fn comparison(
    kind: EntityKind,
    key: impl Strategy<Value = String>,
    comparators: &'static [Comparator],
    value: impl Strategy<Value = Value>,
) -> impl Strategy<Value = Comparison> {
    (key, prop::sample::select(comparators), value).prop_map(move |(key, comparator, value)| {
        Comparison {
            kind,
            key,
            comparator,
            value,
        }
    })
}

fn fixed(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(keys).prop_map(str::to_string)
}

fn run_comparison() -> impl Strategy<Value = Comparison> {
    let numeric = || number().prop_map(Value::Number);
    let string = || text().prop_map(Value::String);
    prop_oneof![
        comparison(EntityKind::Metric, key(), &NUMERIC, numeric()),
        comparison(EntityKind::Param, key(), &STRING, string()),
        comparison(EntityKind::Tag, key(), &STRING, string()),
        comparison(
            EntityKind::Attribute,
            fixed(&["run_id", "run_name", "status", "user_id", "artifact_uri"]),
            &STRING,
            string(),
        ),
        comparison(
            EntityKind::Attribute,
            fixed(&["start_time", "end_time"]),
            &NUMERIC,
            numeric(),
        ),
        comparison(EntityKind::Attribute, fixed(&["run_id"]), &LIST, list()),
        comparison(
            EntityKind::Dataset,
            fixed(&["name", "digest", "context"]),
            &STRING,
            string(),
        ),
        comparison(
            EntityKind::Dataset,
            fixed(&["name", "digest", "context"]),
            &LIST,
            list(),
        ),
    ]
}

fn experiment_comparison() -> impl Strategy<Value = Comparison> {
    prop_oneof![
        comparison(
            EntityKind::Attribute,
            fixed(&["name"]),
            &STRING,
            text().prop_map(Value::String),
        ),
        comparison(
            EntityKind::Attribute,
            fixed(&["creation_time", "last_update_time"]),
            &NUMERIC,
            number().prop_map(Value::Number),
        ),
        comparison(
            EntityKind::Tag,
            key(),
            &STRING,
            text().prop_map(Value::String)
        ),
    ]
}

fn order(kind: EntityKind, key: impl Strategy<Value = String>) -> impl Strategy<Value = OrderBy> {
    (key, any::<bool>()).prop_map(move |(key, ascending)| OrderBy {
        kind,
        key,
        ascending,
    })
}

fn run_order_by() -> impl Strategy<Value = OrderBy> {
    prop_oneof![
        order(EntityKind::Metric, key()),
        order(EntityKind::Param, key()),
        order(EntityKind::Tag, key()),
        order(
            EntityKind::Attribute,
            fixed(&[
                "run_id",
                "run_name",
                "status",
                "user_id",
                "artifact_uri",
                "start_time",
                "end_time",
            ]),
        ),
    ]
}

fn experiment_order_by() -> impl Strategy<Value = OrderBy> {
    order(
        EntityKind::Attribute,
        fixed(&["name", "experiment_id", "creation_time", "last_update_time"]),
    )
}

/// Text made of pieces of the grammar, so that random inputs reach past the tokenizer.
fn grammar_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "metrics.acc",
            "params.p",
            "tags.`t`",
            "run_id",
            "created",
            "name",
            "datasets.name",
            "attributes.",
            "`",
            "'",
            "\"",
            "(",
            ")",
            ",",
            ".",
            "-",
            "=",
            "!=",
            "<",
            ">=",
            ">>",
            "AND",
            "and",
            "OR",
            "NOT",
            "IN",
            "LIKE",
            "ILIKE",
            "ASC",
            "DESC",
            "1",
            "-2.5e3",
            "'x'",
            "\"y\"",
            "('a', 'b')",
            " ",
            "\t",
            "\\",
            "é",
            ";",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        let _ = parse_run_filter(&input);
        let _ = parse_run_order_by(&input);
        let _ = parse_experiment_filter(&input);
        let _ = parse_experiment_order_by(&input);
    }

    #[test]
    fn grammar_soup_never_panics(input in grammar_soup()) {
        let _ = parse_run_filter(&input);
        let _ = parse_run_order_by(&input);
        let _ = parse_experiment_filter(&input);
        let _ = parse_experiment_order_by(&input);
    }

    #[test]
    fn run_filters_round_trip(
        comparisons in prop::collection::vec(run_comparison(), 0..5),
        style in style(),
    ) {
        let text = render_filter(&comparisons, false, style);
        prop_assert_eq!(parse_run_filter(&text), Ok(comparisons), "filter: {:?}", text);
    }

    #[test]
    fn experiment_filters_round_trip(
        comparisons in prop::collection::vec(experiment_comparison(), 0..5),
        style in style(),
    ) {
        let text = render_filter(&comparisons, true, style);
        prop_assert_eq!(parse_experiment_filter(&text), Ok(comparisons), "filter: {:?}", text);
    }

    #[test]
    fn run_order_by_round_trips(order in run_order_by(), style in style()) {
        let text = render_order_by(&order, false, style);
        prop_assert_eq!(parse_run_order_by(&text), Ok(order), "order_by: {:?}", text);
    }

    #[test]
    fn experiment_order_by_round_trips(order in experiment_order_by(), style in style()) {
        let text = render_order_by(&order, true, style);
        prop_assert_eq!(parse_experiment_order_by(&text), Ok(order), "order_by: {:?}", text);
    }

    #[test]
    fn keyword_case_does_not_matter(
        comparisons in prop::collection::vec(run_comparison(), 1..5),
        order in run_order_by(),
        lower in prop::collection::vec(any::<bool>(), 1..16),
    ) {
        let recased = Style { lower, ..plain_style() };
        let upper_filter = render_filter(&comparisons, false, plain_style());
        let mixed_filter = render_filter(&comparisons, false, recased.clone());
        prop_assert_eq!(parse_run_filter(&upper_filter), Ok(comparisons.clone()));
        prop_assert_eq!(parse_run_filter(&mixed_filter), Ok(comparisons), "{:?}", mixed_filter);
        let upper_order = render_order_by(&order, false, plain_style());
        let mixed_order = render_order_by(&order, false, recased);
        prop_assert_eq!(parse_run_order_by(&upper_order), Ok(order.clone()));
        prop_assert_eq!(parse_run_order_by(&mixed_order), Ok(order), "{:?}", mixed_order);
    }
}

#[test]
fn renderer_output_looks_like_mlflow() {
    let comparisons = vec![
        Comparison {
            kind: EntityKind::Metric,
            key: "acc".into(),
            comparator: Comparator::Ge,
            value: Value::Number(0.5),
        },
        Comparison {
            kind: EntityKind::Tag,
            key: "a`b".into(),
            comparator: Comparator::NotIn,
            value: Value::List(vec!["it's".into(), "c:\\".into()]),
        },
    ];
    assert_eq!(
        render_filter(&comparisons, false, plain_style()),
        " metrics.`acc` >= 0.5 AND tags.`a``b` NOT IN ('it''s', 'c:\\\\') "
    );
}
