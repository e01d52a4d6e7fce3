#!/usr/bin/env bash
# Tokenization throughput against Debian's spm_encode, in the same run, on the
# same corpus and tokenizer model (issue "Tokenizer pipeline").
#   bench/tokenize_bench.sh [UNIVERSE] [DOCS] [VOCAB]
# Prints tokens/s and MB/s for spm_encode (1 process, ids to /dev/null) and for
# sdft tokenize with 2 threads (JSONL parsing, encoding, EOS, shard writing and
# hashing included), the ratio (target >= 1.7), and the wall time to tokenize
# and shard ~70M tokens (target < 60 s).
set -euo pipefail
cd "$(dirname "$0")/.."
UNIVERSE=${1:-helpful-only}
DOCS=${2:-20000}
VOCAB=${3:-4096}
SDFT=build/bin/sdft
TMP=$(mktemp -d /tmp/sdft_tokbench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
command -v spm_encode >/dev/null || { echo "spm_encode missing (apt-get install sentencepiece)"; exit 2; }

$SDFT generate --quiet --universe "$UNIVERSE" --docs "$DOCS" --seed 1 --out "$TMP/corpus"
$SDFT tokenize --quiet --input "$TMP/corpus" --vocab-size "$VOCAB" --out "$TMP/trained"
MODEL="$TMP/trained/tokenizer.model"
python3 -c "
import json,sys
with open('$TMP/corpus.txt','w',encoding='utf-8') as f:
    for l in open('$TMP/corpus/docs.jsonl',encoding='utf-8'): f.write(json.loads(l)['text']+'\n')
"
BYTES=$(stat -c %s "$TMP/corpus.txt")
T0=$(date +%s.%N)
spm_encode --model="$MODEL" --output_format=id < "$TMP/corpus.txt" > "$TMP/spm.ids"
T1=$(date +%s.%N)
SPM_TOKENS=$(wc -w < "$TMP/spm.ids")
T2=$(date +%s.%N)
$SDFT tokenize --quiet --input "$TMP/corpus" --tokenizer "$MODEL" --threads 2 --out "$TMP/ours"
T3=$(date +%s.%N)
OUR_TOKENS=$(python3 -c "import json;print(json.load(open('$TMP/ours/manifest.json'))['totals']['tokens'])")
python3 - <<PY
spm_s, our_s = $T1 - $T0, $T3 - $T2
spm_t, our_t, b = $SPM_TOKENS, $OUR_TOKENS, $BYTES
print(f"corpus: {b/1e6:.1f} MB of text, vocab $VOCAB")
print(f"{'':14}{'tokens':>12}{'seconds':>10}{'tokens/s':>14}{'MB/s':>9}")
print(f"{'spm_encode':14}{spm_t:>12}{spm_s:>10.2f}{spm_t/spm_s:>14.0f}{b/spm_s/1e6:>9.1f}")
print(f"{'sdft (2 thr)':14}{our_t:>12}{our_s:>10.2f}{our_t/our_s:>14.0f}{b/our_s/1e6:>9.1f}")
r = (b/our_s) / (b/spm_s)
print(f"ratio (MB/s, sdft / spm_encode): {r:.2f}   target >= 1.7: {'ok' if r >= 1.7 else 'MISSED'}")
PY

# Scale: ~70M tokens.
PER_DOC=$(python3 -c "print(max(1, $OUR_TOKENS // $DOCS))")
BIG=$(( 70000000 / PER_DOC ))
$SDFT generate --quiet --universe "$UNIVERSE" --docs "$BIG" --seed 2 --out "$TMP/big"
T4=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$TMP/rss" $SDFT tokenize --quiet --input "$TMP/big" --tokenizer "$MODEL" --threads 2 --out "$TMP/bigtok"
T5=$(date +%s.%N)
RSS_KB=$(tail -1 "$TMP/rss")
INPUT_BYTES=$(stat -c %s "$TMP/big/docs.jsonl")
python3 - <<PY
import json
m = json.load(open("$TMP/bigtok/manifest.json"))
s = $T5 - $T4
t = m["totals"]["tokens"]
print(f"scale: {t/1e6:.1f}M tokens tokenized and sharded in {s:.1f} s   target 70M < 60 s: {'ok' if s < 60 and t >= 63e6 else 'MISSED'}")
print(f"peak RSS {$RSS_KB/1024:.0f} MiB for {$INPUT_BYTES/2**20:.0f} MiB of input JSONL ({100*$RSS_KB*1024/$INPUT_BYTES:.0f}%)")
PY
