#!/usr/bin/env bash
# One-command benchmark (issue 7): catops `bulk upsert` against the clients users would write
# instead, and against the server's own ceiling, all in one run against one
# `catops sandbox serve --rate-limits off --state :memory:`. Writes BENCHMARKS.md.
#
#   bench/run.sh              # N = 1,000,000 rows
#   N=2000 SMALL_N=500 RATE_N=1000 GRID_N=4000 GRID_SECONDS=0 GRID_LATENCIES="0 100" \
#     GRID_PAIRS=1 CAP_LATENCY=20 SYNC_N=2000 BIG_N=5000 bench/run.sh   # CI's smoke run (.ci/run)
#
# The latency grid and the capacity run are bench/grid.sh (GRID_* and CAP_* settings there);
# `bulk sync` is bench/sync.sh (SYNC_N, BIG_N).
#
# Needs: python3 with requests and httpx, hyperfine, bc, curl, /usr/bin/time.
set -euo pipefail

N=${N:-1000000}
SMALL_N=${SMALL_N:-100000}          # the RSS comparison point
RATE_N=${RATE_N:-20000}             # the rate-limited batch import
RUNS=${RUNS:-2}                     # rounds of the clients; each keeps its fastest
OUT=${OUT:-BENCHMARKS.md}

cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

for tool in python3 hyperfine bc curl /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 2; }
done
python3 -c 'import requests, httpx' || { echo "bench: pip install requests httpx" >&2; exit 2; }

echo "bench: building catops (release)" >&2
cargo build --release --locked --quiet
CATOPS=$ROOT/target/release/catops
export XDG_DATA_HOME=$WORK/data XDG_CONFIG_HOME=$WORK/config

echo "bench: generating $N rows" >&2
python3 bench/gen_products.py "$N" "$WORK/products.csv"
SMALL=$(( SMALL_N < N ? SMALL_N : N ))
head -n $(( SMALL + 1 )) "$WORK/products.csv" > "$WORK/small.csv"
BYTES=$(stat -c %s "$WORK/products.csv")

# One server for every client; each client gets its own catalog.
"$CATOPS" sandbox serve --addr 127.0.0.1:0 --rate-limits off --state :memory: --quiet > "$WORK/server.out" &
for _ in $(seq 100); do [ -s "$WORK/server.out" ] && break; sleep 0.05; done
ROOT_URL=$(awk '{print $NF}' "$WORK/server.out")
BASE=$ROOT_URL/rastro/api
source bench/sandbox.sh

# run NAME ROWS COMMAND...: times a client against a freshly reset server and a new catalog
# ({catalog} in COMMAND), checks the server then holds all rows. Of several runs of a client
# the fastest is kept (wall, and that run's CPU), and the highest peak RSS.
declare -A WALL CPU RSS
run() {
  local name=$1 rows=$2 catalog; shift 2
  echo "bench: $name" >&2
  catalog=$(new_catalog "$name")
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/$name.time" "${@//\{catalog\}/$catalog}" > "$WORK/$name.out"
  read -r wall user sys rss < "$WORK/$name.time"
  verify "$catalog" "$rows" "$name"
  if [ -z "${WALL[$name]:-}" ] || [ "$(echo "$wall < ${WALL[$name]}" | bc -l)" = 1 ]; then
    WALL[$name]=$wall
    CPU[$name]=$(echo "$user + $sys" | bc -l)
  fi
  [ "${RSS[$name]:-0}" -gt "$rss" ] || RSS[$name]=$rss
}

echo "bench: ceiling (the same $N items as prebuilt bodies, at 4 to 64 connections)" >&2
BODIES=$(python3 bench/make_bodies.py "$WORK/products.csv" "$WORK/bodies")
CEILING_WALL=
for conn in 4 8 16 32 64; do
  C4=$(new_catalog ceiling)
  wall=$(python3 bench/ceiling.py "$BASE/public/catalogs/$C4/items/bulk" sandbox-token "$WORK/bodies" "$BODIES" "$conn")
  verify "$C4" "$N" "the ceiling"
  if [ -z "$CEILING_WALL" ] || [ "$(echo "$wall < $CEILING_WALL" | bc -l)" = 1 ]; then
    CEILING_WALL=$wall
    CEILING_CONN=$conn
  fi
done
CEILING_IPS=$(echo "$N / $CEILING_WALL" | bc -l)

# The clients take turns, RUNS rounds, so a slow spell of the machine does not fall on one.
URL="$BASE/public/catalogs/{catalog}/items/bulk"
for _ in $(seq "$RUNS"); do
  run requests "$N" python3 bench/peer_requests.py "$URL" sandbox-token "$WORK/products.csv"
  run httpx "$N" python3 bench/peer_httpx.py "$URL" sandbox-token "$WORK/products.csv"
  run catops "$N" "$CATOPS" -p sandbox --base-url "$BASE" bulk upsert "$WORK/products.csv" --catalog "{catalog}" -q --rejects "$WORK/catops.rejects"
done
run catops_small "$SMALL" "$CATOPS" -p sandbox --base-url "$BASE" bulk upsert "$WORK/small.csv" --catalog "{catalog}" -q --rejects "$WORK/small.rejects"
# The rate-limited run: batch's enforced 5 requests/s and 1000 items/s.
echo "bench: rate-limited batch import of $RATE_N items" >&2
"$CATOPS" sandbox serve --addr 127.0.0.1:0 --state :memory: --quiet > "$WORK/limited.out" &
for _ in $(seq 100); do [ -s "$WORK/limited.out" ] && break; sleep 0.05; done
LIMITED=$(awk '{print $NF}' "$WORK/limited.out")
python3 - "$RATE_N" "$WORK/batch.csv" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("id,title,rank:integer\n")
    for n in range(rows):
        f.write(f"b{n:08d},Item {n},{n % 1000}\n")
PY
START=$(date +%s.%N)
"$CATOPS" -p sandbox-batch --base-url "$LIMITED/batch/2.11" -v bulk upsert "$WORK/batch.csv" --catalog demo --rejects "$WORK/batch.rejects" \
  > "$WORK/batch.json" 2> "$WORK/batch.log"
RATE_WALL=$(echo "$(date +%s.%N) - $START" | bc -l)
RATE_429=$(grep -c " 429 " "$WORK/batch.log" || true)
RATE_FLOOR=$(echo "$RATE_N / 1000" | bc -l)

# Small commands: startup and one GET against curl doing the same request.
echo "bench: small commands" >&2
hyperfine -N --warmup 20 --runs 200 --export-json "$WORK/version.json" "$CATOPS --version" > /dev/null 2>&1
ITEM_URL="$BASE/public/catalogs/cat_demo/items/item_1"
hyperfine -N --warmup 10 --runs 100 --export-json "$WORK/get.json" \
  "$CATOPS -p sandbox --base-url $BASE items get --catalog cat_demo item_1 -o json" \
  "curl -sf -H 'Authorization: Bearer sandbox-token' $ITEM_URL" > /dev/null 2>&1
mean_ms() { python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; print(f\"{r[int(sys.argv[2])]['mean']*1000:.2f}\")" "$@"; }
VERSION_MS=$(mean_ms "$WORK/version.json" 0)
GET_MS=$(mean_ms "$WORK/get.json" 0)
CURL_MS=$(mean_ms "$WORK/get.json" 1)

# The report.
f() { printf "%.${2:-2}f" "$(echo "$1" | tr -d " ")"; }
ips() { echo "$N / ${WALL[$1]}" | bc -l; }
ratio() { echo "$(ips "$1") / $CEILING_IPS" | bc -l; }
per_million() { echo "${CPU[$1]} * 1000000 / $2" | bc -l; }
mb() { echo "${RSS[$1]} / 1024" | bc -l; }
# times A B: A / B to one decimal, or n/a when B is 0 (a smoke run too short to measure).
times() { if [ "$(echo "$2 > 0" | bc -l)" = 1 ]; then f "$(echo "$1 / $2" | bc -l)" 1; else echo "n/a"; fi; }
{
  echo "# Benchmarks"
  echo
  echo "Written by \`bench/run.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores: N = $N rows of"
  echo "$(( BYTES / N )) bytes ($BYTES bytes of CSV), imported into \`catops sandbox serve"
  echo "--rate-limits off --state :memory:\` (release build), every client against the same server in"
  echo "one run, each verified to leave all N items in its own catalog. The clients take turns for"
  echo "$RUNS rounds and each keeps its fastest: wall and that run's CPU (user + sys), and the highest"
  echo "peak RSS, from \`/usr/bin/time\`; the ceiling is \`bench/ceiling.py\` posting the same N items"
  echo "once, as prebuilt 1000-item bodies over keep-alive connections with no work per request: the"
  echo "server's own ingest rate, the best of runs at 4, 8, 16, 32 and 64 connections. Before"
  echo "each client the server is reset to its seed (\`POST /_sandbox/reset\`), so each meets the same"
  echo "state."
  echo
  echo "| client | wall s | items/s | CPU s | CPU s per 1M rows | peak RSS MB | ratio to ceiling |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for name in catops requests httpx; do
    label=$name
    [ "$name" = catops ] && label="catops bulk upsert"
    [ "$name" = requests ] && label="Python requests, 1000-row chunks in turn"
    [ "$name" = httpx ] && label="Python httpx asyncio, 8 in flight"
    echo "| $label | $(f "${WALL[$name]}") | $(f "$(ips $name)" 0) | $(f "${CPU[$name]}") | $(f "$(per_million $name "$N")") | $(f "$(mb $name)" 1) | $(f "$(ratio $name)") |"
  done
  echo "| ceiling: prebuilt bodies, $CEILING_CONN connections | $(f "$CEILING_WALL") | $(f "$CEILING_IPS" 0) | | | | 1.00 |"
  echo
  echo "- CPU per row: requests $(times "${CPU[requests]}" "${CPU[catops]}") × catops, httpx $(times "${CPU[httpx]}" "${CPU[catops]}") × catops."
  echo "- catops peak RSS: $(f "$(mb catops_small)" 1) MB at $SMALL rows, $(f "$(mb catops)" 1) MB at $N rows."
  echo "- Rate-limited: $RATE_N items into batch against the sandbox's enforced 5 requests/s and"
  echo "  1000 items/s took $(f "$RATE_WALL") s (floor $(f "$RATE_FLOOR" 1) s, ratio $(f "$(echo "$RATE_WALL / $RATE_FLOOR" | bc -l)")), with $RATE_429 responses 429."
  echo "- \`catops --version\`: $VERSION_MS ms mean (hyperfine, 200 runs)."
  echo "- \`catops items get\`: $GET_MS ms mean against \`curl\` $CURL_MS ms for the same request"
  echo "  (ratio $(f "$(echo "$GET_MS / $CURL_MS" | bc -l)"))."
  echo
  CATOPS=$CATOPS WORK=$WORK bench/grid.sh
  echo
  CATOPS=$CATOPS bench/sync.sh
} > "$OUT"
cat "$OUT"
