// The console's UI: loads the JS client's WebAssembly (served beside this bundle), then
// renders the app.

import { init } from '@edap/dap';
import { render } from 'preact';
import { App } from './components/App';

async function start(): Promise<void> {
  const root = document.getElementById('app');
  if (root === null) return;
  try {
    await init(new URL('/assets/edap_js_bg.wasm', location.origin));
  } catch (e) {
    root.textContent = `The DAP client could not be loaded: ${String(e)}`;
    return;
  }
  root.textContent = '';
  render(<App />, root);
}

void start();
