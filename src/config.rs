//! The config file and its profiles (SPEC §2): where it lives, what a profile holds, which
//! profile a command uses, where its token comes from, and editing the file in place.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::error::{one_line, usage, Failure};
use crate::vendors::VendorKind;

/// `base_url` value that runs the built-in emulator inside the command.
pub const EMBEDDED: &str = "embedded";
/// The token every built-in sandbox profile uses, and the sandbox accepts.
pub const SANDBOX_TOKEN: &str = "sandbox-token";
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

/// One `[profiles.NAME]` table. Unknown keys are an error so that a typo never silently
/// falls back to a default.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub vendor: VendorKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_cmd: Option<String>,
    #[serde(skip_serializing)]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_rps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_items: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
}

impl Profile {
    pub fn new(vendor: VendorKind) -> Self {
        Profile {
            vendor,
            base_url: None,
            token_env: None,
            token_cmd: None,
            token: None,
            unique_field: None,
            project_key: None,
            api_version: None,
            account_id: None,
            region: None,
            store_uuid: None,
            channel: None,
            rate_limit_rps: None,
            rate_limit_items: None,
            concurrency: None,
        }
    }

    /// The numbers a profile may set are held to the rules of the flags they stand for, so a
    /// `concurrency = 0` or a negative rate is an error, not a silent default.
    fn check_numbers(&self, name: &str, path: &Path) -> Result<(), Failure> {
        let bad = |key: &str, value: String, rule: &str| {
            Failure::usage(format!(
                "profile '{name}' in {}: {key} = {value}: {rule}",
                path.display()
            ))
        };
        if let Some(n) = self.concurrency {
            if !(1..=MAX_CONCURRENCY).contains(&n) {
                return Err(bad("concurrency", n.to_string(), "must be from 1 to 64"));
            }
        }
        for (key, rate) in [
            ("rate_limit_rps", self.rate_limit_rps),
            ("rate_limit_items", self.rate_limit_items),
        ] {
            if let Some(rate) = rate {
                if !(rate.is_finite() && rate > 0.0) {
                    return Err(bad(key, rate.to_string(), "must be a positive number"));
                }
            }
        }
        Ok(())
    }

    /// Where this profile's token comes from, by SPEC §2's precedence, without reading it.
    pub fn token_source(&self, env: &dyn Fn(&str) -> Option<String>) -> TokenSource {
        if env(TOKEN_ENV).is_some() {
            return TokenSource::Env(TOKEN_ENV.to_string());
        }
        if let Some(var) = &self.token_env {
            if env(var).is_some() {
                return TokenSource::Env(var.clone());
            }
        }
        if let Some(cmd) = &self.token_cmd {
            return TokenSource::Command(cmd.clone());
        }
        if self.token.is_some() {
            return TokenSource::ConfigFile;
        }
        match &self.token_env {
            Some(var) => TokenSource::UnsetEnv(var.clone()),
            None => TokenSource::None,
        }
    }
}

/// The built-in profiles (SPEC §2): usable with no config file, all on the embedded sandbox.
pub fn builtin_profiles() -> Vec<(&'static str, Profile)> {
    let sandbox = |vendor| Profile {
        base_url: Some(EMBEDDED.to_string()),
        token: Some(SANDBOX_TOKEN.to_string()),
        ..Profile::new(vendor)
    };
    vec![
        (
            "sandbox",
            Profile {
                unique_field: Some("sku".to_string()),
                ..sandbox(VendorKind::Rastro)
            },
        ),
        (
            "sandbox-batch",
            Profile {
                project_key: Some("sandbox".to_string()),
                ..sandbox(VendorKind::Batch)
            },
        ),
        (
            "sandbox-catalogix",
            Profile {
                store_uuid: Some("store_demo".to_string()),
                ..sandbox(VendorKind::Catalogix)
            },
        ),
        (
            "sandbox-clevertap",
            Profile {
                account_id: Some("sandbox".to_string()),
                ..sandbox(VendorKind::Clevertap)
            },
        ),
        ("sandbox-catalogian", sandbox(VendorKind::Catalogian)),
    ]
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    Env(String),
    UnsetEnv(String),
    Command(String),
    ConfigFile,
    None,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Env(var) => write!(f, "env {var}"),
            TokenSource::UnsetEnv(var) => write!(f, "env {var} (not set)"),
            TokenSource::Command(_) => f.write_str("token_cmd"),
            TokenSource::ConfigFile => f.write_str("token (config file)"),
            TokenSource::None => f.write_str("none"),
        }
    }
}

/// A token. Its `Debug` and `Display` never show the value.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The loaded config: the file's contents (empty when there is none) and where it lives.
pub struct Config {
    pub path: PathBuf,
    pub file: ConfigFile,
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
            warn_if_readable_by_others(&path);
        }
        Ok(Config { path, file })
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
                "profile '{name}' not found in {}",
                self.path.display()
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

/// Reads the token by SPEC §2's precedence: `$CATOPS_TOKEN` > `token_env` > `token_cmd` > `token`.
/// A `token_cmd` gets `timeout` to print it.
pub async fn resolve_token(selected: &Selected, timeout: Duration) -> anyhow::Result<Secret> {
    let env = |var: &str| std::env::var(var).ok().filter(|value| !value.is_empty());
    let profile = &selected.profile;
    match profile.token_source(&env) {
        TokenSource::Env(var) => Ok(Secret::new(env(&var).unwrap_or_default())),
        TokenSource::Command(cmd) => run_token_cmd(&selected.name, &cmd, timeout).await,
        TokenSource::ConfigFile => Ok(Secret::new(profile.token.clone().unwrap_or_default())),
        TokenSource::UnsetEnv(var) => Err(Failure::usage(format!(
            "profile '{}' reads its token from ${var}, which is not set",
            selected.name
        ))
        .into()),
        TokenSource::None => Err(Failure::usage(format!(
            "profile '{}' has no token: set token_env, token_cmd or token, or ${TOKEN_ENV}",
            selected.name
        ))
        .into()),
    }
}

/// Runs `token_cmd` in a process group of its own, so that a command that hangs (a password
/// manager waiting for a prompt, say) is killed whole, its children too, when it runs past
/// `timeout` or catops stops first; nothing is left behind.
async fn run_token_cmd(profile: &str, cmd: &str, timeout: Duration) -> anyhow::Result<Secret> {
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let child = command.spawn().map_err(|err| {
        Failure::usage(format!("profile '{profile}': cannot run token_cmd: {err}"))
    })?;
    let mut group = ProcessGroup(child.id());
    let output = tokio::select! {
        output = child.wait_with_output() => output.map_err(|err| {
            Failure::usage(format!("profile '{profile}': token_cmd: {err}"))
        })?,
        () = tokio::time::sleep(timeout) => {
            return Err(Failure::usage(format!(
                "profile '{profile}': token_cmd printed no token within {} s, so it was stopped",
                timeout.as_secs_f64()
            ))
            .hint("check that the command runs without a prompt; --timeout gives it longer")
            .into());
        }
    };
    group.0 = None;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return usage(format!(
            "profile '{profile}': token_cmd failed ({}): {}",
            output.status,
            one_line(stderr.trim())
        ));
    }
    let token = String::from_utf8(output.stdout)
        .map_err(|_| Failure::usage(format!("profile '{profile}': token_cmd printed non-UTF-8")))?;
    let token = token.trim();
    if token.is_empty() {
        return usage(format!("profile '{profile}': token_cmd printed nothing"));
    }
    Ok(Secret::new(token.to_string()))
}

/// A running token_cmd's process group, killed when this is dropped before it finished.
struct ProcessGroup(Option<u32>);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(id) = self.0.and_then(|id| i32::try_from(id).ok()) {
            use nix::sys::signal::{killpg, Signal};
            let _ = killpg(nix::unistd::Pid::from_raw(id), Signal::SIGKILL);
        }
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
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
fn warn_if_readable_by_others(_path: &Path) {}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(toml_text: &str) -> Profile {
        toml::from_str(toml_text).expect("profile parses")
    }

    #[test]
    fn token_precedence_follows_spec() {
        let p = profile(
            "vendor = 'rastro'\ntoken_env = 'MY_KEY'\ntoken_cmd = 'echo x'\ntoken = 'inline'",
        );
        let all = |var: &str| Some(format!("value of {var}"));
        assert_eq!(p.token_source(&all), TokenSource::Env(TOKEN_ENV.into()));
        let no_catops = |var: &str| (var != TOKEN_ENV).then(|| "v".to_string());
        assert_eq!(
            p.token_source(&no_catops),
            TokenSource::Env("MY_KEY".into())
        );
        let none = |_: &str| None;
        assert_eq!(p.token_source(&none), TokenSource::Command("echo x".into()));
        let inline_only = profile("vendor = 'rastro'\ntoken = 'inline'");
        assert_eq!(inline_only.token_source(&none), TokenSource::ConfigFile);
        let unset = profile("vendor = 'rastro'\ntoken_env = 'MY_KEY'");
        assert_eq!(
            unset.token_source(&none),
            TokenSource::UnsetEnv("MY_KEY".into())
        );
    }

    #[test]
    fn unknown_profile_key_is_rejected() {
        let err = toml::from_str::<ConfigFile>("[profiles.a]\nvendor = 'rastro'\ntoekn = 'x'\n")
            .unwrap_err();
        assert!(err.to_string().contains("toekn"), "{err}");
    }

    #[test]
    fn secret_debug_hides_value() {
        assert_eq!(format!("{:?}", Secret::new("abc".into())), "Secret(***)");
    }

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
