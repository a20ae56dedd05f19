//! `catops delta sources|list|latest|rows|watch|snapshots|snapshot-rows`: the catalogian
//! delta feed and the source snapshots it is computed from.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use super::columns;
use crate::cli::Context;
use crate::error::{exit, usage, Failure};

use crate::vendors::catalogian::{
    Client as Catalogian, CursorPage, DeltaQuery, SnapshotRowsQuery, MAX_EVENTS_LIMIT,
    MAX_KEYS_LIMIT, MAX_ROWS_LIMIT, MAX_SNAPSHOTS_LIMIT, MAX_SNAPSHOT_ROWS_LIMIT,
};
use crate::vendors::Operation;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ChangeType {
    New,
    Changed,
    Deleted,
}

#[derive(Debug, Subcommand)]
pub enum DeltaCommand {
    /// List the sources the key sees
    #[command(after_help = "Examples:
  catops -p sandbox-catalogian delta sources
  catops -p sandbox-catalogian delta sources --jq '.[].slug'")]
    Sources,
    /// List a source's delta events, oldest first
    #[command(after_help = "Examples:
  catops -p sandbox-catalogian delta list
  catops -p sandbox-catalogian delta list demo-feed --since 2024-01-01T00:00:00Z --all -o ndjson
  catops -p feed delta list --all --cursor-file events.cursor -o ndjson >> events.ndjson")]
    List(ListArgs),
    /// Print a source's newest delta event
    #[command(after_help = "Examples:
  catops -p sandbox-catalogian delta latest
  catops -p sandbox-catalogian delta latest demo-feed --jq .id")]
    Latest {
        /// Source id or slug [default: the key's only source]
        source: Option<String>,
    },
    /// List the changed rows of an event, with before/after values (needs read:rows)
    #[command(after_help = "Examples:
  catops -p sandbox-catalogian delta rows evt_000000000001
  catops -p sandbox-catalogian delta rows demo-feed evt_000000000001 --change-type changed --all
  catops -p feed delta rows \"$(catops -p feed delta latest --jq .id)\" --all -o ndjson")]
    Rows(RowsArgs),
    /// Print each new event once, as an NDJSON line, until interrupted
    #[command(after_help = "Examples:
  catops -p sandbox-catalogian delta watch --interval 5
  catops -p feed delta watch demo-feed --cursor-file watch.cursor >> events.ndjson")]
    Watch {
        /// Source id or slug [default: the key's only source]
        source: Option<String>,
        /// Seconds between polls
        #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = positive_secs)]
        interval: f64,
        /// Start after this ISO 8601 time [default: now, i.e. the newest event]
        #[arg(long, value_name = "TS")]
        since: Option<String>,
        /// Start after the detectedAt stored here, and store each printed event's
        #[arg(long, value_name = "PATH")]
        cursor_file: Option<PathBuf>,
    },
    /// List a source's snapshots (one per check of the source), newest first
    #[command(after_help = "Examples:
  catops -p sandbox-catalogian delta snapshots
  catops -p sandbox-catalogian delta snapshots demo-feed --limit 10 --columns id,createdAt,totalRows
  catops -p feed delta snapshots --all -o ndjson")]
    Snapshots(SnapshotsArgs),
    /// List the rows of a source's current snapshot, optionally searched
    #[command(after_help = "Examples:
  catops -p sandbox-catalogian delta snapshot-rows --limit 5
  catops -p sandbox-catalogian delta snapshot-rows demo-feed --search outdoor --all
  catops -p sandbox-catalogian delta snapshot-rows --search Acme --field brand -o ndjson
  catops -p feed delta snapshot-rows --all --cursor-file rows.cursor -o ndjson >> rows.ndjson")]
    SnapshotRows(SnapshotRowsArgs),
}

#[derive(Debug, Args)]
pub struct SnapshotsArgs {
    /// Source id or slug [default: the key's only source]
    pub source: Option<String>,
    /// Snapshots per page, at most 100
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_SNAPSHOTS_LIMIT as i64))]
    pub limit: Option<u32>,
    /// Follow nextCursor until the last page
    #[arg(long)]
    pub all: bool,
    /// Start from the cursor stored here, and store the next one after each page
    #[arg(long, value_name = "PATH")]
    pub cursor_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SnapshotRowsArgs {
    /// Source id or slug [default: the key's only source]
    pub source: Option<String>,
    /// Only rows with this text in a field (the vendor decides how it matches)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Search this field only
    #[arg(long, value_name = "FIELD", requires = "search")]
    pub field: Option<String>,
    /// Rows per page, at most 200
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_SNAPSHOT_ROWS_LIMIT as i64))]
    pub limit: Option<u32>,
    /// Follow nextCursor until the last page
    #[arg(long)]
    pub all: bool,
    /// Start from the cursor stored here, and store the next one after each page
    #[arg(long, value_name = "PATH")]
    pub cursor_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Source id or slug [default: the key's only source]
    pub source: Option<String>,
    /// Only events after this ISO 8601 time
    #[arg(long, value_name = "TS")]
    pub since: Option<String>,
    /// Events per page, at most 200
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_EVENTS_LIMIT as i64))]
    pub limit: Option<u32>,
    /// Keys listed per category and event, at most 1000
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_KEYS_LIMIT as i64))]
    pub keys_limit: Option<u32>,
    /// Follow nextCursor until the last page
    #[arg(long)]
    pub all: bool,
    /// Start from the cursor stored here, and store the next one after each page
    #[arg(long, value_name = "PATH")]
    pub cursor_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RowsArgs {
    /// [SOURCE] EVENT_ID: the source may be left out when the key sees only one
    #[arg(value_name = "[SOURCE] EVENT_ID", num_args = 1..=2, required = true)]
    pub ids: Vec<String>,
    /// Only rows of this kind of change
    #[arg(long, value_enum)]
    pub change_type: Option<ChangeType>,
    /// Rows per page, at most 200
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_ROWS_LIMIT as i64))]
    pub limit: Option<u32>,
    /// Follow nextCursor until the last page
    #[arg(long)]
    pub all: bool,
    /// Start from the cursor stored here, and store the next one after each page
    #[arg(long, value_name = "PATH")]
    pub cursor_file: Option<PathBuf>,
}

fn positive_secs(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 => Ok(secs),
        _ => Err(format!("'{raw}' is not a positive number of seconds")),
    }
}

pub async fn run(command: DeltaCommand, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        DeltaCommand::Sources => {
            let api = ctx.api(Operation::DeltaSources).await?;
            let sources = api.client::<Catalogian>()?.sources().await?;
            ctx.print_list(&sources, columns::DELTA_SOURCES)?;
        }
        DeltaCommand::List(args) => list(ctx, args).await?,
        DeltaCommand::Latest { source } => {
            let api = ctx.api(Operation::DeltaLatest).await?;
            let catalogian = api.client::<Catalogian>()?;
            let source = resolve_source(catalogian, source).await?;
            let event = catalogian.latest(&source).await?;
            ctx.print(&event)?;
        }
        DeltaCommand::Rows(args) => rows(ctx, args).await?,
        DeltaCommand::Snapshots(args) => snapshots(ctx, args).await?,
        DeltaCommand::SnapshotRows(args) => snapshot_rows(ctx, args).await?,
        DeltaCommand::Watch {
            source,
            interval,
            since,
            cursor_file,
        } => {
            let api = ctx.api(Operation::DeltaWatch).await?;
            let catalogian = api.client::<Catalogian>()?;
            let source = resolve_source(catalogian, source).await?;
            return watch(
                ctx,
                catalogian,
                &source,
                interval,
                since,
                cursor_file.as_deref(),
            )
            .await;
        }
    }
    Ok(exit::OK)
}

async fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<()> {
    let api = ctx.api(Operation::DeltaList).await?;
    let catalogian = api.client::<Catalogian>()?;
    let source = resolve_source(catalogian, args.source).await?;
    let query = DeltaQuery {
        since: args.since,
        limit: args.limit,
        keys_limit: args.keys_limit,
        cursor: None,
    };
    let to = Listing {
        cursor_file: args.cursor_file.as_deref(),
        all: args.all,
        columns: columns::DELTA_EVENTS,
    };
    paginate(ctx, to, |cursor| {
        let query = DeltaQuery {
            cursor,
            ..query.clone()
        };
        let source = source.clone();
        async move { catalogian.delta_page(&source, &query).await }
    })
    .await
}

async fn rows(ctx: &Context, args: RowsArgs) -> anyhow::Result<()> {
    let api = ctx.api(Operation::DeltaRows).await?;
    let catalogian = api.client::<Catalogian>()?;
    let (source, event) = match args.ids.as_slice() {
        [event] => (None, event.clone()),
        [source, event] => (Some(source.clone()), event.clone()),
        _ => return usage("delta rows takes [SOURCE] EVENT_ID"),
    };
    let source = resolve_source(catalogian, source).await?;
    let change_type = args.change_type.map(|c| match c {
        ChangeType::New => "new",
        ChangeType::Changed => "changed",
        ChangeType::Deleted => "deleted",
    });
    let limit = args.limit;
    let to = Listing {
        cursor_file: args.cursor_file.as_deref(),
        all: args.all,
        columns: columns::DELTA_ROWS,
    };
    paginate(ctx, to, |cursor| {
        let (source, event) = (source.clone(), event.clone());
        async move {
            catalogian
                .rows_page(&source, &event, change_type, limit, cursor.as_deref())
                .await
        }
    })
    .await
}

async fn snapshots(ctx: &Context, args: SnapshotsArgs) -> anyhow::Result<()> {
    let api = ctx.api(Operation::DeltaSnapshots).await?;
    let catalogian = api.client::<Catalogian>()?;
    let source = resolve_source(catalogian, args.source).await?;
    let limit = args.limit;
    let to = Listing {
        cursor_file: args.cursor_file.as_deref(),
        all: args.all,
        columns: columns::SNAPSHOTS,
    };
    paginate(ctx, to, |cursor| {
        let source = source.clone();
        async move {
            catalogian
                .snapshots_page(&source, limit, cursor.as_deref())
                .await
        }
    })
    .await
}

async fn snapshot_rows(ctx: &Context, args: SnapshotRowsArgs) -> anyhow::Result<()> {
    let api = ctx.api(Operation::DeltaSnapshotRows).await?;
    let catalogian = api.client::<Catalogian>()?;
    let source = resolve_source(catalogian, args.source).await?;
    let query = SnapshotRowsQuery {
        search: args.search,
        field: args.field,
        limit: args.limit,
    };
    let to = Listing {
        cursor_file: args.cursor_file.as_deref(),
        all: args.all,
        columns: columns::SNAPSHOT_ROWS,
    };
    paginate(ctx, to, |cursor| {
        let (source, query) = (source.clone(), query.clone());
        async move {
            catalogian
                .snapshot_rows_page(&source, &query, cursor.as_deref())
                .await
        }
    })
    .await
}

/// SPEC §4: SOURCE may be left out when the key sees exactly one source.
async fn resolve_source(catalogian: &Catalogian, source: Option<String>) -> anyhow::Result<String> {
    if let Some(source) = source {
        return Ok(source);
    }
    let sources = catalogian.sources().await?;
    let ids: Vec<&str> = sources.iter().filter_map(|s| s["id"].as_str()).collect();
    match ids.as_slice() {
        [only] => Ok(only.to_string()),
        [] => usage("the key sees no source"),
        many => Err(Failure::usage(format!(
            "the key sees {} sources: name one (id or slug)",
            many.len()
        ))
        .hint(format!("sources: {}", many.join(", ")))
        .into()),
    }
}

/// How a cursor-paged list is printed: `--cursor-file`, `--all`, and its table's columns.
struct Listing<'a> {
    cursor_file: Option<&'a Path>,
    all: bool,
    columns: &'static [&'static str],
}

/// Prints one page, or with `all` every page, streaming; the cursor file is rewritten after
/// each page is written, so an interrupted export resumes where it stopped. A failure
/// half-way still closes what was printed (a JSON array) before it is reported.
async fn paginate<F, Fut>(ctx: &Context, to: Listing<'_>, mut fetch: F) -> anyhow::Result<()>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<CursorPage, crate::http::ApiError>>,
{
    let mut cursor = match to.cursor_file {
        Some(path) => read_cursor(path)?,
        None => None,
    };
    let mut list = ctx.list(to.columns);
    let mut shown = 0;
    let outcome: anyhow::Result<bool> = loop {
        let page = match fetch(cursor.clone()).await {
            Ok(page) => page,
            Err(err) => break Err(err.into()),
        };
        if let Err(err) = list.page(&page.records) {
            break Err(err);
        }
        shown += page.records.len() as u64;
        let next = page.next_cursor.filter(|c| page.has_more && !c.is_empty());
        if let (Some(path), Some(next)) = (to.cursor_file, &next) {
            if let Err(err) = write_cursor(path, next) {
                break Err(err);
            }
        }
        match next {
            Some(next) if to.all => cursor = Some(next),
            Some(_) => break Ok(true),
            None => break Ok(false),
        }
    };
    match outcome {
        Ok(more) => {
            list.finish()?;
            if more {
                ctx.note_more(shown, None, "--all or --cursor-file");
            }
            Ok(())
        }
        Err(err) => {
            list.finish_after_error()?;
            Err(err)
        }
    }
}

/// Polls for events after the newest one seen and prints each once, as NDJSON.
async fn watch(
    ctx: &Context,
    catalogian: &Catalogian,
    source: &str,
    interval: f64,
    since: Option<String>,
    cursor_file: Option<&Path>,
) -> anyhow::Result<u8> {
    let stored = match cursor_file {
        Some(path) => read_cursor(path)?,
        None => None,
    };
    // Without a starting point, "new" means after the newest event that exists now.
    let mut last = match since.or(stored) {
        Some(since) => Some(since),
        None => match catalogian.latest(source).await {
            Ok(event) => event["detectedAt"].as_str().map(str::to_string),
            Err(err) if err.status().is_some_and(|s| s.as_u16() == 404) => None,
            Err(err) => return Err(err.into()),
        },
    };
    let interrupted = crate::interrupt::interrupted();
    tokio::pin!(interrupted);
    let stdout = std::io::stdout();
    loop {
        let mut cursor = None;
        loop {
            let query = DeltaQuery {
                since: last.clone(),
                limit: Some(MAX_EVENTS_LIMIT),
                keys_limit: None,
                cursor: cursor.clone(),
            };
            let page = catalogian.delta_page(source, &query).await?;
            let mut out = stdout.lock();
            for event in &page.records {
                let shown = ctx.select(event)?;
                match ctx.jq() {
                    Some(jq) => jq.write(&shown, &mut out)?,
                    None => {
                        serde_json::to_writer(&mut out, &*shown)?;
                        out.write_all(b"\n")?;
                    }
                }
                out.flush()?;
                if let Some(at) = event["detectedAt"].as_str() {
                    last = Some(at.to_string());
                    if let Some(path) = cursor_file {
                        write_cursor(path, at)?;
                    }
                }
            }
            match page.next_cursor.filter(|c| page.has_more && !c.is_empty()) {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(interval)) => {}
            _ = &mut interrupted => return Ok(exit::INTERRUPTED),
        }
    }
}

fn read_cursor(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_string()).filter(|c| !c.is_empty())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => usage(format!(
            "cannot read the cursor file {}: {err}",
            path.display()
        )),
    }
}

/// Replaces the file atomically, so a crash leaves the old cursor or the new one.
fn write_cursor(path: &Path, cursor: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{cursor}\n"))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|err| {
            Failure::new(
                exit::FAILURE,
                format!("cannot write the cursor file {}: {err}", path.display()),
            )
            .into()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_files_round_trip_and_start_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cursor");
        assert_eq!(read_cursor(&path).unwrap(), None);
        write_cursor(&path, "abc").unwrap();
        assert_eq!(read_cursor(&path).unwrap().as_deref(), Some("abc"));
        write_cursor(&path, "def").unwrap();
        assert_eq!(read_cursor(&path).unwrap().as_deref(), Some("def"));
    }
}
