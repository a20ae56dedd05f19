//! Raw global flags + config + environment, resolved once into what commands use: the output
//! settings, the chosen profile and a vendor client. Commands never read the environment.

use std::io::IsTerminal;
use std::time::Duration;

use super::global::GlobalArgs;
use super::paging::thousands;
use std::sync::Arc;

use crate::bulk::ProgressMode;
use crate::config::{self, Config, Profile, Selected, EMBEDDED};
use crate::error::{usage, Failure};
use crate::http::{Http, HttpSettings};
use crate::jq::JqFilter;
use crate::output::{Format, ListPrinter, Printer, Screen};
use crate::vendors::{self, Api, BulkEndpoint, BulkRequest, Operation};

const BASE_URL_ENV: &str = "CATOPS_BASE_URL";
/// Seconds between a bulk run's progress lines when stderr is not a terminal.
const PROGRESS_INTERVAL_ENV: &str = "CATOPS_PROGRESS_INTERVAL";
const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

pub struct Context {
    printer: Printer,
    pub quiet: bool,
    /// Progress bars: only on a terminal, and not with `--quiet` / `--no-progress`.
    pub progress: bool,
    /// Elsewhere (a CI log), a bulk run's progress line every so often; none with `--quiet` /
    /// `--no-progress`.
    progress_lines: Option<Duration>,
    /// stdout is a terminal: the people reading it see a summary printed there.
    pub stdout_is_terminal: bool,
    /// Notes for people (a listing that stopped early): stderr is a terminal and no `-q`.
    notes: bool,
    pub config: Config,
    profile: Option<String>,
    /// `--base-url`, else `$CATOPS_BASE_URL`.
    base_url: Option<String>,
    base_url_flag: Option<String>,
    http: HttpSettings,
}

impl Context {
    pub fn new(global: &GlobalArgs) -> anyhow::Result<Context> {
        let path = Config::locate(global.config.as_deref())?;
        let config = Config::load(path, global.quiet)?;
        let format = Format::resolve(global.output);
        if global.typed_header && format != Format::Csv {
            return usage("--typed-header is for CSV output: add -o csv");
        }
        let jq = match &global.jq {
            Some(code) => Some(Arc::new(JqFilter::compile(code)?)),
            None => None,
        };
        let progress_wanted = !global.quiet && !global.no_progress;
        let stderr_is_terminal = std::io::stderr().is_terminal();
        let progress_lines = if progress_wanted && !stderr_is_terminal {
            Some(progress_interval()?)
        } else {
            None
        };
        Ok(Context {
            printer: Printer {
                format,
                columns: global.columns.clone(),
                jq,
                typed_header: global.typed_header,
                screen: Screen::detect(format == Format::Table),
            },
            quiet: global.quiet,
            progress: progress_wanted && stderr_is_terminal,
            progress_lines,
            stdout_is_terminal: std::io::stdout().is_terminal(),
            notes: !global.quiet && stderr_is_terminal,
            config,
            profile: global.profile.clone(),
            base_url: global
                .base_url
                .clone()
                .or_else(|| std::env::var(BASE_URL_ENV).ok().filter(|v| !v.is_empty())),
            base_url_flag: global.base_url.clone(),
            http: HttpSettings {
                timeout: Duration::from_secs_f64(global.timeout),
                max_retries: global.max_retries,
                verbosity: global.verbose,
            },
        })
    }

    /// Prints one object on stdout, through `--jq` / `--columns` when given.
    pub fn print(&self, value: &serde_json::Value) -> anyhow::Result<()> {
        self.printer.value(value)
    }

    /// The `--columns` fields of one object printed by the command itself (`delta watch`).
    pub fn select<'a>(
        &self,
        value: &'a serde_json::Value,
    ) -> anyhow::Result<std::borrow::Cow<'a, serde_json::Value>> {
        self.printer.select(value)
    }

    /// Prints a list that is already in memory (one page, or a vendor's whole list); a table
    /// shows the `columns` (`cli::columns`) unless `--columns` says otherwise.
    pub fn print_list(
        &self,
        records: &[serde_json::Value],
        columns: &'static [&'static str],
    ) -> anyhow::Result<()> {
        let mut list = self.list(columns);
        list.page(records)?;
        list.finish()
    }

    /// A streaming printer for a list on stdout, with the table `columns` of its resource.
    pub fn list(
        &self,
        columns: &'static [&'static str],
    ) -> ListPrinter<std::io::StdoutLock<'static>> {
        self.printer.list(columns)
    }

    /// How a bulk run shows its progress: a bar on a terminal, lines in a log, or nothing.
    pub fn bulk_progress(&self) -> ProgressMode {
        match (self.progress, self.progress_lines) {
            (true, _) => ProgressMode::Bar,
            (false, Some(every)) => ProgressMode::Lines(every),
            (false, None) => ProgressMode::Off,
        }
    }

    /// `-v` count: 1 logs requests, 2 adds bodies.
    pub fn verbosity(&self) -> u8 {
        self.http.verbosity
    }

    /// Says on stderr that a listing stopped before the end, like gh: "showing 100 of 3,025 —
    /// use --all or --limit". Only for a person at a terminal; scripts get exactly the data.
    pub fn note_more(&self, shown: u64, total: Option<u64>, how: &str) {
        if !self.notes {
            return;
        }
        let of = match total {
            Some(total) => format!("{} of {}", thousands(shown), thousands(total)),
            None => format!("the first {}", thousands(shown)),
        };
        eprintln!("showing {of} — use {how}");
    }

    /// The output format: `-o`, else table on a terminal and json elsewhere.
    pub fn format(&self) -> Format {
        self.printer.format
    }

    /// Whether `--columns` was given.
    pub fn has_columns(&self) -> bool {
        self.printer.columns.is_some()
    }

    pub fn jq(&self) -> Option<&JqFilter> {
        self.printer.jq.as_deref()
    }

    /// `--base-url` as given on the command line, which `profile add` stores as the profile's
    /// base_url. `$CATOPS_BASE_URL` is a per-run override and is never written to the file.
    pub fn base_url_flag(&self) -> Option<&str> {
        self.base_url_flag.as_deref()
    }

    pub fn selected(&self) -> anyhow::Result<Selected> {
        self.config.select(self.profile.as_deref())
    }

    /// The catalog a command works on: `--catalog`, else the vendor's default from the
    /// profile (catalogix: its store_uuid).
    pub fn catalog(&self, given: Option<String>) -> anyhow::Result<String> {
        if let Some(catalog) = given {
            return Ok(catalog);
        }
        let profile = self.selected()?.profile;
        vendors::vendor(profile.vendor)
            .default_catalog(&profile)
            .ok_or_else(|| Failure::usage("--catalog ID is required").into())
    }

    /// The client for the selected profile's vendor, after checking that vendor can run `op`.
    /// Who catalog changes are recorded as: `--by`, else the profile's `user_email`.
    pub fn user_email(&self, by: Option<String>) -> anyhow::Result<Option<String>> {
        match by {
            Some(by) => Ok(Some(by)),
            None => Ok(self.selected()?.profile.user_email),
        }
    }

    pub async fn api(&self, op: Operation) -> anyhow::Result<Api> {
        let (selected, http) = self.connect(op).await?;
        let vendor = selected.profile.vendor;
        Ok(Api::connect(vendor, http))
    }

    /// The HTTP client alone, for a command that needs no vendor client (`catops api`).
    pub async fn http(&self, op: Operation) -> anyhow::Result<Http> {
        Ok(self.connect(op).await?.1)
    }

    /// The bulk endpoint for `request`, its missing settings taken from the profile.
    pub async fn bulk_target(
        &self,
        mut request: BulkRequest,
    ) -> anyhow::Result<(Box<dyn BulkEndpoint>, Profile)> {
        let (selected, http) = self.connect(request.operation).await?;
        let profile = selected.profile;
        request.unique_field = request
            .unique_field
            .or_else(|| profile.unique_field.clone());
        request.store_uuid = request.store_uuid.or_else(|| profile.store_uuid.clone());
        request.channel = request.channel.or_else(|| profile.channel.clone());
        let vendor = vendors::vendor(profile.vendor);
        let needs_catalog = matches!(
            request.operation,
            Operation::BulkUpsert | Operation::BulkRemove
        );
        if needs_catalog {
            request.catalog = request.catalog.or_else(|| vendor.default_catalog(&profile));
            if request.catalog.is_none() {
                return Err(Failure::usage("--catalog ID is required").into());
            }
        }
        let target = vendor.bulk(Arc::new(http), &request)?;
        Ok((target, profile))
    }

    /// The base URL as configured (`--base-url`, `$CATOPS_BASE_URL`, the profile's, else the
    /// vendor's): `embedded` for the built-in sandbox, whatever port it then runs on.
    pub fn configured_base_url(&self, profile: &Profile) -> String {
        self.base_url
            .clone()
            .or_else(|| profile.base_url.clone())
            .unwrap_or_else(|| vendors::vendor(profile.vendor).default_base_url(profile))
    }

    /// Per request, `--timeout`.
    pub fn timeout(&self) -> Duration {
        self.http.timeout
    }

    /// Checks the selected profile's vendor can run `op`, then builds its HTTP client.
    /// A profile on the embedded sandbox starts it here, on a loopback port.
    async fn connect(&self, op: Operation) -> anyhow::Result<(Selected, Http)> {
        self.connect_to(op, self.selected()?, &self.http).await
    }

    /// `profile test NAME`: the named profile (else the selected one), one try per request,
    /// so an unreachable service is reported at once. Also returns the configured base URL.
    pub async fn probe_client(
        &self,
        name: Option<&str>,
    ) -> anyhow::Result<(Selected, Http, String)> {
        let selected = self.config.select(name.or(self.profile.as_deref()))?;
        let configured = self.configured_base_url(&selected.profile);
        let settings = HttpSettings {
            max_retries: 0,
            ..self.http.clone()
        };
        let (selected, http) = self
            .connect_to(Operation::ProfileTest, selected, &settings)
            .await?;
        Ok((selected, http, configured))
    }

    async fn connect_to(
        &self,
        op: Operation,
        selected: Selected,
        settings: &HttpSettings,
    ) -> anyhow::Result<(Selected, Http)> {
        let profile = &selected.profile;
        let vendor = profile.vendor;
        able(op, op.command(), &selected)?;
        let configured = self.configured_base_url(profile);
        let base_url = if configured == EMBEDDED {
            embedded_base_url(profile).await?
        } else {
            configured
        };
        let token = config::resolve_token(&selected, self.http.timeout).await?;
        let auth = vendors::vendor(vendor).auth_headers(profile, &token)?;
        let http = Http::new(vendor, &base_url, auth, &token, settings.clone())?;
        Ok((selected, http))
    }
}

/// `$CATOPS_PROGRESS_INTERVAL` (seconds), else 10 s.
fn progress_interval() -> Result<Duration, Failure> {
    let Some(raw) = std::env::var(PROGRESS_INTERVAL_ENV)
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return Ok(PROGRESS_INTERVAL);
    };
    match raw.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err(Failure::usage(format!(
            "{PROGRESS_INTERVAL_ENV}='{raw}' is not a positive number of seconds"
        ))),
    }
}

/// Starts the built-in sandbox inside this command, on a loopback port, and returns the base
/// URL of the profile's vendor there.
#[cfg(feature = "sandbox")]
async fn embedded_base_url(profile: &Profile) -> anyhow::Result<String> {
    let root = catops_sandbox::start_embedded(super::sandbox::embedded_state_path()?).await?;
    let version = vendors::vendor(profile.vendor).api_version(profile);
    Ok(format!(
        "{root}{}",
        catops_sandbox::prefix(profile.vendor, version)
    ))
}

#[cfg(not(feature = "sandbox"))]
async fn embedded_base_url(_profile: &Profile) -> anyhow::Result<String> {
    Err(
        Failure::usage("this build of catops has no built-in sandbox (base_url = \"embedded\")")
            .hint("build with the default features, or point base_url at a `catops sandbox serve`")
            .into(),
    )
}

/// Usage error unless the profile's vendor can do `op`; `command` names it as the user typed
/// it (`bulk sync` runs as a bulk upsert).
pub fn able(op: Operation, command: &str, selected: &Selected) -> Result<(), Failure> {
    let able = op.vendors();
    if able.contains(&selected.profile.vendor) {
        return Ok(());
    }
    let able: Vec<&str> = able.iter().map(|v| v.name()).collect();
    Err(Failure::usage(format!(
        "`{command}` is not available for {} (profile '{}')",
        selected.profile.vendor, selected.name
    ))
    .hint(format!("vendors that can: {}", able.join(", "))))
}
