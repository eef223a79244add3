// Browsers (and any runtime with fetch and import.meta.url): the module is fetched from next
// to this file and compiled while it streams (WebAssembly.instantiateStreaming); the
// top-level await makes the import resolve once it is ready.

import { markInitialised } from '../core.js';
import init from '../wasm/edap_js.js';

await init({ module_or_path: new URL('../wasm/edap_js_bg.wasm', import.meta.url) });
markInitialised();

export * from '../index.js';
