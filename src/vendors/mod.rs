//! The five vendors behind one seam: `VendorKind` holds each vendor's connection facts,
//! `Operation` says which vendor can run which command, and `Api` is what commands call.

pub mod batch;
pub mod catalogian;
pub mod catalogix;
pub mod clevertap;
pub mod rastro;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{Profile, Secret};
use crate::http::{ApiError, AuthHeader, Http};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum VendorKind {
    Rastro,
    Batch,
    Catalogix,
    Clevertap,
    Catalogian,
}

impl VendorKind {
    pub fn name(self) -> &'static str {
        match self {
            VendorKind::Rastro => "rastro",
            VendorKind::Batch => "batch",
            VendorKind::Catalogix => "catalogix",
            VendorKind::Clevertap => "clevertap",
            VendorKind::Catalogian => "catalogian",
        }
    }

    /// The production base URL (SPEC §1), which paths from the vendor docs are appended to.
    pub fn default_base_url(self, profile: &Profile) -> String {
        match self {
            VendorKind::Rastro => rastro::DEFAULT_BASE_URL.to_string(),
            VendorKind::Batch => batch::default_base_url(profile),
            VendorKind::Catalogix => catalogix::DEFAULT_BASE_URL.to_string(),
            VendorKind::Clevertap => clevertap::default_base_url(profile),
            VendorKind::Catalogian => catalogian::DEFAULT_BASE_URL.to_string(),
        }
    }

    /// Where the built-in sandbox serves this vendor (SPEC §8).
    pub fn sandbox_prefix(self, profile: &Profile) -> String {
        match self {
            VendorKind::Rastro => "/rastro/api".to_string(),
            VendorKind::Batch => format!("/batch/{}", batch::api_version(profile)),
            VendorKind::Catalogix => "/catalogix/v1".to_string(),
            VendorKind::Clevertap => "/clevertap".to_string(),
            VendorKind::Catalogian => "/catalogian".to_string(),
        }
    }

    /// The headers that authenticate a request; the ones holding the token are marked secret.
    pub fn auth_headers(
        self,
        profile: &Profile,
        token: &Secret,
    ) -> anyhow::Result<Vec<AuthHeader>> {
        match self {
            VendorKind::Rastro | VendorKind::Catalogix | VendorKind::Catalogian => {
                Ok(vec![AuthHeader::bearer(token)?])
            }
            VendorKind::Batch => batch::auth_headers(profile, token),
            VendorKind::Clevertap => clevertap::auth_headers(profile, token),
        }
    }
}

impl fmt::Display for VendorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every command that talks to a vendor, and the vendors this build can run it for.
/// A command outside a vendor's list fails with exit 2 naming the vendors that can.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    CatalogsList,
    CatalogsCreate,
    ItemsList,
    ItemsGet,
    ItemsUpdate,
}

impl Operation {
    pub fn command(self) -> &'static str {
        match self {
            Operation::CatalogsList => "catalogs list",
            Operation::CatalogsCreate => "catalogs create",
            Operation::ItemsList => "items list",
            Operation::ItemsGet => "items get",
            Operation::ItemsUpdate => "items update",
        }
    }

    pub fn vendors(self) -> &'static [VendorKind] {
        match self {
            Operation::CatalogsList
            | Operation::CatalogsCreate
            | Operation::ItemsList
            | Operation::ItemsGet
            | Operation::ItemsUpdate => &[VendorKind::Rastro],
        }
    }
}

/// One page of a paginated list.
pub struct Page {
    pub records: Vec<Value>,
    /// The total the vendor reports, when it does.
    pub total: Option<u64>,
}

/// The seam commands call. Each variant wraps one vendor's client; `Context::api` only builds
/// the variant for a vendor that `Operation::vendors` lists, so a command never reaches a
/// vendor that cannot do it.
pub enum Api {
    Rastro(rastro::Rastro),
}

impl Api {
    pub fn connect(kind: VendorKind, http: Http) -> Option<Api> {
        match kind {
            VendorKind::Rastro => Some(Api::Rastro(rastro::Rastro::new(http))),
            _ => None,
        }
    }

    pub async fn catalogs_list(&self) -> Result<Vec<Value>, ApiError> {
        match self {
            Api::Rastro(rastro) => rastro.catalogs_list().await,
        }
    }

    pub async fn catalogs_create(&self, request: &rastro::NewCatalog) -> Result<Value, ApiError> {
        match self {
            Api::Rastro(rastro) => rastro.catalogs_create(request).await,
        }
    }

    pub async fn items_page(
        &self,
        catalog: &str,
        page: u64,
        limit: Option<u32>,
    ) -> Result<Page, ApiError> {
        match self {
            Api::Rastro(rastro) => rastro.items_page(catalog, page, limit).await,
        }
    }

    pub async fn items_get(&self, catalog: &str, item: &str) -> Result<Value, ApiError> {
        match self {
            Api::Rastro(rastro) => rastro.items_get(catalog, item).await,
        }
    }

    pub async fn items_update(
        &self,
        catalog: &str,
        item: &str,
        fields: &Value,
    ) -> Result<Value, ApiError> {
        match self {
            Api::Rastro(rastro) => rastro.items_update(catalog, item, fields).await,
        }
    }
}
