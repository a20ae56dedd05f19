#!/usr/bin/env bash
# `bulk sync` benchmark (issue 17 item 6), two measures, printed as a Markdown fragment on stdout
# (bench/run.sh appends it to BENCHMARKS.md):
#
# 1. A feed of SYNC_N rows (default 100,000) with 1% of rows changed, into batch's `demo`
#    catalog against the sandbox's enforced limits (5 requests/s, 1000 items/s): `bulk sync`
#    (its state made by a first sync of the unchanged feed) against a full `bulk upsert` of the
#    same file, as a ratio of wall times (goal: sync >= 50x faster).
# 2. An unchanged feed of BIG_N rows (default 1,000,000) into rastro (`--rate-limits off`):
#    `bulk sync` against `bulk upsert --dry-run` of the same file, wall time ratio (goal <= 2x),
#    and the peak RSS of sync at SYNC_N and BIG_N rows (flat memory).
#
#   bench/sync.sh                          # the full run (about 4 minutes, most of it batch's limits)
#   SYNC_N=2000 BIG_N=5000 bench/sync.sh   # a smoke run
#   CATOPS=target/release/catops bench/sync.sh   # skip the build
#
# Needs: python3, bc, curl, /usr/bin/time.
set -euo pipefail

SYNC_N=${SYNC_N:-100000}
BIG_N=${BIG_N:-1000000}

cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

for tool in python3 bc curl /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 2; }
done
if [ -z "${CATOPS:-}" ]; then
  echo "bench: building catops (release)" >&2
  cargo build --release --locked --quiet
  CATOPS=$ROOT/target/release/catops
fi
export XDG_DATA_HOME=$WORK/data XDG_CONFIG_HOME=$WORK/config

echo "bench: generating $BIG_N rows" >&2
python3 bench/gen_products.py "$BIG_N" "$WORK/big.csv"
head -n $(( SYNC_N + 1 )) "$WORK/big.csv" > "$WORK/feed.csv"
# 1% changed: the title of every 100th row.
awk -F, 'BEGIN { OFS = "," } NR > 1 && (NR - 2) % 100 == 0 { $2 = $2 " v2" } { print }' \
  "$WORK/feed.csv" > "$WORK/changed.csv"
CHANGED=$(( (SYNC_N + 99) / 100 ))

serve() { # serve NAME FLAGS...: a sandbox in the background; its root URL in $NAME
  local name=$1; shift
  "$CATOPS" sandbox serve --addr 127.0.0.1:0 --state :memory: --quiet "$@" > "$WORK/$name.out" &
  for _ in $(seq 100); do [ -s "$WORK/$name.out" ] && break; sleep 0.05; done
  printf -v "$name" '%s' "$(awk '{print $NF}' "$WORK/$name.out")"
}
serve LIMITED                      # batch's documented limits, enforced
serve OPEN --rate-limits off
BATCH=(-p sandbox-batch --base-url "$LIMITED/batch/2.11")
RASTRO=(-p sandbox --base-url "$OPEN/rastro/api")

# timed NAME COMMAND...: wall seconds and peak RSS (KB) into WALL[NAME], RSS[NAME]; the
# summary JSON into $WORK/NAME.json.
declare -A WALL RSS
timed() {
  local name=$1; shift
  echo "bench: $name" >&2
  /usr/bin/time -f "%e %M" -o "$WORK/$name.time" "$@" --no-progress -o json > "$WORK/$name.json"
  read -r WALL[$name] RSS[$name] < "$WORK/$name.time"
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/$1.json" "$2"; }

timed upsert "$CATOPS" "${BATCH[@]}" bulk upsert "$WORK/changed.csv" --catalog demo --id-field sku
timed seed "$CATOPS" "${BATCH[@]}" bulk sync "$WORK/feed.csv" --catalog demo --id-field sku
timed sync "$CATOPS" "${BATCH[@]}" bulk sync "$WORK/changed.csv" --catalog demo --id-field sku
SENT=$(field sync rows_sent)
[ "$SENT" = "$CHANGED" ] || { echo "bench: sync sent $SENT rows, not the $CHANGED changed" >&2; exit 1; }

timed big_seed "$CATOPS" "${RASTRO[@]}" bulk sync "$WORK/big.csv" --catalog cat_demo
timed big_dry "$CATOPS" "${RASTRO[@]}" bulk upsert "$WORK/big.csv" --catalog cat_demo --dry-run
timed big_sync "$CATOPS" "${RASTRO[@]}" bulk sync "$WORK/big.csv" --catalog cat_demo
[ "$(field big_sync unchanged)" = "$BIG_N" ] || { echo "bench: the unchanged sync sent rows" >&2; exit 1; }
timed small_sync "$CATOPS" "${RASTRO[@]}" bulk sync "$WORK/feed.csv" --catalog cat_demo

# ratio A B: A / B, or n/a when B is 0 (a smoke run too short to measure).
ratio() { if [ "$(echo "$2 > 0" | bc -l)" = 1 ]; then echo "scale=2; $1 / $2" | bc -l; else echo "n/a"; fi; }
mb() { echo "scale=1; $1 / 1024" | bc -l; }
cat <<EOF
## bulk sync

Written by \`bench/sync.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, release build, sandbox with
\`--state :memory:\`. Wall times and peak RSS from \`/usr/bin/time\`; each feed comes in the
same order as the run that made the state (sync reads the state ahead in that order).

- $SYNC_N rows with 1% ($CHANGED) changed, into batch against the sandbox's enforced 5 requests/s
  and 1000 items/s: \`bulk upsert\` of the whole file ${WALL[upsert]} s; \`bulk sync\` ${WALL[sync]} s
  ($SENT rows sent), **$(ratio "${WALL[upsert]}" "${WALL[sync]}")x faster**. (The first sync, which
  made the state, sends everything: ${WALL[seed]} s.)
- $BIG_N unchanged rows (rastro, \`--rate-limits off\`): \`bulk sync\` ${WALL[big_sync]} s against
  \`bulk upsert --dry-run\` ${WALL[big_dry]} s, **ratio $(ratio "${WALL[big_sync]}" "${WALL[big_dry]}")**.
- Peak RSS of \`bulk sync\`: $(mb "${RSS[small_sync]}") MB at $SYNC_N rows, $(mb "${RSS[big_sync]}") MB at
  $BIG_N rows (\`bulk upsert --dry-run\`: $(mb "${RSS[big_dry]}") MB).
EOF
