//! Time series for forecasting: the three shipped ones (daily US births, weekly CO2, yearly
//! sunspots) or a user's CSV, a chronological train / validation / test split, a normaliser
//! fitted on the training part only, and the baselines a forecast must beat.

use std::ops::Range;
use std::path::Path;

/// A univariate series with its natural season.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
    /// Steps per season (7 for daily births: the week; 52 for weekly CO2; 11 for yearly
    /// sunspots, the solar cycle), used by the seasonal-naive baseline.
    pub period: usize,
    /// What a step is: `day`, `week`, `year`, `step`.
    pub step: String,
    /// Why the season is what it is (`the week of a daily series`, `dates in column date`).
    pub season_reason: String,
    /// Where it was read from, for messages.
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    #[error("{path}: cannot read ({message}); check the --data path")]
    Io { path: String, message: String },
    #[error("{source_name}: line {line}: {message}")]
    Format { source_name: String, line: usize, message: String },
    #[error("{source_name}: {count} values; a forecast needs at least {needed}")]
    TooShort { source_name: String, count: usize, needed: usize },
}

impl SeriesError {
    /// Whether the user named something wrong (exit code 2) rather than a file being bad.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Io { .. })
    }
}

/// The names of the shipped series.
pub const BUILTIN: [&str; 3] = ["births", "co2", "sunspots"];

const BIRTHS: &str = include_str!("../../../assets/timeseries/ssa_us_births_2000_2014.csv");
const CO2: &str = include_str!("../../../assets/timeseries/co2_weekly.csv");
const SUNSPOTS: &str = include_str!("../../../assets/timeseries/sunspots.csv");

/// A shipped series by name.
pub fn builtin(name: &str) -> Option<Series> {
    let (text, source) = match name {
        "births" => (BIRTHS, "assets/timeseries/ssa_us_births_2000_2014.csv"),
        "co2" => (CO2, "assets/timeseries/co2_weekly.csv"),
        "sunspots" => (SUNSPOTS, "assets/timeseries/sunspots.csv"),
        _ => return None,
    };
    Some(parse(text, source).expect("the shipped series parse"))
}

/// A shipped series by name, or a CSV file.
pub fn load(name_or_path: &str) -> Result<Series, SeriesError> {
    if let Some(series) = builtin(name_or_path) {
        return Ok(series);
    }
    let text = std::fs::read_to_string(Path::new(name_or_path)).map_err(|e| SeriesError::Io {
        path: name_or_path.to_string(),
        message: format!("{e}; the built-in series are {}", BUILTIN.join(", ")),
    })?;
    parse(&text, name_or_path)
}

/// Parses one of the shipped formats, recognised by the header, or any CSV with a header whose
/// last column is the value (one row per step, empty cells interpolated; season 1).
pub fn parse(text: &str, source: &str) -> Result<Series, SeriesError> {
    // Excel's "CSV UTF-8" starts with a byte-order mark, which is not part of the first name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format =
        |line: u64, message: String| SeriesError::Format { source_name: source.into(), line: line as usize, message };
    // Quotes come in pairs (an escaped one is two): an odd count is a field that never closes,
    // which the reader would run to the end of the file.
    if text.bytes().filter(|&b| b == b'"').count() % 2 == 1 {
        let line = text[..text.rfind('"').unwrap_or(0)].lines().count().max(1);
        return Err(format(line as u64, "a quoted field opened here never closes".into()));
    }
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| format(1, e.to_string()))?.iter().collect::<Vec<_>>().join(",");
    if header.is_empty() {
        return Err(format(1, "empty file".into()));
    }
    let header = header.to_lowercase();
    let names: Vec<String> = header.split(',').map(str::to_string).collect();
    let (name, mut period, mut step) = if header.starts_with("year,month,date_of_month,day_of_week,births") {
        ("births", 7, "day")
    } else if header == "date,co2" {
        ("co2", 52, "week")
    } else if header == "year,sunactivity" {
        ("sunspots", 11, "year")
    } else {
        let stem = Path::new(source).file_stem().and_then(|s| s.to_str()).unwrap_or("series");
        (stem, 1, "step")
    };
    let mut season_reason = match name {
        "births" => "the week of a daily series".to_string(),
        "co2" => "the year of a weekly series".to_string(),
        "sunspots" => "the solar cycle of about 11 years".to_string(),
        _ => "no date column to read a season from (give --season N)".to_string(),
    };
    // A user's series: a column named like a date whose values are dates gives the season.
    let date_column = if period == 1 {
        names.iter().position(|n| ["date", "time", "datetime", "timestamp", "ds", "day", "month"].contains(&n.as_str()))
    } else {
        None
    };
    let mut dates: Vec<f64> = Vec::new();
    let mut values: Vec<Option<f64>> = Vec::new();
    for record in reader.records() {
        // A row with another number of fields than the header is an error of its own, with
        // its line: a value is never taken from the wrong column.
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            format(line, format!("{e}; every row needs the header's columns (quote a field that holds a comma)"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if let Some(seconds) = date_column.and_then(|c| record.get(c)).and_then(seconds_since_epoch) {
            dates.push(seconds);
        }
        let column = record.len();
        let cell = record.get(column.saturating_sub(1)).unwrap_or("");
        if cell.is_empty() {
            values.push(None);
            continue;
        }
        let value: f64 = cell.parse().map_err(|_| {
            format(line, format!("column {column}: `{cell}` is not a number (the last column holds the values; write it without thousands separators)"))
        })?;
        values.push(Some(value));
    }
    let values = interpolate(&values).ok_or_else(|| format(2, "no values".into()))?;
    if let Some(column) = date_column
        && dates.len() == values.len()
        && let Some((season, unit, what)) = season_of(&dates)
    {
        (period, step) = (season, unit);
        season_reason = format!("{what} dates in column `{}`", names[column]);
    }
    Ok(Series { name: name.into(), values, period, step: step.into(), source: source.into(), season_reason })
}

/// The season of a series from its dates' usual spacing (the median step): hourly → a day of
/// 24, daily → a week of 7, weekly → a year of 52, monthly → a year of 12, quarterly → 4.
fn season_of(dates: &[f64]) -> Option<(usize, &'static str, &'static str)> {
    let mut steps: Vec<f64> = dates.windows(2).map(|w| w[1] - w[0]).collect();
    if steps.is_empty() {
        return None;
    }
    steps.sort_by(f64::total_cmp);
    let hours = steps[steps.len() / 2] / 3600.0;
    let near = |target: f64, tolerance: f64| (hours - target).abs() <= tolerance;
    if near(1.0, 0.1) {
        Some((24, "hour", "hourly"))
    } else if near(24.0, 1.0) {
        Some((7, "day", "daily"))
    } else if near(168.0, 12.0) {
        Some((52, "week", "weekly"))
    } else if (27.0 * 24.0..=32.0 * 24.0).contains(&hours) {
        Some((12, "month", "monthly"))
    } else if (88.0 * 24.0..=93.0 * 24.0).contains(&hours) {
        Some((4, "quarter", "quarterly"))
    } else {
        None
    }
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (or with a `T`), or `YYYY-MM` as seconds since 1970.
fn seconds_since_epoch(text: &str) -> Option<f64> {
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next().map_or(Some(1), |d| d.parse().ok())?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || parts.next().is_some() {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds_of_day = match time {
        Some(t) => {
            let mut hms = t.trim_end_matches('Z').split(':');
            let h: f64 = hms.next()?.parse().ok()?;
            let m: f64 = hms.next().map_or(Some(0.0), |m| m.parse().ok())?;
            let s: f64 = hms.next().map_or(Some(0.0), |s| s.parse().ok())?;
            h * 3600.0 + m * 60.0 + s
        }
        None => 0.0,
    };
    Some(days as f64 * 86_400.0 + seconds_of_day)
}

/// Fills gaps linearly between the known neighbours (and flat at the ends).
fn interpolate(values: &[Option<f64>]) -> Option<Vec<f64>> {
    let known: Vec<(usize, f64)> = values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
    let (&(first_i, first_v), &(last_i, last_v)) = (known.first()?, known.last()?);
    let mut out = Vec::with_capacity(values.len());
    let mut next = 0;
    for i in 0..values.len() {
        if i <= first_i {
            out.push(first_v);
        } else if i >= last_i {
            out.push(last_v);
        } else {
            while known[next + 1].0 < i {
                next += 1;
            }
            let ((a, va), (b, vb)) = (known[next], known[next + 1]);
            out.push(if i == a { va } else { va + (vb - va) * (i - a) as f64 / (b - a) as f64 });
        }
    }
    Some(out)
}

/// Chronological split: the first `train` share for training, the next `valid` share for
/// validation, the rest for the test. Nothing later ever informs anything earlier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeSplit {
    pub train: Range<usize>,
    pub valid: Range<usize>,
    pub test: Range<usize>,
}

impl TimeSplit {
    pub fn new(len: usize, train: f64, valid: f64) -> Self {
        let a = ((len as f64) * train).round() as usize;
        let b = ((len as f64) * (train + valid)).round() as usize;
        Self { train: 0..a.min(len), valid: a.min(len)..b.min(len), test: b.min(len)..len }
    }
}

/// Standardisation with the mean and deviation of the training part only.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalizer {
    pub mean: f64,
    pub std: f64,
}

impl Normalizer {
    pub fn fit(values: &[f64]) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        Self { mean, std: if std > 0.0 { std } else { 1.0 } }
    }

    pub fn apply(&self, value: f64) -> f64 {
        (value - self.mean) / self.std
    }

    pub fn invert(&self, value: f64) -> f64 {
        value * self.std + self.mean
    }
}

/// Forecast errors in the series' own units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Errors {
    pub rmse: f64,
    pub mae: f64,
}

pub fn errors(predicted: &[f64], truth: &[f64]) -> Errors {
    let n = predicted.len().min(truth.len()).max(1) as f64;
    let pairs = predicted.iter().zip(truth);
    Errors {
        rmse: (pairs.clone().map(|(p, t)| (p - t).powi(2)).sum::<f64>() / n).sqrt(),
        mae: pairs.map(|(p, t)| (p - t).abs()).sum::<f64>() / n,
    }
}

/// Forecasts of `values[t]` for `t` in `targets`, `horizon` steps ahead (made at `t - horizon`):
/// persistence repeats the last known value, seasonal naive the value one season before `t`
/// (or as many seasons as it takes to reach a known value).
pub fn baselines(values: &[f64], targets: Range<usize>, horizon: usize, period: usize) -> (Vec<f64>, Vec<f64>) {
    let persistence = targets.clone().map(|t| values[t - horizon]).collect();
    let seasons_back = horizon.div_ceil(period.max(1)).max(1) * period.max(1);
    let seasonal = targets.map(|t| values[t - seasons_back]).collect();
    (persistence, seasonal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_series_takes_its_season_from_its_dates() {
        let csv = |dates: &[&str]| {
            let rows: Vec<String> = dates.iter().enumerate().map(|(i, d)| format!("{d},{i}")).collect();
            format!("date,value\n{}\n", rows.join("\n"))
        };
        let daily = parse(&csv(&["2020-02-27", "2020-02-28", "2020-02-29", "2020-03-01"]), "d.csv").unwrap();
        assert_eq!((daily.period, daily.step.as_str()), (7, "day"));
        assert_eq!(daily.season_reason, "daily dates in column `date`");
        let monthly = parse(&csv(&["2019-11", "2019-12", "2020-01", "2020-02"]), "m.csv").unwrap();
        assert_eq!(monthly.period, 12);
        let weekly = parse(&csv(&["2020-01-06", "2020-01-13", "2020-01-20"]), "w.csv").unwrap();
        assert_eq!(weekly.period, 52);
        let hourly = parse(&csv(&["2020-01-01T22:00", "2020-01-01T23:00", "2020-01-02T00:00:00Z"]), "h.csv").unwrap();
        assert_eq!(hourly.period, 24);
        let quarterly = parse(&csv(&["2020-01-01", "2020-04-01", "2020-07-01"]), "q.csv").unwrap();
        assert_eq!(quarterly.period, 4);
        // No date column: season 1, and the reason says how to give one.
        let plain = parse("value\n1\n2\n3\n", "p.csv").unwrap();
        assert_eq!(plain.period, 1);
        assert!(plain.season_reason.contains("--season"));
        assert_eq!(seconds_since_epoch("1970-01-02"), Some(86_400.0));
        assert_eq!(seconds_since_epoch("2000-03-01"), Some(951_868_800.0));
        assert_eq!(seconds_since_epoch("not a date"), None);
    }

    #[test]
    fn quoted_numbers_with_commas_and_a_byte_order_mark_are_read_right_or_refused() {
        // A value holding a thousands separator is refused by line and column, never read as
        // the digits after its comma.
        let error = parse("date,value\n2020-01-01,\"8,123\"\n", "x.csv").unwrap_err().to_string();
        assert!(error.contains("line 2") && error.contains("column 2: `8,123` is not a number"), "{error}");
        // A quoted field holding a comma in another column leaves the value column alone.
        let series = parse("label,value\n\"a, b\",1.5\nc,2.5\n", "x.csv").unwrap();
        assert_eq!(series.values, vec![1.5, 2.5]);
        // Excel's byte-order mark does not hide a shipped format's header.
        let series = parse("\u{feff}date,co2\n2000-01-01,370.1\n2000-01-08,370.4\n", "co2.csv").unwrap();
        assert_eq!((series.name.as_str(), series.period), ("co2", 52));
        assert!(parse("a,b\n1,\"2\n", "x.csv").unwrap_err().to_string().contains("never closes"));
        let error = parse("a,b\n1,2,3\n", "x.csv").unwrap_err().to_string();
        assert!(error.contains("line 2") && error.contains("header's columns"), "{error}");
    }

    #[test]
    fn shipped_series_parse_with_their_seasons() {
        let births = builtin("births").unwrap();
        assert_eq!((births.values.len(), births.period, births.values[0]), (5479, 7, 9083.0));
        let co2 = builtin("co2").unwrap();
        assert_eq!((co2.values.len(), co2.period), (2284, 52));
        assert!(co2.values.iter().all(|v| (300.0..400.0).contains(v)), "gaps interpolated");
        let sun = builtin("sunspots").unwrap();
        assert_eq!((sun.values.len(), sun.period, sun.values[1]), (309, 11, 11.0));
    }

    #[test]
    fn gaps_are_interpolated_and_bad_cells_named() {
        let s = parse("t,v\n1,2\n2,\n3,\n4,8\n", "mine.csv").unwrap();
        assert_eq!(s.values, vec![2.0, 4.0, 6.0, 8.0]);
        assert_eq!((s.name.as_str(), s.period), ("mine", 1));
        let err = parse("t,v\n1,2\n2,abc\n", "bad.csv").unwrap_err().to_string();
        assert!(err.contains("bad.csv: line 3") && err.contains("abc"), "{err}");
        assert!(load("no/such.csv").unwrap_err().is_usage());
    }

    #[test]
    fn split_is_chronological_and_normaliser_sees_training_only() {
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        let split = TimeSplit::new(values.len(), 0.7, 0.15);
        assert_eq!((split.train.clone(), split.valid.clone(), split.test.clone()), (0..70, 70..85, 85..100));
        let norm = Normalizer::fit(&values[split.train.clone()]);
        assert_eq!(norm.mean, 34.5, "the mean of 0..70 only: no future value leaks in");
        assert!((norm.invert(norm.apply(91.0)) - 91.0).abs() < 1e-12);
    }

    #[test]
    fn baselines_and_errors() {
        let values: Vec<f64> = (0..20).map(|i| f64::from(i % 7)).collect();
        let (persistence, seasonal) = baselines(&values, 14..20, 1, 7);
        assert_eq!(persistence, vec![6.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(seasonal, values[14..20].to_vec(), "a pure weekly pattern");
        let e = errors(&persistence, &values[14..20]);
        assert!((e.mae - (6.0 + 1.0 * 5.0) / 6.0).abs() < 1e-12);
        // Three steps ahead, the seasonal baseline still looks one week back.
        let (p3, s3) = baselines(&values, 14..20, 3, 7);
        assert_eq!(p3[0], values[11]);
        assert_eq!(s3[0], values[7]);
    }
}
