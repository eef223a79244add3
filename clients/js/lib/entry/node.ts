// Node.js (>= 20): the module is read from the package's own file and compiled
// synchronously, so the API is ready as soon as the import resolves.

import { readFileSync } from 'node:fs';
import { markInitialised } from '../core.js';
import { initSync } from '../wasm/edap_js.js';

initSync({ module: readFileSync(new URL('../wasm/edap_js_bg.wasm', import.meta.url)) });
markInitialised();

export * from '../index.js';
