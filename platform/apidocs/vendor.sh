#!/usr/bin/env bash
# Vendors Redoc's standalone bundle from the npm registry at the pinned version into assets/
# (npm checks the package against the registry's integrity hash). Bump the version here and
# RedocVersion in apidocs.go together, run this (task docs:vendor), and commit the result.
set -euo pipefail
version=2.5.4
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "redoc@$version" >/dev/null && tar xzf "redoc-$version.tgz")
cp "$tmp/package/bundles/redoc.standalone.js" assets/redoc.standalone.js
cp "$tmp/package/bundles/redoc.standalone.js.LICENSE.txt" assets/redoc.standalone.js.LICENSE.txt
cp "$tmp/package/LICENSE" assets/LICENSE
echo "vendored redoc@$version into $(pwd)/assets"
