#!/usr/bin/env bash
# Builds the npm package in clients/js/dist:
#   1. the edap-js crate for wasm32 (release profile: opt-level "s", LTO, one codegen unit),
#   2. wasm-bindgen --target web (the CLI scripts/setup installs, same version as the crate),
#   3. wasm-opt -Oz (binaryen from the repository's node_modules),
#   4. tsc: lib/*.ts to dist/*.js and .d.ts (strict).
# Prints the sizes. Needs scripts/setup and `. scripts/env.sh` (it sources it itself).
#
#   clients/js/build.sh           build
#   clients/js/build.sh --check   also fail unless the package is within its size budget
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../../scripts/env.sh
. "$root/scripts/env.sh"
cd "$here"

# The whole package (gzip, every file) must stay within this many bytes (issue 10's aim).
BUDGET_GZIP=$((250 * 1024))

cargo build --quiet --locked --release --target wasm32-unknown-unknown -p edap-js
raw="$root/target/wasm32-unknown-unknown/release/edap_js.wasm"

rm -rf dist
mkdir -p dist/wasm
wasm-bindgen --target web --out-dir dist/wasm --out-name edap_js "$raw"
# Consumers never import the module's raw exports; its declaration would shadow the
# `*.wasm` module type that the Workers entry point relies on.
rm -f dist/wasm/edap_js_bg.wasm.d.ts
# The features rustc enables by default for wasm32-unknown-unknown; every runtime the
# package targets (browsers of the last few years, Node >= 20, workerd) has them.
wasm-opt -Oz \
  --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
  --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types \
  dist/wasm/edap_js_bg.wasm -o dist/wasm/edap_js_bg.opt.wasm
mv dist/wasm/edap_js_bg.opt.wasm dist/wasm/edap_js_bg.wasm

"$root/node_modules/.bin/tsc" -p tsconfig.json

wasm_bytes=$(stat -c %s dist/wasm/edap_js_bg.wasm)
wasm_gzip=$(gzip -9c dist/wasm/edap_js_bg.wasm | wc -c)
# The tarball `npm pack` would publish (package.json "files"): its size is gzip.
read -r pkg_gzip pkg_bytes pkg_files < <(npm pack --dry-run --json --loglevel=error |
  node -e 'const [p] = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(p.size, p.unpackedSize, p.files.length)')
echo "edap-js wasm: $wasm_bytes bytes raw, $wasm_gzip bytes gzip"
echo "@edap/dap package (npm pack): $pkg_gzip bytes gzip, $pkg_bytes bytes unpacked, $pkg_files files"
if [[ "${1:-}" == "--check" ]] && ((pkg_gzip > BUDGET_GZIP)); then
  echo "the package is over its budget of $BUDGET_GZIP bytes gzip" >&2
  exit 1
fi
