//! What a benchmark run found: rows of `metric | value | floor | ratio`, printed as a table and
//! written as JSON. Also the small measuring tools every scenario uses: latency percentiles and
//! the process's resident memory.

use std::{path::Path, time::Duration};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// One line of the report. `floor` is what the same work costs done the plainest way on this
/// machine in this run; `ratio` is value / floor (1.0 would be "no overhead at all").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    pub(crate) section: String,
    pub(crate) metric: String,
    pub(crate) value: f64,
    pub(crate) unit: String,
    pub(crate) floor: Option<f64>,
    /// What the floor is, when it is not the same unit of the same thing (a target, a sum).
    pub(crate) floor_note: Option<String>,
    pub(crate) ratio: Option<f64>,
    /// Latency rows: the distribution over `samples` runs.
    pub(crate) latency: Option<Latency>,
}

impl Row {
    pub(crate) fn new(
        section: &'static str,
        metric: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Row {
        Row {
            section: section.to_owned(),
            metric: metric.into(),
            value,
            unit: unit.to_owned(),
            floor: None,
            floor_note: None,
            ratio: None,
            latency: None,
        }
    }

    /// Sets the floor (same unit) and the ratio value / floor.
    pub(crate) fn floor(mut self, floor: f64) -> Row {
        self.floor = Some(floor);
        self.ratio = (floor > 0.0).then(|| self.value / floor);
        self
    }

    pub(crate) fn note(mut self, note: impl Into<String>) -> Row {
        self.floor_note = Some(note.into());
        self
    }

    pub(crate) fn latency(mut self, latency: Latency) -> Row {
        self.latency = Some(latency);
        self
    }

    /// A rate (more is better): the ratio is floor / value, so it still reads "times slower".
    pub(crate) fn rate_floor(mut self, floor: f64) -> Row {
        self.floor = Some(floor);
        self.ratio = (self.value > 0.0).then(|| floor / self.value);
        self
    }
}

/// Latency distribution in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Latency {
    pub(crate) samples: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl Latency {
    /// Nearest-rank percentiles; `None` without samples.
    pub(crate) fn of(samples: &mut [Duration]) -> Option<Latency> {
        samples.sort_unstable();
        let last = samples.last()?;
        let rank = |p: f64| {
            let index = ((p / 100.0) * samples.len() as f64).ceil() as usize;
            millis(samples[index.clamp(1, samples.len()) - 1])
        };
        Some(Latency {
            samples: samples.len(),
            p50_ms: rank(50.0),
            p95_ms: rank(95.0),
            p99_ms: rank(99.0),
            max_ms: millis(*last),
        })
    }
}

pub(crate) fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// The whole run, as written to JSON.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Report {
    pub(crate) generated_at: String,
    pub(crate) cores: usize,
    pub(crate) options: serde_json::Value,
    pub(crate) rows: Vec<Row>,
}

impl Report {
    pub(crate) fn print(&self) {
        let mut lines = vec![[
            "metric".to_owned(),
            "value".to_owned(),
            "floor".to_owned(),
            "ratio".to_owned(),
        ]];
        let mut sections = Vec::new();
        for row in &self.rows {
            if sections.last() != Some(&row.section) {
                sections.push(row.section.clone());
                lines.push([
                    format!("[{}]", row.section),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
            let value = match &row.latency {
                Some(latency) => format!(
                    "p50 {} / p95 {} / p99 {} ms (n={})",
                    short(latency.p50_ms),
                    short(latency.p95_ms),
                    short(latency.p99_ms),
                    latency.samples
                ),
                None => format!("{} {}", short(row.value), row.unit),
            };
            let floor = match (row.floor, &row.floor_note) {
                (Some(floor), Some(note)) => format!("{} {} ({note})", short(floor), row.unit),
                (Some(floor), None) => format!("{} {}", short(floor), row.unit),
                (None, Some(note)) => note.clone(),
                (None, None) => "-".to_owned(),
            };
            let ratio = row
                .ratio
                .map_or_else(|| "-".to_owned(), |ratio| format!("{}x", short(ratio)));
            lines.push(["  ".to_owned() + &row.metric, value, floor, ratio]);
        }
        let widths: Vec<usize> = (0..4)
            .map(|column| {
                lines
                    .iter()
                    .map(|line| line[column].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for (index, line) in lines.iter().enumerate() {
            let cells: Vec<String> = line
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            out.push_str(cells.join(" | ").trim_end());
            out.push('\n');
            if index == 0 {
                let rule: Vec<String> = widths.iter().map(|width| "-".repeat(*width)).collect();
                out.push_str(&rule.join("-|-"));
                out.push('\n');
            }
        }
        say(&out);
    }

    pub(crate) fn read_json(path: &Path) -> anyhow::Result<Report> {
        let json = std::fs::read_to_string(path)
            .with_context(|| format!("reading the partial report {}", path.display()))?;
        serde_json::from_str(&json)
            .with_context(|| format!("reading the partial report {}", path.display()))
    }

    pub(crate) fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the report folder {}", dir.display()))?;
        }
        let json = serde_json::to_string_pretty(self).context("serializing the report")?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("writing the report to {}", path.display()))
    }
}

/// Three significant digits, grouped thousands for large values.
pub(crate) fn short(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1_000.0 {
        let grouped = mde_car_core::api::group_digits(magnitude.round() as u64);
        if value < 0.0 {
            format!("-{grouped}")
        } else {
            grouped
        }
    } else if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 || magnitude == 0.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// Progress and the report go to stdout: this binary's output is its product.
#[allow(clippy::print_stdout)] // the report is printed for the person who ran `make bench`
pub(crate) fn say(text: &str) {
    println!("{text}");
}

/// Resident memory of this process, from `/proc/self/status` (Linux), in MiB.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memory {
    /// `VmRSS`: resident now.
    pub(crate) rss_mib: f64,
    /// `VmHWM`: the peak since start or since [`reset_peak`].
    pub(crate) peak_mib: f64,
}

pub(crate) fn memory() -> Option<Memory> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1_024.0)
    };
    Some(Memory {
        rss_mib: field("VmRSS:")?,
        peak_mib: field("VmHWM:")?,
    })
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0), so the next peak is one phase's own.
/// False when the kernel does not allow it; the peak is then the process's since start.
pub(crate) fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
