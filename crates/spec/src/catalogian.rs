//! catalogian (catalogian.com/docs): documented page limits.

/// Delta events: `limit` "default 50, max 200"; `keysLimit` "default 100, max 1000".
pub const MAX_EVENTS_LIMIT: u32 = 200;
pub const DEFAULT_EVENTS_LIMIT: u32 = 50;
pub const MAX_KEYS_LIMIT: u32 = 1000;
pub const DEFAULT_KEYS_LIMIT: u32 = 100;
/// Delta rows (pagination page): "default 50, max 200".
pub const MAX_ROWS_LIMIT: u32 = 200;
pub const DEFAULT_ROWS_LIMIT: u32 = 50;
/// Snapshots (catalogian.com/docs/pagination): `limit` "default 100, max 100".
pub const MAX_SNAPSHOTS_LIMIT: u32 = 100;
pub const DEFAULT_SNAPSHOTS_LIMIT: u32 = 100;
/// Snapshot rows (catalogian.com/docs/pagination): `limit` "default 50, max 200".
pub const MAX_SNAPSHOT_ROWS_LIMIT: u32 = 200;
pub const DEFAULT_SNAPSHOT_ROWS_LIMIT: u32 = 50;
/// Rate limits (catalogian.com/docs/rate-limits): authenticated REST requests a minute per
/// API key, and unauthenticated ones a minute per IP.
pub const REQUESTS_PER_MINUTE_PER_KEY: u32 = 600;
pub const REQUESTS_PER_MINUTE_PER_IP: u32 = 100;
