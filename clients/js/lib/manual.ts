// `@edap/dap/manual`: the API without automatic initialisation, for platforms the default
// entry points do not cover (a bundler that cannot import .wasm files, a Content Security
// Policy that wants the module from elsewhere): `await init(source)` before anything else.

import { isInitialised, markInitialised } from './core.js';
import initWasm, { initSync as initWasmSync } from './wasm/edap_js.js';

export * from './index.js';

/** What init() accepts: the module's URL, a Response, its bytes or a compiled module. */
export type WasmSource = URL | string | Response | BufferSource | WebAssembly.Module;

/** Instantiates the WebAssembly core (once; later calls do nothing). */
export async function init(source: WasmSource | Promise<WasmSource>): Promise<void> {
  if (isInitialised()) return;
  await initWasm({ module_or_path: source });
  markInitialised();
}

/** Instantiates the WebAssembly core synchronously from its bytes or a compiled module. */
export function initSync(source: BufferSource | WebAssembly.Module): void {
  if (isInitialised()) return;
  initWasmSync({ module: source });
  markInitialised();
}
