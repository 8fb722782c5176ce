#!/usr/bin/env bash
# Proves each crate README's first Rust snippet builds in a fresh crate that has only the
# dependencies of the README's `cargo add` line (this workspace's crates as path dependencies).
# Slow (each fresh crate resolves and builds its own dependency graph); not part of .ci/run.
#   bash scripts/readme-check.sh [crate-dir …]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${TMPDIR:-/tmp}/vystak-readme-check"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$work/target}"
crates=("$@")
[ "${#crates[@]}" -gt 0 ] || crates=("$root"/crates/*)
status=0
for dir in "${crates[@]}"; do
  dir="$(cd "$dir" && pwd)"
  name="$(basename "$dir")"
  readme="$dir/README.md"
  line="$(grep -m1 '^cargo add ' "$readme" || true)"
  if [ -z "$line" ]; then echo "$name: no cargo add line" >&2; status=1; continue; fi
  crate="$work/$name-readme"
  rm -rf "$crate"
  cargo new -q --bin "$crate"
  # The workspace crate from its path, everything else from the registry, as the line says.
  # shellcheck disable=SC2086
  set -- ${line#cargo add }
  args=()
  for a in "$@"; do
    if [ "$a" = "$name" ]; then (cd "$crate" && cargo add -q --path "$dir"); else args+=("$a"); fi
  done
  [ "${#args[@]}" -eq 0 ] || (cd "$crate" && cargo add -q "${args[@]}")
  # The first rust block of the README, as the body of an async main (items stay items).
  python3 - "$readme" "$crate/src/main.rs" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
block = re.search(r"```rust[^\n]*\n(.*?)```", text, re.S).group(1)
uses = [l for l in block.splitlines() if l.startswith("use ")]
body = [l for l in block.splitlines() if not l.startswith("use ")]
main = "\n".join(uses) + "\n\n#[allow(unused)]\nasync fn snippet() {\n" + "\n".join(body) + "\n}\n\nfn main() { let _ = snippet; }\n"
if "fn main" in block:
    main = block
open(sys.argv[2], "w").write(main)
PY
  if (cd "$crate" && cargo build -q 2>"$crate/build.log"); then
    echo "$name: README snippet builds with: $line"
  else
    echo "$name: README snippet FAILS to build with: $line (see $crate/build.log)" >&2
    status=1
  fi
done
exit $status
