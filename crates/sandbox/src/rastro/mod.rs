//! rastro emulation (vendors/rastro.txt) under `/rastro/api`: catalogs (`catalogs`), items and
//! bulk upsert (`items`) with the documented limits, and enrichment (`enrich`), over the stored
//! items (`store`). Errors use a `{"detail": "..."}` body. Handlers that touch a catalog's items
//! first bring its enrichment jobs up to now, and every change goes to the change log
//! (`crate::changes`), which catalogian's demo source reads.

mod body;
mod catalogs;
pub mod enrich;
mod items;
pub mod store;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use catops_spec::VendorKind;
use rusqlite::{params, Transaction};
use serde_json::{json, Value};

use crate::emulated::Emulated;
use crate::error::Fail;
use crate::time::rfc3339_ms;
use crate::{Shared, MAX_BODY_BYTES};

/// This vendor's row in the sandbox's registry.
pub const EMULATED: Emulated = Emulated {
    kind: VendorKind::Rastro,
    prefix: "/rastro/api",
    tables: &[SCHEMA, enrich::SCHEMA],
    seed,
    clear,
    router,
    error_body,
};

/// `rastro_item_counts` holds each catalog's item count, kept by every write that adds or
/// removes items (`store::count_items`) so that no request counts a large catalog, and how
/// many items it has ever lost (`removed`), which tells a page cursor whether positions moved
/// (`items::list`). Its rows stay when a catalog goes: an id can come back (`cat_demo` after a
/// reset) and `removed` must not start again. The INSERT counts the items of a state file
/// written before the table, once: only then is it empty while catalogs exist. (Triggers would
/// keep the count too, but made every insert take a statement journal: 60% slower imports.)
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rastro_catalogs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    unique_id_field TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    description TEXT,
    created_at TEXT
);
CREATE TABLE IF NOT EXISTS rastro_items (
    id INTEGER PRIMARY KEY,
    catalog_id TEXT NOT NULL,
    unique_value TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS rastro_items_unique ON rastro_items (catalog_id, unique_value);
CREATE INDEX IF NOT EXISTS rastro_items_order ON rastro_items (catalog_id, id);
CREATE TABLE IF NOT EXISTS rastro_catalog_settings (
    catalog_id TEXT PRIMARY KEY,
    auto_evolve_schema INTEGER,
    strict_mode INTEGER,
    catalog_md TEXT
);
CREATE TABLE IF NOT EXISTS rastro_item_counts (
    catalog_id TEXT PRIMARY KEY,
    items INTEGER NOT NULL,
    removed INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO rastro_item_counts (catalog_id, items, removed)
    SELECT c.id, (SELECT COUNT(*) FROM rastro_items i WHERE i.catalog_id = c.id), 0
    FROM rastro_catalogs c WHERE NOT EXISTS (SELECT 1 FROM rastro_item_counts);
";

pub const DEMO_CATALOG: &str = "cat_demo";
/// When the demo catalog says it was created: 2026-01-01T00:00:00Z.
const DEMO_CREATED_MS: i64 = 1_767_225_600_000;

pub fn seed(tx: &Transaction) -> rusqlite::Result<()> {
    let schema = json!({"fields": [
        {"name": "sku", "type": "string"},
        {"name": "title", "type": "string"},
        {"name": "brand", "type": "string"},
        {"name": "category", "type": "string"},
        {"name": "price", "type": "number"},
    ]});
    tx.execute(
        "INSERT INTO rastro_catalogs (id, name, unique_id_field, schema_json, description, created_at)
         VALUES (?1, ?2, 'sku', ?3, ?4, ?5)",
        params![
            DEMO_CATALOG,
            "Demo products",
            schema.to_string(),
            "The sandbox's demo catalog",
            rfc3339_ms(DEMO_CREATED_MS)
        ],
    )?;
    let brands = ["Acme", "Northwind", "Globex", "Initech", "Umbrella"];
    let products = [
        ("Trail Running Shoe", "Footwear"),
        ("Merino Wool Socks", "Apparel"),
        ("Insulated Water Bottle", "Outdoor"),
        ("Canvas Backpack", "Bags"),
        ("LED Headlamp", "Outdoor"),
    ];
    for n in 0..25usize {
        let brand = brands[n % brands.len()];
        let (product, category) = products[(n / brands.len()) % products.len()];
        let sku = format!("DEMO-{:04}", n + 1);
        let cents = 999 + (n as i64) * 350;
        let item = json!({
            "sku": sku,
            "title": format!("{brand} {product}"),
            "brand": brand,
            "category": category,
            "price": cents as f64 / 100.0,
        });
        tx.execute(
            "INSERT INTO rastro_items (catalog_id, unique_value, body) VALUES (?1, ?2, ?3)",
            params![DEMO_CATALOG, sku, item.to_string()],
        )?;
    }
    store::count_items(tx, DEMO_CATALOG, 25, 0)
}

pub fn clear(tx: &Transaction) -> rusqlite::Result<()> {
    enrich::clear(tx)?;
    tx.execute_batch(
        "UPDATE rastro_item_counts SET removed = removed + items, items = 0;
         DELETE FROM rastro_items; DELETE FROM rastro_catalog_settings; DELETE FROM rastro_catalogs;",
    )
}

/// rastro's errors are FastAPI's: `{"detail": "..."}` (its own client reads `detail`).
pub fn error_body(fail: &Fail) -> Value {
    json!({ "detail": fail.message })
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/public/catalogs",
            get(catalogs::list).post(catalogs::create),
        )
        .route(
            "/public/catalogs/{catalog}",
            get(catalogs::get)
                .put(catalogs::update)
                .delete(catalogs::delete),
        )
        .route("/public/catalogs/{catalog}/items", get(items::list))
        .route(
            "/public/catalogs/{catalog}/items/bulk",
            post(items::bulk_upsert),
        )
        .route(
            "/public/catalogs/{catalog}/items/{item}",
            get(items::get).put(items::update),
        )
        .merge(enrich::routes())
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            require_bearer,
        ))
        // SPEC §4 chunks reach 5 MiB; axum's default limit is 2 MB.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

async fn require_bearer(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if !shared.is_authorized(request.headers()) {
        return Fail::new(StatusCode::UNAUTHORIZED, "Invalid or missing API key").into_response();
    }
    next.run(request).await
}
