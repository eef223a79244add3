// The package's figures for scripts/bench: the wasm size raw and gzip, the whole package
// gzip, and the time to build one report per VDAF in Node and in headless Chromium
// (Debian's /usr/bin/chromium through playwright-core; skipped with a note when missing).
// It prints; it asserts nothing. Run clients/js/build.sh first (scripts/bench does).

import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { measure } from './measure.mjs';
import * as wasm from '../dist/wasm/edap_js.js';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env.EDAP_CHROMIUM ?? '/usr/bin/chromium';
const quick = process.argv.includes('--quick');
const opts = quick ? { singles: 50, bulk: 200 } : { singles: 300, bulk: 1000 };

/** The wasm file's sizes, and the tarball `npm pack` would publish (gzip) and its content. */
function sizes() {
  const bytes = readFileSync(join(PACKAGE, 'dist/wasm/edap_js_bg.wasm'));
  const [pack] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--loglevel=error'], { cwd: PACKAGE, encoding: 'utf8' }),
  );
  return { wasmRaw: bytes.length, wasmGzip: gzipSync(bytes, { level: 9 }).length, pkgRaw: pack.unpackedSize, pkgGzip: pack.size, files: pack.files.length };
}

function table(title, rows) {
  console.log(title);
  console.log(`  ${'VDAF'.padEnd(40)} ${'one report'.padStart(12)} ${'in bulk'.padStart(12)} ${'bytes'.padStart(8)}`);
  for (const r of rows) {
    console.log(`  ${r.name.padEnd(40)} ${`${r.single.toFixed(3)} ms`.padStart(12)} ${`${r.bulk.toFixed(3)} ms`.padStart(12)} ${Math.round(r.bytesPerReport).toString().padStart(8)}`);
  }
}

async function inChromium() {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(PACKAGE, path);
    if (!file.startsWith(PACKAGE)) return res.writeHead(404).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/test/browser/page.html`);
    const version = browser.version();
    const rows = await page.evaluate(async (opts) => {
      const wasm = await import('/dist/wasm/edap_js.js');
      await wasm.default({ module_or_path: '/dist/wasm/edap_js_bg.wasm' });
      const { measure } = await import('/bench/measure.mjs');
      return measure(wasm, opts);
    }, opts);
    return { version, rows };
  } finally {
    await browser.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

const s = sizes();
console.log(`js package: wasm ${s.wasmRaw} bytes raw, ${s.wasmGzip} bytes gzip; npm pack tarball ${s.pkgGzip} bytes (gzip) of ${s.files} files, ${s.pkgRaw} bytes unpacked`);
wasm.initSync({ module: readFileSync(join(PACKAGE, 'dist/wasm/edap_js_bg.wasm')) });
table(`js report building, Node ${process.version} (mean of ${opts.singles} reports built one by one; per report in one request of ${opts.bulk}):`, measure(wasm, opts));
if (existsSync(CHROMIUM) && statSync(CHROMIUM).isFile()) {
  const c = await inChromium();
  table(`js report building, headless Chromium ${c.version} (same measurements):`, c.rows);
} else {
  console.log(`js report building in Chromium: skipped (${CHROMIUM} is missing; scripts/setup installs it)`);
}
