//! Reading CSV and Parquet files into number and text chunks, and Parquet written and read back.

use std::sync::Arc;

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use galley_tables::{
    parquet_bytes, ColumnChunk, Field, Format, Schema, Table, TableError, ValueKind,
};

fn read_all(table: &Table, column: &str) -> ColumnChunk {
    let index = table.column_index(column).expect("column exists");
    let kind = table.columns()[index].kind;
    let mut numbers = Vec::new();
    let mut texts = Vec::new();
    for batch in table.batches(&[index]).expect("batches") {
        let batch = batch.expect("batch");
        match ColumnChunk::read(column, batch.column(0), kind).expect("chunk") {
            ColumnChunk::Numbers(values) => numbers.extend(values.iter()),
            ColumnChunk::Texts(values) => texts.extend(values.iter().map(|v| v.map(str::to_owned))),
        }
    }
    if kind.is_numeric() {
        ColumnChunk::Numbers(numbers.into_iter().collect())
    } else {
        ColumnChunk::Texts(texts.into_iter().collect())
    }
}

#[test]
fn csv_columns_get_kinds_and_pandas_missing_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.csv");
    std::fs::write(
        &path,
        "count,ratio,city,flag\n1,0.5,Paris,true\nNA,nan,,false\n3,2,Lyon,true\n",
    )
    .unwrap();
    let table = Table::open(&path).unwrap();
    let kinds: Vec<_> = table
        .columns()
        .iter()
        .map(|c| (c.name.as_str(), c.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("count", ValueKind::Integer),
            ("ratio", ValueKind::Float),
            ("city", ValueKind::Text),
            ("flag", ValueKind::Boolean),
        ]
    );
    let ColumnChunk::Numbers(ratio) = read_all(&table, "ratio") else {
        panic!("numbers")
    };
    assert_eq!(
        ratio.iter().collect::<Vec<_>>(),
        [Some(0.5), None, Some(2.0)]
    );
    let ColumnChunk::Texts(city) = read_all(&table, "city") else {
        panic!("texts")
    };
    assert_eq!(
        city.iter().collect::<Vec<_>>(),
        [Some("Paris"), None, Some("Lyon")]
    );
    let ColumnChunk::Texts(flag) = read_all(&table, "flag") else {
        panic!("texts")
    };
    assert_eq!(
        flag.iter().collect::<Vec<_>>(),
        [Some("true"), Some("false"), Some("true")]
    );

    let in_memory = Table::from_bytes(std::fs::read(&path).unwrap().into(), Format::Csv).unwrap();
    assert_eq!(in_memory.columns(), table.columns());
    let ColumnChunk::Numbers(count) = read_all(&in_memory, "count") else {
        panic!("numbers")
    };
    assert_eq!(
        count.iter().collect::<Vec<_>>(),
        [Some(1.0), None, Some(3.0)]
    );
}

#[test]
fn a_late_float_makes_the_whole_csv_column_float() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.csv");
    let mut body = String::from("x\n");
    for i in 0..20_000 {
        body.push_str(&format!("{i}\n"));
    }
    body.push_str("1.5\n");
    std::fs::write(&path, body).unwrap();
    let table = Table::open(&path).unwrap();
    let ColumnChunk::Numbers(x) = read_all(&table, "x") else {
        panic!("numbers")
    };
    assert_eq!(x.len(), 20_001);
    assert_eq!(x.value(20_000), 1.5);
}

#[test]
fn parquet_round_trips_through_bytes_and_files() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", arrow_schema::DataType::Int64, false),
        Field::new("score", arrow_schema::DataType::Float64, true),
        Field::new("label", arrow_schema::DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(Float64Array::from(vec![Some(0.25), None, Some(1.0)])),
            Arc::new(StringArray::from(vec![Some("a"), Some("b"), None])),
        ],
    )
    .unwrap();
    let bytes = parquet_bytes(&[batch.clone(), batch]).unwrap();

    let in_memory = Table::from_parquet_bytes(bytes.clone().into()).unwrap();
    let ColumnChunk::Numbers(ids) = read_all(&in_memory, "id") else {
        panic!("numbers")
    };
    assert_eq!(ids.len(), 6);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.parquet");
    std::fs::write(&path, &bytes).unwrap();
    let on_disk = Table::open(&path).unwrap();
    let ColumnChunk::Numbers(score) = read_all(&on_disk, "score") else {
        panic!("numbers")
    };
    assert_eq!(
        score.iter().collect::<Vec<_>>(),
        [Some(0.25), None, Some(1.0), Some(0.25), None, Some(1.0)]
    );
    // Columns come back in the order asked for, whatever the file's order.
    let first = on_disk
        .batches(&[2, 0, 2])
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let names: Vec<&str> = first
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["label", "id", "label"]);
    assert!(matches!(
        on_disk.batches(&[3]).err(),
        Some(TableError::NoColumn(3))
    ));
    let ColumnChunk::Texts(label) = read_all(&on_disk, "label") else {
        panic!("texts")
    };
    assert_eq!(label.null_count(), 2);
}

#[test]
fn bad_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("data.txt");
    std::fs::write(&txt, "x\n1\n").unwrap();
    assert!(matches!(
        Table::open(&txt),
        Err(TableError::UnsupportedFormat { .. })
    ));

    let missing = dir.path().join("missing.csv");
    assert!(matches!(Table::open(&missing), Err(TableError::Io { .. })));

    let garbage = dir.path().join("garbage.parquet");
    std::fs::write(&garbage, b"not parquet at all").unwrap();
    let error = Table::open(&garbage).err().expect("garbage is rejected");
    assert!(matches!(error, TableError::Malformed { .. }), "{error}");

    let ragged = dir.path().join("ragged.csv");
    std::fs::write(&ragged, "a,b\n1,2\n3\n").unwrap();
    let outcome = Table::open(&ragged).and_then(|table| {
        table
            .batches(&[0, 1])?
            .collect::<Result<Vec<_>, _>>()
            .map(|_| ())
    });
    assert!(
        matches!(outcome, Err(TableError::Malformed { .. })),
        "{outcome:?}"
    );

    assert!(matches!(parquet_bytes(&[]), Err(TableError::Write(_))));
}
