#!/usr/bin/env bash
# The latency grid (issue 15), run by bench/run.sh: at each latency the sandbox adds to every
# response, catops' adaptive `bulk upsert` against the server's own ceiling at its best
# connection count (4 to 64) and against the Python httpx peer at 8 in flight; then one run
# against a capacity-limited server. Prints a Markdown section on stdout.
#
# Reads from run.sh's environment: CATOPS, WORK (a scratch directory), GRID_N (rows generated:
# at most this many are sent), GRID_LATENCIES, GRID_SECONDS (the ceiling run lasts at least
# this long, within GRID_N), GRID_PAIRS (adaptive vs fixed-4 pairs at 0 ms), CAP_INFLIGHT,
# CAP_LATENCY.
set -euo pipefail
cd "$(dirname "$0")/.."

GRID_N=${GRID_N:-2500000}
GRID_LATENCIES=${GRID_LATENCIES:-"0 20 100 300"}
GRID_SECONDS=${GRID_SECONDS:-10}
GRID_PAIRS=${GRID_PAIRS:-3}
CAP_INFLIGHT=${CAP_INFLIGHT:-8}
CAP_LATENCY=${CAP_LATENCY:-100}
CONNECTIONS="4 8 16 32 64"
TOKEN=sandbox-token
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

# serve ARGS...: starts a server, sets ROOT_URL and BASE (rastro) and SERVER (its pid).
serve() {
  local out=$WORK/serve.$RANDOM
  "$CATOPS" sandbox serve --addr 127.0.0.1:0 --rate-limits off --state :memory: --quiet "$@" > "$out" &
  SERVER=$!
  for _ in $(seq 200); do [ -s "$out" ] && break; sleep 0.05; done
  ROOT_URL=$(awk '{print $NF}' "$out")
  BASE=$ROOT_URL/rastro/api
}
source bench/sandbox.sh
# seconds COMMAND...: wall seconds of a command, its stdout to $WORK/last.out.
seconds() {
  local start
  start=$(date +%s.%N)
  "$@" > "$WORK/last.out"
  echo "$(date +%s.%N) - $start" | bc -l
}
f() { printf "%.${2:-2}f" "$(echo "$1" | tr -d " ")"; }

# The ceiling at one latency: the best connection count from a short probe of each, then the
# full run at that count. Sets CEIL_IPS, CEIL_CONN, ROWS (rows for the clients).
ceiling() {
  local best_ips=0 probe=$(( BODIES < 40 ? BODIES : 40 )) conn wall ips cat
  for conn in $CONNECTIONS; do
    cat=$(new_catalog probe)
    wall=$(python3 bench/ceiling.py "$BASE/public/catalogs/$cat/items/bulk" "$TOKEN" "$WORK/bodies" "$probe" "$conn")
    ips=$(echo "$probe * 1000 / $wall" | bc -l)
    if [ "$(echo "$ips > $best_ips" | bc -l)" = 1 ]; then best_ips=$ips; CEIL_CONN=$conn; fi
  done
  # Enough bodies for GRID_SECONDS at the probed rate, at least the probe's, at most all.
  local count
  count=$(echo "($best_ips * $GRID_SECONDS * 1.2) / 1000 + 1" | bc)
  count=$(( count < probe ? probe : count ))
  count=$(( count > BODIES ? BODIES : count ))
  # A short probe underrates a far server (its start is most of it): while the run ends
  # short of GRID_SECONDS with bodies to spare, it is sized again from its own rate.
  local tries=0
  while :; do
    ROWS=$(( count * 1000 ))
    [ "$count" = "$BODIES" ] && ROWS=$ROWS_ALL
    cat=$(new_catalog ceiling)
    wall=$(python3 bench/ceiling.py "$BASE/public/catalogs/$cat/items/bulk" "$TOKEN" "$WORK/bodies" "$count" "$CEIL_CONN")
    verify "$cat" "$ROWS" ceiling
    tries=$(( tries + 1 ))
    [ "$(echo "$wall >= $GRID_SECONDS" | bc -l)" = 1 ] && break
    [ "$count" = "$BODIES" ] || [ "$tries" = 3 ] && break
    count=$(echo "$count * $GRID_SECONDS * 1.2 / $wall + 1" | bc)
    count=$(( count > BODIES ? BODIES : count ))
  done
  CEIL_IPS=$(echo "$ROWS / $wall" | bc -l)
  CEIL_WALL=$wall
  head -n $(( ROWS + 1 )) "$WORK/products.csv" > "$WORK/grid.csv"
}

# catops_run LABEL ARGS...: an adaptive (or pinned, by ARGS) catops run; sets IPS and SUMMARY.
catops_run() {
  local cat wall
  cat=$(new_catalog "$1")
  shift
  wall=$(seconds "$CATOPS" -p sandbox --base-url "$BASE" bulk upsert "$WORK/grid.csv" --catalog "$cat" \
    -q --rejects "$WORK/grid.rejects" "$@")
  verify "$cat" "$ROWS" catops
  SUMMARY=$(cat "$WORK/last.out")
  IPS=$(echo "$ROWS / $wall" | bc -l)
}

echo "bench: generating $GRID_N rows for the grid" >&2
WORK=$WORK/grid
mkdir -p "$WORK"
python3 bench/gen_products.py "$GRID_N" "$WORK/products.csv"
BODIES=$(python3 bench/make_bodies.py "$WORK/products.csv" "$WORK/bodies")
ROWS_ALL=$GRID_N
echo "## Latency grid"
echo
echo "Each latency is a fresh \`catops sandbox serve --latency-ms L --rate-limits off --state"
echo ":memory:\`. The ceiling is \`bench/ceiling.py\` with prebuilt bodies at the connection count"
echo "(of $CONNECTIONS) that was fastest in a probe of 40 bodies; its run is sized to last at"
echo "least $GRID_SECONDS s (within the $ROWS_ALL rows generated), and every client then sends those"
echo "same rows. The server is reset before each client, and each is verified to leave all rows."
echo "The ceiling's client is Python and shares the machine's $(nproc) cores with the server, so where"
echo "the server is CPU-bound (low latency) a client that costs less CPU can pass it (a ratio above 1)."
echo
echo "| latency ms | rows | ceiling s | ceiling items/s (connections) | catops items/s | catops / ceiling | catops in flight | httpx 8 in flight items/s | catops / httpx |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for latency in $GRID_LATENCIES; do
  echo "bench: grid at $latency ms" >&2
  serve --latency-ms "$latency"
  ceiling
  catops_run catops
  CATOPS_IPS=$IPS
  RANGE=$(echo "$SUMMARY" | python3 bench/describe_run.py range)
  cat=$(new_catalog httpx)
  wall=$(seconds python3 bench/peer_httpx.py "$BASE/public/catalogs/$cat/items/bulk" "$TOKEN" "$WORK/grid.csv")
  verify "$cat" "$ROWS" httpx
  HTTPX_IPS=$(echo "$ROWS / $wall" | bc -l)
  if [ "$latency" = 0 ]; then
    # Adaptive against the old fixed 4, in pairs taken in turn: one pair is within the noise
    # of a shared machine, so the report gives every pair's ratio and their median.
    PAIR_RATIOS=()
    for _ in $(seq "$GRID_PAIRS"); do
      catops_run fixed4 --concurrency 4
      fixed=$IPS
      catops_run adaptive
      PAIR_RATIOS+=("$(echo "$IPS / $fixed" | bc -l)")
    done
  fi
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  echo "| $latency | $ROWS | $(f "$CEIL_WALL" 1) | $(f "$CEIL_IPS" 0) ($CEIL_CONN) | $(f "$CATOPS_IPS" 0) | $(f "$(echo "$CATOPS_IPS / $CEIL_IPS" | bc -l)") | $RANGE | $(f "$HTTPX_IPS" 0) | $(f "$(echo "$CATOPS_IPS / $HTTPX_IPS" | bc -l)") |"
done
echo
if [ -n "${PAIR_RATIOS:-}" ]; then
  MEDIAN=$(printf '%s\n' "${PAIR_RATIOS[@]}" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}')
  LISTED=$(for r in "${PAIR_RATIOS[@]}"; do f "$r"; echo; done | paste -sd, - | sed 's/,/, /g')
  echo "- At 0 ms, catops adaptive against catops pinned at \`--concurrency 4\` (the old default), same"
  echo "  server and rows, in $GRID_PAIRS pairs taken in turn: items/s ratios $LISTED (median $(f "$MEDIAN"))."
fi

echo "bench: capacity-limited server" >&2
serve --latency-ms "$CAP_LATENCY" --max-inflight "$CAP_INFLIGHT"
ROWS=$ROWS_ALL
cp "$WORK/products.csv" "$WORK/grid.csv"
catops_run capacity
CAP=$(echo "$SUMMARY" | python3 bench/describe_run.py retries)
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
echo "- Capacity: against \`--max-inflight $CAP_INFLIGHT --latency-ms $CAP_LATENCY\` (503 with"
echo "  \`Retry-After\` above $CAP_INFLIGHT concurrent requests), catops adaptive: $CAP, $(f "$IPS" 0) items/s."
