//! `catops catalogs list|create`.

use std::path::PathBuf;

use clap::{ArgGroup, Subcommand};
use serde::Deserialize;

use crate::cli::Context;
use crate::error::{exit, usage, Failure};

use crate::vendors::clevertap;
use crate::vendors::rastro::{self, NewCatalog, SchemaDefinition, SchemaField};
use crate::vendors::{Api, Operation, MAX_CATALOGS_PAGE};

use super::paging::Advance;

#[derive(Debug, Subcommand)]
pub enum CatalogsCommand {
    /// List the catalogs the token can see (rastro, clevertap): the first 100, or all
    #[command(after_help = "Examples:
  catops -p sandbox catalogs list
  catops -p sandbox-clevertap catalogs list --all -o ndjson")]
    List {
        /// Follow pages until the last one
        #[arg(long)]
        all: bool,
    },
    /// Print one catalog (clevertap)
    Get {
        /// Catalog id
        #[arg(value_parser = super::items::resource_id)]
        id: String,
    },
    /// Create a catalog with a schema
    #[command(group(ArgGroup::new("schema_source").required(true).args(["field", "schema"])))]
    Create {
        /// Catalog name
        #[arg(long, value_name = "N")]
        name: String,
        /// Field that identifies items (e.g. sku); must be one of the schema's fields
        #[arg(long, value_name = "F")]
        unique_id_field: String,
        /// A schema field as NAME:TYPE (TYPE defaults to string); repeat for each field
        #[arg(long, value_name = "NAME:TYPE")]
        field: Vec<String>,
        /// JSON file with the schema: {"fields":[{"name":..,"type":..}]} or just the array
        #[arg(long, value_name = "FILE")]
        schema: Option<PathBuf>,
    },
}

pub async fn run(command: CatalogsCommand, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        CatalogsCommand::List { all } => {
            let api = ctx.api(Operation::CatalogsList).await?;
            list(ctx, &api, all).await?;
        }
        CatalogsCommand::Get { id } => {
            let api = ctx.api(Operation::CatalogsGet).await?;
            let catalog = api.client::<clevertap::Client>()?.catalogs_get(&id).await?;
            ctx.print(&catalog)?;
        }
        CatalogsCommand::Create {
            name,
            unique_id_field,
            field,
            schema,
        } => {
            let fields = match schema {
                Some(path) => read_schema_file(&path)?,
                None => field
                    .iter()
                    .map(|spec| parse_field(spec))
                    .collect::<anyhow::Result<_>>()?,
            };
            if !fields.iter().any(|f| f.name == unique_id_field) {
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                return usage(format!(
                    "--unique-id-field {unique_id_field} is not among the schema's fields ({})",
                    names.join(", ")
                ));
            }
            let request = NewCatalog {
                name,
                unique_id_field,
                schema_definition: SchemaDefinition { fields },
            };
            let api = ctx.api(Operation::CatalogsCreate).await?;
            let created = api
                .client::<rastro::Client>()?
                .catalogs_create(&request)
                .await?;
            ctx.print(&created)?;
        }
    }
    Ok(exit::OK)
}

/// Pages through the catalogs (100 a page, the most both vendors take), printing each page as
/// it arrives. A failure half-way still closes the printed list before it is reported.
async fn list(ctx: &Context, api: &Api, all: bool) -> anyhow::Result<()> {
    let vendor = api.http().vendor().to_string();
    let mut printed = ctx.list();
    let mut advance = Advance::default();
    let mut seen = 0u64;
    let mut index = 0u64;
    let pages = api.catalog_pages()?;
    let outcome: anyhow::Result<()> = loop {
        let page = match pages.catalogs_page(index, MAX_CATALOGS_PAGE).await {
            Ok(page) => page,
            Err(err) => break Err(err.into()),
        };
        if let Err(err) = advance.check(&vendor, &page.records) {
            break Err(err);
        }
        seen += page.records.len() as u64;
        for record in &page.records {
            printed.push(record)?;
        }
        printed.flush()?;
        let more = match page.total {
            Some(total) => !page.records.is_empty() && seen < total,
            None => page.records.len() == MAX_CATALOGS_PAGE as usize,
        };
        if !more {
            break Ok(());
        }
        if !all {
            ctx.note_more(seen, page.total, "--all");
            break Ok(());
        }
        index += 1;
    };
    match outcome {
        Ok(()) => printed.finish(),
        Err(err) => {
            printed.finish_after_error()?;
            Err(err)
        }
    }
}

fn parse_field(spec: &str) -> anyhow::Result<SchemaField> {
    let (name, kind) = spec.split_once(':').unwrap_or((spec, "string"));
    if name.is_empty() || kind.is_empty() {
        return usage(format!(
            "--field '{spec}': expected NAME:TYPE, e.g. price:number"
        ));
    }
    Ok(SchemaField {
        name: name.to_string(),
        kind: kind.to_string(),
    })
}

fn read_schema_file(path: &PathBuf) -> anyhow::Result<Vec<SchemaField>> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum SchemaFile {
        Wrapped { fields: Vec<SchemaField> },
        Bare(Vec<SchemaField>),
    }
    let text = std::fs::read_to_string(path)
        .map_err(|err| Failure::usage(format!("cannot read {}: {err}", path.display())))?;
    let parsed: SchemaFile = serde_json::from_str(&text).map_err(|err| {
        Failure::usage(format!(
            "{}: expected {{\"fields\":[{{\"name\":..,\"type\":..}}]}}: {err}",
            path.display()
        ))
    })?;
    let fields = match parsed {
        SchemaFile::Wrapped { fields } | SchemaFile::Bare(fields) => fields,
    };
    if fields.is_empty() {
        return usage(format!("{}: the schema has no fields", path.display()));
    }
    Ok(fields)
}
