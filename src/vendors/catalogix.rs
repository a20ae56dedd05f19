//! catalogix (vendors/catalogix.txt): connection facts. Asset upserts arrive with the bulk pipeline.

pub const DEFAULT_BASE_URL: &str = "https://api.catalogix.ai/v1";
