//! The join against a plain reference: for every entity row, a loop over every source row.
//! Random small tables, nulls everywhere they may be, with and without spilling.

mod common;

use common::*;
use galley_features_offline::{JoinOptions, OfflineSource, ViewJoin};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct SourceRow {
    key: Option<i64>,
    ts: Option<i64>,
    created: Option<i64>,
}

/// The documented rule, written as plainly as it reads.
fn reference(
    entity: &[(Option<i64>, i64)],
    rows: &[SourceRow],
    ttl: Option<i64>,
    cutoff: bool,
) -> Vec<Option<i64>> {
    entity
        .iter()
        .map(|&(key, time)| {
            let key = key?;
            let mut best: Option<(i64, i64, usize)> = None;
            for (i, row) in rows.iter().enumerate() {
                let (Some(k), Some(ts)) = (row.key, row.ts) else {
                    continue;
                };
                let created = row.created.unwrap_or(i64::MIN);
                if k != key || ts > time {
                    continue;
                }
                if let Some(ttl) = ttl.filter(|&t| t > 0) {
                    if ts < time - ttl {
                        continue;
                    }
                }
                if cutoff && created > time {
                    continue;
                }
                let candidate = (ts, created, i);
                if best.is_none_or(|b| candidate > b) {
                    best = Some(candidate);
                }
            }
            best.map(|(_, _, i)| i as i64)
        })
        .collect()
}

fn source_table(rows: &[SourceRow]) -> OfflineSource {
    source(
        "random",
        vec![
            (
                "driver_id",
                i32s(
                    &rows
                        .iter()
                        .map(|r| r.key.map(|k| k as i32))
                        .collect::<Vec<_>>(),
                ),
            ),
            ("name", names(rows.iter().map(|r| r.key))),
            ("ts", ns(&rows.iter().map(|r| r.ts).collect::<Vec<_>>())),
            (
                "created",
                // In seconds, so the join converts units on one side.
                secs(
                    &rows
                        .iter()
                        .map(|r| r.created.map(|c| c / S))
                        .collect::<Vec<_>>(),
                ),
            ),
            (
                "row",
                i64s(&(0..rows.len() as i64).map(Some).collect::<Vec<_>>()),
            ),
        ],
    )
}

/// The key again as text, so the same answer must come through hashed string keys.
fn names(keys: impl Iterator<Item = Option<i64>>) -> arrow_array::ArrayRef {
    let names: Vec<Option<String>> = keys.map(|k| k.map(|k| format!("k{k}"))).collect();
    strs(&names.iter().map(|n| n.as_deref()).collect::<Vec<_>>())
}

/// The join's answer by integer key, by string key and by both.
fn run(
    entity_rows: &[(Option<i64>, i64)],
    rows: &[SourceRow],
    ttl: Option<i64>,
    cutoff: bool,
    budget: usize,
    entity_rows_per_pass: Option<usize>,
) -> Vec<Option<i64>> {
    let frame = entity(vec![
        (
            "driver_id",
            i64s(&entity_rows.iter().map(|e| e.0).collect::<Vec<_>>()),
        ),
        ("name", names(entity_rows.iter().map(|e| e.0))),
        (
            "event_timestamp",
            ns(&entity_rows.iter().map(|e| Some(e.1)).collect::<Vec<_>>()),
        ),
    ]);
    let source = source_table(rows);
    let with_ttl = |mut v: ViewJoin| {
        v.ttl_ns = ttl;
        v
    };
    let by_id = with_ttl(view("v", &["driver_id"], None, &[("row", "row")]));
    let by_name = with_ttl(view("n", &["name"], None, &[("row", "row_n")]));
    let by_both = with_ttl(view("b", &["name", "driver_id"], None, &[("row", "row_b")]));
    let dir = tempfile::tempdir().unwrap();
    let out = join(
        &frame,
        &[(&source, &by_id), (&source, &by_name), (&source, &by_both)],
        &JoinOptions {
            created_cutoff: cutoff,
            memory_budget_bytes: budget,
            spill_dir: dir.path().to_path_buf(),
            entity_rows_per_pass,
        },
    )
    .unwrap();
    let answer = i64_column(&out, "row");
    assert_eq!(i64_column(&out, "row_n"), answer, "by string key");
    assert_eq!(i64_column(&out, "row_b"), answer, "by both keys");
    answer
}

fn entity_rows() -> impl Strategy<Value = Vec<(Option<i64>, i64)>> {
    prop::collection::vec((prop::option::weighted(0.9, 0i64..5), 0i64..30 * S), 0..40)
}

fn source_rows() -> impl Strategy<Value = Vec<SourceRow>> {
    // Times on a coarse grid (whole seconds, and few of them) so ties are common; created
    // times are whole seconds, as the column's unit is.
    prop::collection::vec(
        (
            prop::option::weighted(0.9, 0i64..6),
            prop::option::weighted(0.9, 0i64..30),
            prop::option::weighted(0.7, 0i64..40),
        )
            .prop_map(|(key, ts, created)| SourceRow {
                key,
                ts: ts.map(|t| t * S),
                created: created.map(|c| c * S),
            }),
        0..80,
    )
}

fn ttls() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        Just(None),
        Just(Some(0)),
        (0i64..12).prop_map(|t| Some(t * S)),
        (0i64..12 * S).prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_join_agrees_with_the_reference(
        entity_rows in entity_rows(),
        rows in source_rows(),
        ttl in ttls(),
        cutoff in any::<bool>(),
        spill in any::<bool>(),
        passes in prop::option::of(1usize..8),
    ) {
        // A budget of nothing makes every record its own spilled run; a few entity rows per
        // pass make the answer cross pass boundaries inside and between batches.
        let budget = if spill { 0 } else { 1 << 20 };
        let expected = reference(&entity_rows, &rows, ttl, cutoff);
        prop_assert_eq!(run(&entity_rows, &rows, ttl, cutoff, budget, passes), expected);
    }
}

/// More rows than one batch (8,192) on both sides, so positions cross batch boundaries.
#[test]
fn several_batches_agree_with_the_reference() {
    let mut seed = 0x1234_5678_u64;
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let rows: Vec<SourceRow> = (0..20_000)
        .map(|_| SourceRow {
            key: Some(next(300) as i64),
            ts: Some(next(1_000) as i64 * S),
            created: (next(4) > 0).then(|| next(1_000) as i64 * S),
        })
        .collect();
    let entity_rows: Vec<(Option<i64>, i64)> = (0..9_000)
        .map(|_| (Some(next(320) as i64), next(1_100) as i64 * S))
        .collect();
    for (ttl, cutoff, budget, passes) in [
        (Some(50 * S), false, 1 << 24, None),
        (None, true, 1 << 24, Some(5_000)),
        (Some(200 * S), true, 64 * 1024, Some(1_000)),
    ] {
        assert_eq!(
            run(&entity_rows, &rows, ttl, cutoff, budget, passes),
            reference(&entity_rows, &rows, ttl, cutoff),
            "ttl {ttl:?}, cutoff {cutoff}, budget {budget}, passes of {passes:?} rows"
        );
    }
}
