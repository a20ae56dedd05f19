//! Editing the config file in place (`catops profile add|remove|use`), keeping the user's
//! comments, writing through a symlink, never leaving a token readable by others.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::error::{one_line, usage, Failure};

use super::ConfigFile;

/// Edits the config file in place with `toml_edit`, so the user's comments and layout survive.
pub struct ConfigEditor {
    path: PathBuf,
    doc: toml_edit::DocumentMut,
}

impl ConfigEditor {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => return usage(format!("cannot read {}: {err}", path.display())),
        };
        let doc = text.parse::<toml_edit::DocumentMut>().map_err(|err| {
            Failure::usage(format!(
                "{}: {}",
                path.display(),
                one_line(&err.to_string())
            ))
        })?;
        Ok(ConfigEditor {
            path: path.to_path_buf(),
            doc,
        })
    }

    pub fn has_profile(&self, name: &str) -> bool {
        self.doc
            .get("profiles")
            .and_then(|profiles| profiles.get(name))
            .is_some()
    }

    /// Adds `[profiles.NAME]` with the given keys, in the order given.
    pub fn add_profile(
        &mut self,
        name: &str,
        keys: &[(&str, toml_edit::Value)],
    ) -> anyhow::Result<()> {
        let path = self.path.display().to_string();
        let profiles = self
            .doc
            .entry("profiles")
            .or_insert_with(|| {
                let mut table = toml_edit::Table::new();
                table.set_implicit(true);
                toml_edit::Item::Table(table)
            })
            .as_table_like_mut()
            .ok_or_else(|| Failure::usage(format!("{path}: `profiles` is not a table")))?;
        let mut table = toml_edit::Table::new();
        for (key, value) in keys {
            table.insert(key, toml_edit::Item::Value(value.clone()));
        }
        profiles.insert(name, toml_edit::Item::Table(table));
        Ok(())
    }

    pub fn remove_profile(&mut self, name: &str) -> bool {
        self.doc
            .get_mut("profiles")
            .and_then(|profiles| profiles.as_table_like_mut())
            .and_then(|profiles| profiles.remove(name))
            .is_some()
    }

    pub fn default_profile(&self) -> Option<&str> {
        self.doc.get("default_profile").and_then(|v| v.as_str())
    }

    pub fn set_default_profile(&mut self, name: Option<&str>) {
        match name {
            Some(name) => {
                // toml_edit writes root keys before the tables, so this stays top-level.
                self.doc["default_profile"] = toml_edit::value(name);
            }
            None => {
                self.doc.remove("default_profile");
            }
        }
    }

    /// Checks the edited document still parses as a config, then replaces the file atomically.
    pub fn save(&self) -> anyhow::Result<()> {
        let text = self.doc.to_string();
        let parsed = toml::from_str::<ConfigFile>(&text).map_err(|err| {
            Failure::usage(format!(
                "the edit would make {} invalid: {}",
                self.path.display(),
                one_line(&err.to_string())
            ))
        })?;
        // A config that is a symlink (dotfiles kept in a repository) is written through: the
        // file it points to is replaced, and the link stays a link.
        let target = match fs::canonicalize(&self.path) {
            Ok(target) => target,
            Err(_) => self.path.clone(),
        };
        if let Some(dir) = target.parent() {
            if !dir.as_os_str().is_empty() {
                fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
        }
        let holds_token = parsed.profiles.values().any(|p| p.token.is_some());
        let mut name = target.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        let tmp = target.with_file_name(name);
        write_private(&tmp, &target, text.as_bytes(), holds_token)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, &target)
            .with_context(|| format!("cannot replace {}", target.display()))?;
        Ok(())
    }
}

/// Writes `tmp` readable by its owner only from the first byte (it may hold tokens), then gives
/// it the mode `original` had, if there was one; a file holding a token stays owner-only.
#[cfg(unix)]
fn write_private(
    tmp: &Path,
    original: &Path,
    bytes: &[u8],
    holds_token: bool,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let _ = fs::remove_file(tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    if let Ok(meta) = fs::metadata(original) {
        let mut mode = meta.permissions().mode() & 0o7777;
        if holds_token {
            mode &= 0o700;
        }
        fs::set_permissions(tmp, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn write_private(
    tmp: &Path,
    _original: &Path,
    bytes: &[u8],
    _holds_token: bool,
) -> std::io::Result<()> {
    fs::write(tmp, bytes)
}

#[cfg(unix)]
pub fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: {} holds a token and others can read it; run: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
pub fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;
    use catops_spec::VendorKind;

    #[cfg(unix)]
    #[test]
    fn a_config_that_is_a_symlink_is_written_through_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles-config.toml");
        fs::write(&real, "# kept\n").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("config.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut editor = ConfigEditor::open(&link).unwrap();
        editor
            .add_profile(
                "shop",
                &[("vendor", "rastro".into()), ("token", "t0k".into())],
            )
            .unwrap();
        editor.save().unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        let text = fs::read_to_string(&real).unwrap();
        assert!(text.contains("# kept") && text.contains("t0k"), "{text}");
        let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a file with a token is owner-only");
    }

    #[test]
    fn editor_keeps_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(
            &path,
            "# my shops\n[profiles.shop] # the live one\nvendor = \"rastro\"\n",
        )
        .unwrap();
        let mut editor = ConfigEditor::open(&path).unwrap();
        editor
            .add_profile("dev", &[("vendor", "batch".into())])
            .unwrap();
        editor.set_default_profile(Some("dev"));
        editor.save().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("# my shops") && text.contains("# the live one"),
            "{text}"
        );
        let parsed: ConfigFile = toml::from_str(&text).unwrap();
        assert_eq!(parsed.default_profile.as_deref(), Some("dev"));
        assert_eq!(parsed.profiles["dev"].vendor, VendorKind::Batch);
    }
}
