//! What the sandbox needs to know of an emulated vendor; each vendor module defines its own
//! `EMULATED` and the registry lists them.

use std::sync::Arc;

use axum::Router;
use catops_spec::VendorKind;
use rusqlite::Transaction;

use crate::error::ErrorBody;
use crate::Shared;

pub struct Emulated {
    pub kind: VendorKind,
    /// The URL prefix it is served under; batch's `{version}` is any API version.
    pub prefix: &'static str,
    pub tables: &'static [&'static str],
    pub seed: fn(&Transaction) -> rusqlite::Result<()>,
    pub clear: fn(&Transaction) -> rusqlite::Result<()>,
    pub router: fn(Arc<Shared>) -> Router,
    pub error_body: ErrorBody,
}
