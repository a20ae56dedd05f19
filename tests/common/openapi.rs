//! The vendors' own OpenAPI documents (batch, catalogix), loaded from the fixtures, as JSON
//! Schema validators for the request bodies catops builds and the replies the sandbox sends.

#![allow(dead_code)]

use serde_json::Value;

use super::replay::fixture_path;

pub struct OpenApi {
    name: &'static str,
    doc: Value,
}

impl OpenApi {
    /// batch's document, with its one documented fix: the attribute values are a `oneOf`
    /// whose branches overlap (a string matches three of them, an integer three), so as
    /// published every string and number attribute would fail; the prose means "any of"
    /// (tests/fixtures/vendors/batch/SOURCES.md, and the note beside the vendor documents).
    pub fn batch() -> OpenApi {
        let text = std::fs::read_to_string(fixture_path("batch", "openapi.json"))
            .expect("read batch's OpenAPI document");
        let mut doc: Value = serde_json::from_str(&text).expect("batch's OpenAPI is JSON");
        let values = doc
            .pointer_mut("/components/schemas/attributes/additionalProperties")
            .and_then(Value::as_object_mut)
            .expect("batch's attributes schema");
        let branches = values.remove("oneOf").expect("the published oneOf");
        values.insert("anyOf".to_string(), branches);
        OpenApi { name: "batch", doc }
    }

    /// catalogix's document, as published (YAML).
    pub fn catalogix() -> OpenApi {
        let text = std::fs::read_to_string(fixture_path("catalogix", "openapi.yaml"))
            .expect("read catalogix's OpenAPI document");
        let doc: Value = serde_saphyr::from_str(&text).expect("catalogix's OpenAPI is YAML");
        OpenApi {
            name: "catalogix",
            doc,
        }
    }

    /// The schema of `method path`'s JSON request body.
    pub fn request(&self, method: &str, path: &str) -> Schema {
        let operation = self.operation(method, path);
        let schema = operation
            .pointer("/requestBody/content/application~1json/schema")
            .unwrap_or_else(|| panic!("{}: {method} {path} has no JSON request body", self.name));
        self.schema(schema, format!("{} {method} {path} request", self.name))
    }

    /// The schema of `method path`'s JSON reply with `status`.
    pub fn response(&self, method: &str, path: &str, status: u16) -> Schema {
        let operation = self.operation(method, path);
        let mut response = operation
            .pointer(&format!("/responses/{status}"))
            .unwrap_or_else(|| panic!("{}: {method} {path} documents no {status}", self.name));
        if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
            response = self.resolve(reference);
        }
        let schema = response
            .pointer("/content/application~1json/schema")
            .unwrap_or_else(|| panic!("{}: {method} {path} {status} has no JSON body", self.name));
        self.schema(schema, format!("{} {method} {path} {status}", self.name))
    }

    /// `#/components/schemas/NAME`, for a reply whose status the operation does not list.
    pub fn component(&self, name: &str) -> Schema {
        let schema = self.resolve(&format!("#/components/schemas/{name}"));
        self.schema(schema, format!("{} {name}", self.name))
    }

    fn operation(&self, method: &str, path: &str) -> &Value {
        self.doc
            .get("paths")
            .and_then(|paths| paths.get(path))
            .and_then(|item| item.get(method.to_ascii_lowercase()))
            .unwrap_or_else(|| panic!("{}: no operation {method} {path}", self.name))
    }

    fn resolve(&self, reference: &str) -> &Value {
        let pointer = reference.strip_prefix('#').expect("a local $ref");
        self.doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{}: dangling $ref {reference}", self.name))
    }

    /// The schema with the document's `components` beside it, so its `#/components/...`
    /// references resolve against the schema's own root.
    fn schema(&self, schema: &Value, what: String) -> Schema {
        let mut rooted = schema.clone();
        if let (Value::Object(map), Some(components)) = (&mut rooted, self.doc.get("components")) {
            map.insert("components".to_string(), components.clone());
        }
        let validator = jsonschema::draft202012::new(&rooted)
            .unwrap_or_else(|err| panic!("{what}: not a valid schema: {err}"));
        Schema { what, validator }
    }
}

pub struct Schema {
    what: String,
    validator: jsonschema::Validator,
}

impl Schema {
    /// Fails the test with every violation when `instance` does not fit.
    pub fn check(&self, instance: &Value) {
        let errors: Vec<String> = self
            .validator
            .iter_errors(instance)
            .map(|err| format!("{} at {}", err, err.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} does not fit the vendor's schema:\n  {}\n{}",
            self.what,
            errors.join("\n  "),
            clip(&instance.to_string())
        );
    }

    pub fn fits(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }
}

fn clip(text: &str) -> String {
    if text.chars().count() > 600 {
        format!("{}…", text.chars().take(600).collect::<String>())
    } else {
        text.to_string()
    }
}
