//! Text data of the sequence models: a plain text for the character language models (Moby Dick
//! is shipped), and labelled documents for the classifier (the State of the Union addresses are
//! shipped; a user's JSONL or CSV file works the same way), cut into chunks of words and split by
//! document so that no document lands in two splits.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::rng::SplitMix64;
use crate::text::words;

/// Moby Dick (Melville, 1851; public domain), gzip-compressed; see `assets/text/README.md`.
const MOBY_DICK: &[u8] = include_bytes!("../../../assets/text/moby_dick.txt.gz");
/// Every State of the Union address 1790-2021 (public domain), one JSON object a line.
const SOTU: &[u8] = include_bytes!("../../../assets/text/sotu.jsonl.gz");

/// The names `--data` accepts besides a path.
pub const BUILTIN_TEXTS: [&str; 1] = ["moby-dick"];
pub const BUILTIN_DOCUMENTS: [&str; 1] = ["sotu"];

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{path}: cannot read ({message}); check the --data path")]
    Io { path: String, message: String },
    #[error("{source_name}: {message}")]
    Format { source_name: String, message: String },
}

impl CorpusError {
    /// A path that does not exist is the user's mistake; bad contents are the file's.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Io { .. })
    }
}

fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// Reads a file, gunzipping it when its name ends in `.gz`.
fn read_file(path: &str) -> Result<Vec<u8>, CorpusError> {
    let io = |e: std::io::Error| CorpusError::Io { path: path.to_string(), message: e.to_string() };
    let bytes = std::fs::read(Path::new(path)).map_err(io)?;
    if path.ends_with(".gz") { gunzip(&bytes).map_err(io) } else { Ok(bytes) }
}

fn utf8(bytes: Vec<u8>, source: &str) -> Result<String, CorpusError> {
    String::from_utf8(bytes).map_err(|e| CorpusError::Format {
        source_name: source.to_string(),
        message: format!("not UTF-8 text (byte {}); convert it to UTF-8", e.utf8_error().valid_up_to()),
    })
}

/// A shipped text by name (`moby-dick`) or a UTF-8 text file (`.gz` allowed), with the name to
/// show for it.
pub fn load_text(name_or_path: &str) -> Result<(String, String), CorpusError> {
    if name_or_path == "moby-dick" {
        let text = utf8(gunzip(MOBY_DICK).expect("the shipped text decompresses"), "moby-dick")?;
        return Ok((text, "Moby Dick (assets/text/moby_dick.txt.gz)".into()));
    }
    let text = utf8(read_file(name_or_path)?, name_or_path)?;
    if text.chars().nth(1000).is_none() {
        return Err(CorpusError::Format {
            source_name: name_or_path.into(),
            message: "fewer than 1,000 characters; a language model needs a longer text".into(),
        });
    }
    Ok((text, name_or_path.to_string()))
}

/// The text cut at a character boundary: the first `1 - valid_fraction` for training, the rest
/// held out (the end of the book, as nanoGPT holds out the end of Shakespeare).
pub fn split_text(text: &str, valid_fraction: f64) -> (&str, &str) {
    let chars = text.chars().count();
    let train_chars = ((chars as f64) * (1.0 - valid_fraction)).round() as usize;
    let cut = text.char_indices().nth(train_chars).map_or(text.len(), |(i, _)| i);
    text.split_at(cut)
}

/// One labelled document: the text, its label, and the name of the document it belongs to
/// (what the split keeps together).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub text: String,
    pub label: String,
    pub group: String,
}

/// Where the classifier's documents come from and which fields hold what.
#[derive(Clone, Debug)]
pub struct DocumentSource<'a> {
    /// `sotu` or a `.jsonl`, `.jsonl.gz` or `.csv` file.
    pub data: &'a str,
    pub text_field: &'a str,
    pub label_field: &'a str,
}

/// Reads the documents; records with an empty text or label are skipped. The SOTU addresses are
/// grouped by address; a user's records each form their own group.
pub fn load_documents(source: &DocumentSource) -> Result<Vec<Document>, CorpusError> {
    let (text, name) = if source.data == "sotu" {
        (utf8(gunzip(SOTU).expect("the shipped addresses decompress"), "sotu")?, "sotu")
    } else {
        (utf8(read_file(source.data)?, source.data)?, source.data)
    };
    parse_documents(&text, name, source.text_field, source.label_field)
}

/// The documents of a JSONL text, or of a CSV one when `name` ends in `.csv` (`.csv.gz`);
/// `name` also names the source in errors (`sotu` groups the addresses by year and speaker).
pub fn parse_documents(
    text: &str,
    name: &str,
    text_field: &str,
    label_field: &str,
) -> Result<Vec<Document>, CorpusError> {
    let records = if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        csv_records(text, name)?
    } else {
        jsonl_records(text, name)?
    };
    let mut documents = Vec::new();
    for (line, record) in records {
        let field = |f: &str| record.get(f).cloned();
        let (Some(text), Some(label)) = (field(text_field), field(label_field)) else {
            let fields: Vec<&str> = record.keys().map(String::as_str).collect();
            return Err(CorpusError::Format {
                source_name: name.into(),
                message: format!(
                    "record {line} has no field `{}` or `{}` (it has {}); name them with --text-field and --label-field",
                    text_field,
                    label_field,
                    fields.join(", ")
                ),
            });
        };
        if text.trim().is_empty() || label.trim().is_empty() {
            continue;
        }
        let group = match (field("year"), field("name")) {
            (Some(year), Some(person)) if name == "sotu" => format!("{year} {person}"),
            _ => format!("record {line}"),
        };
        documents.push(Document { text, label: label.trim().to_string(), group });
    }
    if documents.is_empty() {
        return Err(CorpusError::Format {
            source_name: name.into(),
            message: "no record with a text and a label".into(),
        });
    }
    Ok(documents)
}

type Record = BTreeMap<String, String>;

/// One JSON object a line; string, number and boolean fields are kept as text.
fn jsonl_records(text: &str, source: &str) -> Result<Vec<(usize, Record)>, CorpusError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| CorpusError::Format {
            source_name: source.into(),
            message: format!("line {}: not JSON ({e}); give one JSON object a line, or a .csv file", i + 1),
        })?;
        let Some(object) = value.as_object() else {
            return Err(CorpusError::Format {
                source_name: source.into(),
                message: format!("line {}: not a JSON object", i + 1),
            });
        };
        let record = object
            .iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(s) => Some((k.clone(), s.clone())),
                serde_json::Value::Number(n) => Some((k.clone(), n.to_string())),
                serde_json::Value::Bool(b) => Some((k.clone(), b.to_string())),
                _ => None,
            })
            .collect();
        out.push((i + 1, record));
    }
    Ok(out)
}

/// A CSV file with a header row (RFC 4180: quoted fields may hold commas, doubled quotes and
/// line breaks).
fn csv_records(text: &str, source: &str) -> Result<Vec<(usize, Record)>, CorpusError> {
    let rows = parse_csv(text).map_err(|message| CorpusError::Format { source_name: source.into(), message })?;
    let mut rows = rows.into_iter();
    let Some(header) = rows.next() else {
        return Err(CorpusError::Format {
            source_name: source.into(),
            message: "empty file; it needs a header row".into(),
        });
    };
    let mut out = Vec::new();
    for (i, row) in rows.enumerate() {
        if row.len() == 1 && row[0].is_empty() {
            continue;
        }
        if row.len() != header.len() {
            return Err(CorpusError::Format {
                source_name: source.into(),
                message: format!(
                    "row {} has {} fields, the header {}; quote fields that contain commas",
                    i + 2,
                    row.len(),
                    header.len()
                ),
            });
        }
        out.push((i + 2, header.iter().cloned().zip(row).collect()));
    }
    Ok(out)
}

/// The rows of a CSV text (header included), read with the `csv` crate: quoted fields may hold
/// commas, quotes and line breaks; a UTF-8 byte-order mark (Excel's "CSV UTF-8") is dropped.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Quotes come in pairs in a well-formed file (an escaped one is two); the reader would take
    // an unclosed quote to the end of the file as one field, so refuse it here.
    if text.bytes().filter(|&b| b == b'"').count() % 2 == 1 {
        let line = text[..text.rfind('"').unwrap_or(0)].lines().count().max(1);
        return Err(format!("a quoted field opened by line {line} never closes"));
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    reader
        .records()
        .map(|record| {
            record.map(|r| r.iter().map(str::to_string).collect()).map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                format!("line {line}: {e}")
            })
        })
        .collect()
}

/// A piece of a document: at most `words` consecutive words of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub words: Vec<String>,
    /// Index into the label list.
    pub label: usize,
    /// Index of the document it came from.
    pub document: usize,
}

/// Cuts every document whose label is in `labels` into chunks of `words_per_chunk` words; a
/// last piece shorter than half a chunk is dropped (a document shorter than that stays whole).
pub fn chunk_documents(documents: &[Document], labels: &[String], words_per_chunk: usize) -> Vec<Chunk> {
    let mut out = Vec::new();
    for (d, document) in documents.iter().enumerate() {
        let Some(label) = labels.iter().position(|l| *l == document.label) else { continue };
        let all = words(&document.text);
        for (i, piece) in all.chunks(words_per_chunk).enumerate() {
            if i > 0 && piece.len() * 2 < words_per_chunk {
                continue;
            }
            out.push(Chunk { words: piece.to_vec(), label, document: d });
        }
    }
    out
}

/// The labels to use: the given ones, or every label of the documents in sorted order.
pub fn label_set(documents: &[Document], wanted: &[String]) -> Vec<String> {
    if !wanted.is_empty() {
        return wanted.to_vec();
    }
    let mut labels: Vec<String> = documents.iter().map(|d| d.label.clone()).collect();
    labels.sort();
    labels.dedup();
    labels
}

/// Which split each document belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Train,
    Valid,
    Test,
}

/// Assigns whole documents to train / validation / test: for each label separately, its
/// documents in a seeded random order, the first `train_fraction` to training, the next
/// `valid_fraction` to validation, the rest to test (so each split has every label; no document
/// is in two splits). Returns one part per document.
pub fn split_documents(
    documents: &[Document],
    labels: &[String],
    train_fraction: f64,
    valid_fraction: f64,
    seed: u64,
) -> Vec<Option<Part>> {
    let mut parts = vec![None; documents.len()];
    let mut rng = SplitMix64::new(seed);
    for label in labels {
        let mut members: Vec<usize> = (0..documents.len()).filter(|&d| documents[d].label == *label).collect();
        for i in (1..members.len()).rev() {
            members.swap(i, rng.below(i + 1));
        }
        let n = members.len();
        let n_train = ((n as f64) * train_fraction).round() as usize;
        let n_valid = ((n as f64) * valid_fraction).round().max(1.0) as usize;
        for (rank, &d) in members.iter().enumerate() {
            parts[d] = Some(if rank < n_train {
                Part::Train
            } else if rank < n_train + n_valid {
                Part::Valid
            } else {
                Part::Test
            });
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moby_dick_is_shipped_and_splits_at_the_end() {
        let (text, _) = load_text("moby-dick").unwrap();
        assert!(text.len() > 1_200_000);
        let (train, valid) = split_text(&text, 0.1);
        assert_eq!(train.len() + valid.len(), text.len());
        let share = valid.chars().count() as f64 / text.chars().count() as f64;
        assert!((share - 0.1).abs() < 1e-4, "{share}");
        assert!(valid.contains("Rachel"), "the epilogue is held out");
    }

    #[test]
    fn sotu_documents_group_by_address_and_split_apart() {
        let source = DocumentSource { data: "sotu", text_field: "text", label_field: "party" };
        let documents = load_documents(&source).unwrap();
        assert_eq!(documents.len(), 233);
        let labels = vec!["Democratic".to_string(), "Republican".to_string()];
        let parts = split_documents(&documents, &labels, 0.7, 0.15, 1);
        for (d, part) in documents.iter().zip(&parts) {
            assert_eq!(part.is_some(), labels.contains(&d.label), "{}", d.group);
        }
        let count = |p: Part| parts.iter().filter(|x| **x == Some(p)).count();
        assert_eq!(count(Part::Train) + count(Part::Valid) + count(Part::Test), 182);
        assert!(count(Part::Valid) >= 20 && count(Part::Test) >= 20);
        let chunks = chunk_documents(&documents, &labels, 100);
        assert!(chunks.iter().all(|c| c.words.len() <= 100 && !c.words.is_empty()));
        assert!(chunks.len() > 14_000, "{}", chunks.len());
    }

    #[test]
    fn csv_fields_may_hold_commas_quotes_and_line_breaks() {
        let rows = parse_csv("text,label\n\"a, \"\"b\"\"\nc\",x\nplain,y\n").unwrap();
        assert_eq!(rows, vec![vec!["text", "label"], vec!["a, \"b\"\nc", "x"], vec!["plain", "y"]]);
        assert!(parse_csv("a\n\"open").is_err());
        // Excel's "CSV UTF-8" byte-order mark is not part of the first header name.
        assert_eq!(parse_csv("\u{feff}text,label\nhi,x\n").unwrap()[0], vec!["text", "label"]);
    }

    #[test]
    fn a_missing_field_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.jsonl");
        std::fs::write(&path, "{\"body\": \"hello\", \"tag\": \"a\"}\n").unwrap();
        let path = path.display().to_string();
        let error = load_documents(&DocumentSource { data: &path, text_field: "text", label_field: "tag" })
            .unwrap_err()
            .to_string();
        assert!(error.contains("--text-field") && error.contains("body"), "{error}");
    }
}
