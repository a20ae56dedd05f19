//! clevertap (vendors/clevertap.txt): catalogs get and list, authenticated by two headers.

use serde_json::Value;

use super::segment;
use crate::config::{Profile, Secret};
use crate::http::{ApiError, AuthHeader, Http};

pub const DEFAULT_REGION: &str = "in1";

pub fn default_base_url(profile: &Profile) -> String {
    let region = profile.region.as_deref().unwrap_or(DEFAULT_REGION);
    format!("https://{region}.api.clevertap.com")
}

/// clevertap authenticates with two headers instead of a bearer token, and the docs mark
/// `Content-Type: application/json` required on every request, GETs included.
pub fn auth_headers(profile: &Profile, token: &Secret) -> anyhow::Result<Vec<AuthHeader>> {
    let Some(account) = profile.account_id.as_deref() else {
        return crate::error::usage("clevertap profiles need account_id (sent as X-Account-Id)");
    };
    Ok(vec![
        AuthHeader::plain("X-Account-Id", account)?,
        AuthHeader::secret("X-CleverTap-Token", token.expose())?,
        AuthHeader::plain("Content-Type", "application/json")?,
    ])
}

pub struct Clevertap {
    http: Http,
}

impl Clevertap {
    pub fn new(http: Http) -> Self {
        Clevertap { http }
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    pub async fn catalogs_get(&self, id: &str) -> Result<Value, ApiError> {
        let path = format!("/v2/catalogs/{}", segment(id));
        self.http.get_json(&path, &[]).await
    }

    /// The list's envelope is not documented; the catalogs are the `catalogs` array, or the
    /// body itself when it is an array.
    pub async fn catalogs_list(&self) -> Result<Vec<Value>, ApiError> {
        let body: Value = self.http.get_json("/v2/catalogs", &[]).await?;
        Ok(match body {
            Value::Array(catalogs) => catalogs,
            Value::Object(mut map) => match map.remove("catalogs") {
                Some(Value::Array(catalogs)) => catalogs,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        })
    }
}
