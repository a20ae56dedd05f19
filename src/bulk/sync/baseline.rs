//! `--baseline remote`: the state built from the vendor's own listing of the catalog (rastro
//! items), each listed item put in the form the bulk endpoint sends and hashed the same way, so
//! the first sync sends only what differs from what the vendor holds.

use std::path::Path;

use super::super::chunk::Mark;
use super::state::Recorder;
use super::{canon, field_names};
use crate::error::Failure;
use crate::vendors::{BulkEndpoint, ItemFilter, ItemPages};

/// Replaces the state's items with the vendor's listing, a page at a time (memory stays
/// flat); returns how many items it holds.
pub async fn baseline(
    state: &Path,
    pages: &dyn ItemPages,
    catalog: &str,
    target: &dyn BulkEndpoint,
    fields_of: Option<&str>,
) -> anyhow::Result<u64> {
    let mut recorder = Recorder::open(state)?;
    recorder.clear()?;
    let limit = pages.all_pages_limit();
    let filter = ItemFilter::default();
    let mut scratch = Vec::new();
    let mut count = 0u64;
    for page in 1.. {
        let got = pages.items_page(catalog, page, limit, &filter).await?;
        let listed = got.records.len();
        for record in got.records {
            let Some(item) = target.listed_as_item(record) else {
                return Err(Failure::usage(format!(
                    "--baseline remote: {}'s item list does not give items as its bulk endpoint takes them",
                    target.http().vendor()
                ))
                .into());
            };
            let Some(key) = target.item_key(&item) else {
                continue;
            };
            let hash = canon::hash(&item, &mut scratch);
            let names = fields_of.map(|object| field_names(&item, object));
            let item = Mark {
                key: &key,
                hash,
                raw: None,
                fields: names.as_deref(),
            };
            // The list's order stands for the input's until a sync records the input's own.
            recorder.record(item, count)?;
            count += 1;
        }
        recorder.commit()?;
        let more = got.total.map_or(listed == limit as usize, |total| {
            (page - 1) * u64::from(limit) + (listed as u64) < total
        });
        if !more || listed == 0 {
            break;
        }
    }
    Ok(count)
}
