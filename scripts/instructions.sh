#!/usr/bin/env bash
# Instructions per operation of every contestant of the server, propagator and GenAI benches,
# counted by valgrind's callgrind: steady where the machine's timings are not.
#
#   bash scripts/instructions.sh            # all three
#   bash scripts/instructions.sh server     # one of: server, propagator, genai
#
# Needs valgrind (Debian: apt-get install -y valgrind). Each contestant runs in its own process;
# the count is (its instructions - the baseline's) / operations.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
  echo "error: valgrind is not installed (Debian: apt-get install -y valgrind)" >&2
  exit 1
fi

# bench binary of a package: build it and print its path.
binary() {
  cargo bench --no-run -p "$1" --bench instructions 2>&1 |
    sed -n 's/.*Executable benches\/instructions.rs (\(.*\))/\1/p' | tail -n 1
}

# total instructions of one run of $bin with argument $1
count() {
  local out
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" >/dev/null 2>&1
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
  rm -f "$out"
}

# table <package> <operations> <baseline> <peer> <contestant>...
table() {
  local package=$1 ops=$2 baseline=$3 peer=$4
  shift 4
  bin=$(binary "$package")
  if [ -z "$bin" ]; then
    echo "error: could not build the instructions bench of $package" >&2
    exit 1
  fi
  local base peer_count
  base=$(count "$baseline")
  peer_count=$(count "$peer")
  echo
  echo "$package: instructions per operation over '$baseline', and × '$peer'"
  for c in "$@"; do
    local n
    if [ "$c" = "$peer" ]; then n=$peer_count; else n=$(count "$c"); fi
    awk -v c="$c" -v n="$n" -v b="$base" -v p="$peer_count" -v ops="$ops" \
      'BEGIN { x = (n - b) / ops; y = (p - b) / ops; printf "  %-10s %9.0f  %5.3f\n", c, x, x / y }'
  done
}

what=${1:-all}
if [ "$what" = all ] || [ "$what" = server ]; then
  table vystak-otel-server 5000 bare oit identity wrap off sampled sampled-unbound unsampled min minm oit
fi
if [ "$what" = all ] || [ "$what" = propagator ]; then
  table vystak-otel-propagator 20000 none stock ours stock
  table vystak-otel-propagator 20000 none stock-ts ours-ts stock-ts
fi
if [ "$what" = all ] || [ "$what" = genai ]; then
  table vystak-otel-genai 5000 none min call ours ours-unbound same min
  table vystak-otel-genai 5000 none tool-hand tool-ours tool-hand
fi
