//! Job traces as CSV: one job a row, in the shape of the public GPU cluster traces (Helios'
//! `cluster_log.csv`), read and written by hand so the crate needs no CSV dependency.
//!
//! Columns, found by name in the header (order free, unknown columns ignored):
//! `job_id`, `user` (optional), `team` or Helios' `vc`, `submit_time`, `duration`, `gpu_num`,
//! `cpu_num` (optional, default 0). Times are seconds; `submit_time` may also be a
//! `YYYY-MM-DD HH:MM:SS` timestamp (read as UTC), as Helios writes it, and `duration` may have a
//! fraction (rounded to whole seconds). Fields may be quoted as RFC 4180 quotes them.

use serde::{Deserialize, Serialize};

use crate::error::{ComputeError, Result};

/// One job of a trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceJob {
    pub id: String,
    pub user: String,
    /// The team the job is charged to (a "virtual cluster" in Helios).
    pub team: String,
    /// Seconds on any epoch; only differences matter.
    pub submit_s: i64,
    /// Seconds the job runs once started and left alone.
    pub duration_s: i64,
    pub gpus: u32,
    pub cpus: u32,
}

pub const HEADER: &str = "job_id,user,team,submit_time,duration,gpu_num,cpu_num";

/// Reads a trace; every malformed row is an error naming its line (the header is line 1).
pub fn parse_trace(text: &str) -> Result<Vec<TraceJob>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_at, header)) = lines.next() else {
        return Err(invalid(
            1,
            "the trace is empty: expected a header line".into(),
        ));
    };
    let columns = Columns::find(&split_row(header).map_err(|e| invalid(header_at + 1, e))?)
        .map_err(|e| invalid(header_at + 1, e))?;
    lines
        .map(|(at, line)| {
            let fields = split_row(line).map_err(|e| invalid(at + 1, e))?;
            columns.read(&fields).map_err(|e| invalid(at + 1, e))
        })
        .collect()
}

/// Writes a trace that [`parse_trace`] reads back unchanged.
pub fn write_trace(jobs: &[TraceJob]) -> String {
    let mut out = String::with_capacity(48 * (jobs.len() + 1));
    out.push_str(HEADER);
    out.push('\n');
    for job in jobs {
        let row = [
            quoted(&job.id),
            quoted(&job.user),
            quoted(&job.team),
            job.submit_s.to_string(),
            job.duration_s.to_string(),
            job.gpus.to_string(),
            job.cpus.to_string(),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

fn invalid(line: usize, message: String) -> ComputeError {
    ComputeError::InvalidInput(format!("trace line {line}: {message}"))
}

fn quoted(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// One CSV row; a quoted field may hold commas and doubled quotes, never a line break.
fn split_row(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed".into()),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return Err("text follows a closing quote".into());
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                field.push(c);
            }
        }
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

/// Where each column the simulator reads sits in a row.
struct Columns {
    width: usize,
    id: usize,
    user: Option<usize>,
    team: usize,
    submit: usize,
    duration: usize,
    gpus: usize,
    cpus: Option<usize>,
}

impl Columns {
    fn find(header: &[String]) -> std::result::Result<Columns, String> {
        let at = |names: &[&str]| header.iter().position(|h| names.contains(&h.trim()));
        let mut missing = Vec::new();
        let mut required = |names: &[&str]| {
            at(names).unwrap_or_else(|| {
                missing.push(names.join("' or '"));
                0
            })
        };
        let columns = Columns {
            width: header.len(),
            id: required(&["job_id"]),
            team: required(&["team", "vc"]),
            submit: required(&["submit_time"]),
            duration: required(&["duration"]),
            gpus: required(&["gpu_num"]),
            user: at(&["user"]),
            cpus: at(&["cpu_num"]),
        };
        if missing.is_empty() {
            Ok(columns)
        } else {
            Err(format!(
                "the header lacks column(s) '{}' (expected {HEADER})",
                missing.join("', '")
            ))
        }
    }

    fn read(&self, fields: &[String]) -> std::result::Result<TraceJob, String> {
        if fields.len() != self.width {
            return Err(format!(
                "{} field(s), the header has {}",
                fields.len(),
                self.width
            ));
        }
        let field = |i: usize| fields[i].trim();
        let count = |i: usize, name: &str| {
            field(i)
                .parse::<u32>()
                .map_err(|_| format!("{name} '{}' is not a whole number", field(i)))
        };
        let id = field(self.id);
        if id.is_empty() {
            return Err("job_id is empty".into());
        }
        let duration = field(self.duration);
        let duration_s = duration
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite() && *d >= 0.0 && *d < 1e15)
            .ok_or_else(|| format!("duration '{duration}' is not a number of seconds ≥ 0"))?
            .round() as i64;
        Ok(TraceJob {
            id: id.to_string(),
            user: self.user.map(|i| field(i).to_string()).unwrap_or_default(),
            team: field(self.team).to_string(),
            submit_s: read_time(field(self.submit))?,
            duration_s,
            gpus: count(self.gpus, "gpu_num")?,
            cpus: match self.cpus {
                Some(i) => count(i, "cpu_num")?,
                None => 0,
            },
        })
    }
}

/// Seconds, or a `YYYY-MM-DD HH:MM:SS` timestamp in UTC.
fn read_time(text: &str) -> std::result::Result<i64, String> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    let bad = || format!("submit_time '{text}' is neither seconds nor YYYY-MM-DD HH:MM:SS");
    let (date, time) = text.split_once([' ', 'T']).ok_or_else(bad)?;
    let numbers = |part: &str, sep: char| -> Option<Vec<i64>> {
        part.split(sep).map(|n| n.parse().ok()).collect()
    };
    let (date, time) = (numbers(date, '-'), numbers(time, ':'));
    let (Some([y, mo, d]), Some([h, mi, s])) = (date.as_deref(), time.as_deref()) else {
        return Err(bad());
    };
    if !(1..=12).contains(mo) || !(1..=31).contains(d) || *h > 23 || *mi > 59 || *s > 60 {
        return Err(bad());
    }
    Ok(days_from_civil(*y, *mo, *d) * 86_400 + h * 3_600 + mi * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, team: &str, submit_s: i64, gpus: u32) -> TraceJob {
        TraceJob {
            id: id.into(),
            user: "u1".into(),
            team: team.into(),
            submit_s,
            duration_s: 3_600,
            gpus,
            cpus: 4,
        }
    }

    #[test]
    fn a_written_trace_reads_back_unchanged() {
        let mut odd = job("j,\"2\"", "vision", 5, 8);
        odd.user = String::new();
        let jobs = vec![job("j1", "nlp", 0, 1), odd];
        let text = write_trace(&jobs);
        assert!(text.starts_with(HEADER));
        assert_eq!(parse_trace(&text).unwrap(), jobs);
    }

    #[test]
    fn helios_columns_and_timestamps_are_read() {
        let text = "job_id,user,vc,jobname,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,queue\n\
                    a1,u9,vcEwI,train,8,48,1,COMPLETED,2020-04-01 00:00:10,x,y,120.4,0\n\
                    a2,u9,vcEwI,prep,0,4,1,FAILED,2020-04-01 00:01:00,x,y,0,3\n";
        let jobs = parse_trace(text).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].team, "vcEwI");
        assert_eq!(
            (jobs[0].gpus, jobs[0].cpus, jobs[0].duration_s),
            (8, 48, 120)
        );
        // 2020-04-01T00:00:10Z
        assert_eq!(jobs[0].submit_s, 1_585_699_210);
        assert_eq!(jobs[1].submit_s - jobs[0].submit_s, 50);
        let minimal = parse_trace("vc,job_id,submit_time,duration,gpu_num\nv,j,3,4,1\n").unwrap();
        assert_eq!((minimal[0].cpus, minimal[0].user.as_str()), (0, ""));
    }

    #[test]
    fn malformed_rows_are_reported_with_their_line() {
        let error = |text: &str| parse_trace(text).unwrap_err().to_string();
        let head = format!("{HEADER}\n");
        assert!(error("").contains("line 1: the trace is empty"));
        assert!(
            error("job_id,user\n").contains("line 1: the header lacks column(s) 'team' or 'vc'")
        );
        let cases = [
            ("j1,u,t,0,10,1\n", "line 2: 6 field(s), the header has 7"),
            (
                "j1,u,t,0,10,1,4\nj2,u,t,0,10,two,4\n",
                "line 3: gpu_num 'two' is not a whole number",
            ),
            ("j1,u,t,0,-5,1,4\n", "line 2: duration '-5'"),
            (
                "j1,u,t,yesterday,5,1,4\n",
                "line 2: submit_time 'yesterday'",
            ),
            ("j1,u,t,2020-13-01 00:00:00,5,1,4\n", "line 2: submit_time"),
            ("\"j1,u,t,0,5,1,4\n", "line 2: a quoted field is not closed"),
            (
                "\"j\"x,u,t,0,5,1,4\n",
                "line 2: text follows a closing quote",
            ),
            (",u,t,0,5,1,4\n", "line 2: job_id is empty"),
        ];
        for (rows, expected) in cases {
            let message = error(&format!("{head}{rows}"));
            assert!(message.contains(expected), "{expected} not in {message}");
            assert!(matches!(
                parse_trace(&format!("{head}{rows}")),
                Err(ComputeError::InvalidInput(_))
            ));
        }
    }
}
