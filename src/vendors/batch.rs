//! batch (vendors/batch.txt): connection facts. Items edits arrive with the bulk pipeline.

use crate::config::{Profile, Secret};
use crate::http::AuthHeader;

/// vendors/batch.txt: the server URL's `{version}` variable defaults to 2.11.
pub const DEFAULT_API_VERSION: &str = "2.11";

pub fn api_version(profile: &Profile) -> &str {
    profile
        .api_version
        .as_deref()
        .unwrap_or(DEFAULT_API_VERSION)
}

pub fn default_base_url(profile: &Profile) -> String {
    format!("https://api.batch.com/{}", api_version(profile))
}

/// Bearer REST key plus the project key header, which the docs mark required.
pub fn auth_headers(profile: &Profile, token: &Secret) -> anyhow::Result<Vec<AuthHeader>> {
    let Some(project) = profile.project_key.as_deref() else {
        return crate::error::usage("batch profiles need project_key (sent as X-Batch-Project)");
    };
    Ok(vec![
        AuthHeader::bearer(token)?,
        AuthHeader::plain("X-Batch-Project", project)?,
    ])
}
