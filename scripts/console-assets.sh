#!/usr/bin/env bash
# Vendors the console's third-party browser assets: installs the versions
# pinned in console/web/package-lock.json with `npm ci` and copies Apache
# ECharts' minified build and its licence into console/static/vendor, which
# the binary embeds. CI re-runs this and fails if the committed copy differs.
set -euo pipefail
cd "$(dirname "$0")/../console/web"

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  echo "--- installing nodejs and npm (Debian)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi

npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
version=$(node -p "require('./node_modules/echarts/package.json').version")
out=../static/vendor
rm -rf "$out"
mkdir -p "$out"
cp node_modules/echarts/dist/echarts.min.js "$out/echarts.min.js"
cp node_modules/echarts/LICENSE "$out/ECHARTS-LICENSE"
cp node_modules/echarts/NOTICE "$out/ECHARTS-NOTICE"
echo "echarts $version" > "$out/VERSIONS"
echo "console assets: echarts $version -> console/static/vendor"
