//! `catops profile list|show|add|remove|use`: reading and editing the config file.

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::cli::Context;
use crate::config::{ConfigEditor, Profile, TokenSource};
use crate::error::{exit, usage, Failure};

use crate::vendors::VendorKind;

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List profiles: the config file's, then the built-in sandbox ones
    #[command(after_help = "Examples:
  catops profile list
  catops profile list -o json --jq '.[].name'")]
    List,
    /// Show a profile's settings and where its token comes from (never the token)
    #[command(after_help = "Examples:
  catops profile show
  catops profile show sandbox-batch
  catops -p shop profile show -o json")]
    Show {
        /// Profile name [default: the selected profile]
        name: Option<String>,
    },
    /// Check a profile end to end: config file, token, base URL, and whether the token is accepted
    #[command(after_help = "Examples:
  catops profile test
  catops profile test shop -o json")]
    Test {
        /// Profile name [default: the selected profile]
        name: Option<String>,
    },
    /// Add a profile to the config file (the global --base-url sets its base_url)
    #[command(after_help = "Examples:
  catops profile add shop --vendor rastro --token-env RASTRO_API_KEY --unique-field sku
  catops profile add movies --vendor batch --token-env BATCH_REST_KEY --project-key PROJECT_KEY
  catops profile add ct --vendor clevertap --account-id ACCOUNT_ID --region eu \\
      --token-cmd 'pass show clevertap'
  catops profile add local --vendor rastro --token sandbox-token \\
      --base-url http://127.0.0.1:8787/rastro/api")]
    Add {
        /// Profile name
        name: String,
        #[command(flatten)]
        keys: Box<ProfileKeys>,
    },
    /// Remove a profile from the config file
    #[command(after_help = "Examples:
  catops profile remove shop
  catops --config ./catops.toml profile remove local")]
    Remove {
        /// Profile name
        name: String,
    },
    /// Make a profile the default
    #[command(after_help = "Examples:
  catops profile use shop
  catops profile use sandbox")]
    Use {
        /// Profile name
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct ProfileKeys {
    /// The profile's vendor
    #[arg(long, value_enum)]
    vendor: VendorKind,
    /// Environment variable holding the token (recommended)
    #[arg(long, value_name = "VAR")]
    token_env: Option<String>,
    /// Command printing the token, e.g. "pass show rastro"
    #[arg(long, value_name = "CMD")]
    token_cmd: Option<String>,
    /// The token itself, stored in the file (prefer --token-env or --token-cmd)
    #[arg(long, value_name = "TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// rastro: default unique field for bulk upserts
    #[arg(long, value_name = "F")]
    unique_field: Option<String>,
    /// batch: project key (X-Batch-Project)
    #[arg(long, value_name = "KEY")]
    project_key: Option<String>,
    /// batch: API version [default: 2.11]
    #[arg(long, value_name = "V")]
    api_version: Option<String>,
    /// clevertap: account id (X-Account-Id)
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
    /// clevertap: region [default: in1]
    #[arg(long, value_name = "R")]
    region: Option<String>,
    /// catalogix: store uuid
    #[arg(long, value_name = "U")]
    store_uuid: Option<String>,
    /// catalogix: channel [default: SMP]
    #[arg(long, value_name = "C")]
    channel: Option<String>,
    /// Email recorded as who made catalog changes (clevertap's createdBy/updatedBy/deletedBy)
    #[arg(long, value_name = "EMAIL")]
    user_email: Option<String>,
    /// Requests per second for bulk commands
    #[arg(long, value_name = "RPS")]
    rate_limit_rps: Option<f64>,
    /// Items per second for bulk commands
    #[arg(long, value_name = "IPS")]
    rate_limit_items: Option<f64>,
    /// Requests in flight for bulk commands
    #[arg(long, value_name = "N")]
    concurrency: Option<i64>,
}

impl ProfileKeys {
    /// The keys to write, in the order SPEC §2 lists them.
    fn to_toml(&self, base_url: Option<&str>) -> Vec<(&'static str, toml_edit::Value)> {
        let mut keys: Vec<(&'static str, toml_edit::Value)> =
            vec![("vendor", self.vendor.name().into())];
        let strings = [
            ("base_url", base_url),
            ("token_env", self.token_env.as_deref()),
            ("token_cmd", self.token_cmd.as_deref()),
            ("token", self.token.as_deref()),
            ("unique_field", self.unique_field.as_deref()),
            ("project_key", self.project_key.as_deref()),
            ("api_version", self.api_version.as_deref()),
            ("account_id", self.account_id.as_deref()),
            ("region", self.region.as_deref()),
            ("store_uuid", self.store_uuid.as_deref()),
            ("channel", self.channel.as_deref()),
            ("user_email", self.user_email.as_deref()),
        ];
        for (key, value) in strings {
            if let Some(value) = value {
                keys.push((key, value.into()));
            }
        }
        let floats = [
            ("rate_limit_rps", self.rate_limit_rps),
            ("rate_limit_items", self.rate_limit_items),
        ];
        for (key, value) in floats {
            if let Some(value) = value {
                keys.push((key, value.into()));
            }
        }
        if let Some(concurrency) = self.concurrency {
            keys.push(("concurrency", concurrency.into()));
        }
        keys
    }
}

pub fn run(command: ProfileCommand, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        ProfileCommand::List => list(ctx)?,
        ProfileCommand::Show { name } => show(ctx, name)?,
        ProfileCommand::Add { name, keys } => add(ctx, &name, &keys)?,
        ProfileCommand::Remove { name } => remove(ctx, &name)?,
        ProfileCommand::Use { name } => use_profile(ctx, &name)?,
        ProfileCommand::Test { name } => {
            return super::until_interrupted(test(ctx, name.as_deref()));
        }
    }
    Ok(exit::OK)
}

fn list(ctx: &Context) -> anyhow::Result<()> {
    let config = &ctx.config;
    let default = config.file.default_profile.as_deref();
    let profiles: Vec<Value> = config
        .profiles()
        .into_iter()
        .map(|(name, profile, builtin)| {
            json!({
                "name": name,
                "vendor": profile.vendor.name(),
                "base_url": base_url(&profile),
                "default": default == Some(name.as_str()),
                "builtin": builtin,
            })
        })
        .collect();
    ctx.print_list(&profiles, super::columns::PROFILES)
}

fn show(ctx: &Context, name: Option<String>) -> anyhow::Result<()> {
    let config = &ctx.config;
    let selected = match name {
        Some(name) => config.select(Some(&name))?,
        None => ctx.selected()?,
    };
    let env = |var: &str| std::env::var(var).ok().filter(|v| !v.is_empty());
    let mut shown = Map::new();
    shown.insert("name".into(), json!(selected.name));
    shown.insert(
        "config_file".into(),
        json!(config.path.display().to_string()),
    );
    shown.insert("config_exists".into(), json!(config.exists));
    // Serialising a Profile skips `token`, so the value cannot leak from here.
    if let Value::Object(keys) = serde_json::to_value(&selected.profile)? {
        shown.extend(keys);
    }
    shown.insert("base_url".into(), json!(base_url(&selected.profile)));
    shown.insert(
        "token_source".into(),
        json!(selected.profile.token_source(&env).to_string()),
    );
    shown.insert(
        "builtin".into(),
        json!(!config.file.profiles.contains_key(&selected.name)),
    );
    shown.insert(
        "default".into(),
        json!(config.file.default_profile.as_deref() == Some(selected.name.as_str())),
    );
    ctx.print(&Value::Object(shown))?;
    if let TokenSource::UnsetEnv(var) = selected.profile.token_source(&env) {
        if !ctx.quiet {
            eprintln!("warning: ${var} is not set, so this profile has no token");
        }
    }
    Ok(())
}

fn add(ctx: &Context, name: &str, keys: &ProfileKeys) -> anyhow::Result<()> {
    let config = &ctx.config;
    let mut editor = ConfigEditor::open(&config.path)?;
    if editor.has_profile(name) {
        return Err(Failure::usage(format!(
            "profile '{name}' already exists in {}",
            config.path.display()
        ))
        .hint(format!("remove it first: catops profile remove {name}"))
        .into());
    }
    editor.add_profile(name, &keys.to_toml(ctx.base_url_flag()))?;
    if keys.token.is_some() && !ctx.quiet {
        eprintln!("warning: the token is stored in plain text in {}; --token-env or --token-cmd keep it out of the file", config.path.display());
    }
    editor.save()?;
    if !ctx.quiet {
        eprintln!("added profile '{name}' to {}", config.path.display());
    }
    Ok(())
}

fn remove(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let config = &ctx.config;
    let mut editor = ConfigEditor::open(&config.path)?;
    if !editor.remove_profile(name) {
        let builtin = config.find(name).is_some();
        return usage(if builtin {
            format!("'{name}' is a built-in profile and cannot be removed")
        } else {
            format!("profile '{name}' not found in {}", config.path.display())
        });
    }
    if editor.default_profile() == Some(name) {
        editor.set_default_profile(None);
        if !ctx.quiet {
            eprintln!("note: '{name}' was the default profile; now there is none");
        }
    }
    editor.save()?;
    if !ctx.quiet {
        eprintln!("removed profile '{name}'");
    }
    Ok(())
}

fn use_profile(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let config = &ctx.config;
    // Fails, listing the profiles, when NAME is not one of them.
    config.select(Some(name))?;
    let mut editor = ConfigEditor::open(&config.path)?;
    editor.set_default_profile(Some(name));
    editor.save()?;
    if !ctx.quiet {
        eprintln!("default profile is now '{name}'");
    }
    Ok(())
}

/// One cheap documented GET with the profile's credentials, and a verdict: exit 0 when the
/// token is accepted, 4 when it is refused, 1 when the service cannot be reached or answers
/// something else.
async fn test(ctx: &Context, name: Option<&str>) -> anyhow::Result<u8> {
    let (selected, http, configured) = ctx.probe_client(name).await?;
    let env = |var: &str| std::env::var(var).ok().filter(|v| !v.is_empty());
    let probe = crate::vendors::vendor(selected.profile.vendor).probe(&selected.profile);
    let mut report = json!({
        "profile": selected.name,
        "vendor": selected.profile.vendor.name(),
        "config_file": ctx.config.path.display().to_string(),
        "config_exists": ctx.config.exists,
        "token_source": selected.profile.token_source(&env).to_string(),
        "base_url": configured,
        "probe": format!("GET {}", probe.path),
    });
    let answer = http
        .send_raw(reqwest::Method::GET, probe.path, &probe.query, None, true)
        .await;
    let (code, verdict) = match answer {
        Ok((status, _)) => {
            report["status"] = json!(status.as_u16());
            match status.as_u16() {
                200..=299 => (exit::OK, "ok: the service answers and accepts the token".to_string()),
                401 | 403 => (exit::AUTH, format!("the token is refused ({status})")),
                _ => (exit::FAILURE, format!("the service answers {status} to the probe: check base_url and the profile's keys")),
            }
        }
        Err(err) => {
            report["status"] = Value::Null;
            (
                exit::FAILURE,
                format!("unreachable: {}", http.redact(&err.to_string())),
            )
        }
    };
    report["reachable"] = json!(report["status"].is_u64());
    report["authenticated"] = match code {
        exit::OK => json!(true),
        exit::AUTH => json!(false),
        _ => Value::Null,
    };
    report["verdict"] = json!(verdict);
    ctx.print(&report)?;
    if code != exit::OK && !ctx.quiet {
        eprintln!("profile {}: {verdict}", selected.name);
    }
    Ok(code)
}

fn base_url(profile: &Profile) -> String {
    profile
        .base_url
        .clone()
        .unwrap_or_else(|| crate::vendors::vendor(profile.vendor).default_base_url(profile))
}
