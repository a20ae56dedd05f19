//! The rejects file (SPEC §4): one JSON line per rejected or failed row,
//! `{"row":N,"line":N,"error":"...","record":{...}}`, created only when there is one, plus
//! `"raw_base64"` with the row's own bytes when they are not valid UTF-8.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::prelude::{Engine as _, BASE64_STANDARD};
use serde_json::{json, Value};

pub struct Rejects {
    path: PathBuf,
    append: bool,
    file: Option<BufWriter<File>>,
}

impl Rejects {
    /// `append` keeps an earlier run's lines (for `--resume`). Otherwise an earlier run's file
    /// is removed now, so a rejects file never outlives the run that wrote it (a CI step that
    /// uploads "the rejects file if present" must not find a stale one).
    pub fn new(path: PathBuf, append: bool) -> std::io::Result<Rejects> {
        // Only a regular file (or a link) is removed: a rejects path naming a device such as
        // /dev/stdout is written to, never deleted.
        let stale = std::fs::symlink_metadata(&path)
            .is_ok_and(|meta| meta.is_file() || meta.file_type().is_symlink());
        if !append && stale {
            std::fs::remove_file(&path)?;
        }
        if std::fs::metadata(&path).is_ok_and(|meta| meta.is_dir()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a directory",
            ));
        }
        Ok(Rejects {
            path,
            append,
            file: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(
        &mut self,
        row: u64,
        line: u64,
        error: &str,
        record: &Value,
        original: Option<&[u8]>,
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
            let mut entry = json!({"row": row, "line": line, "error": error, "record": record});
            if let Some(bytes) = original {
                entry["raw_base64"] = json!(BASE64_STANDARD.encode(bytes));
            }
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
