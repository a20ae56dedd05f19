# Sourced by bench/run.sh and bench/grid.sh: the rastro catalog every client imports into, on a
# `catops sandbox serve` whose root is $ROOT_URL (rastro at $BASE), through $CATOPS.

api() { "$CATOPS" -p sandbox --base-url "$BASE" api "$@"; }

# new_catalog NAME: the server reset to its seed (each client meets the same state, without
# the rows of the clients before it), then a new catalog; prints its id.
new_catalog() {
  curl -sf -X POST -H 'Authorization: Bearer sandbox-token' "$ROOT_URL/_sandbox/reset" > /dev/null
  api -X POST /public/catalogs --jq .id -d '{"name":"'"$1"'","unique_id_field":"sku","schema_definition":{"fields":[
    {"name":"sku","type":"string"},{"name":"title","type":"string"},{"name":"price","type":"number"},
    {"name":"brand","type":"string"},{"name":"description","type":"string"}]}}'
}

# verify CATALOG ROWS WHO: the bench fails unless the catalog holds ROWS items.
verify() {
  local held
  held=$(api "/public/catalogs/$1/items?limit=1" --jq .total)
  [ "$held" = "$2" ] || { echo "bench: $3 left $held of $2 items" >&2; exit 1; }
}
