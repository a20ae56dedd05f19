//! The config file and its profiles (SPEC §2): where it lives, which profile a command uses.
//! What a profile holds, where its token comes from and how the file is edited are in the
//! modules below.

mod editor;
mod profile;
mod token;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{one_line, usage, Failure};

pub use editor::ConfigEditor;
pub use profile::{builtin_profiles, Profile, TokenSource};
pub use token::resolve_token;

/// `base_url` value that runs the built-in emulator inside the command.
pub const EMBEDDED: &str = "embedded";
/// Overrides whatever token the profile names.
pub const TOKEN_ENV: &str = "CATOPS_TOKEN";
/// The most requests in flight `--concurrency` and a profile's `concurrency` may ask for.
pub const MAX_CONCURRENCY: usize = 64;

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// The loaded config: the file's contents (empty when there is none) and where it lives.
pub struct Config {
    pub path: PathBuf,
    pub file: ConfigFile,
    /// Whether the file is there (without one, only the built-in profiles exist).
    pub exists: bool,
}

/// A profile chosen for a command.
pub struct Selected {
    pub name: String,
    pub profile: Profile,
}

impl Config {
    /// `--config` / `$CATOPS_CONFIG` (both arrive as `explicit`), else the platform config dir.
    pub fn locate(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
        if let Some(path) = explicit {
            return Ok(path.to_path_buf());
        }
        match directories::BaseDirs::new() {
            Some(dirs) => Ok(dirs.config_dir().join("catops").join("config.toml")),
            None => usage("cannot find a config directory (is HOME set?); pass --config PATH"),
        }
    }

    /// Reads the file; `quiet` silences the warning about a token others can read.
    pub fn load(path: PathBuf, quiet: bool) -> anyhow::Result<Config> {
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config {
                    path,
                    file: ConfigFile::default(),
                    exists: false,
                })
            }
            Err(err) => {
                return Err(Failure::usage(format!("cannot read {}: {err}", path.display())).into())
            }
        };
        let file: ConfigFile = toml::from_str(&text).map_err(|err| {
            Failure::usage(format!(
                "{}: {}",
                path.display(),
                one_line(&err.to_string())
            ))
        })?;
        if !quiet && file.profiles.values().any(|p| p.token.is_some()) {
            editor::warn_if_readable_by_others(&path);
        }
        Ok(Config {
            path,
            file,
            exists: true,
        })
    }

    /// Profiles from the file first; built-ins fill in the names the file does not use.
    pub fn profiles(&self) -> Vec<(String, Profile, bool)> {
        let mut all: Vec<(String, Profile, bool)> = self
            .file
            .profiles
            .iter()
            .map(|(name, profile)| (name.clone(), profile.clone(), false))
            .collect();
        for (name, profile) in builtin_profiles() {
            if !self.file.profiles.contains_key(name) {
                all.push((name.to_string(), profile, true));
            }
        }
        all
    }

    pub fn find(&self, name: &str) -> Option<Profile> {
        self.file.profiles.get(name).cloned().or_else(|| {
            builtin_profiles()
                .into_iter()
                .find(|(builtin, _)| *builtin == name)
                .map(|(_, profile)| profile)
        })
    }

    /// `--profile` / `$CATOPS_PROFILE` (both arrive as `requested`), else `default_profile`.
    pub fn select(&self, requested: Option<&str>) -> anyhow::Result<Selected> {
        let name = match requested.or(self.file.default_profile.as_deref()) {
            Some(name) => name,
            None => {
                return Err(Failure::usage("no profile selected")
                    .hint(format!("pass -p NAME; profiles: {}", self.profile_names()))
                    .hint("or set one as the default: catops profile use NAME")
                    .into())
            }
        };
        match self.find(name) {
            Some(profile) => {
                profile.check_numbers(name, &self.path)?;
                Ok(Selected {
                    name: name.to_string(),
                    profile,
                })
            }
            None => Err(Failure::usage(format!(
                "profile '{name}' not found in {}{}",
                self.path.display(),
                if self.exists {
                    ""
                } else {
                    " (the file does not exist)"
                }
            ))
            .hint(format!("profiles: {}", self.profile_names()))
            .into()),
        }
    }

    fn profile_names(&self) -> String {
        self.profiles()
            .into_iter()
            .map(|(name, _, _)| name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
