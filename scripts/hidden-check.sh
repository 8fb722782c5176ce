#!/usr/bin/env bash
# No crate of the workspace uses another crate's `#[doc(hidden)]` item (issue 29): what one crate
# needs from another is public, documented and semver'd (vystak-otel-core), never an internal
# that a patch release may change under a caret requirement.
#
#   bash scripts/hidden-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for dir in crates/*/; do
  name="$(sed -n '/^\[package\]/,/^\[/{s/^name *= *"\(.*\)"/\1/p}' "$dir/Cargo.toml" | head -1)"
  ident="${name//-/_}"
  # The items declared right after #[doc(hidden)] (a `pub` item on the next non-attribute line).
  hidden="$(grep -rh -A3 '#\[doc(hidden)\]' "$dir/src" 2>/dev/null \
    | sed -n 's/^\s*pub\(([a-z]*)\)\? \(mod\|fn\|struct\|enum\|trait\|const\|static\|type\|use\) \([A-Za-z_][A-Za-z0-9_]*\).*/\3/p' \
    | sort -u || true)"
  [ -n "$hidden" ] || continue
  for item in $hidden; do
    users="$(grep -rlE "${ident}::(\{[^}]*\b)?${item}\b" crates/*/src crates/*/tests crates/*/benches crates/*/examples examples 2>/dev/null \
      | grep -v "^${dir}" || true)"
    if [ -n "$users" ]; then
      echo "error: ${name}'s #[doc(hidden)] item \`${item}\` is used by another crate:" >&2
      echo "$users" | sed 's/^/  /' >&2
      status=1
    fi
  done
done
[ "$status" -eq 0 ] && echo "no crate uses another crate's #[doc(hidden)] item"
exit "$status"
