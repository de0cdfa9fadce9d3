#!/usr/bin/env bash
# Fuzz each reader target for FUZZ_SECONDS (default 60) seconds. Corpora start from tests/data and seeds/ and
# grow in build/fuzz/<target>/; a crashing input is written to build/fuzz/crashes/<target>/ and the run fails.
# Keep every crash as a regression case in tests/data/bad/fuzz/<target>/ once the reader is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"seedtext ctgov_csv"}
status=0
for target in $TARGETS; do
  corpus=build/fuzz/$target
  crashes=build/fuzz/crashes/$target
  mkdir -p "$corpus" "$crashes"
  case $target in
    seedtext) seeds=(seeds/*.txt tests/data/bad/*.txt) ;;
    ctgov_csv) seeds=(tests/data/ctgov/mrd-aml-csv/*.csv tests/data/legacy-csv/*.csv tests/data/bad/*.csv) ;;
  esac
  for seed in "${seeds[@]}" tests/data/bad/fuzz/"$target"/*; do
    [ -f "$seed" ] && cp -n "$seed" "$corpus/" || true
  done
  echo "fuzzing $target for ${SECONDS_EACH}s (corpus $corpus)"
  if ! "$PYTHON" fuzz/harness.py "$target" "$corpus" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -dict="fuzz/$target.dict" -artifact_prefix="$crashes/" -print_final_stats=1 2>&1 | tail -n 25; then
    status=1
  fi
  if compgen -G "$crashes/*" > /dev/null; then
    echo "CRASH in $target: see $crashes/ (move each input to tests/data/bad/fuzz/$target/ once fixed)" >&2
    status=1
  fi
done
exit $status
