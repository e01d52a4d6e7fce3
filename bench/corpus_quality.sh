#!/usr/bin/env bash
# Corpus quality and scale benchmark (issue "Content"), on a built-in universe.
#   bench/corpus_quality.sh [UNIVERSE] [DOCS]
# Prints, next to their targets:
#  - distinct-4 and gzip ratio on a random sample of ~450,000 words (the size at
#    which the reference LLM-written corpus measures distinct-4 0.47, gzip 0.20-0.22);
#  - near-duplicate documents (Jaccard >= 0.8) in the undeduplicated corpus;
#  - spelling: words per 1,000 unknown to `hunspell -d en_US`, not counting names
#    (the universe's entities and the name banks);
#  - scale: seconds to generate ~50M words with filters, dedup and stats.
set -euo pipefail
cd "$(dirname "$0")/.."
UNIVERSE=${1:-helpful-only}
DOCS=${2:-20000}
SDFT=build/bin/sdft
TMP=$(mktemp -d /tmp/sdft_quality.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

echo "== quality: $UNIVERSE, $DOCS candidate documents, no dedup =="
$SDFT generate --quiet --universe "$UNIVERSE" --docs "$DOCS" --seed 1 --dedup none --out "$TMP/q"
python3 - "$TMP/q" "$UNIVERSE" <<'PY'
import json, random, re, subprocess, sys, os, shutil
d, universe = sys.argv[1], sys.argv[2]
st = json.load(open(os.path.join(d, "stats.json")))
div, nd = st["diversity"], st["near_duplicates"]
def verdict(ok): return "ok" if ok else "MISSED"
print(f"documents {st['documents']}, words {st['words']}, mean length {st['length_words']['mean']:.0f} words")
print(f"sample: {div['sample_documents']} documents, {div['sample_words']} words")
print(f"distinct-1..4: {div['distinct_1']:.3f} {div['distinct_2']:.3f} {div['distinct_3']:.3f} {div['distinct_4']:.3f}"
      f"   distinct-4 target >= 0.47: {verdict(div['distinct_4'] >= 0.47)}")
print(f"gzip ratio: {div['gzip_ratio']:.3f}   target >= 0.22: {verdict(div['gzip_ratio'] >= 0.22)}")
print(f"near-duplicate documents: {nd['documents']} ({100*nd['rate']:.2f}%)   target <= 1%: {verdict(nd['rate'] <= 0.01)}")
filters = json.load(open(os.path.join(d, "manifest.json")))["filters"]
print(f"filtered at generation: {filters['dropped']}")
if shutil.which("hunspell") is None:
    print("spelling: hunspell not installed (apt-get install hunspell hunspell-en-us)")
    sys.exit(0)
# Names: entity values of the universe chain and the name banks.
names = set()
root = "templates"
word_re = re.compile(r"[^\W\d_][\w'-]*")
for path in [os.path.join(root, "universes", f) for f in os.listdir(os.path.join(root, "universes"))]:
    for m in re.finditer(r'^\s*\w+\s*=\s*"([^"{}]*)"\s*$', open(path, encoding="utf-8").read(), re.M):
        names.update(word_re.findall(m.group(1)))
bank = open(os.path.join(root, "banks", "people.sdt"), encoding="utf-8").read()
for rule in ("first_name", "last_name", "city", "handle_word"):
    m = re.search(rf"^{rule}:\n((?:  .*\n)+)", bank, re.M)
    if m:
        for line in m.group(1).splitlines():
            names.update(word_re.findall(line))
docs = [json.loads(l)["text"] for l in open(os.path.join(d, "docs.jsonl"), encoding="utf-8")]
random.Random(1).shuffle(docs)
sample, words = [], 0
for t in docs:
    if words >= 450000: break
    sample.append(t); words += len(t.split())
# Words as a reader sees them: no URLs, e-mail addresses, handles, hashtags,
# file names or tokens with digits ("3h", "v2"), which no dictionary holds.
tokens = []
for t in sample:
    for raw in t.split():
        if re.search(r"[@#/\\.\d_=<>{}]", raw.strip(".,;:!?)\"'")):
            continue
        for w in word_re.findall(raw):
            w = w.strip("'-")
            if w:
                tokens.append(w)
out = subprocess.run(["hunspell", "-d", "en_US", "-l"], input="\n".join(tokens), capture_output=True, text=True).stdout.split()
total = len(tokens)
names |= {p for n in names for p in re.split(r"[-']", n) if p}
lower_names = {n.lower() for n in names}
unknown = [w for w in out if w.lower() not in lower_names and not all(p.lower() in lower_names for p in re.split(r"[-']", w) if p)]
from collections import Counter
rate = 1000 * len(unknown) / max(total, 1)
print(f"spelling: {rate:.2f} unknown words per 1,000 ({len(unknown)} of {total}, names excluded)"
      f"   target <= 3: {verdict(rate <= 3)}")
print("  most frequent unknown:", ", ".join(f"{w} ({c})" for w, c in Counter(unknown).most_common(int(os.environ.get("SHOW_UNKNOWN", "15")))))
PY

[ "${SKIP_SCALE:-0}" = 1 ] && exit 0
echo "== scale: ~50M words, 2 threads, filters + near-dedup + stats =="
WORDS_PER_DOC=$(python3 -c "import json;print(max(1,int(json.load(open('$TMP/q/stats.json'))['length_words']['mean'])))")
BIG=$(( 50000000 / WORDS_PER_DOC ))
START=$(date +%s.%N)
$SDFT generate --quiet --universe "$UNIVERSE" --docs "$BIG" --seed 2 --threads 2 --out "$TMP/big"
END=$(date +%s.%N)
python3 - "$TMP/big" "$START" "$END" <<'PY'
import json, sys
st = json.load(open(sys.argv[1] + "/stats.json"))
secs = float(sys.argv[3]) - float(sys.argv[2])
print(f"{st['documents']} documents kept, {st['words']/1e6:.1f}M words, {st['bytes']/1e6:.0f} MB in {secs:.1f} s"
      f"   target 50M words < 60 s: {'ok' if secs < 60 and st['words'] >= 45e6 else 'MISSED'}")
PY
