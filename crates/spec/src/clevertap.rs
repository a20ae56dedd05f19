//! clevertap (developer.clevertap.com, Catalog API v2): documented limits.

/// list-catalogs-api: `size` "default 20, max 100"; `page` is zero-based.
pub const MAX_PAGE_SIZE: u32 = 100;
pub const DEFAULT_PAGE_SIZE: u32 = 20;
