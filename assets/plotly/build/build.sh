#!/bin/sh
# Rebuilds assets/plotly/plotly-jobdash.min.js: plotly.js with only the trace types JobDash draws.
# Needs Node 18+ and npm (the npm registry); run from anywhere: sh assets/plotly/build/build.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/entry.js" "$here/build.js" "$work/"
cd "$work"
npm ci --no-audit --no-fund --loglevel=error
node build.js "$here/../plotly-jobdash.min.js"
ls -l "$here/../plotly-jobdash.min.js"
