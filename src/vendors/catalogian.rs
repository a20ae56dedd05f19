//! catalogian (vendors/catalogian.txt): connection facts. Delta commands arrive in a later issue.

pub const DEFAULT_BASE_URL: &str = "https://api.catalogian.com";
