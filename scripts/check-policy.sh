#!/usr/bin/env bash
# Checks the default policy bundle with the real opa CLI: formatting, strict
# compilation (tests included, as they ship in the signed bundle), and the
# bundle's tests with a coverage floor.
#
# The CLI is built from tools/opa, a module of its own pinning the same OPA
# release as go.mod, so that its dependencies stay out of the main module
# (scripts/build-tool.sh, cached).
#
#   scripts/check-policy.sh            # check policy/bundle
#   MIN_COVERAGE=95 scripts/check-policy.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bundle=policy/bundle
min_coverage=${MIN_COVERAGE:-90}
opa=$(./scripts/build-tool.sh opa)
echo "opa $("$opa" version | sed -n 's/^Version: //p')"

echo "--- opa fmt --list $bundle"
unformatted=$("$opa" fmt --list "$bundle")
if [ -n "$unformatted" ]; then
  echo "not formatted (run: $opa fmt -w $bundle):" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "--- opa check --strict $bundle"
"$opa" check --strict "$bundle"

echo "--- opa test --coverage $bundle"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
# The JSON coverage report has no verdict in it, so the tests run once for
# the verdict and once for the coverage; each run takes about a second.
"$opa" test "$bundle"
"$opa" test --coverage --format json "$bundle" >"$report"
coverage=$("$opa" eval --format raw --stdin-input 'input.coverage' <"$report")
echo "coverage: $coverage % (minimum $min_coverage %)"
if ! awk -v c="$coverage" -v m="$min_coverage" 'BEGIN { exit !(c + 0 >= m + 0) }'; then
  echo "policy coverage $coverage % is below $min_coverage %; not covered:" >&2
  "$opa" eval --format raw --stdin-input \
    'concat("\n", [sprintf("  %s:%d-%d", [f, r.start.row, r.end.row]) | some f, file in input.files; some r in file.not_covered])' \
    <"$report" >&2
  exit 1
fi
