#!/usr/bin/env bash
# Proves every Rust snippet of every README (the root README and each crate's) builds in a fresh
# crate that has only the dependencies of that README's `cargo add` line, as a new user pastes
# them: this workspace's crates come from their paths, everything else from the registry.
#
# Each fresh crate resolves its own Cargo.lock, exactly as a fresh `cargo add` does: the newest
# versions the line allows (not this workspace's Cargo.lock). So a README line that names a
# framework crate without a version (`cargo add … async-nats`) breaks here on the day that
# framework releases a version our crate does not use, before it breaks for a user.
#
#   bash scripts/readme-check.sh [README-dir …]      # default: the root and every crate
#
# A ```rust block is built as the body of an async fn (or as is, when it has `fn main`);
# ```rust,ignore and ```text blocks are not built. Slow on a cold target dir (each fresh crate
# builds its own dependency graph); CARGO_TARGET_DIR is shared between the crates.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${TMPDIR:-/tmp}/vystak-readme-check"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$work/target}"
mkdir -p "$work"
dirs=("$@")
[ "${#dirs[@]}" -gt 0 ] || dirs=("$root" "$root"/crates/*)
status=0
checked=0
for dir in "${dirs[@]}"; do
  dir="$(cd "$dir" && pwd)"
  readme="$dir/README.md"
  # The package name from the directory's Cargo.toml ([package] name).
  name="$(sed -n '/^\[package\]/,/^\[/{s/^name *= *"\(.*\)"/\1/p}' "$dir/Cargo.toml" | head -1)"
  # A crate that is never published (the tests' helpers) has no user to paste a line.
  if grep -q '^publish *= *false' "$dir/Cargo.toml"; then continue; fi
  line="$(grep -m1 '^cargo add ' "$readme" || true)"
  if [ -z "$line" ]; then echo "$name: README.md has no \`cargo add\` line" >&2; status=1; continue; fi
  crate="$work/$name-readme"
  rm -rf "$crate"
  cargo new -q --bin "$crate"
  # shellcheck disable=SC2086
  set -- ${line#cargo add }
  args=()
  for a in "$@"; do
    case "$a" in
      "$name") (cd "$crate" && cargo add -q --path "$dir") ;;
      "$name"@*) echo "$name: the line pins this workspace's own crate ($a)" >&2; status=1 ;;
      *) args+=("$a") ;;
    esac
  done
  if [ "${#args[@]}" -gt 0 ] && ! (cd "$crate" && cargo add -q "${args[@]}"); then
    echo "$name: \`$line\` fails in a fresh crate" >&2; status=1; continue
  fi
  # Every ```rust block, one at a time, as src/main.rs.
  blocks="$crate/blocks"
  mkdir -p "$blocks"
  n="$(python3 - "$readme" "$blocks" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
n = 0
for info, block in re.findall(r"```(rust[^\n]*)\n(.*?)```", text, re.S):
    if "ignore" in info:
        continue
    if "fn main" not in block:
        uses = [l for l in block.splitlines() if l.startswith("use ")]
        body = [l for l in block.splitlines() if not l.startswith("use ")]
        block = ("\n".join(uses) + "\n\n#[allow(unused)]\nasync fn snippet() {\n"
                 + "\n".join(body) + "\n}\n\nfn main() { let _ = snippet; }\n")
    n += 1
    open(f"{sys.argv[2]}/{n}.rs", "w").write(block)
print(n)
PY
)"
  if [ "$n" -eq 0 ]; then echo "$name: README.md has no rust snippet" >&2; status=1; continue; fi
  for i in $(seq 1 "$n"); do
    cp "$blocks/$i.rs" "$crate/src/main.rs"
    if (cd "$crate" && cargo build -q 2>"$crate/build-$i.log"); then
      echo "$name: README snippet $i of $n builds with: $line"
      checked=$((checked + 1))
    else
      echo "$name: README snippet $i of $n FAILS to build with: $line" >&2
      sed -n '1,40p' "$crate/build-$i.log" >&2
      status=1
    fi
  done
  # What the fresh resolution picked, for the record.
  (cd "$crate" && cargo tree -q --depth 1 -e normal | tail -n +2 | sed "s/^/  $name: /") || true
done
echo "readme-check: $checked snippet(s) built; status $status"
exit $status
