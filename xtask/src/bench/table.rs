//! Bench results: medians, ranges, peaks and per-round ratios, as a table and as JSON.

use std::fmt::Write as _;

use serde_json::{json, Value};

/// One tool in one scenario: a time, a CPU time and a peak RSS per round.
#[derive(Clone, Debug)]
pub struct Series {
    pub scenario: String,
    pub tool: String,
    pub secs: Vec<f64>,
    /// User + system seconds, the tool's processes together.
    pub cpu_secs: Vec<f64>,
    pub peak_kib: Vec<u64>,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub corpus: String,
    pub wheels: usize,
    pub files: usize,
    pub runs: usize,
    pub machine: String,
    /// What some scenarios time, printed under the header line.
    pub notes: Vec<String>,
    pub series: Vec<Series>,
}

pub const OURS: &str = "ours";

pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median over rounds of `a`/`b`, each round's pair measured back to back.
pub fn ratio_per_round(a: &[f64], b: &[f64]) -> f64 {
    let per_round: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
    median(&per_round)
}

impl Report {
    fn ours(&self, scenario: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.scenario == scenario && s.tool == OURS)
    }

    /// Median over rounds of ours/this, each round's pair measured back to back.
    pub fn ratio(&self, s: &Series) -> Option<f64> {
        let ours = self.ours(&s.scenario)?;
        if s.tool == OURS {
            return None;
        }
        Some(ratio_per_round(&ours.secs, &s.secs))
    }

    pub fn table(&self) -> String {
        let mut out = format!(
            "corpus: {} ({} wheels, {} installed files), {} runs; {}\n",
            self.corpus,
            self.wheels,
            thousands(self.files),
            self.runs,
            self.machine
        );
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        let header = ["scenario", "tool", "median", "min–max", "CPU s", "peak MiB", "ours/tool"];
        let mut rows = vec![header.map(String::from).to_vec()];
        for s in &self.series {
            let min = s.secs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = s.secs.iter().copied().fold(0.0, f64::max);
            let peak = s.peak_kib.iter().max().map_or("-".into(), |k| format!("{:.1}", *k as f64 / 1024.0));
            rows.push(vec![
                s.scenario.clone(),
                s.tool.clone(),
                format!("{:.3} s", median(&s.secs)),
                format!("{min:.3}–{max:.3} s"),
                format!("{:.2}", median(&s.cpu_secs)),
                peak,
                self.ratio(s).map_or("-".into(), |r| format!("{r:.2}")),
            ]);
        }
        let widths: Vec<usize> =
            (0..header.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        for row in &rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                let pad = widths[c] - cell.chars().count();
                // Text left, numbers right.
                if c < 2 {
                    let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
                } else {
                    let _ = write!(line, "{}{cell}  ", " ".repeat(pad));
                }
            }
            out += line.trim_end();
            out.push('\n');
        }
        out
    }

    pub fn json(&self) -> Value {
        let series: Vec<Value> = self
            .series
            .iter()
            .map(|s| {
                json!({
                    "scenario": s.scenario,
                    "tool": s.tool,
                    "secs": s.secs,
                    "median_secs": median(&s.secs),
                    "cpu_secs": s.cpu_secs,
                    "median_cpu_secs": median(&s.cpu_secs),
                    "peak_rss_kib": s.peak_kib.iter().max(),
                    "ours_over_tool_median_ratio": self.ratio(s),
                })
            })
            .collect();
        json!({
            "corpus": self.corpus,
            "wheels": self.wheels,
            "installed_files": self.files,
            "runs": self.runs,
            "machine": self.machine,
            "notes": self.notes,
            "series": series,
        })
    }

    /// Median warm time per installed file of `tool` in `scenario`, in microseconds.
    pub fn per_file_us(&self, scenario: &str) -> Option<f64> {
        let ours = self.ours(scenario)?;
        Some(median(&ours.secs) * 1e6 / self.files.max(1) as f64)
    }
}

pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(tool: &str, secs: &[f64], peak: u64) -> Series {
        Series {
            scenario: "warm-hardlink".into(),
            tool: tool.into(),
            secs: secs.to_vec(),
            cpu_secs: secs.iter().map(|s| s * 1.5).collect(),
            peak_kib: vec![peak],
        }
    }

    fn report() -> Report {
        Report {
            corpus: "dev".into(),
            wheels: 67,
            files: 12804,
            runs: 3,
            machine: "2 CPUs".into(),
            notes: vec!["what one scenario times".into()],
            series: vec![
                series(OURS, &[0.10, 0.12, 0.30], 10240),
                series("uv 0.13.9", &[0.20, 0.40, 0.30], 40960),
                series("cp -al", &[0.50, 0.10, 0.60], 2048),
            ],
        }
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn ratio_is_the_median_of_per_round_ratios() {
        let r = report();
        // ours/uv per round: 0.5, 0.3, 1.0 -> 0.5 (the ratio of medians would be 0.4).
        assert_eq!(r.ratio(&r.series[1]), Some(0.5));
        assert_eq!(r.ratio(&r.series[0]), None);
    }

    #[test]
    fn table_layout() {
        let expect = "\
corpus: dev (67 wheels, 12,804 installed files), 3 runs; 2 CPUs
note: what one scenario times
scenario       tool        median        min–max  CPU s  peak MiB  ours/tool
warm-hardlink  ours       0.120 s  0.100–0.300 s   0.18      10.0          -
warm-hardlink  uv 0.13.9  0.300 s  0.200–0.400 s   0.45      40.0       0.50
warm-hardlink  cp -al     0.500 s  0.100–0.600 s   0.75       2.0       0.50
";
        assert_eq!(report().table(), expect);
    }

    #[test]
    fn json_has_ratios_and_per_file_time() {
        let r = report();
        let j = r.json();
        assert_eq!(j["series"][1]["ours_over_tool_median_ratio"], json!(0.5));
        assert_eq!(j["series"][0]["peak_rss_kib"], json!(10240));
        assert_eq!(j["series"][2]["median_cpu_secs"], json!(0.75));
        assert_eq!(thousands(1234567), "1,234,567");
        assert!((r.per_file_us("warm-hardlink").unwrap() - 0.12e6 / 12804.0).abs() < 1e-9);
    }
}
