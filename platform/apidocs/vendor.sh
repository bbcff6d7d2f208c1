#!/usr/bin/env bash
# Vendors Redoc's standalone bundle from the npm registry at the pinned version into assets/
# (npm checks the package against the registry's integrity hash). Bump the version here and
# RedocVersion in apidocs.go together, run this (task docs:vendor), and commit the result.
set -euo pipefail
version=2.5.4
empty_logo="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='0' height='0'/%3E"
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "redoc@$version" >/dev/null && tar xzf "redoc-$version.tgz")
# The footer's Redocly logo is the bundle's one external resource: the page's policy would
# block it and show a broken image, so it becomes an empty inline image (0x0 SVG).
sed 's#"https://cdn.redoc.ly/redoc/logo-mini.svg"#"'"$empty_logo"'"#' \
  "$tmp/package/bundles/redoc.standalone.js" >assets/redoc.standalone.js
if grep -q 'https://cdn\.' assets/redoc.standalone.js; then
  echo "the bundle still names a CDN resource" >&2
  exit 1
fi
cp "$tmp/package/bundles/redoc.standalone.js.LICENSE.txt" assets/redoc.standalone.js.LICENSE.txt
cp "$tmp/package/LICENSE" assets/LICENSE
echo "vendored redoc@$version into $(pwd)/assets"
