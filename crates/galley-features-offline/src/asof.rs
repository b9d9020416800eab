//! The point-in-time join: for every entity row and feature view, the latest feature row at or
//! before the row's time and within the view's ttl, as a sort-merge as-of join.
//!
//! The entity dataframe is read once for its keys and times; its distinct keys per view become
//! dense ids, and its rows are ordered by (key id, time). Each view's source is then streamed
//! for keys and times only: rows whose key no entity row has, or whose time no entity row can
//! use, are dropped on the spot, and the rest become fixed-width records sorted by (key id, the
//! time from which they are candidates), spilling sorted runs past the memory budget. One merge
//! of the two sorted sides gives each entity row its winning source row; a second streaming
//! pass over the source takes the winners' feature values. The answer streams the entity
//! dataframe again with the features taken into place. An entity dataframe longer than a pass
//! (sized by the budget) is joined pass by pass, so memory follows the budget, not the sources
//! nor the entity dataframe.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::{new_null_array, Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{Field, Schema, SchemaRef};
use galley_tables::Table;

use crate::error::OfflineError;
use crate::keys::{check_same_kinds, key_kinds, BatchKeys, KeyInterner, KeyLookup};
use crate::runs::{Record, Sorter};
use crate::source::{OfflineSource, SourceBatches};
use crate::times::{is_time, nanos, NULL_TIME};

const ENTITY: &str = "the entity dataframe";

/// The entity dataframe: join keys, an event time per row, and anything else (labels), kept.
pub struct EntityFrame {
    pub table: Table,
    pub timestamp_column: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureColumn {
    pub source_column: String,
    pub output_name: String,
}

/// One feature view's part of a join; its source is passed beside it, so views on one source
/// share the opened files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewJoin {
    pub name: String,
    /// Columns present, under these names, in both the source and the entity dataframe.
    pub join_keys: Vec<String>,
    pub timestamp_column: String,
    pub created_column: Option<String>,
    /// How far before an entity row's time a feature row may be; `None` or 0 for no limit.
    pub ttl_ns: Option<i64>,
    pub features: Vec<FeatureColumn>,
}

#[derive(Clone, Debug)]
pub struct JoinOptions {
    /// Feature rows created after the entity row's time are not candidates (no backfill
    /// leaks into the past); otherwise the created time only breaks ties.
    pub created_cutoff: bool,
    /// Bytes the sort of the feature side may hold, over all views; beyond it sorted runs go
    /// to files in `spill_dir`.
    pub memory_budget_bytes: usize,
    pub spill_dir: PathBuf,
    /// Entity rows joined per pass: a longer entity dataframe is joined in passes, each
    /// reading the sources again, so its length does not bound memory either. `None`: as many
    /// as about the memory budget again holds.
    pub entity_rows_per_pass: Option<usize>,
}

impl Default for JoinOptions {
    fn default() -> Self {
        Self {
            created_cutoff: false,
            memory_budget_bytes: 1 << 30,
            spill_dir: std::env::temp_dir(),
            entity_rows_per_pass: None,
        }
    }
}

/// Entity rows a pass holds when `entity_rows_per_pass` is not set: what the memory budget
/// buys at about this many bytes per row and view (key id, time, order, winner, index).
const ENTITY_BYTES_PER_ROW_AND_VIEW: usize = 64;
/// A pass the budget sizes is never smaller than this: each pass reads the sources again.
const MIN_DERIVED_ROWS_PER_PASS: usize = 1 << 16;
/// Entity rows are numbered with `u32` within a pass (`NO_KEY` is the largest).
const MAX_ROWS_PER_PASS: usize = u32::MAX as usize - 1;

/// The training set, streamed: the entity dataframe's batches, in order, each with the views'
/// features appended. An entity dataframe longer than a pass is joined pass by pass as the
/// answer is read.
pub struct Joined<'a> {
    schema: SchemaRef,
    views: &'a [(&'a OfflineSource, &'a ViewJoin)],
    options: &'a JoinOptions,
    timestamp_column: &'a str,
    rows_per_pass: usize,
    /// The entity dataframe's times and keys, read a pass ahead of `rows`.
    keys: EntityKeyColumns,
    /// The entity dataframe's every column, for the answer.
    rows: RowWindows,
    /// Rows of the entity dataframe before this pass.
    passed: usize,
    pass: Vec<ViewOutput>,
    pass_rows: usize,
    /// Rows of this pass already answered.
    offset: usize,
    failed: bool,
}

impl Joined<'_> {
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Joins the next `rows_per_pass` entity rows; false when none are left.
    fn next_pass(&mut self) -> Result<bool, OfflineError> {
        self.passed += self.pass_rows;
        // The last pass's memory goes before the next pass takes its own.
        self.pass = Vec::new();
        self.pass_rows = 0;
        self.offset = 0;
        let side = EntitySide::read(
            &mut self.keys,
            self.rows_per_pass,
            self.passed,
            self.timestamp_column,
        )?;
        if side.times.is_empty() {
            return Ok(false);
        }
        self.pass = join_views(&side, self.views, self.options)?;
        self.pass_rows = side.times.len();
        Ok(true)
    }

    fn answer(&mut self, batch: RecordBatch) -> Result<RecordBatch, OfflineError> {
        let rows = batch.num_rows();
        let mut columns = batch.columns().to_vec();
        for view in &self.pass {
            let indices = view.index.slice(self.offset, rows);
            for values in &view.values {
                columns.push(arrow_select::take::take(values, &indices, None)?);
            }
        }
        self.offset += rows;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

impl Iterator for Joined<'_> {
    type Item = Result<RecordBatch, OfflineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let answer = loop {
            if self.offset == self.pass_rows {
                match self.next_pass() {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => break Err(e),
                }
            }
            match self.rows.next(self.pass_rows - self.offset)? {
                Ok(batch) if batch.num_rows() == 0 => continue,
                Ok(batch) => break self.answer(batch),
                Err(e) => break Err(e),
            }
        };
        self.failed = answer.is_err();
        Some(answer)
    }
}

/// Batches of a stream taken at most `max_rows` at a time: a longer batch is split and its
/// rest held for the next call.
struct RowWindows {
    batches: SourceBatches,
    held: Option<RecordBatch>,
}

impl RowWindows {
    fn new(batches: SourceBatches) -> Self {
        Self {
            batches,
            held: None,
        }
    }

    /// `max_rows` must not be 0.
    fn next(&mut self, max_rows: usize) -> Option<Result<RecordBatch, OfflineError>> {
        let batch = match self.held.take() {
            Some(batch) => batch,
            None => match self.batches.next()? {
                Ok(batch) => batch,
                Err(e) => return Some(Err(e)),
            },
        };
        if batch.num_rows() <= max_rows {
            return Some(Ok(batch));
        }
        self.held = Some(batch.slice(max_rows, batch.num_rows() - max_rows));
        Some(Ok(batch.slice(0, max_rows)))
    }
}

/// One feature view's features for every entity row of a pass: `values[f]` holds a null then
/// each winning source row's value once, and `index[row]` points into it (0 where nothing
/// matched).
struct ViewOutput {
    index: UInt32Array,
    values: Vec<ArrayRef>,
}

/// Every entity row with, per view, its keys' latest feature values at or before its time
/// (ties on time to the later created row, then to the later row of the source) within the
/// view's ttl, or nulls. Rows are neither dropped nor merged, duplicates included. The first
/// pass is done before this returns (so bad input fails here); the answer then streams batch
/// by batch, later passes joined as it reaches them.
pub fn point_in_time_join<'a>(
    entity: &'a EntityFrame,
    views: &'a [(&'a OfflineSource, &'a ViewJoin)],
    options: &'a JoinOptions,
) -> Result<Joined<'a>, OfflineError> {
    let entity_schema = entity.table.schema().clone();
    let schema = check(entity, &entity_schema, views)?;
    let keys = EntityKeyColumns::new(entity, &entity_schema, views)?;
    let all: Vec<usize> = (0..entity_schema.fields().len()).collect();
    let rows = RowWindows::new(Box::new(
        entity
            .table
            .batches(&all)?
            .map(|b| b.map_err(OfflineError::from)),
    ));
    let rows_per_pass = options
        .entity_rows_per_pass
        .unwrap_or_else(|| {
            let per_row = ENTITY_BYTES_PER_ROW_AND_VIEW * views.len().max(1);
            (options.memory_budget_bytes / per_row).max(MIN_DERIVED_ROWS_PER_PASS)
        })
        .clamp(1, MAX_ROWS_PER_PASS);
    let mut joined = Joined {
        schema,
        views,
        options,
        timestamp_column: &entity.timestamp_column,
        rows_per_pass,
        keys,
        rows,
        passed: 0,
        pass: Vec::new(),
        pass_rows: 0,
        offset: 0,
        failed: false,
    };
    joined.next_pass()?;
    Ok(joined)
}

/// Joins one pass of entity rows with every view. Views are independent; a few at a time run
/// side by side, sharing the budget.
fn join_views(
    entity_side: &EntitySide,
    views: &[(&OfflineSource, &ViewJoin)],
    options: &JoinOptions,
) -> Result<Vec<ViewOutput>, OfflineError> {
    let workers = views.len().clamp(1, 8);
    let budget = options.memory_budget_bytes / workers;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<ViewOutput, OfflineError>>>> =
        Mutex::new(views.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let v = next.fetch_add(1, Ordering::Relaxed);
                let Some((source, view)) = views.get(v) else {
                    break;
                };
                let result = join_view(entity_side, v, source, view, options, budget);
                let failed = result.is_err();
                results.lock().unwrap_or_else(|p| p.into_inner())[v] = Some(result);
                if failed {
                    // No point in more work; the other workers see the counter run out.
                    next.store(views.len(), Ordering::Relaxed);
                    break;
                }
            });
        }
    });
    let mut outputs = Vec::with_capacity(views.len());
    for result in results.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match result {
            Some(output) => outputs.push(output?),
            None => continue,
        }
    }
    Ok(outputs)
}

/// Checks every name and type before any row is read, and answers the output schema.
fn check(
    entity: &EntityFrame,
    entity_schema: &SchemaRef,
    views: &[(&OfflineSource, &ViewJoin)],
) -> Result<SchemaRef, OfflineError> {
    let time_type = entity_schema
        .field_with_name(&entity.timestamp_column)
        .map_err(|_| OfflineError::MissingColumn {
            table: ENTITY.into(),
            column: entity.timestamp_column.clone(),
        })?
        .data_type();
    if !is_time(time_type) {
        return Err(OfflineError::NotATime {
            table: ENTITY.into(),
            column: entity.timestamp_column.clone(),
            data_type: time_type.to_string(),
        });
    }
    let mut fields: Vec<Arc<Field>> = entity_schema.fields().iter().cloned().collect();
    for (source, view) in views {
        let source_schema = source.schema();
        let entity_kinds = key_kinds(entity_schema, ENTITY, &view.join_keys)?;
        let source_kinds = key_kinds(&source_schema, source.name(), &view.join_keys)?;
        check_same_kinds(&view.join_keys, &entity_kinds, &source_kinds, source.name())?;
        for column in std::iter::once(&view.timestamp_column).chain(&view.created_column) {
            let data_type = source_schema.field(source.column(column)?).data_type();
            if !is_time(data_type) {
                return Err(OfflineError::NotATime {
                    table: source.name().to_string(),
                    column: column.clone(),
                    data_type: data_type.to_string(),
                });
            }
        }
        for feature in &view.features {
            let index = source.column(&feature.source_column)?;
            if fields.iter().any(|f| f.name() == &feature.output_name) {
                return Err(OfflineError::DuplicateColumn {
                    column: feature.output_name.clone(),
                });
            }
            let data_type = source_schema.field(index).data_type().clone();
            fields.push(Arc::new(Field::new(&feature.output_name, data_type, true)));
        }
    }
    Ok(Arc::new(Schema::new_with_metadata(
        fields,
        entity_schema.metadata().clone(),
    )))
}

const NO_KEY: u32 = u32::MAX;
const NO_ROW: u64 = u64::MAX;

/// What the views need of one pass of the entity dataframe: every row's time, and per view
/// every row's key id (`NO_KEY` for a null key) and the distinct keys.
struct EntitySide {
    times: Vec<i64>,
    min_time: i64,
    max_time: i64,
    views: Vec<EntityKeys>,
}

struct EntityKeys {
    keys: KeyInterner,
    ids: Vec<u32>,
}

/// The entity dataframe's time column and every view's key columns, read once for all views:
/// column 0 is the time, and `positions[v]` are view `v`'s keys among the columns read.
struct EntityKeyColumns {
    windows: RowWindows,
    positions: Vec<Vec<usize>>,
}

impl EntityKeyColumns {
    fn new(
        entity: &EntityFrame,
        schema: &SchemaRef,
        views: &[(&OfflineSource, &ViewJoin)],
    ) -> Result<Self, OfflineError> {
        let time_index = schema.index_of(&entity.timestamp_column)?;
        let mut wanted = vec![time_index];
        let mut positions: Vec<Vec<usize>> = Vec::with_capacity(views.len());
        for (_, view) in views {
            let mut mine = Vec::with_capacity(view.join_keys.len());
            for key in &view.join_keys {
                let index = schema.index_of(key)?;
                let at = match wanted.iter().position(|&w| w == index) {
                    Some(at) => at,
                    None => {
                        wanted.push(index);
                        wanted.len() - 1
                    }
                };
                mine.push(at);
            }
            positions.push(mine);
        }
        let batches = entity
            .table
            .batches(&wanted)?
            .map(|b| b.map_err(OfflineError::from));
        Ok(Self {
            windows: RowWindows::new(Box::new(batches)),
            positions,
        })
    }
}

impl EntitySide {
    /// The next `rows` rows (fewer at the end); `first_row` is the first one's number in the
    /// entity dataframe, for errors.
    fn read(
        columns: &mut EntityKeyColumns,
        rows: usize,
        first_row: usize,
        timestamp_column: &str,
    ) -> Result<Self, OfflineError> {
        let mut side = Self {
            times: Vec::new(),
            min_time: i64::MAX,
            max_time: i64::MIN,
            views: columns
                .positions
                .iter()
                .map(|_| EntityKeys {
                    keys: KeyInterner::new(),
                    ids: Vec::new(),
                })
                .collect(),
        };
        let (mut batch_times, mut buf) = (Vec::new(), Vec::new());
        while side.times.len() < rows {
            let Some(batch) = columns.windows.next(rows - side.times.len()) else {
                break;
            };
            let batch = batch?;
            nanos(batch.column(0).as_ref(), &mut batch_times);
            if let Some(i) = batch_times.iter().position(|&t| t == NULL_TIME) {
                return Err(OfflineError::NullEntityTime {
                    column: timestamp_column.to_string(),
                    row: first_row + side.times.len() + i,
                });
            }
            for &t in &batch_times {
                side.min_time = side.min_time.min(t);
                side.max_time = side.max_time.max(t);
            }
            side.times.extend_from_slice(&batch_times);
            for (view, mine) in side.views.iter_mut().zip(&columns.positions) {
                let arrays: Vec<ArrayRef> = mine.iter().map(|&p| batch.column(p).clone()).collect();
                let keys = BatchKeys::new(&arrays)?;
                for row in 0..batch.num_rows() {
                    let id = if keys.encode(row, &mut buf) {
                        view.keys.intern(&buf)
                    } else {
                        NO_KEY
                    };
                    view.ids.push(id);
                }
            }
        }
        Ok(side)
    }
}

/// A view's entity rows ordered by (key id, time, row): key `k`'s rows are
/// `order[starts[k]..starts[k + 1]]`, and `times` are theirs, in that order, so the merge
/// reads them in sequence rather than all over the entity dataframe.
struct EntityOrder {
    order: Vec<u32>,
    times: Vec<i64>,
    starts: Vec<u32>,
}

impl EntityOrder {
    fn new(keys: &EntityKeys, times: &[i64]) -> Self {
        let distinct = keys.keys.len();
        let mut starts = vec![0u32; distinct + 1];
        for &id in &keys.ids {
            if id != NO_KEY {
                starts[id as usize + 1] += 1;
            }
        }
        for k in 1..starts.len() {
            starts[k] += starts[k - 1];
        }
        let mut next = starts.clone();
        let mut order = vec![0u32; starts[distinct] as usize];
        // Rows are placed in row order, so the stable sort by time below keeps equal times in
        // row order.
        for (row, &id) in keys.ids.iter().enumerate() {
            if id != NO_KEY {
                let at = &mut next[id as usize];
                order[*at as usize] = row as u32;
                *at += 1;
            }
        }
        for k in 0..distinct {
            let group = &mut order[starts[k] as usize..starts[k + 1] as usize];
            if group.len() > 1 {
                group.sort_by_key(|&row| times[row as usize]);
            }
        }
        let times = order.iter().map(|&row| times[row as usize]).collect();
        Self {
            order,
            times,
            starts,
        }
    }
}

/// Largest wins: later event time, then later created time, then later in the source.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    ts: i64,
    created: i64,
    row: u64,
}

const NONE: Candidate = Candidate {
    ts: i64::MIN,
    created: i64::MIN,
    row: NO_ROW,
};

fn join_view(
    entity: &EntitySide,
    v: usize,
    source: &OfflineSource,
    view: &ViewJoin,
    options: &JoinOptions,
    budget: usize,
) -> Result<ViewOutput, OfflineError> {
    let keys = &entity.views[v];
    let order = EntityOrder::new(keys, &entity.times);
    let ttl = view.ttl_ns.filter(|&t| t > 0);
    let cutoff = options.created_cutoff;

    // Pass 1: keys and times. A row can only serve entity rows at or after its time (and its
    // creation, with the cutoff) and within the ttl after it, so rows outside the entity
    // dataframe's time span are dropped before they cost sort space.
    let mut sorter = Sorter::new(keys.keys.len(), cutoff, budget, &options.spill_dir);
    if !order.order.is_empty() {
        let earliest = ttl.map_or(i64::MIN, |ttl| entity.min_time.saturating_sub(ttl));
        let first_key = source.column(&view.join_keys[0])?;
        let single_integer =
            view.join_keys.len() == 1 && source.schema().field(first_key).data_type().is_integer();
        let mut lookup = KeyLookup::new(&keys.keys, single_integer);
        source.scan_keys_and_times(
            &view.join_keys,
            &view.timestamp_column,
            view.created_column.as_deref(),
            |batch_keys, row| {
                let usable = row.ts != NULL_TIME
                    && row.ts >= earliest
                    && row.ts <= entity.max_time
                    && (!cutoff || row.created <= entity.max_time);
                if !usable {
                    return Ok(());
                }
                let Some(key) = lookup.find(batch_keys, row.in_batch) else {
                    return Ok(());
                };
                sorter
                    .push(Record {
                        key,
                        ts: row.ts,
                        created: row.created,
                        row: row.position,
                    })
                    .map_err(OfflineError::from)
            },
        )?;
    }

    // The merge: along each key's entity rows (by time) and records (by candidate time), a
    // record joins the running best before the first entity row it can serve; the best is
    // then each row's latest candidate, and if that one is outside the ttl, so is every
    // other (they are earlier).
    let mut winners = vec![NO_ROW; entity.times.len()];
    let settle = |row: u32, time: i64, best: Candidate, winners: &mut [u64]| {
        if best.row != NO_ROW && ttl.is_none_or(|ttl| best.ts >= time.saturating_sub(ttl)) {
            winners[row as usize] = best.row;
        }
    };
    let (mut current, mut at, mut end, mut best) = (NO_KEY, 0usize, 0usize, NONE);
    for record in sorter.finish()? {
        let record = record?;
        if record.key != current {
            for i in at..end {
                settle(order.order[i], order.times[i], best, &mut winners);
            }
            current = record.key;
            at = order.starts[current as usize] as usize;
            end = order.starts[current as usize + 1] as usize;
            best = NONE;
        }
        let from = record.from(cutoff);
        while at < end && order.times[at] < from {
            settle(order.order[at], order.times[at], best, &mut winners);
            at += 1;
        }
        best = best.max(Candidate {
            ts: record.ts,
            created: record.created,
            row: record.row,
        });
    }
    for i in at..end {
        settle(order.order[i], order.times[i], best, &mut winners);
    }
    drop(order);
    gather(source, view, &winners)
}

/// Pass 2: reads the feature columns and keeps each winning row's values once, in source
/// order, with where each entity row finds its own.
fn gather(
    source: &OfflineSource,
    view: &ViewJoin,
    winners: &[u64],
) -> Result<ViewOutput, OfflineError> {
    let mut pairs: Vec<(u64, u32)> = winners
        .iter()
        .enumerate()
        .filter(|(_, &w)| w != NO_ROW)
        .map(|(row, &w)| (w, row as u32))
        .collect();
    pairs.sort_unstable();
    let mut index = vec![0u32; winners.len()];
    let mut rows: Vec<u64> = Vec::new();
    for &(source_row, entity_row) in &pairs {
        if rows.last() != Some(&source_row) {
            rows.push(source_row);
        }
        index[entity_row as usize] = rows.len() as u32;
    }
    drop(pairs);

    let wanted: Vec<usize> = view
        .features
        .iter()
        .map(|f| source.column(&f.source_column))
        .collect::<Result<_, _>>()?;
    let schema = source.schema();
    let mut pieces: Vec<Vec<ArrayRef>> = wanted
        .iter()
        .map(|&i| vec![new_null_array(schema.field(i).data_type(), 1)])
        .collect();
    if !rows.is_empty() && !wanted.is_empty() {
        let (mut next, mut row_offset) = (0usize, 0u64);
        for batch in source.batches(&wanted)? {
            let batch = batch?;
            let end = row_offset + batch.num_rows() as u64;
            let first = next;
            while next < rows.len() && rows[next] < end {
                next += 1;
            }
            if next > first {
                let take = UInt32Array::from_iter_values(
                    rows[first..next].iter().map(|&r| (r - row_offset) as u32),
                );
                for (f, piece) in pieces.iter_mut().enumerate() {
                    piece.push(arrow_select::take::take(batch.column(f), &take, None)?);
                }
            }
            row_offset = end;
            if next == rows.len() {
                break;
            }
        }
    }
    let values = pieces
        .iter()
        .map(|piece| {
            let arrays: Vec<&dyn Array> = piece.iter().map(|a| a.as_ref()).collect();
            Ok(arrow_select::concat::concat(&arrays)?)
        })
        .collect::<Result<_, OfflineError>>()?;
    Ok(ViewOutput {
        index: UInt32Array::from(index),
        values,
    })
}
