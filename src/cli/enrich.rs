//! `catops enrich start|status|cancel` (rastro catalog enrichment), with `--wait`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use serde_json::{json, Map, Value};

use super::parse::resource_id;
use crate::cli::Context;
use crate::error::{exit, usage, Failure};
use crate::vendors::rastro::Client as Rastro;
use crate::vendors::Operation;

/// `--wait` polls after 1 s, then each wait 1.5 times longer, up to 10 s (SPEC §4).
const FIRST_POLL: Duration = Duration::from_secs(1);
const LONGEST_POLL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Speed {
    Fast,
    Medium,
    Slow,
}

#[derive(Debug, Subcommand)]
pub enum EnrichCommand {
    /// Start an enrichment job over every item of a catalog
    #[command(after_help = "Examples:
  catops -p sandbox enrich start --catalog cat_demo --prompt 'Find product specifications' \\
      --field color --field weight_kg:number:'Weight in kilograms' --wait
  catops -p sandbox enrich start --catalog cat_demo --prompt 'Categorise' --field note \\
      --taxonomy examples/taxonomy.json --predict-taxonomy --speed fast --jq .job_id")]
    #[command(group(ArgGroup::new("output_schema").required(true).args(["field", "schema"])))]
    Start(StartArgs),
    /// Print a job's status
    #[command(after_help = "Examples:
  catops -p sandbox enrich status --catalog cat_demo job_0123456789ab
  catops -p sandbox enrich status --catalog cat_demo --wait \\
      \"$(catops -p sandbox enrich start --catalog cat_demo --prompt Colour \\
      --field color --jq .job_id)\"")]
    Status {
        /// Catalog id
        #[arg(long, value_name = "ID", value_parser = resource_id)]
        catalog: String,
        /// Job id
        #[arg(value_parser = resource_id)]
        job_id: String,
        /// Wait for the job to end, with progress on stderr
        #[arg(long)]
        wait: bool,
    },
    /// Cancel a running job; items already enriched keep their data
    #[command(after_help = "Examples:
  catops -p sandbox enrich cancel --catalog cat_demo job_0123456789ab
  catops -p sandbox enrich cancel --catalog cat_demo \\
      \"$(catops -p sandbox enrich start --catalog cat_demo --prompt Colour \\
      --field color --jq .job_id)\"")]
    Cancel {
        /// Catalog id
        #[arg(long, value_name = "ID", value_parser = resource_id)]
        catalog: String,
        /// Job id
        #[arg(value_parser = resource_id)]
        job_id: String,
    },
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Catalog id
    #[arg(long, value_name = "ID", value_parser = resource_id)]
    pub catalog: String,
    /// What to find, e.g. "Find product specifications"
    #[arg(long, value_name = "P")]
    pub prompt: String,
    /// A field to fill: NAME[:TYPE[:DESCRIPTION]] (TYPE defaults to string); repeat
    #[arg(long, value_name = "NAME[:TYPE[:DESCRIPTION]]")]
    pub field: Vec<String>,
    /// JSON file with the output schema: [{"name","type","description"}]
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Only use sources from this domain; repeat for more
    #[arg(long = "allowed-domain", value_name = "D")]
    pub allowed_domains: Vec<String>,
    /// Speed against thoroughness [default: medium]
    #[arg(long, value_enum)]
    pub speed: Option<Speed>,
    /// Skip web search
    #[arg(long)]
    pub no_web_search: bool,
    /// JSON file with a taxonomy for category prediction
    #[arg(long, value_name = "FILE")]
    pub taxonomy: Option<PathBuf>,
    /// Predict a category for each item
    #[arg(long)]
    pub predict_taxonomy: bool,
    /// Prompt for quality scoring
    #[arg(long, value_name = "P")]
    pub quality_prompt: Option<String>,
    /// Wait for the job to end, with progress on stderr
    #[arg(long)]
    pub wait: bool,
}

pub async fn run(command: EnrichCommand, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        EnrichCommand::Start(args) => start(ctx, args).await,
        EnrichCommand::Status {
            catalog,
            job_id,
            wait,
        } => {
            let api = ctx.api(Operation::EnrichStatus).await?;
            let rastro = api.client::<Rastro>()?;
            let job = rastro.enrich_status(&catalog, &job_id).await?;
            if wait {
                return wait_for(ctx, rastro, &catalog, &job_id, job).await;
            }
            ctx.print(&job)?;
            Ok(exit::OK)
        }
        EnrichCommand::Cancel { catalog, job_id } => {
            let api = ctx.api(Operation::EnrichCancel).await?;
            let job = api
                .client::<Rastro>()?
                .enrich_cancel(&catalog, &job_id)
                .await?;
            ctx.print(&job)?;
            Ok(exit::OK)
        }
    }
}

async fn start(ctx: &Context, args: StartArgs) -> anyhow::Result<u8> {
    let request = start_request(&args)?;
    let api = ctx.api(Operation::EnrichStart).await?;
    let rastro = api.client::<Rastro>()?;
    let job = rastro.enrich_start(&args.catalog, &request).await?;
    if !args.wait {
        ctx.print(&job)?;
        return Ok(exit::OK);
    }
    let Some(job_id) = job["job_id"].as_str().map(str::to_string) else {
        ctx.print(&job)?;
        return Err(Failure::new(
            exit::FAILURE,
            "rastro started a job but sent no job_id to wait for",
        )
        .into());
    };
    wait_for(ctx, rastro, &args.catalog, &job_id, job).await
}

/// The documented start body: only the options given, so the vendor's defaults apply.
fn start_request(args: &StartArgs) -> anyhow::Result<Value> {
    let mut request = Map::new();
    request.insert("prompt".into(), json!(args.prompt));
    let output_schema = match &args.schema {
        Some(path) => read_output_schema(path)?,
        None => args
            .field
            .iter()
            .map(|spec| parse_field(spec))
            .collect::<anyhow::Result<Vec<_>>>()?,
    };
    request.insert("output_schema".into(), Value::Array(output_schema));
    if !args.allowed_domains.is_empty() {
        request.insert("allowed_domains".into(), json!(args.allowed_domains));
    }
    if let Some(speed) = args.speed {
        let name = match speed {
            Speed::Fast => "fast",
            Speed::Medium => "medium",
            Speed::Slow => "slow",
        };
        request.insert("speed".into(), json!(name));
    }
    if args.no_web_search {
        request.insert("web_search".into(), json!(false));
    }
    if let Some(path) = &args.taxonomy {
        request.insert("taxonomy".into(), read_json_file(path)?);
    }
    if args.predict_taxonomy {
        request.insert("predict_taxonomy".into(), json!(true));
    }
    if let Some(quality) = &args.quality_prompt {
        request.insert("quality_prompt".into(), json!(quality));
    }
    Ok(Value::Object(request))
}

/// Polls until the job ends, then prints it: exit 0 when completed, 1 when failed or
/// cancelled. Ctrl-C leaves the job running and says how to cancel it.
async fn wait_for(
    ctx: &Context,
    rastro: &Rastro,
    catalog: &str,
    job_id: &str,
    mut job: Value,
) -> anyhow::Result<u8> {
    let bar = ctx.progress.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} items {msg} (elapsed {elapsed})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut pause = FIRST_POLL;
    let interrupted = crate::interrupt::interrupted();
    tokio::pin!(interrupted);
    loop {
        let status = job["status"].as_str().unwrap_or("unknown").to_string();
        if let Some(bar) = &bar {
            let count = |key: &str| job[key].as_u64().unwrap_or(0);
            bar.set_length(count("total_items"));
            bar.set_position(count("completed_items") + count("failed_items"));
            bar.set_message(format!("{status}, {} failed", count("failed_items")));
        }
        if status != "running" {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = &mut interrupted => {
                if let Some(bar) = &bar {
                    bar.abandon();
                }
                eprintln!("interrupted: job {job_id} keeps running");
                eprintln!("hint: cancel it with: {}", cancel_command(catalog, job_id));
                return Ok(exit::INTERRUPTED);
            }
        }
        pause = pause.mul_f64(1.5).min(LONGEST_POLL);
        job = rastro.enrich_status(catalog, job_id).await?;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    ctx.print(&job)?;
    match job["status"].as_str() {
        Some("completed") => Ok(exit::OK),
        other => {
            let status = other.unwrap_or("unknown");
            Err(Failure::new(
                exit::FAILURE,
                format!("rastro: enrichment job {job_id} ended {status}"),
            )
            .into())
        }
    }
}

/// The cancel command for this job, with the global flags the user gave (profile, config...).
fn cancel_command(catalog: &str, job_id: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut command = vec![args.first().cloned().unwrap_or_else(|| "catops".into())];
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let takes_value = matches!(arg.as_str(), "-p" | "--profile" | "--config" | "--base-url");
        if takes_value {
            command.push(arg.clone());
            command.extend(rest.next().cloned());
        } else if ["--profile=", "--config=", "--base-url="]
            .iter()
            .any(|prefix| arg.starts_with(prefix))
        {
            command.push(arg.clone());
        }
    }
    command.extend([
        "enrich".into(),
        "cancel".into(),
        "--catalog".into(),
        catalog.into(),
        job_id.into(),
    ]);
    command.join(" ")
}

/// `NAME[:TYPE[:DESCRIPTION]]`; the description may itself hold colons.
fn parse_field(spec: &str) -> anyhow::Result<Value> {
    let mut parts = spec.splitn(3, ':');
    let name = parts.next().unwrap_or_default();
    let kind = parts.next().filter(|k| !k.is_empty()).unwrap_or("string");
    let description = parts.next().unwrap_or_default();
    if name.is_empty() {
        return usage(format!("--field '{spec}': the name is empty"));
    }
    Ok(json!({"name": name, "type": kind, "description": description}))
}

fn read_json_file(path: &PathBuf) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| Failure::usage(format!("cannot read {}: {err}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|err| Failure::usage(format!("{}: invalid JSON: {err}", path.display())).into())
}

/// The output schema as an array, or wrapped as `{"output_schema": [...]}` / `{"fields": [...]}`.
fn read_output_schema(path: &PathBuf) -> anyhow::Result<Vec<Value>> {
    let value = read_json_file(path)?;
    let fields = match value {
        Value::Array(fields) => fields,
        Value::Object(mut map) => {
            match map.remove("output_schema").or_else(|| map.remove("fields")) {
                Some(Value::Array(fields)) => fields,
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    if fields.is_empty() || fields.iter().any(|f| !f["name"].is_string()) {
        return usage(format!(
            "{}: expected [{{\"name\":..,\"type\":..,\"description\":..}}, ...]",
            path.display()
        ));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_default_their_type_and_keep_colons_in_descriptions() {
        assert_eq!(
            parse_field("weight").unwrap(),
            json!({"name": "weight", "type": "string", "description": ""})
        );
        assert_eq!(
            parse_field("price:number:Retail price: in USD").unwrap(),
            json!({"name": "price", "type": "number", "description": "Retail price: in USD"})
        );
        assert!(parse_field(":number").is_err());
    }
}
