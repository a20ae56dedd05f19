//! The five vendors by name.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum VendorKind {
    Rastro,
    Batch,
    Catalogix,
    Clevertap,
    Catalogian,
}

impl VendorKind {
    pub const ALL: [VendorKind; 5] = [
        VendorKind::Rastro,
        VendorKind::Batch,
        VendorKind::Catalogix,
        VendorKind::Clevertap,
        VendorKind::Catalogian,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VendorKind::Rastro => "rastro",
            VendorKind::Batch => "batch",
            VendorKind::Catalogix => "catalogix",
            VendorKind::Clevertap => "clevertap",
            VendorKind::Catalogian => "catalogian",
        }
    }
}

impl fmt::Display for VendorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
