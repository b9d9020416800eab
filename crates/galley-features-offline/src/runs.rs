//! The feature side of a join as fixed-width records ordered by (entity key id, the time the
//! row becomes a candidate): sorted in memory up to a budget, and past it sorted in runs that
//! are spilled to unnamed files and merged k ways. The records carry no feature values (those
//! are gathered afterwards by row position), so a run is a flat array of numbers and a spill
//! file is that array's bytes; no file format would add anything but encoding work.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// One feature row that can serve some entity row of its key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Record {
    /// The entity key's dense id (see `KeyInterner`).
    pub key: u32,
    pub ts: i64,
    /// `NULL_TIME` when there is no created column or the cell is null: the earliest.
    pub created: i64,
    /// Position in the source, counted across its files.
    pub row: u64,
}

impl Record {
    /// The first entity time this row is a candidate for: its event time, or with the created
    /// cutoff the later of that and its creation.
    #[inline]
    pub(crate) fn from(&self, cutoff: bool) -> i64 {
        if cutoff {
            self.ts.max(self.created)
        } else {
            self.ts
        }
    }

    fn to_bytes(self) -> [u8; RECORD_BYTES] {
        let mut out = [0u8; RECORD_BYTES];
        out[0..4].copy_from_slice(&self.key.to_le_bytes());
        out[4..12].copy_from_slice(&self.ts.to_le_bytes());
        out[12..20].copy_from_slice(&self.created.to_le_bytes());
        out[20..28].copy_from_slice(&self.row.to_le_bytes());
        out
    }

    fn from_bytes(bytes: &[u8; RECORD_BYTES]) -> Self {
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            w
        };
        let mut key = [0u8; 4];
        key.copy_from_slice(&bytes[0..4]);
        Self {
            key: u32::from_le_bytes(key),
            ts: i64::from_le_bytes(word(4)),
            created: i64::from_le_bytes(word(12)),
            row: u64::from_le_bytes(word(20)),
        }
    }
}

const RECORD_BYTES: usize = 28;
/// What a record costs while a run is sorted: itself and its copy in the sorted run.
const RECORD_MEMORY: usize = 2 * std::mem::size_of::<Record>();
/// Runs merged at once; more are first merged in groups, so open files and read buffers
/// stay bounded whatever the budget.
const FAN_IN: usize = 64;
const IO_BUFFER: usize = 256 * 1024;

/// Collects records and hands them back in (key, candidate time) order.
pub(crate) struct Sorter {
    keys: usize,
    cutoff: bool,
    run_records: usize,
    buffer: Vec<Record>,
    spilled: Vec<Run>,
    dir: PathBuf,
}

impl Sorter {
    /// `keys` is the number of key ids; `budget` bounds the bytes held by unsorted and sorted
    /// records at once (a run is sorted and spilled when it would take more).
    pub(crate) fn new(keys: usize, cutoff: bool, budget: usize, dir: &Path) -> Self {
        Self {
            keys,
            cutoff,
            run_records: (budget / RECORD_MEMORY).max(1),
            buffer: Vec::new(),
            spilled: Vec::new(),
            dir: dir.to_path_buf(),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, record: Record) -> io::Result<()> {
        self.buffer.push(record);
        if self.buffer.len() >= self.run_records {
            let run = sort_run(std::mem::take(&mut self.buffer), self.keys, self.cutoff);
            let run = write_run(&self.dir, run.into_iter().map(Ok))?;
            self.spilled.push(run);
        }
        Ok(())
    }

    /// How many runs went to disk.
    #[cfg(test)]
    pub(crate) fn spilled_runs(&self) -> usize {
        self.spilled.len()
    }

    /// Every record pushed, ordered; the last run stays in memory.
    pub(crate) fn finish(mut self) -> io::Result<Sorted> {
        let last = sort_run(std::mem::take(&mut self.buffer), self.keys, self.cutoff);
        if self.spilled.is_empty() {
            return Ok(Sorted::Memory(last.into_iter()));
        }
        let mut runs = std::mem::take(&mut self.spilled);
        while runs.len() >= FAN_IN {
            let group: Vec<RunSource> = runs.drain(..FAN_IN).map(RunSource::File).collect();
            let merged = Merge::new(group, self.cutoff)?;
            runs.push(write_run(&self.dir, merged)?);
        }
        let mut sources: Vec<RunSource> = runs.into_iter().map(RunSource::File).collect();
        sources.push(RunSource::Memory(last.into_iter()));
        Ok(Sorted::Merge(Merge::new(sources, self.cutoff)?))
    }
}

/// Sorts by (key, candidate time) with a counting sort on the dense key ids (linear), then
/// each key's few rows by time; a comparison sort over the whole run is several times slower.
fn sort_run(records: Vec<Record>, keys: usize, cutoff: bool) -> Vec<Record> {
    // Few records over many keys: clearing the counts would cost more than sorting.
    if records.len() < keys / 4 || records.len() < 64 {
        let mut records = records;
        records.sort_unstable_by_key(|r| (r.key, r.from(cutoff)));
        return records;
    }
    let mut starts = vec![0usize; keys + 1];
    for record in &records {
        starts[record.key as usize + 1] += 1;
    }
    for k in 1..starts.len() {
        starts[k] += starts[k - 1];
    }
    let mut next = starts.clone();
    let mut sorted = vec![Record::default(); records.len()];
    for record in records {
        let at = &mut next[record.key as usize];
        sorted[*at] = record;
        *at += 1;
    }
    for k in 0..keys {
        let group = &mut sorted[starts[k]..starts[k + 1]];
        if group.len() > 1 {
            group.sort_unstable_by_key(|r| r.from(cutoff));
        }
    }
    sorted
}

fn spill_error(dir: &Path, error: io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("spill file in {}: {error}", dir.display()),
    )
}

/// A sorted run on disk, in a file without a name so nothing is left behind on any exit.
struct Run {
    file: File,
    records: u64,
}

fn write_run(dir: &Path, records: impl Iterator<Item = io::Result<Record>>) -> io::Result<Run> {
    let write = || -> io::Result<Run> {
        std::fs::create_dir_all(dir)?;
        let mut out = BufWriter::with_capacity(IO_BUFFER, tempfile::tempfile_in(dir)?);
        let mut count = 0u64;
        for record in records {
            out.write_all(&record?.to_bytes())?;
            count += 1;
        }
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        Ok(Run {
            file,
            records: count,
        })
    };
    write().map_err(|e| spill_error(dir, e))
}

struct RunReader {
    reader: BufReader<File>,
    left: u64,
}

impl RunReader {
    fn next(&mut self) -> io::Result<Option<Record>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut bytes = [0u8; RECORD_BYTES];
        self.reader.read_exact(&mut bytes)?;
        self.left -= 1;
        Ok(Some(Record::from_bytes(&bytes)))
    }
}

enum RunSource {
    File(Run),
    Reading(RunReader),
    Memory(std::vec::IntoIter<Record>),
}

impl RunSource {
    fn next(&mut self) -> io::Result<Option<Record>> {
        match self {
            Self::Memory(records) => Ok(records.next()),
            Self::Reading(reader) => reader.next(),
            Self::File(_) => unreachable!("runs are opened for reading before the merge"),
        }
    }
}

/// The k-way merge of sorted runs.
pub(crate) struct Merge {
    sources: Vec<RunSource>,
    heads: Vec<Record>,
    heap: BinaryHeap<Reverse<(u32, i64, usize)>>,
    cutoff: bool,
}

impl Merge {
    fn new(sources: Vec<RunSource>, cutoff: bool) -> io::Result<Self> {
        let mut merge = Self {
            sources: Vec::with_capacity(sources.len()),
            heads: vec![Record::default(); sources.len()],
            heap: BinaryHeap::with_capacity(sources.len()),
            cutoff,
        };
        for (i, source) in sources.into_iter().enumerate() {
            let mut source = match source {
                RunSource::File(run) => RunSource::Reading(RunReader {
                    reader: BufReader::with_capacity(IO_BUFFER, run.file),
                    left: run.records,
                }),
                other => other,
            };
            if let Some(record) = source.next()? {
                merge.push(i, record);
            }
            merge.sources.push(source);
        }
        Ok(merge)
    }

    fn push(&mut self, source: usize, record: Record) {
        self.heads[source] = record;
        self.heap
            .push(Reverse((record.key, record.from(self.cutoff), source)));
    }
}

impl Iterator for Merge {
    type Item = io::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let Reverse((_, _, source)) = self.heap.pop()?;
        let record = self.heads[source];
        match self.sources[source].next() {
            Ok(Some(next)) => self.push(source, next),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(record))
    }
}

/// Records in order, from memory or from a merge of spilled runs.
pub(crate) enum Sorted {
    Memory(std::vec::IntoIter<Record>),
    Merge(Merge),
}

impl Iterator for Sorted {
    type Item = io::Result<Record>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Memory(records) => records.next().map(Ok),
            Self::Merge(merge) => merge.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: u64, keys: u32) -> Vec<Record> {
        // A fixed scramble, so runs arrive out of order.
        (0..n)
            .map(|i| {
                let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
                Record {
                    key: (x % u64::from(keys)) as u32,
                    ts: (x % 1000) as i64 - 500,
                    created: (x % 7) as i64,
                    row: i,
                }
            })
            .collect()
    }

    fn order(records: &[Record], cutoff: bool) -> Vec<(u32, i64)> {
        records.iter().map(|r| (r.key, r.from(cutoff))).collect()
    }

    #[test]
    fn spilled_merges_equal_the_sort_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        for cutoff in [false, true] {
            let input = records(5_000, 37);
            let mut expected = order(&input, cutoff);
            expected.sort_unstable();
            // 100 records a run: 50 runs, then 200 (a merge of merges).
            for budget in [usize::MAX, 100 * RECORD_MEMORY, 25 * RECORD_MEMORY] {
                let mut sorter = Sorter::new(37, cutoff, budget, dir.path());
                for record in &input {
                    sorter.push(*record).unwrap();
                }
                assert_eq!(sorter.spilled_runs() > 0, budget != usize::MAX);
                let out: Vec<Record> = sorter.finish().unwrap().map(Result::unwrap).collect();
                assert_eq!(order(&out, cutoff), expected);
                let mut rows: Vec<u64> = out.iter().map(|r| r.row).collect();
                rows.sort_unstable();
                assert_eq!(rows, (0..5_000).collect::<Vec<u64>>());
            }
        }
    }

    #[test]
    fn records_round_trip_through_bytes() {
        let record = Record {
            key: 7,
            ts: -3,
            created: i64::MIN,
            row: u64::MAX - 1,
        };
        assert_eq!(Record::from_bytes(&record.to_bytes()), record);
    }
}
