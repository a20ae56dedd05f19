//! catalogix (docs.streamoid.com, Asset APIs): the documented limits and asset item rules,
//! which the client's validator and the sandbox's emulation both enforce.

use serde_json::Value;

/// errors page: "413 Payload too large: The API accepts upto 100 data items at a time."
pub const MAX_ITEMS_PER_REQUEST: usize = 100;
/// The `channel` query parameter's documented default.
pub const DEFAULT_CHANNEL: &str = "SMP";
/// get-assets: `limit` "Results per page (max 50)", default 50.
pub const MAX_ASSET_GROUPS_PAGE: u32 = 50;
/// get-assets: `asset_format`'s fallback values ("loaded dynamically from the global config
/// API; fallback values are image, video, pdf, 3D, text"), `image` by default.
pub const ASSET_FORMATS: [&str; 5] = ["image", "video", "pdf", "3D", "text"];
/// retrieve-product-data: `limit` defaults to 100 (no maximum is documented).
pub const DEFAULT_PRODUCTS_PAGE: u32 = 100;
/// insert-product-data: the `status` values, `new` by default.
pub const PRODUCT_STATUSES: [&str; 6] = [
    "new",
    "active",
    "problem",
    "inactive",
    "draft",
    "under review",
];

/// Which of the two asset removals an item is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// `DELETE /asset`: `{store_uuid (required), channel, parent_code, asset_id: [string]}`.
    Delete,
    /// `POST /assets/unlink`: `{store_uuid, parent_code, channel (all required), asset_id
    /// (optional; omitting it unlinks all)}`.
    Unlink,
}

/// Checks one delete or unlink item as its page documents it. Delete needs a parent_code or
/// asset ids to say what goes (a bare store would mean nothing, or everything).
pub fn validate_removal(item: &Value, removal: Removal) -> Result<(), String> {
    let Value::Object(item) = item else {
        return Err("an item must be a JSON object".into());
    };
    for key in item.keys() {
        if !matches!(
            key.as_str(),
            "store_uuid" | "channel" | "parent_code" | "asset_id"
        ) {
            return Err(format!(
                "unexpected key '{key}' (expected parent_code, asset_id, channel, store_uuid)"
            ));
        }
    }
    let text = |key: &str| -> Result<Option<&str>, String> {
        match item.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("{key} must be a string")),
        }
    };
    if text("store_uuid")?.is_none() {
        return Err("store_uuid is missing".into());
    }
    let parent_code = text("parent_code")?;
    let channel = text("channel")?;
    match removal {
        Removal::Delete => {
            let ids = match item.get("asset_id") {
                None | Some(Value::Null) => 0,
                Some(Value::Array(ids)) => {
                    if ids.iter().any(|id| id.as_str().is_none_or(str::is_empty)) {
                        return Err("asset_id must be a list of non-empty strings".into());
                    }
                    ids.len()
                }
                Some(_) => return Err("asset_id must be a list of strings".into()),
            };
            if parent_code.is_none() && ids == 0 {
                return Err("give a parent_code or asset ids to delete".into());
            }
        }
        Removal::Unlink => {
            if parent_code.is_none() {
                return Err("parent_code is missing".into());
            }
            if channel.is_none() {
                return Err("channel is missing".into());
            }
            text("asset_id")?;
        }
    }
    Ok(())
}

/// Checks one `SkuDataModel` (insert-product-data): `parent_code` is required, `status` one of
/// the documented values; the other keys are free-form attributes.
pub fn validate_product(item: &Value) -> Result<(), String> {
    let Value::Object(item) = item else {
        return Err("a product must be a JSON object".into());
    };
    match item.get("parent_code") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err("parent_code is missing".into())
        }
        Some(_) => return Err("parent_code must be a string".into()),
    }
    match item.get("product_code") {
        None | Some(Value::String(_)) => {}
        Some(_) => return Err("product_code must be a string".into()),
    }
    match item.get("status") {
        None => {}
        Some(Value::String(s)) if PRODUCT_STATUSES.contains(&s.as_str()) => {}
        Some(other) => {
            return Err(format!(
                "status {other} is not one of {}",
                PRODUCT_STATUSES.join(", ")
            ))
        }
    }
    Ok(())
}

/// The code a product is known by: its `product_code`, else its `parent_code`.
pub fn product_code(item: &Value) -> Option<&str> {
    item.get("product_code")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| item.get("parent_code").and_then(Value::as_str))
}

/// Checks one `AssetUpsertItem`: `parent_code`, `asset_type` and `assets` are required, and
/// every asset is a URL.
pub fn validate_item(item: &Value) -> Result<(), String> {
    let Value::Object(item) = item else {
        return Err("an asset item must be a JSON object".into());
    };
    for key in item.keys() {
        if !matches!(
            key.as_str(),
            "parent_code" | "asset_type" | "product_uuid" | "assets"
        ) {
            return Err(format!("unexpected key '{key}'"));
        }
    }
    for required in ["parent_code", "asset_type"] {
        match item.get(required) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(format!("{required} is missing"))
            }
            Some(_) => return Err(format!("{required} must be a string")),
        }
    }
    if let Some(uuid) = item.get("product_uuid") {
        if !uuid.is_string() {
            return Err("product_uuid must be a string".into());
        }
    }
    let assets = match item.get("assets") {
        Some(Value::Object(assets)) if !assets.is_empty() => assets,
        Some(Value::Object(_)) | None | Some(Value::Null) => {
            return Err("assets is missing: give at least one asset URL".into())
        }
        Some(_) => return Err("assets must be an object of name → URL".into()),
    };
    for (name, url) in assets {
        let Value::String(url) = url else {
            return Err(format!("asset '{name}' must be a URL string"));
        };
        if !is_web_url(url) {
            return Err(format!("asset '{name}': '{url}' is not an http(s) URL"));
        }
    }
    Ok(())
}

fn is_web_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !url.chars().any(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_example_is_valid() {
        let item = json!({"parent_code": "SKU001", "asset_type": "image",
                          "assets": {"Image URL 1": "https://cdn.example.com/img1.jpg"}});
        assert_eq!(validate_item(&item), Ok(()));
    }

    #[test]
    fn removal_items_follow_their_pages() {
        let delete = json!({"store_uuid": "S", "channel": "SMP", "parent_code": "SKU001", "asset_id": ["id1", "id2"]});
        assert_eq!(validate_removal(&delete, Removal::Delete), Ok(()));
        let ids_only = json!({"store_uuid": "S", "asset_id": ["id1"]});
        assert_eq!(validate_removal(&ids_only, Removal::Delete), Ok(()));
        let nothing = json!({"store_uuid": "S", "channel": "SMP"});
        assert!(validate_removal(&nothing, Removal::Delete).is_err());
        let unlink = json!({"store_uuid": "S", "parent_code": "SKU001", "channel": "SMP", "asset_id": "e26"});
        assert_eq!(validate_removal(&unlink, Removal::Unlink), Ok(()));
        let all = json!({"store_uuid": "S", "parent_code": "SKU001", "channel": "SMP"});
        assert_eq!(validate_removal(&all, Removal::Unlink), Ok(()));
        let no_parent = json!({"store_uuid": "S", "channel": "SMP", "asset_id": "e26"});
        assert!(validate_removal(&no_parent, Removal::Unlink).is_err());
        let extra = json!({"store_uuid": "S", "parent_code": "P", "url": "x"});
        assert!(validate_removal(&extra, Removal::Delete)
            .unwrap_err()
            .contains("unexpected key 'url'"));
    }

    #[test]
    fn products_need_a_parent_code_and_a_documented_status() {
        let product =
            json!({"product_code": "CI001", "parent_code": "SC001", "Category": "Dupatta"});
        assert_eq!(validate_product(&product), Ok(()));
        assert_eq!(product_code(&product), Some("CI001"));
        assert_eq!(
            product_code(&json!({"parent_code": "SC001"})),
            Some("SC001")
        );
        assert!(validate_product(&json!({"product_code": "CI001"})).is_err());
        assert!(
            validate_product(&json!({"parent_code": "P", "status": "gone"}))
                .unwrap_err()
                .contains("under review")
        );
        assert_eq!(
            validate_product(&json!({"parent_code": "P", "status": "under review"})),
            Ok(())
        );
    }

    #[test]
    fn required_fields_and_urls() {
        let missing = json!({"asset_type": "image", "assets": {"a": "https://x/y"}});
        assert!(validate_item(&missing)
            .unwrap_err()
            .contains("parent_code is missing"));
        let no_assets = json!({"parent_code": "P", "asset_type": "image", "assets": {}});
        assert!(validate_item(&no_assets)
            .unwrap_err()
            .contains("assets is missing"));
        let bad_url =
            json!({"parent_code": "P", "asset_type": "image", "assets": {"a": "img1.jpg"}});
        assert!(validate_item(&bad_url)
            .unwrap_err()
            .contains("not an http(s) URL"));
        let not_string = json!({"parent_code": "P", "asset_type": "image", "assets": {"a": 1}});
        assert!(validate_item(&not_string).is_err());
        let extra = json!({"parent_code": "P", "asset_type": "image", "assets": {"a": "https://x"}, "b": 1});
        assert!(validate_item(&extra)
            .unwrap_err()
            .contains("unexpected key"));
    }
}
