# shellcheck shell=bash
# Source this file (do not execute it): `. scripts/env.sh`.
# It sets the environment that builds and runs the worker fully offline:
# worker-build uses the locally installed wasm-bindgen / wasm-opt / esbuild instead of
# downloading them, and wrangler sends no telemetry and does not fetch cf.json.
# Run scripts/setup first to install the tools it points at.

_edap_env_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_edap_cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"

export EDAP_ROOT="$_edap_env_root"

case ":$PATH:" in
  *":$_edap_env_root/node_modules/.bin:"*) ;;
  *) PATH="$_edap_env_root/node_modules/.bin:$PATH" ;;
esac
case ":$PATH:" in
  *":$_edap_cargo_bin:"*) ;;
  *) PATH="$_edap_cargo_bin:$PATH" ;;
esac
export PATH

# worker-build looks up <NAME>_BIN before its cache and before downloading.
export WASM_BINDGEN_BIN="$_edap_cargo_bin/wasm-bindgen"
export WASM_OPT_BIN="$_edap_env_root/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$_edap_env_root/node_modules/.bin/esbuild"

# wrangler / miniflare: no telemetry, no error reports, no cf.json download.
export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
# The banner triggers wrangler's update check (a request to the npm registry at each start).
export WRANGLER_HIDE_BANNER=true

unset _edap_env_root _edap_cargo_bin
