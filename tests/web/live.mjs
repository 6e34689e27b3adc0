// The live view of `picosnitch dash` in headless Chromium, against a server
// whose state directory has a running monitor (t162-dash-live.sh): new
// traffic is on the page within 2 s, as exact bytes.  Prints TAP.
//
//   node tests/web/live.mjs BASE_URL TOKEN TALKER HOST PORT BYTES
import dns from 'node:dns';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import path from 'node:path';

// the server listens on 127.0.0.1; Node.js 18's fetch tries only the first
// address of "localhost", ::1 on Debian 12, where Chromium tries both
dns.setDefaultResultOrder('ipv4first');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(path.join(root, 'web/package.json'))('playwright-core');
const [base, token, talker, host, port, count] = process.argv.slice(2);

let n = 0;
function ok(cond, what, detail) {
  n++;
  console.log(`${cond ? '' : 'not '}ok ${n} - ${what}`);
  if (!cond && detail !== undefined) console.log(`#   ${JSON.stringify(detail)}`);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
page.on('pageerror', (e) => errors.push(String(e)));
const live = () => page.evaluate(() => window.picosnitchDash.live());

await page.goto(`${base}/?token=${token}`);
await page.waitForFunction(() => window.picosnitchDash);
await page.click('#tab-live');
ok(page.url().includes('view=live'), 'the Live tab puts view=live in the address', page.url());
await page.waitForFunction(() => window.picosnitchDash.live().seconds >= 2, null, { timeout: 10000 });
const before = await live();
ok(before.running === true, 'the page knows the monitor runs', before);
ok(await page.isDisabled('#period') && await page.isDisabled('#resample'),
  'the time controls do not apply to the live view');

const t0 = Date.now();
execFile(talker, ['udp-once', host, port, count]);
let shown = null;
try {
  await page.waitForFunction((exe) => {
    const t = window.picosnitchDash.live().totals[exe];
    return t && t[0] > 0;
  }, talker, { timeout: 2000, polling: 50 });
  shown = Date.now() - t0;
} catch (e) {
  shown = null;
}
ok(shown !== null, `new traffic is on the page within 2 s of being sent (${shown} ms)`);
// the rest of its second may come a tick later
await page.waitForTimeout(1200);
const after = await live();
ok(JSON.stringify(after.totals[talker]) === JSON.stringify([Number(count), 0]),
  'its bytes are exact: sent, received', { got: after.totals[talker], want: [Number(count), 0] });
const row = page.locator('#live-rows tr', { hasText: path.basename(talker) });
ok(await row.count() === 1, 'the table has a row for it');
const cells = await row.locator('td').allTextContents();
ok(cells[3] === `${(Number(count) / 1e3).toFixed(2)} kB`, 'its sent total in the table', cells);
const charts = await page.evaluate(() => window.picosnitchDash.chartData().map((c) => c.labels));
ok(charts.length === 2 && charts[0].some((l) => l.includes(path.basename(talker))),
  'the sent chart has a line for it', charts);

// LIVE_SHOT=FILE: a picture of the view for docs/dash.md
if (process.env.LIVE_SHOT) {
  await page.waitForTimeout(3000);
  await page.screenshot({ path: process.env.LIVE_SHOT, fullPage: true });
}

// its row leads to its page (once the log has it: it is written at the
// end of each window); the Live tab brings the feed back
for (let i = 0; i < 150; i++) {
  const r = await fetch(`${base}/api/executable?include=${encodeURIComponent(`executable:${talker}`)}`,
    { headers: { 'X-Picosnitch-Token': token } });
  if (r.status === 200) break;
  await new Promise((res) => setTimeout(res, 100));
}
await row.locator('button.link').click();
await page.waitForSelector('#exe-name');
ok((await page.textContent('#exe-name')) === talker, 'a live row opens the executable page');
await page.click('#exe-back');
await page.waitForFunction(() => window.picosnitchDash.live().seconds >= 1);
ok(true, 'back on the live view, the feed is read again');

// a phone
await page.setViewportSize({ width: 390, height: 844 });
await page.waitForTimeout(1200);
const wide = await page.evaluate(() => document.documentElement.scrollWidth);
ok(wide <= 390, 'at phone width nothing is wider than the screen', wide);

// a deep link opens the live view
const other = await context.newPage();
other.on('pageerror', (e) => errors.push(String(e)));
await other.goto(`${base}/#view=live`);
await other.waitForFunction(() => window.picosnitchDash && window.picosnitchDash.live().seconds >= 1);
ok(await other.evaluate(() => document.getElementById('tab-live').classList.contains('active') &&
  !document.getElementById('live').hidden), 'the address #view=live opens the live view');
await other.close();

ok(errors.length === 0, 'no console errors', errors);
await browser.close();
console.log(`1..${n}`);
