#!/usr/bin/env bash
# Makes a fresh checkout runnable: installs the npm dependencies when package-lock.json changed since
# the last install, and compiles TypeScript. Called by `npm start`, `npm test` and `npm run bench`, so
# that the README's two commands are all a new machine needs.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.vbs-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "vbs: installing npm dependencies (better-sqlite3 compiles from source: about a minute)" >&2
  # better-sqlite3's prebuilt download cannot be reached here; building from source is what works.
  npm_config_build_from_source=true npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$want" > "$stamp"
fi
npx tsc -p tsconfig.json
# tsc never removes what it compiled from a file since moved or deleted, and mocha would still run it.
find dist -name '*.js' | while read -r out; do
  src="${out#dist/}"
  src="${src%.js}"
  [ -e "$src.ts" ] || [ -e "$src.js" ] || rm -f "$out" "$out.map"
done
