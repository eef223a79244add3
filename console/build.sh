#!/usr/bin/env bash
# Builds the console: the worker (Rust to wasm, worker-build, into console/build/) and the
# UI (TypeScript, esbuild, into console/ui/dist/ with the JS client's wasm beside it).
# Needs scripts/setup and the built JS package (clients/js/build.sh); sources
# scripts/env.sh itself.
#
#   console/build.sh            both
#   console/build.sh --ui       the UI only
#   console/build.sh --worker   the worker only
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=../scripts/env.sh
. "$root/scripts/env.sh"
cd "$here"
what="${1:-all}"

if [[ "$what" == all || "$what" == --worker ]]; then
  worker-build --release
fi

if [[ "$what" == all || "$what" == --ui ]]; then
  pkg="$root/clients/js/dist"
  [[ -f "$pkg/manual.js" ]] || { echo "console/build.sh: build the JS package first (clients/js/build.sh)" >&2; exit 1; }
  rm -rf ui/dist
  mkdir -p ui/dist/assets
  cp ui/static/* ui/dist/
  cp "$pkg/wasm/edap_js_bg.wasm" ui/dist/assets/edap_js_bg.wasm
  esbuild ui/src/main.tsx --bundle --format=esm --target=es2022 --minify --sourcemap \
    --jsx=automatic --jsx-import-source=preact \
    --alias:@edap/dap="$pkg/manual.js" \
    --outfile=ui/dist/assets/app.js --log-level=warning
  echo "console UI: $(stat -c %s ui/dist/assets/app.js) bytes of JS ($(gzip -9c ui/dist/assets/app.js | wc -c) gzip), $(stat -c %s ui/dist/assets/edap_js_bg.wasm) bytes of wasm"
fi
