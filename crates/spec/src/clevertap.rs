//! clevertap (developer.clevertap.com, Catalog API v2): documented limits.

/// list-catalogs-api: `size` "default 20, max 100"; `page` is zero-based.
pub const MAX_PAGE_SIZE: u32 = 100;
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// The products endpoints (create-products-bulk-api, create-single-product-api): limits and
/// the product rules, which the client's validator and the sandbox both enforce.
pub mod products {
    use serde_json::Value;

    /// create-products-bulk-api: "500 KB per request". Read as 500,000 bytes, the smaller
    /// of the two readings of KB, so a body within it passes either way.
    pub const MAX_BULK_BODY_BYTES: usize = 500_000;
    /// create-single-product-api: "The maximum request payload for this endpoint is 100 KB."
    pub const MAX_SINGLE_BODY_BYTES: usize = 100_000;
    /// No item count is documented: the byte budget decides. The smallest product
    /// (`{"identity":"a","name":"b"}` and a comma, 28 bytes) fits about 17,800 times in
    /// 500 KB, so this count never binds before the bytes do.
    pub const MAX_ITEMS_PER_REQUEST: usize = 20_000;
    /// create-products-bulk-api: identity "Allowed: 1–500 characters".
    pub const MAX_IDENTITY_CHARS: usize = 500;
    /// create-products-bulk-api: name "Allowed: 1-1000 characters".
    pub const MAX_NAME_CHARS: usize = 1000;
    /// create-products-bulk-api: imageUrl "Allowed a maximum of 2000 characters".
    pub const MAX_IMAGE_URL_CHARS: usize = 2000;

    /// Checks one product of a bulk body: `identity` and `name` are required strings of 1–500
    /// and 1–1000 characters, `imageUrl` (optional on the bulk page) at most 2000, and
    /// `attributes` an object; no other key.
    pub fn validate_product(product: &Value) -> Result<(), String> {
        let Value::Object(product) = product else {
            return Err("a product must be a JSON object".into());
        };
        for key in product.keys() {
            if !matches!(
                key.as_str(),
                "identity" | "name" | "imageUrl" | "attributes"
            ) {
                return Err(format!(
                    "unexpected key '{key}' (a product has identity, name, imageUrl and attributes)"
                ));
            }
        }
        text(product.get("identity"), "identity", 1, MAX_IDENTITY_CHARS)?;
        text(product.get("name"), "name", 1, MAX_NAME_CHARS)?;
        if let Some(url) = product.get("imageUrl") {
            text(Some(url), "imageUrl", 0, MAX_IMAGE_URL_CHARS)?;
        }
        match product.get("attributes") {
            None | Some(Value::Object(_)) => Ok(()),
            Some(_) => Err("attributes must be an object".into()),
        }
    }

    fn text(value: Option<&Value>, key: &str, min: usize, max: usize) -> Result<(), String> {
        match value {
            Some(Value::String(s)) => {
                let chars = s.chars().count();
                if chars < min {
                    Err(format!("{key} is empty"))
                } else if chars > max {
                    Err(format!("{key} is {chars} characters, more than {max}"))
                } else {
                    Ok(())
                }
            }
            None | Some(Value::Null) => Err(format!("{key} is missing")),
            Some(_) => Err(format!("{key} must be a string")),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use serde_json::json;

        #[test]
        fn products_follow_the_documented_field_limits() {
            let ok = json!({"identity": "P-1", "name": "Shoe", "imageUrl": "https://x/y.png",
                "attributes": {"brand": "Acme"}});
            assert_eq!(validate_product(&ok), Ok(()));
            assert_eq!(
                validate_product(&json!({"identity": "P-1", "name": "Shoe"})),
                Ok(())
            );
            let long = "x".repeat(MAX_IDENTITY_CHARS + 1);
            let cases = [
                (json!({"name": "Shoe"}), "identity is missing"),
                (json!({"identity": "", "name": "Shoe"}), "identity is empty"),
                (json!({"identity": long, "name": "S"}), "more than 500"),
                (json!({"identity": "P", "name": 3}), "name must be a string"),
                (
                    json!({"identity": "P", "name": "S", "imageUrl": "u".repeat(2001)}),
                    "more than 2000",
                ),
                (
                    json!({"identity": "P", "name": "S", "attributes": []}),
                    "object",
                ),
                (
                    json!({"identity": "P", "name": "S", "price": 1}),
                    "unexpected key",
                ),
            ];
            for (product, why) in cases {
                let err = validate_product(&product).unwrap_err();
                assert!(err.contains(why), "{product}: {err}");
            }
        }
    }
}

/// The signed-URL file upload (pre-signed-url-api, mark-a-signed-url-api).
pub mod upload {
    /// pre-signed-url-api: single-part upload "for files smaller than 100 MB"; larger files
    /// go in parts, one signed URL each.
    pub const SINGLE_PART_BELOW_BYTES: u64 = 100_000_000;
    /// The size of each part but the last, catops's choice (the docs name none): well above
    /// object stores' 5 MiB minimum, and a 5 GB file in 75 parts.
    pub const PART_BYTES: u64 = 64 << 20;
    /// pre-signed-url-api: `fileName` "≤500 chars".
    pub const MAX_FILE_NAME_CHARS: usize = 500;
    /// pre-signed-url-api: `text/csv` for FILE_BASED_UPLOAD.
    pub const CSV_CONTENT_TYPE: &str = "text/csv";

    /// How many parts a file of `size` bytes goes in: 1 below 100 MB.
    pub fn parts(size: u64) -> u64 {
        if size < SINGLE_PART_BELOW_BYTES {
            1
        } else {
            size.div_ceil(PART_BYTES)
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn files_of_100_mb_and_more_go_in_parts() {
            assert_eq!(super::parts(0), 1);
            assert_eq!(super::parts(99_999_999), 1);
            assert_eq!(super::parts(100_000_000), 2);
            assert_eq!(super::parts(5_000_000_000), 75);
        }
    }
}
