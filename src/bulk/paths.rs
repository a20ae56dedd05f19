//! The files a bulk run touches. Input, rejects file and journal must be three different
//! files: a rejects file or journal that is the input (by another name, a symlink, a relative
//! path) would be truncated or appended to while it is read. The rate limits' shared state
//! lives under the data dir.

use std::path::{Path, PathBuf};

use crate::error::Failure;

/// What makes two paths the same file: the device and inode of one that exists, else the
/// canonical directory and name it would be created as.
#[derive(Debug, PartialEq, Eq)]
enum FileId {
    #[cfg(unix)]
    Inode(u64, u64),
    Path(PathBuf),
}

fn file_id(path: &Path) -> Option<FileId> {
    if let Ok(meta) = std::fs::metadata(path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            return Some(FileId::Inode(meta.dev(), meta.ino()));
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            return std::fs::canonicalize(path).ok().map(FileId::Path);
        }
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let parent = std::fs::canonicalize(parent).ok()?;
    Some(FileId::Path(parent.join(name)))
}

/// A usage error when any two of the input, the rejects file and the journal are one file.
pub fn check_distinct(input: &str, rejects: &Path, journal: Option<&Path>) -> Result<(), Failure> {
    let mut files: Vec<(&str, &Path)> = Vec::new();
    if input != "-" {
        files.push(("the input", Path::new(input)));
    }
    files.push(("--rejects", rejects));
    if let Some(journal) = journal {
        files.push(("--journal", journal));
    }
    let ids: Vec<Option<FileId>> = files.iter().map(|(_, path)| file_id(path)).collect();
    for (i, (first, first_path)) in files.iter().enumerate() {
        for (j, (second, second_path)) in files.iter().enumerate().skip(i + 1) {
            if ids[i].is_some() && ids[i] == ids[j] {
                return Err(Failure::usage(format!(
                    "{first} ({}) and {second} ({}) are the same file: it would be overwritten while it is used",
                    first_path.display(),
                    second_path.display()
                ))
                .hint("give --rejects and --journal paths of their own"));
            }
        }
    }
    Ok(())
}

/// The rate-limit state every process using `profile` at `base_url` shares:
/// `<data dir>/catops/rates/<profile>-<hash of the base URL>`. None without a data dir.
pub fn shared_rates(profile: &str, base_url: &str) -> Option<PathBuf> {
    let name = format!("{}-{:016x}", file_safe(profile), url_hash(base_url));
    Some(data_dir()?.join("rates").join(name))
}

/// `bulk sync`'s state for `catalog` of `profile` at `base_url`:
/// `<data dir>/catops/sync/<profile>-<catalog>-<hash of the base URL>.sqlite3`.
pub fn sync_state(profile: &str, catalog: &str, base_url: &str) -> Option<PathBuf> {
    let name = format!(
        "{}-{}-{:016x}.sqlite3",
        file_safe(profile),
        file_safe(catalog),
        url_hash(base_url)
    );
    Some(data_dir()?.join("sync").join(name))
}

fn data_dir() -> Option<PathBuf> {
    Some(directories::BaseDirs::new()?.data_dir().join("catops"))
}

fn url_hash(base_url: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(base_url.as_bytes())
}

/// A name as a file name may hold it: other characters become `_`.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_by_any_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "sku\nA\n").unwrap();
        let input_text = input.to_str().unwrap();
        let other = dir.path().join("r.ndjson");
        assert!(check_distinct(input_text, &other, None).is_ok());
        assert!(check_distinct(input_text, &input, None).is_err());
        let dotted = dir.path().join(".").join("in.csv");
        assert!(check_distinct(input_text, &dotted, None).is_err());
        #[cfg(unix)]
        {
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&input, &link).unwrap();
            assert!(check_distinct(input_text, &link, None).is_err());
        }
        let journal = dir.path().join("j");
        let err = check_distinct(input_text, &journal, Some(&journal)).unwrap_err();
        assert!(err.message.contains("--rejects"), "{}", err.message);
        assert!(err.message.contains("--journal"), "{}", err.message);
        assert!(check_distinct("-", &other, Some(&journal)).is_ok());
    }
}
