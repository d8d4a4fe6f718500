#!/usr/bin/env bash
# Checks the default policy bundle with the real opa CLI: formatting, strict
# compilation (tests included, as they ship in the signed bundle), the
# bundle's tests with a coverage floor, and that `opa build
# --verification-key` accepts a bundle `fedscore policy` built and signed,
# with its sequence and expiry kept in the manifest, and rejects it
# tampered with.
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

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "--- opa test --coverage $bundle"
report=$work/coverage.json
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

echo "--- opa build --verification-key accepts a bundle signed by fedscore policy"
go build -o "$work/fedscore" ./cmd/fedscore
"$work/fedscore" policy keygen -o "$work/key.pem" --pub "$work/pub.pem" >/dev/null
"$work/fedscore" policy build --revision opa-interop --sequence 42 -o "$work/bundle.tar.gz"
"$work/fedscore" policy sign --key "$work/key.pem" -o "$work/signed.tar.gz" "$work/bundle.tar.gz"
"$opa" build -b "$work/signed.tar.gz" --verification-key "$work/pub.pem" --verification-key-id regulator \
  --signing-alg ES256 -o "$work/rebuilt.tar.gz"
manifest=$("$opa" inspect --format json "$work/rebuilt.tar.gz")
sequence=$(echo "$manifest" | "$opa" eval --format raw --stdin-input 'input.manifest.metadata.sequence')
not_after=$(echo "$manifest" | "$opa" eval --format raw --stdin-input 'input.manifest.metadata.not_after')
if [ "$sequence" != 42 ] || [ -z "$not_after" ]; then
  echo "opa dropped the bundle's sequence ($sequence) or expiry ($not_after):" >&2
  echo "$manifest" >&2
  exit 1
fi
echo "signed bundle accepted: sequence $sequence, not after $not_after"
mkdir "$work/tampered"
tar -xzf "$work/signed.tar.gz" -C "$work/tampered" 2>/dev/null
sed -i 's/"sequence":42/"sequence":43/' "$work/tampered/.manifest"
grep -q '"sequence":43' "$work/tampered/.manifest"
(cd "$work/tampered" && tar -czf "$work/tampered.tar.gz" .manifest .signatures.json data.json fedscore)
if "$opa" build -b "$work/tampered.tar.gz" --verification-key "$work/pub.pem" --verification-key-id regulator \
  --signing-alg ES256 -o "$work/rebuilt-tampered.tar.gz" >"$work/tampered.err" 2>&1; then
  echo "opa accepted a bundle whose sequence was changed after signing" >&2
  exit 1
fi
if ! grep -q "digest mismatch" "$work/tampered.err"; then
  echo "opa rejected the tampered bundle for another reason than its digest:" >&2
  cat "$work/tampered.err" >&2
  exit 1
fi
echo "tampered sequence rejected: $(grep -o 'digest mismatch.*' "$work/tampered.err" | head -c 120)"
