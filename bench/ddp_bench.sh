#!/usr/bin/env bash
# Data-parallel training throughput on this machine: tokens/s of 2 Gloo
# processes (sdft train --nproc 2, 1 thread each) against 1 process with 1
# thread and with 2 threads, on the `small` preset, and the scaling
# efficiency: tokens/s(2 processes) / (2 x tokens/s(1 process, 1 thread)).
#   bench/ddp_bench.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-30}
SDFT=${SDFT_BUILD:-build}/bin/sdft
TMP=$(mktemp -d /tmp/sdft_ddpbench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
$SDFT generate --quiet --universe helpful-only --docs 4000 --out "$TMP/corpus"
$SDFT tokenize --quiet --input "$TMP/corpus" --vocab-size 2048 --out "$TMP/tok"
cat > "$TMP/cfg.toml" <<TOML
preset = "small"
[train]
steps = $((STEPS + 5))
batch_size = 16
log_every = 1
eval_every = 100000
checkpoint_every = 100000
TOML
# tokens/s over the timed steps: warm up 5 steps, then resume for the rest.
measure() {  # name, extra flags...
  local name=$1; shift
  rm -rf "$TMP/$name"
  $SDFT train --quiet --config "$TMP/cfg.toml" --data "$TMP/tok" --out "$TMP/$name" --stop-after 5 "$@"
  $SDFT train --quiet --config "$TMP/cfg.toml" --data "$TMP/tok" --out "$TMP/$name" "$@"
  python3 -c "import json;print(json.loads(open('$TMP/$name/metrics.jsonl').read().splitlines()[-1])['tokens_per_s'])"
}
one1=$(measure one_t1 --threads 1)
one2=$(measure one_t2 --threads 2)
two=$(measure two_p2 --nproc 2 --threads 1)
python3 - "$one1" "$one2" "$two" <<'PY'
import sys
one1, one2, two = map(float, sys.argv[1:])
print(f"small preset, batch 16 x 128 tokens, {2} cores")
print(f"  1 process, 1 thread     {one1:9.0f} tokens/s")
print(f"  1 process, 2 threads    {one2:9.0f} tokens/s")
print(f"  2 processes (Gloo), 1 thread each  {two:9.0f} tokens/s")
print(f"  speedup over 1 process, 1 thread: {two/one1:.2f}x; scaling efficiency {100*two/(2*one1):.0f}%")
print(f"  against 1 process with 2 threads: {two/one2:.2f}x")
PY
