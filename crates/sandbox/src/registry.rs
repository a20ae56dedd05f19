//! The emulated vendors, one line each; every vendor module says in its `EMULATED` where it
//! is served, its tables, its demo data, its routes and how it words an error. A sixth vendor
//! is a module and a line here.

use catops_spec::VendorKind;

use crate::emulated::Emulated;
use crate::{batch, catalogian, catalogix, clevertap, rastro};

pub const VENDORS: [Emulated; 5] = [
    rastro::EMULATED,
    batch::EMULATED,
    catalogix::EMULATED,
    clevertap::EMULATED,
    catalogian::EMULATED,
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
