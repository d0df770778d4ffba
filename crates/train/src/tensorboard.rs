//! TensorBoard scalars: each run also writes its epoch figures as a TensorBoard event file
//! (`events.out.tfevents.<time>.zoo`), so `tensorboard --logdir runs` shows zoo's runs beside a
//! user's PyTorch runs. The file is TFRecord framing (length, masked CRC-32C of the length, the
//! record, masked CRC-32C of the record) around `Event` protocol buffers, written by hand here
//! (two messages, four fields) rather than pulling in a protobuf crate.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An event file being written; every epoch's scalars are appended and synced.
pub struct EventWriter {
    file: File,
    path: PathBuf,
}

impl EventWriter {
    /// Creates a new event file in `dir` (a resumed run gets one of its own; TensorBoard reads
    /// every file of a folder) and writes its version record.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let mut path = dir.join(format!("events.out.tfevents.{}.zoo", now.as_secs()));
        let mut n = 1;
        while path.exists() {
            path = dir.join(format!("events.out.tfevents.{}.zoo.{n}", now.as_secs()));
            n += 1;
        }
        let file = OpenOptions::new().create_new(true).append(true).open(&path)?;
        let mut writer = Self { file, path };
        let mut event = Vec::new();
        wall_time(&mut event, now.as_secs_f64());
        field_bytes(&mut event, 3, b"brain.Event:2");
        writer.write_record(&event)?;
        Ok(writer)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One event at `step` holding each `(tag, value)` as a scalar.
    pub fn scalars(&mut self, step: u64, values: &[(String, f64)]) -> std::io::Result<()> {
        let mut summary = Vec::new();
        for (tag, value) in values {
            let mut entry = Vec::new();
            field_bytes(&mut entry, 1, tag.as_bytes());
            entry.push(0x15); // field 2 (simple_value), 32-bit
            entry.extend_from_slice(&(*value as f32).to_le_bytes());
            field_bytes(&mut summary, 1, &entry);
        }
        let mut event = Vec::new();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        wall_time(&mut event, now.as_secs_f64());
        event.push(0x10); // field 2 (step), varint
        varint(&mut event, step);
        field_bytes(&mut event, 5, &summary);
        self.write_record(&event)
    }

    fn write_record(&mut self, data: &[u8]) -> std::io::Result<()> {
        let length = (data.len() as u64).to_le_bytes();
        let mut record = Vec::with_capacity(data.len() + 16);
        record.extend_from_slice(&length);
        record.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
        record.extend_from_slice(data);
        record.extend_from_slice(&masked_crc32c(data).to_le_bytes());
        self.file.write_all(&record)?;
        self.file.sync_data()
    }
}

fn wall_time(out: &mut Vec<u8>, seconds: f64) {
    out.push(0x09); // field 1 (wall_time), 64-bit
    out.extend_from_slice(&seconds.to_le_bytes());
}

/// A length-delimited field (`string`, `bytes` or a message).
fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// CRC-32C (Castagnoli), bit by bit over a table built once.
pub fn crc32c(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u32; 256];
        for (i, entry) in table.iter_mut().enumerate() {
            let mut crc = i as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
            }
            *entry = crc;
        }
        table
    });
    !data.iter().fold(!0u32, |crc, &byte| table[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8))
}

/// TFRecord's masked CRC: rotated and offset so a CRC of CRCs does not degenerate.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_its_check_value() {
        // The standard check value of CRC-32C over "123456789".
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn records_are_framed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = EventWriter::create(dir.path()).unwrap();
        writer.scalars(3, &[("train/Loss".into(), 0.5), ("valid/Accuracy".into(), 97.25)]).unwrap();
        let bytes = std::fs::read(writer.path()).unwrap();
        let mut at = 0;
        let mut records = Vec::new();
        while at < bytes.len() {
            let length = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
            let length_crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            assert_eq!(length_crc, masked_crc32c(&bytes[at..at + 8]));
            let data = &bytes[at + 12..at + 12 + length];
            let data_crc = u32::from_le_bytes(bytes[at + 12 + length..at + 16 + length].try_into().unwrap());
            assert_eq!(data_crc, masked_crc32c(data));
            records.push(data.to_vec());
            at += 16 + length;
        }
        assert_eq!(records.len(), 2);
        assert!(records[0].windows(13).any(|w| w == b"brain.Event:2"));
        let event = &records[1];
        assert!(event.windows(10).any(|w| w == b"train/Loss"));
        assert!(event.windows(4).any(|w| w == 97.25f32.to_le_bytes()), "the scalar's value");
        // The step: field 2, varint 3.
        assert!(event.windows(2).any(|w| w == [0x10, 3]));
    }
}
