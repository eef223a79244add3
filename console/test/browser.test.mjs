// The console in headless Chromium, as a new subscriber uses it: sign up, create a collector
// credential (and download its key file, and import another one), create a Histogram task
// with labels, copy the JavaScript snippet, collect too early (told why, with the count),
// run the snippet (in Node, with the @edap/dap package) to send 200 measurements, open the
// task, collect, and check that the chart shows the known counts; then a time series over
// three windows. A screenshot of every step goes to the directory the parameters name, for
// a person to look at.
//
// Run by console/tests/browser.rs, which starts a Leader, a Helper and the console under
// `wrangler dev` and writes the parameters (EDAP_CONSOLE_TEST_PARAMS). Chromium is
// Debian's (/usr/bin/chromium), driven by playwright-core; nothing is downloaded.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const run = promisify(execFile);
const paramsFile = process.env.EDAP_CONSOLE_TEST_PARAMS;
const params = paramsFile ? JSON.parse(readFileSync(paramsFile, 'utf8')) : undefined;
const CHROMIUM = process.env.EDAP_CHROMIUM ?? '/usr/bin/chromium';
const skip = params === undefined ? 'needs the servers of console/tests/browser.rs' : false;

const LABELS = ['red', 'green', 'blue', 'yellow', 'purple'];
/** 200 measurements (option indexes) with known counts per option. */
const MEASUREMENTS = Array.from({ length: 200 }, (_, i) => (i < 37 ? 0 : i < 100 ? 1 : i < 111 ? 2 : i < 113 ? 3 : 4));
const EXPECTED = LABELS.map((_, b) => MEASUREMENTS.filter((m) => m === b).length);
const PRECISION = 3600;

/** `YYYY-MM-DDTHH:MM` in UTC (the browser context runs in UTC). */
function utcInput(secs) {
  return new Date(secs * 1000).toISOString().slice(0, 16);
}

describe('the console in headless Chromium', { skip }, () => {
  let browser;
  let page;
  let shot = 0;
  const errors = [];

  const screenshot = async (name) => {
    shot += 1;
    const file = join(params.screenshots, `${String(shot).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/setup installs Debian's chromium`);
    mkdirSync(params.screenshots, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60_000,
      // No network here: without these Chromium keeps trying to reach Google's services.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ timezoneId: 'UTC', viewport: { width: 1200, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: params.consoleUrl });
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (e) => errors.push(String(e)));
  });

  after(async () => {
    await browser?.close();
  });

  test('from sign-up to a chart of the collected results', { timeout: 420_000 }, async () => {
    const u = params.consoleUrl;
    // 1. Sign up: first with bad values (inline messages), then properly.
    await page.goto(`${u}/signup`);
    await page.fill('#f-email', 'not-an-email');
    await page.fill('#f-password', 'short');
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-error-for=email]');
    assert.match(await page.textContent('[data-error-for=password]'), /at least 10/);
    await screenshot('sign-up-bad-input');
    await page.fill('#f-email', `ann.${Date.now()}@example.com`);
    await page.fill('#f-password', 'a long enough passphrase');
    await page.fill('#f-account_name', 'Ann’s team');
    await page.click('button[type=submit]');
    await page.waitForSelector('text=Getting started');
    await screenshot('signed-up');

    // 2. A collector credential, generated in the browser.
    await page.click('nav >> text=Collector credentials');
    await page.fill('#new-credential #f-name', 'Ann’s key');
    await page.click('#new-credential button[type=submit]');
    await page.waitForSelector('text=Created Ann’s key');
    await page.waitForSelector('[data-credential] .tag.ok');
    await screenshot('credential-created');
    // Its backup: the key file downloads in edap hpke-keygen's format and loads again.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-credential] >> text=Download key file')]);
    const keyFile = readFileSync(await download.path(), 'utf8');
    const { CollectorKeyPair } = await import(join(params.packageDir, 'dist/entry/node.js'));
    const publicConfig = CollectorKeyPair.fromKeyFile(keyFile).publicConfig;
    assert.match(await page.textContent('[data-credential] .small'), new RegExp(publicConfig.slice(0, 16)));
    // Importing an existing key file (as edap hpke-keygen writes) makes a second credential.
    await page.check('input[name=mode] >> nth=1');
    await page.fill('#new-credential #f-name', 'Imported key');
    await page.fill('#f-key_file', CollectorKeyPair.generate({ configId: 9 }).toKeyFile());
    await page.click('#new-credential button[type=submit]');
    await page.waitForSelector('text=Created Imported key');
    await page.waitForFunction(() => document.querySelectorAll('[data-credential] .tag.ok').length === 2);

    // 3. The task wizard: empty first (inline messages, nothing stored), then a histogram.
    await page.click('nav >> text=Tasks');
    await page.click('text=New task');
    await page.waitForSelector('#task-wizard');
    await page.fill('#f-min_batch_size', '0');
    await page.click('#task-wizard button[type=submit]');
    await page.waitForSelector('[data-error-for=name]');
    for (const f of ['name', 'kind', 'min_batch_size']) {
      assert.ok(await page.isVisible(`[data-error-for=${f}]`), `no inline message for ${f}`);
    }
    await screenshot('wizard-bad-input');
    await page.fill('#f-name', 'Favourite colour');
    await page.check('input[name=kind][value=histogram]');
    await page.fill('#f-labels', LABELS.join('\n'));
    await page.fill('#f-min_batch_size', '100');
    await screenshot('wizard-filled');
    await page.click('#task-wizard button[type=submit]');
    await page.waitForSelector('#snippets', { timeout: 60_000 });
    await screenshot('task-created');

    // 4. Copy the JavaScript snippet.
    await page.click('[data-copy=js]');
    await page.waitForSelector('text=Copied.');
    const snippet = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(snippet, (await page.textContent('[data-snippet=js] code')).trim() + '\n');
    assert.match(snippet, /^import \{ Task \} from '@edap\/dap';\nawait new Task\(\{.*\}\)\.sendMeasurement\(0\);/);
    await screenshot('snippet-copied');
    // Collecting before any report arrived says why it cannot, with the count.
    await page.click('#collect button[type=submit]');
    await page.waitForSelector('#collect >> text=Not ready');
    assert.match(await page.textContent('#collect .notice'), /needs at least 100 reports, and the Leader has aggregated 0 reports/);
    await screenshot('not-ready');

    // 5. Run the snippet 200 times, with the measurement in place of its example.
    const dir = join(params.scratch, 'snippet');
    mkdirSync(join(dir, 'node_modules', '@edap'), { recursive: true });
    if (!existsSync(join(dir, 'node_modules', '@edap', 'dap'))) symlinkSync(params.packageDir, join(dir, 'node_modules', '@edap', 'dap'));
    const [importLine, call] = snippet.split('\n');
    assert.ok(call.includes('.sendMeasurement(0);'));
    const program = `${importLine}\nfor (const measurement of ${JSON.stringify(MEASUREMENTS)}) {\n  ${call.replace('.sendMeasurement(0);', '.sendMeasurement(measurement);')}\n}\n`;
    writeFileSync(join(dir, 'send.mjs'), program);
    const sentFrom = Math.floor(Date.now() / 1000);
    await run('node', ['send.mjs'], { cwd: dir, timeout: 180_000 });
    const sentTo = Math.floor(Date.now() / 1000);

    // 6. The task page: the Leader's counters reach 200 aggregated (bounded wait).
    await page.reload();
    await page.waitForSelector('#metrics [data-metric=aggregated] b');
    const deadline = Date.now() + 120_000;
    for (;;) {
      const n = (await page.textContent('#metrics [data-metric=aggregated] b')).replace(/,/g, '');
      if (Number(n) >= MEASUREMENTS.length) break;
      assert.ok(Date.now() < deadline, `only ${n} reports aggregated`);
      await page.waitForTimeout(1000);
      await page.click('#metrics button');
    }
    assert.equal((await page.textContent('#metrics [data-metric=accepted] b')).replace(/,/g, ''), '200');
    await screenshot('metrics');

    // 7. Collect the time windows the reports went into.
    const from = Math.floor(sentFrom / PRECISION) * PRECISION;
    const to = Math.max(Math.ceil((sentTo + 1) / PRECISION) * PRECISION, from + PRECISION);
    await page.fill('#f-from', utcInput(from));
    await page.fill('#f-to', utcInput(to));
    await page.click('#collect button[type=submit]');
    await page.waitForSelector('canvas[data-chart=latest][data-values]', { timeout: 120_000 });
    await page.waitForSelector('text=200 reports collected');

    // 8. The chart shows the known counts.
    const values = JSON.parse(await page.getAttribute('canvas[data-chart=latest]', 'data-values'));
    const labels = JSON.parse(await page.getAttribute('canvas[data-chart=latest]', 'data-labels'));
    assert.deepEqual(labels, LABELS);
    assert.deepEqual(values, [EXPECTED]);
    const row = await page.$$eval('#results-table tbody tr:first-child td.num', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(row, ['200', ...EXPECTED.map(String)]);
    await screenshot('results');

    // 9. A time series: measurements dated in the two windows before (sent with the package
    // itself, the snippet's Task from the task file), collected one batch per window.
    const cli = await page.textContent('[data-snippet=cli] code');
    const taskFile = JSON.parse(cli.slice(cli.indexOf('{'), cli.indexOf('\nEOF')));
    const earlier = [
      { time: from - 2 * PRECISION + 60, ms: Array.from({ length: 150 }, (_, i) => i % 5) },
      { time: from - PRECISION + 60, ms: Array.from({ length: 120 }, (_, i) => (i % 4 === 0 ? 4 : i % 2)) },
    ];
    writeFileSync(
      join(dir, 'send-earlier.mjs'),
      `import { Task } from '@edap/dap';\nconst task = Task.fromEncoded(${JSON.stringify(taskFile.task_config)}, ${JSON.stringify(taskFile.task_id)});\n` +
        earlier.map((e) => `await task.sendMeasurements(${JSON.stringify(e.ms)}, { time: ${e.time} });`).join('\n') + '\n',
    );
    await run('node', ['send-earlier.mjs'], { cwd: dir, timeout: 120_000 });
    const total = MEASUREMENTS.length + earlier.reduce((n, e) => n + e.ms.length, 0);
    const deadline2 = Date.now() + 120_000;
    for (;;) {
      await page.click('#metrics button');
      await page.waitForTimeout(1000);
      const n = (await page.textContent('#metrics [data-metric=aggregated] b')).replace(/,/g, '');
      if (Number(n) >= total) break;
      assert.ok(Date.now() < deadline2, `only ${n} of ${total} reports aggregated`);
    }
    await page.fill('#f-from', utcInput(from - 2 * PRECISION));
    await page.fill('#f-to', utcInput(from));
    await page.selectOption('#f-split', 'each');
    await page.click('#collect button[type=submit]');
    await page.waitForSelector('canvas[data-chart=series][data-values]', { timeout: 120_000 });
    await page.waitForFunction(() => document.querySelectorAll('#results-table tbody tr').length === 3);
    const counts = (ms) => LABELS.map((_, b) => ms.filter((m) => m === b).length);
    const byWindow = [counts(earlier[0].ms), counts(earlier[1].ms), EXPECTED];
    const series = JSON.parse(await page.getAttribute('canvas[data-chart=series]', 'data-values'));
    assert.deepEqual(series, LABELS.map((_, b) => byWindow.map((w) => w[b])));
    const latest = JSON.parse(await page.getAttribute('canvas[data-chart=latest]', 'data-values'));
    assert.deepEqual(latest, [EXPECTED], 'the latest batch is the newest window');
    const file = await screenshot('time-series');
    if (params.readmeScreenshot) {
      await page.locator('main').screenshot({ path: params.readmeScreenshot });
    }
    console.log(`screenshots in ${params.screenshots} (last: ${file})`);
    assert.deepEqual(errors, []);
  });
});
