//! `catops catalogs list|get|create|update|delete`, for every vendor that has them.

use std::path::PathBuf;

use clap::{ArgGroup, Subcommand};
use serde::Deserialize;
use serde_json::Value;

use crate::cli::Context;
use crate::error::{exit, usage, Failure};

use crate::vendors::clevertap;
use crate::vendors::{
    Api, CatalogChanges, CatalogFilter, CatalogSpec, CatalogsPage, FieldSpec, Operation,
    MAX_CATALOGS_PAGE,
};

use super::confirm::confirm;
use super::paging::Advance;
use super::parse::parse_sort;

#[derive(Debug, Subcommand)]
pub enum CatalogsCommand {
    /// List the catalogs the token can see: the first 100, or all
    #[command(after_help = "Examples:
  catops -p sandbox catalogs list
  catops -p sandbox-clevertap catalogs list --all -o ndjson
  catops -p sandbox-clevertap catalogs list --status ACTIVE --search electro --sort createdAt:desc
  catops -p sandbox-batch catalogs list --all")]
    List {
        /// Follow pages until the last one
        #[arg(long)]
        all: bool,
        /// Only catalogs in this state (clevertap: ACTIVE, INACTIVE, DELETED)
        #[arg(long, value_name = "S")]
        status: Option<String>,
        /// Only catalogs whose name contains TEXT (clevertap)
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Order by a field, ascending unless :desc (clevertap: createdAt, catalogName, updatedAt)
        #[arg(long, value_name = "FIELD[:asc|desc]", value_parser = parse_sort)]
        sort: Option<(String, bool)>,
    },
    /// Print one catalog
    #[command(after_help = "Examples:
  catops -p sandbox catalogs get cat_demo
  catops -p sandbox-clevertap catalogs get 123 --jq .catalogSchema
  catops -p sandbox-batch catalogs get demo --jq '.fields[].name'")]
    Get {
        /// Catalog id
        #[arg(value_parser = super::parse::resource_id)]
        id: String,
    },
    /// Create a catalog with a schema
    #[command(
        group(ArgGroup::new("schema_source").args(["field", "schema"])),
        after_help = "Examples:
  catops -p sandbox catalogs create --name Shoes --unique-id-field sku \\
      --field sku --field price:number
  catops -p sandbox catalogs create --name Shoes --unique-id-field sku \\
      --schema examples/catalog-schema.json
  catops -p sandbox-batch catalogs create --name MOVIES --field title --field poster:url

batch answers a create with {}: catops then reads the catalog back (catalogs/view) and prints
it. batch types: array, bool, date, float, integer, string, url."
    )]
    Create {
        /// Catalog name
        #[arg(long, value_name = "N")]
        name: String,
        /// Field that identifies items (e.g. sku); must be one of the schema's fields (rastro)
        #[arg(long, value_name = "F")]
        unique_id_field: Option<String>,
        /// A schema field as NAME:TYPE (TYPE defaults to string); repeat for each field
        #[arg(long, value_name = "NAME:TYPE")]
        field: Vec<String>,
        /// JSON file with the schema: {"fields":[{"name":..,"type":..}]} or just the array
        #[arg(long, value_name = "FILE")]
        schema: Option<PathBuf>,
        /// Description of the catalog
        #[arg(long, value_name = "D")]
        description: Option<String>,
        /// Email recorded as the creator, where the vendor records one [default: the profile's user_email]
        #[arg(long, value_name = "EMAIL")]
        by: Option<String>,
    },
    /// Change a catalog: only what is given changes
    #[command(after_help = "Examples:
  catops -p sandbox catalogs update cat_demo --name 'Demo products' --description 'Shop feed'
  catops -p sandbox catalogs update cat_demo --json '{\"strict_mode\":true}'
  catops -p sandbox-batch catalogs update demo --field +colour:string --field -synopsis

batch changes fields only, and answers with {}: catops then prints the catalog as view reads it.")]
    Update {
        /// Catalog id
        #[arg(value_parser = super::parse::resource_id)]
        id: String,
        /// New name
        #[arg(long, value_name = "N")]
        name: Option<String>,
        /// New description
        #[arg(long, value_name = "D")]
        description: Option<String>,
        /// Add a field (+NAME:TYPE) or remove one (-NAME); repeat as needed
        #[arg(long, value_name = "+NAME:TYPE|-NAME", allow_hyphen_values = true)]
        field: Vec<String>,
        /// Other keys of the vendor's catalog object, as JSON or @FILE
        #[arg(long, value_name = "JSON|@FILE")]
        json: Option<String>,
        /// Email recorded as the one who changed it [default: the profile's user_email]
        #[arg(long, value_name = "EMAIL")]
        by: Option<String>,
    },
    /// Delete a catalog and everything in it
    #[command(after_help = "Examples:
  catops -p sandbox catalogs delete cat_0123456789ab --yes
  catops -p sandbox catalogs delete cat_demo --dry-run
  catops -p sandbox-batch catalogs delete MOVIES --yes

batch answers a delete with {}: catops prints {\"name\": .., \"deleted\": true}.")]
    Delete {
        /// Catalog id
        #[arg(value_parser = super::parse::resource_id)]
        id: String,
        /// Delete without asking (needed when not on a terminal)
        #[arg(long)]
        yes: bool,
        /// Show the catalog that would be deleted and delete nothing
        #[arg(long)]
        dry_run: bool,
        /// Email recorded as the one who deleted it [default: the profile's user_email]
        #[arg(long, value_name = "EMAIL")]
        by: Option<String>,
    },
    /// Make a schema attribute filterable or not (clevertap)
    #[command(after_help = "Examples:
  catops -p sandbox-clevertap catalogs filterable 123 brand on --by me@example.com")]
    Filterable {
        /// Catalog id
        #[arg(value_parser = super::parse::resource_id)]
        id: String,
        /// Attribute name
        #[arg(value_parser = super::parse::resource_id)]
        attribute: String,
        /// on or off
        #[arg(value_enum)]
        state: Switch,
        /// Email recorded as the one who changed it [default: the profile's user_email]
        #[arg(long, value_name = "EMAIL")]
        by: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

pub async fn run(command: CatalogsCommand, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        CatalogsCommand::List {
            all,
            status,
            search,
            sort,
        } => {
            let filter = CatalogFilter {
                status,
                search,
                sort,
            };
            let api = ctx.api(Operation::CatalogsList).await?;
            list(ctx, &api, &filter, all).await?;
        }
        CatalogsCommand::Filterable {
            id,
            attribute,
            state,
            by,
        } => filterable(ctx, &id, &attribute, state, ctx.user_email(by)?).await?,
        CatalogsCommand::Get { id } => {
            let api = ctx.api(Operation::CatalogsGet).await?;
            ctx.print(&api.catalog_admin()?.catalog_get(&id).await?)?;
        }
        CatalogsCommand::Create {
            name,
            unique_id_field,
            field,
            schema,
            description,
            by,
        } => {
            let spec = CatalogSpec {
                name,
                unique_id_field,
                fields: schema_fields(schema.as_deref(), &field)?,
                description,
                by: ctx.user_email(by)?,
            };
            let api = ctx.api(Operation::CatalogsCreate).await?;
            ctx.print(&api.catalog_admin()?.catalog_create(&spec).await?)?;
        }
        CatalogsCommand::Update {
            id,
            name,
            description,
            field,
            json,
            by,
        } => {
            let changes = changes(
                name,
                description,
                &field,
                json.as_deref(),
                ctx.user_email(by)?,
            )?;
            let api = ctx.api(Operation::CatalogsUpdate).await?;
            ctx.print(&api.catalog_admin()?.catalog_update(&id, &changes).await?)?;
        }
        CatalogsCommand::Delete {
            id,
            yes,
            dry_run,
            by,
        } => return delete(ctx, &id, yes, dry_run, ctx.user_email(by)?).await,
    }
    Ok(exit::OK)
}

/// clevertap's mark-attribute-as-filterable.
async fn filterable(
    ctx: &Context,
    id: &str,
    attribute: &str,
    state: Switch,
    by: Option<String>,
) -> anyhow::Result<()> {
    let api = ctx.api(Operation::CatalogsFilterable).await?;
    let catalog = api
        .client::<clevertap::Client>()?
        .set_filterable(id, attribute, state == Switch::On, by.as_deref())
        .await?;
    ctx.print(&catalog)
}

/// What `catalogs update` asks for, from its flags.
fn changes(
    name: Option<String>,
    description: Option<String>,
    fields: &[String],
    json: Option<&str>,
    by: Option<String>,
) -> anyhow::Result<CatalogChanges> {
    let mut changes = CatalogChanges {
        name,
        description,
        by,
        ..CatalogChanges::default()
    };
    for spec in fields {
        if let Some(added) = spec.strip_prefix('+') {
            changes.add_fields.push(parse_field(added)?);
        } else if let Some(removed) = spec.strip_prefix('-').filter(|n| !n.is_empty()) {
            changes.remove_fields.push(removed.to_string());
        } else {
            return usage(format!(
                "--field '{spec}': expected +NAME:TYPE to add a field or -NAME to remove one"
            ));
        }
    }
    if let Some(raw) = json {
        if let Value::Object(keys) = super::parse::parse_json_fields(raw)? {
            changes.other = keys;
        }
    }
    Ok(changes)
}

/// SPEC §4: a destructive command asks on a terminal and refuses elsewhere without --yes.
async fn delete(
    ctx: &Context,
    id: &str,
    yes: bool,
    dry_run: bool,
    by: Option<String>,
) -> anyhow::Result<u8> {
    let op = if dry_run {
        Operation::CatalogsGet
    } else {
        Operation::CatalogsDelete
    };
    let api = ctx.api(op).await?;
    let admin = api.catalog_admin()?;
    if dry_run {
        let catalog = admin.catalog_get(id).await?;
        if !ctx.quiet {
            eprintln!(
                "dry run: would delete catalog {id} and everything in it; nothing was deleted"
            );
        }
        ctx.print(&catalog)?;
        return Ok(exit::OK);
    }
    let asked = format!("Delete catalog {id} and everything in it?");
    let hint = format!("catops catalogs delete {id} --yes, or --dry-run to see what would go");
    if !yes && !confirm(&asked, false, "`catalogs delete` deletes a catalog", &hint)? {
        return Err(Failure::new(exit::INTERRUPTED, "not deleted").into());
    }
    ctx.print(&admin.catalog_delete(id, by.as_deref()).await?)?;
    Ok(exit::OK)
}

/// Pages through the catalogs (100 a page, the most every vendor takes), printing each page
/// as it arrives. A failure half-way still closes the printed list before it is reported.
async fn list(ctx: &Context, api: &Api, filter: &CatalogFilter, all: bool) -> anyhow::Result<()> {
    let vendor = api.http().vendor().to_string();
    let pages = api.catalog_pages()?;
    pages.check_filter(filter).map_err(Failure::usage)?;
    let mut printed = ctx.list(pages.table_columns());
    let mut advance = Advance::default();
    let mut seen = 0u64;
    let mut from = None;
    let outcome: anyhow::Result<()> = loop {
        let page = match pages
            .filtered_page(filter, from.take(), MAX_CATALOGS_PAGE)
            .await
        {
            Ok(page) => page,
            Err(err) => break Err(err.into()),
        };
        let CatalogsPage { page, next } = page;
        if let Err(err) = advance.check(&vendor, &page.records) {
            break Err(err);
        }
        seen += page.records.len() as u64;
        if let Err(err) = printed.page(&page.records) {
            break Err(err);
        }
        let Some(next) = next else {
            break Ok(());
        };
        if !all {
            ctx.note_more(seen, page.total, "--all");
            break Ok(());
        }
        from = Some(next);
    };
    match outcome {
        Ok(()) => printed.finish(),
        Err(err) => {
            printed.finish_after_error()?;
            Err(err)
        }
    }
}

/// The schema of `catalogs create`: the file's, else the `--field`s.
fn schema_fields(
    schema: Option<&std::path::Path>,
    fields: &[String],
) -> anyhow::Result<Vec<FieldSpec>> {
    match schema {
        Some(path) => read_schema_file(&path.to_path_buf()),
        None => fields.iter().map(|spec| parse_field(spec)).collect(),
    }
}

fn parse_field(spec: &str) -> anyhow::Result<FieldSpec> {
    let (name, kind) = spec.split_once(':').unwrap_or((spec, "string"));
    if name.is_empty() || kind.is_empty() {
        return usage(format!(
            "--field '{spec}': expected NAME:TYPE, e.g. price:number"
        ));
    }
    Ok(FieldSpec {
        name: name.to_string(),
        kind: kind.to_string(),
        filterable: false,
    })
}

fn read_schema_file(path: &PathBuf) -> anyhow::Result<Vec<FieldSpec>> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum SchemaFile {
        Wrapped { fields: Vec<FieldSpec> },
        Bare(Vec<FieldSpec>),
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
