#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into <build>/fuzz and runs each one
# over its seed corpus (tests/fuzz/<dir>/corpus).
#   scripts/fuzz.sh [--short] [build-dir]
#   --short: a fixed number of runs per target (what `make test` does);
#   default: FUZZ_SECONDS (300) of fuzzing per target (`make fuzz`).
# A crash leaves its input in <build>/fuzz/findings/<target>/; turn it into a
# regression test by adding it to the corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=long
if [ "${1:-}" = "--short" ]; then MODE=short; shift; fi
BUILD=${1:-build}
FB="$BUILD/fuzz"
if [ ! -f "$FB/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$FB" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSHOAL_FUZZ=ON -DSHOAL_TESTS=OFF -DSHOAL_BENCH=OFF -DSHOAL_WERROR=OFF >/dev/null
fi
targets=()
for d in tests/fuzz/*/; do
  [ -f "$d/CMakeLists.txt" ] || continue
  for t in $(grep -o 'shoal_add_fuzzer([a-z_0-9]*' "$d/CMakeLists.txt" | sed 's/shoal_add_fuzzer(//'); do
    targets+=("$t:$d")
  done
done
names=()
for td in "${targets[@]}"; do names+=("${td%%:*}"); done
cmake --build "$FB" -j "${JOBS:-$(nproc)}" --target "${names[@]}"
status=0
for td in "${targets[@]}"; do
  t=${td%%:*}; d=${td#*:}
  bin=$(find "$FB" -type f -name "$t" -perm -u+x | head -1)
  work="$FB/work/$t"; findings="$FB/findings/$t"
  mkdir -p "$work" "$findings"
  # Targets sharing a directory keep per-target seeds in corpus/<target>/ if present.
  seeds="$d/corpus"; [ -d "$d/corpus/$t" ] && seeds="$d/corpus/$t"
  if [ "$MODE" = short ]; then limit=(-runs="${FUZZ_RUNS:-20000}"); else limit=(-max_total_time="${FUZZ_SECONDS:-300}"); fi
  if "$bin" "$work" "$seeds" "${limit[@]}" -max_len=4096 -timeout=10 -artifact_prefix="$findings/" \
       -print_final_stats=0 >"$FB/$t.log" 2>&1; then
    echo "fuzz: $t ok ($(grep -c . <(ls "$work") || true) corpus entries)"
  else
    echo "fuzz: $t FAILED (see $FB/$t.log; inputs in $findings)"
    tail -30 "$FB/$t.log"
    status=1
  fi
done
exit $status
