//! clevertap (vendors/clevertap.txt): connection facts. Catalog commands arrive in a later issue.

use crate::config::{Profile, Secret};
use crate::http::AuthHeader;

pub const DEFAULT_REGION: &str = "in1";

pub fn default_base_url(profile: &Profile) -> String {
    let region = profile.region.as_deref().unwrap_or(DEFAULT_REGION);
    format!("https://{region}.api.clevertap.com")
}

/// clevertap authenticates with two headers instead of a bearer token.
pub fn auth_headers(profile: &Profile, token: &Secret) -> anyhow::Result<Vec<AuthHeader>> {
    let Some(account) = profile.account_id.as_deref() else {
        return crate::error::usage("clevertap profiles need account_id (sent as X-Account-Id)");
    };
    Ok(vec![
        AuthHeader::plain("X-Account-Id", account)?,
        AuthHeader::secret("X-CleverTap-Token", token.expose())?,
    ])
}
