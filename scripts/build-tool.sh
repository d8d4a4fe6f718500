#!/usr/bin/env bash
# Builds one of the pinned tools CI runs for real, into bin/<name>, and
# prints its path.
#
# Each tool is a module of its own under tools/<name> (its go.mod pins the
# release and names the command in a `tool` line), so that its dependencies
# stay out of the main module. A build is cached in $FEDSCORE_TOOLS_CACHE
# (default ~/.cache/fedscore/tools) under a key of the Go version and the
# tool's go.{mod,sum}, so later runs only copy it.
#
#   scripts/build-tool.sh grpcurl            # bin/grpcurl
#   scripts/build-tool.sh grpc-health-probe  # bin/grpc-health-probe
#   scripts/build-tool.sh opa | vault
set -euo pipefail
cd "$(dirname "$0")/.."

name=${1:-}
mod=tools/$name
if [ -z "$name" ] || [ ! -f "$mod/go.mod" ]; then
  echo "usage: $0 TOOL, one of: $(cd tools && ls -d -- */ | tr -d / | tr '\n' ' ')" >&2
  exit 2
fi
pkg=$(awk '$1 == "tool" && NF == 2 { print $2; exit }' "$mod/go.mod")
if [ -z "$pkg" ]; then
  echo "build-tool: $mod/go.mod names no tool" >&2
  exit 1
fi
key=$( (go version; cat "$mod/go.mod" "$mod/go.sum") | sha256sum | cut -c1-16)
cache=${FEDSCORE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fedscore/tools}
cached="$cache/$name-$key"

if [ ! -x "$cached" ]; then
  echo "--- building $name ($pkg) from $mod (cached as $cached)" >&2
  mkdir -p "$cache"
  start=$(date +%s)
  (cd "$mod" && GOFLAGS="${GOFLAGS:-} -mod=readonly" go build -trimpath -o "$cached.tmp.$$" "$pkg")
  mv -f "$cached.tmp.$$" "$cached"
  echo "--- built $name in $(($(date +%s) - start))s" >&2
fi

mkdir -p bin
if ! cmp -s "$cached" "bin/$name"; then
  cp -f "$cached" "bin/$name.tmp.$$"
  mv -f "bin/$name.tmp.$$" "bin/$name"
fi
echo "$PWD/bin/$name"
