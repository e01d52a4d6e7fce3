#!/usr/bin/env bash
# Training throughput: sdft's LibTorch trainer against the same architecture,
# batch and optimizer in Python PyTorch (Debian python3-torch, same BLAS), in
# the same run, on two configs: the `small` preset and a 7M-parameter one
# (d_model 256, 6 layers, 8 heads, 256 context, batch 16, vocab 4096).
# Prints tokens/s for both, the ratio (target >= 1.2) and MFU against an fp32
# matmul peak measured in the same run (target >= 50% on the 7M config).
#   bench/train_bench.sh [STEPS] [THREADS]
# SDFT_BUILD=DIR takes the binaries from DIR/bin (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-20}
THREADS=${2:-2}
SDFT=${SDFT_BUILD:-build}/bin/sdft
# Both sides wait passively for work: sdft-torch sets this itself (see its
# main); giving PyTorch the same setting keeps the comparison fair (with the
# default busy-waiting, OpenMP and OpenBLAS threads spin against each other on
# 2 cores and PyTorch loses far more than sdft).
export OMP_WAIT_POLICY=PASSIVE
TMP=$(mktemp -d /tmp/sdft_trainbench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "needs Debian's python3-torch (scripts/setup.sh)"; exit 2; }

$SDFT generate --quiet --universe helpful-only --docs 8000 --out "$TMP/corpus"
$SDFT tokenize --quiet --input "$TMP/corpus" --vocab-size 4096 --out "$TMP/tok"
VOCAB=$(python3 -c "import json;print(json.load(open('$TMP/tok/manifest.json'))['tokenizer']['vocab_size'])")

run_one() {  # name d_model n_layers n_heads d_ff seq_len batch
  local name=$1 d=$2 l=$3 h=$4 ff=$5 t_len=$6 b=$7
  cat > "$TMP/$name.toml" <<TOML
[model]
d_model = $d
n_layers = $l
n_heads = $h
d_ff = $ff
max_seq_len = $t_len
[train]
steps = $((STEPS + 3))
batch_size = $b
seq_len = $t_len
warmup_steps = 1
log_every = 1
eval_every = 100000
checkpoint_every = 100000
threads = $THREADS
TOML
  # Each side twice, alternating, best of two (the machine is shared).
  local ours=0 py='{"tokens_per_s": 0}' r t
  for round in 1 2; do
    rm -rf "$TMP/run_$name"
    # Warm-up steps (3), then the timed steps in a resumed call.
    $SDFT train --quiet --config "$TMP/$name.toml" --data "$TMP/tok" --out "$TMP/run_$name" --stop-after 3
    $SDFT train --quiet --config "$TMP/$name.toml" --data "$TMP/tok" --out "$TMP/run_$name"
    t=$(python3 -c "
import json
print(json.loads(open('$TMP/run_$name/metrics.jsonl').read().splitlines()[-1])['tokens_per_s'])")
    ours=$(python3 -c "print(max($ours, $t))")
    r=$(/usr/bin/python3 bench/train_bench.py "$TMP/tok" "{\"vocab\": $VOCAB, \"d_model\": $d, \"n_layers\": $l, \"n_heads\": $h, \"d_ff\": $ff, \"seq_len\": $t_len, \"batch\": $b}" "$STEPS" "$THREADS")
    py=$(python3 -c "
import json
a, b = json.loads('$py'), json.loads('$r')
b['peak_flops'] = max(a.get('peak_flops', 0), b['peak_flops'])
print(json.dumps(b if b['tokens_per_s'] > a['tokens_per_s'] else dict(a, peak_flops=b['peak_flops'])))")
  done
  python3 - "$name" "$ours" "$py" "$d" "$l" "$t_len" <<'PY'
import json, sys
name, ours, py, d, l, t = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
n = py["params"]
flops_per_token = 6 * n + 12 * l * d * t  # weights (incl. the tied output layer) + attention
peak = py["peak_flops"]
ratio = ours / py["tokens_per_s"]
mfu_ours, mfu_py = ours * flops_per_token / peak, py["tokens_per_s"] * flops_per_token / peak
print(f"{name}: {n/1e6:.2f}M parameters; fp32 matmul peak {peak/1e9:.0f} GFLOP/s")
print(f"  sdft (C++)      {ours:10.0f} tokens/s   MFU {100*mfu_ours:5.1f}%")
print(f"  PyTorch eager   {py['tokens_per_s']:10.0f} tokens/s   MFU {100*mfu_py:5.1f}%")
print(f"  ratio {ratio:.2f} (target >= 1.2: {'ok' if ratio >= 1.2 else 'MISSED'})")
PY
}
run_one small 128 4 4 384 128 16
run_one 7m 256 6 8 768 256 16
echo "(MFU target >= 50% applies to the 7m config)"
