//! The columns a table shows by default for each resource that is not a vendor's own shape
//! (items and catalogs: `ItemPages::table_columns`, `CatalogPages::table_columns`). Each set
//! fits 80 characters with the values the vendors document; `--columns` picks others.

pub const PROFILES: &[&str] = &["name", "vendor", "default", "builtin", "base_url"];

/// catalogix asset groups, one per parent code.
pub const ASSET_GROUPS: &[&str] = &["parent_code", "asset_type", "channel", "assets"];

pub const DELTA_SOURCES: &[&str] = &["id", "slug", "name", "type", "status"];

/// A delta event: an id is never cut. Add `deletedCount` with --columns (it would not fit).
pub const DELTA_EVENTS: &[&str] = &["id", "detectedAt", "newCount", "changedCount"];

pub const DELTA_ROWS: &[&str] = &["key", "changeType", "before", "after"];

pub const SNAPSHOTS: &[&str] = &["id", "createdAt", "totalRows"];

pub const SNAPSHOT_ROWS: &[&str] = &["row_key", "row_hash", "row_data"];
