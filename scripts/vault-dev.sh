#!/usr/bin/env bash
# Builds the Vault server that the integration tests of
# keystore/vault run in dev mode, into bin/vault, and prints
# its path.
#
# The server is Vault v1.14.1 (the last MPL-2.0 line), pinned with its sdk
# module from the same Git commit in tools/vault/go.mod; Debian ships no
# Vault. The build (a few minutes on 2 cores) is cached in
# $FEDSCORE_TOOLS_CACHE (default ~/.cache/fedscore/tools) under a key of the
# Go version and tools/vault/go.{mod,sum}, so later runs only copy it.
#
# Run the integration tests with:
#   ./scripts/vault-dev.sh && FEDSCORE_VAULT_TESTS=1 go test ./keystore/vault/
set -euo pipefail
cd "$(dirname "$0")/.."

mod=tools/vault
key=$( (go version; cat "$mod/go.mod" "$mod/go.sum") | sha256sum | cut -c1-16)
cache=${FEDSCORE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fedscore/tools}
cached="$cache/vault-$key"

if [ ! -x "$cached" ]; then
  echo "--- building Vault from $mod (cached as $cached)" >&2
  mkdir -p "$cache"
  start=$(date +%s)
  (cd "$mod" && GOFLAGS="${GOFLAGS:-} -mod=readonly" go build -trimpath -o "$cached.tmp.$$" github.com/hashicorp/vault)
  mv -f "$cached.tmp.$$" "$cached"
  echo "--- built in $(($(date +%s) - start))s" >&2
fi

mkdir -p bin
if ! cmp -s "$cached" bin/vault; then
  cp -f "$cached" bin/vault.tmp.$$
  mv -f bin/vault.tmp.$$ bin/vault
fi
"$PWD/bin/vault" version >&2
echo "$PWD/bin/vault"
