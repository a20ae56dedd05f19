//! The rejects file (SPEC §4): one JSON line per rejected or failed row,
//! `{"row":N,"line":N,"error":"...","record":{...}}`, created only when there is one.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

pub struct Rejects {
    path: PathBuf,
    append: bool,
    file: Option<BufWriter<File>>,
}

impl Rejects {
    /// `append` keeps an earlier run's lines (for `--resume`); otherwise the first line
    /// written replaces the file.
    pub fn new(path: PathBuf, append: bool) -> Rejects {
        Rejects {
            path,
            append,
            file: None,
        }
    }

    pub fn write(
        &mut self,
        row: u64,
        line: u64,
        error: &str,
        record: &Value,
    ) -> std::io::Result<()> {
        if self.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .append(self.append)
                .truncate(!self.append)
                .open(&self.path)?;
            self.file = Some(BufWriter::new(file));
        }
        if let Some(file) = &mut self.file {
            let entry = json!({"row": row, "line": line, "error": error, "record": record});
            serde_json::to_writer(&mut *file, &entry)?;
            file.write_all(b"\n")?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }

    /// The file, if this run wrote to it.
    pub fn written(&self) -> Option<&Path> {
        self.file.as_ref().map(|_| self.path.as_path())
    }
}
