// Screenshots of `picosnitch dash` for docs/dash.md, taken with the same
// browser as the tests:  node tests/web/screenshots.mjs BASE_URL OUTDIR
// (the pictures in docs/ were taken on a database of bench/querygen.c).
import dns from 'node:dns';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// the server listens on 127.0.0.1; Node.js 18's fetch tries only the first
// address of "localhost", ::1 on Debian 12, where Chromium tries both
dns.setDefaultResultOrder('ipv4first');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(path.join(root, 'web/package.json'))('playwright-core');
const [base, token, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run'],
});
const shots = [
  ['dash-charts.png', 1280, 900, '#dim=executable&period=13&back=50', false],
  ['dash-table.png', 1280, 700, '#dim=remote_address&period=14&back=11&view=table&sort=sent', false],
  ['dash-phone.png', 390, 844, '#dim=domain&period=14&back=11', false],
];
const context = await browser.newContext();
const login = await context.newPage();
await login.goto(`${base}/?token=${token}`);
await login.close();
for (const [file, width, height, hash, full] of shots) {
  const page = await context.newPage();
  await page.setViewportSize({ width, height });
  await page.goto(`${base}/${hash}`);
  await page.waitForFunction(() => window.picosnitchDash && window.picosnitchDash.idle());
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(out, file), fullPage: full });
  await page.close();
}
await browser.close();
