//! The emulated vendors, one row each: where a vendor is served, its tables, its demo data,
//! its routes and how it words an error. A sixth vendor is a module and a row here.

use std::sync::Arc;

use axum::Router;
use catops_spec::VendorKind;
use rusqlite::Transaction;

use crate::error::ErrorBody;
use crate::{batch, catalogian, catalogix, clevertap, enrich, rastro, Shared};

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

pub const VENDORS: [Emulated; 5] = [
    Emulated {
        kind: VendorKind::Rastro,
        prefix: "/rastro/api",
        tables: &[rastro::SCHEMA, enrich::SCHEMA],
        seed: rastro::seed,
        clear: rastro::clear,
        router: rastro::router,
        error_body: rastro::error_body,
    },
    Emulated {
        kind: VendorKind::Batch,
        prefix: "/batch/{version}",
        tables: &[batch::SCHEMA],
        seed: batch::seed,
        clear: batch::clear,
        router: batch::router,
        error_body: batch::error_body,
    },
    Emulated {
        kind: VendorKind::Catalogix,
        prefix: "/catalogix/v1",
        tables: &[catalogix::SCHEMA],
        seed: catalogix::seed,
        clear: catalogix::clear,
        router: catalogix::router,
        error_body: catalogix::error_body,
    },
    Emulated {
        kind: VendorKind::Clevertap,
        prefix: "/clevertap",
        tables: &[clevertap::SCHEMA],
        seed: clevertap::seed,
        clear: clevertap::clear,
        router: clevertap::router,
        error_body: clevertap::error_body,
    },
    Emulated {
        kind: VendorKind::Catalogian,
        prefix: "/catalogian",
        tables: &[catalogian::SCHEMA],
        seed: catalogian::seed,
        clear: catalogian::clear,
        router: catalogian::router,
        error_body: catalogian::error_body,
    },
];

/// Where `kind` is served, for a client of it (batch at its API version).
pub fn prefix(kind: VendorKind, api_version: &str) -> String {
    VENDORS
        .iter()
        .find(|vendor| vendor.kind == kind)
        .map(|vendor| vendor.prefix.replace("{version}", api_version))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_vendor_has_one_row() {
        for kind in catops_spec::VendorKind::ALL {
            let rows = super::VENDORS.iter().filter(|v| v.kind == kind).count();
            assert_eq!(rows, 1, "{kind}");
        }
        assert_eq!(
            super::prefix(catops_spec::VendorKind::Batch, "2.6"),
            "/batch/2.6"
        );
    }
}
