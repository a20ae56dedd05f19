//! A profile: the keys of one `[profiles.NAME]` table, the built-in sandbox profiles, and
//! where a profile's token comes from.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Failure;
use catops_spec::{VendorKind, SANDBOX_TOKEN};

use super::{EMBEDDED, MAX_CONCURRENCY, TOKEN_ENV};

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
    /// Who catalog changes are recorded as (clevertap's createdBy/updatedBy/deletedBy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
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
            user_email: None,
            rate_limit_rps: None,
            rate_limit_items: None,
            concurrency: None,
        }
    }

    /// The numbers a profile may set are held to the rules of the flags they stand for, so a
    /// `concurrency = 0` or a negative rate is an error, not a silent default.
    pub(super) fn check_numbers(&self, name: &str, path: &Path) -> Result<(), Failure> {
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
        let err = toml::from_str::<super::super::ConfigFile>(
            "[profiles.a]\nvendor = 'rastro'\ntoekn = 'x'\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("toekn"), "{err}");
    }
}
