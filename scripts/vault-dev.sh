#!/usr/bin/env bash
# Builds the Vault server that the integration tests of
# keystore/vault run in dev mode, into bin/vault, and prints
# its path.
#
# The server is Vault v1.14.1 (the last MPL-2.0 line), pinned with its sdk
# module from the same Git commit in tools/vault/go.mod; Debian ships no
# Vault. The build (a few minutes on 2 cores) is cached by
# scripts/build-tool.sh, so later runs only copy it.
#
# Run the integration tests with:
#   ./scripts/vault-dev.sh && FEDSCORE_VAULT_TESTS=1 go test ./keystore/vault/
set -euo pipefail
cd "$(dirname "$0")/.."
vault=$(./scripts/build-tool.sh vault)
"$vault" version >&2
echo "$vault"
