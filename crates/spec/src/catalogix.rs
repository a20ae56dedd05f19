//! catalogix (docs.streamoid.com, Asset APIs): the documented limits and asset item rules,
//! which the client's validator and the sandbox's emulation both enforce.

use serde_json::Value;

/// errors page: "413 Payload too large: The API accepts upto 100 data items at a time."
pub const MAX_ITEMS_PER_REQUEST: usize = 100;
/// The `channel` query parameter's documented default.
pub const DEFAULT_CHANNEL: &str = "SMP";

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
