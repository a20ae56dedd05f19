//! rastro (docs.rastro.ai, the seed excerpt, and rastro's own client): documented limits.

/// Items list: "Items per page (max 1000)", 100 by default.
pub const MAX_ITEMS_LIMIT: u32 = 1000;
pub const DEFAULT_ITEMS_LIMIT: u32 = 100;
/// Catalog list (catalogs/reference): `limit` "default 10, 1–100".
pub const MAX_CATALOGS_LIMIT: u32 = 100;
pub const DEFAULT_CATALOGS_LIMIT: u32 = 10;
/// Bulk: "Create or update up to 1000 items at once."
pub const MAX_BULK_ITEMS: usize = 1000;
