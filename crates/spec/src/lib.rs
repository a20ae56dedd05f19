//! What the five vendors' documentation says, as data and pure functions: their names, the
//! limits they document, the item rules they enforce. catops and its sandbox both read it, so
//! a documented fact lives in one place. No I/O here.

pub mod batch;
pub mod catalogian;
pub mod catalogix;
pub mod clevertap;
pub mod rastro;
mod vendor;

pub use vendor::VendorKind;

/// The token every built-in sandbox profile sends, and the sandbox accepts with every scope.
pub const SANDBOX_TOKEN: &str = "sandbox-token";
/// The sandbox's second fixed token: catalogian's `read` scope only; other vendors refuse it.
pub const SANDBOX_READONLY_TOKEN: &str = "sandbox-readonly";
