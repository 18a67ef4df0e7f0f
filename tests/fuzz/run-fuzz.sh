#!/usr/bin/env bash
# Builds the GGUF fuzz target with clang, libFuzzer, ASan and UBSan, and fuzzes the reader
# for a while on a copy of the seed corpus. Exits non-zero if the fuzzer finds a crash,
# a sanitizer error, an exception other than natter::Error, a leak or a timeout; the
# input that did it is left in the work directory (printed at the end).
#
# Usage: tests/fuzz/run-fuzz.sh [SECONDS] (default 60)
# Environment: NATTER_FUZZ_BUILD (build directory, default build-fuzz in the source tree),
#              NATTER_FUZZ_JOBS (build jobs, default 2).
set -euo pipefail

seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
source_dir="$(cd "$here/../.." && pwd)"
build="${NATTER_FUZZ_BUILD:-$source_dir/build-fuzz}"

CC=clang CXX=clang++ cmake -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNATTER_FUZZ=ON -DNATTER_SANITIZE=address,undefined -DNATTER_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target gguf_fuzz -j "${NATTER_FUZZ_JOBS:-2}"

# Fuzz a copy, so that the committed seed corpus stays small and reviewed.
work="$(mktemp -d "${TMPDIR:-/tmp}/natter-fuzz-XXXXXX")"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$here"/corpus/* "$work/corpus/"

echo "fuzzing the GGUF reader for ${seconds}s (work directory $work)"
status=0
(cd "$work" && "$build/tests/fuzz/gguf_fuzz" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/" corpus) \
  >"$work/fuzz.log" 2>&1 || status=$?
tail -n 25 "$work/fuzz.log"

if [ "$status" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
  echo "run-fuzz: FAILED (exit status $status); inputs that failed:" >&2
  ls -l "$work/artifacts" >&2
  exit 1
fi
echo "run-fuzz: no crash in ${seconds}s ($(ls "$work/corpus" | wc -l) inputs in the grown corpus)"
rm -rf "$work"
