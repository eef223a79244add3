// Cloudflare Workers: workerd forbids compiling WebAssembly from bytes at run time, so the
// module is imported (wrangler bundles a .wasm import as a compiled WebAssembly.Module) and
// instantiated synchronously at startup.

import wasmModule from '../wasm/edap_js_bg.wasm';
import { markInitialised } from '../core.js';
import { initSync } from '../wasm/edap_js.js';

initSync({ module: wasmModule });
markInitialised();

export * from '../index.js';
