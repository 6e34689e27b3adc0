// The pages of `picosnitch dash` in headless Chromium (playwright-core from
// web/node_modules, Debian's /usr/bin/chromium), against a server that
// t161-dash-browser.sh started on a database it wrote.  Prints TAP.
//
//   node tests/web/dash.mjs BASE_URL NOW
import dns from 'node:dns';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// the server listens on 127.0.0.1; Node.js 18's fetch tries only the first
// address of "localhost", ::1 on Debian 12, where Chromium tries both
dns.setDefaultResultOrder('ipv4first');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(path.join(root, 'web/package.json'))('playwright-core');
// mode "main": every check (the server's config.json has "Dash theme":
// "darkly" and scroll zoom on); "plain": no theme, scroll zoom off
const [base, token, mode = 'main'] = process.argv.slice(2);

let n = 0;
let failed = 0;
function ok(cond, what, detail) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? '' : 'not '}ok ${n} - ${what}`);
  if (!cond && detail !== undefined) console.log(`#   ${JSON.stringify(detail)}`);
}
function is(got, want, what) {
  ok(JSON.stringify(got) === JSON.stringify(want), what, { got, want });
}

async function api(p) {
  const r = await fetch(`${base}/api/${p}`, { headers: { 'X-Picosnitch-Token': token } });
  return r.json();
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
// one browser profile: the address with the token sets the cookie for all its pages
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
page.on('pageerror', (e) => errors.push(String(e)));

async function idle() {
  await page.waitForFunction(() => window.picosnitchDash && window.picosnitchDash.idle());
  await page.waitForTimeout(50);
  await page.waitForFunction(() => window.picosnitchDash.idle());
}
const chartData = () => page.evaluate(() => window.picosnitchDash.chartData());
const sum = (a) => a.reduce((x, y) => x + (y || 0), 0);

async function wheelOnChart() {
  const box = await page.locator('.chart[data-chart="sent"] .u-over').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -300);
  await page.waitForTimeout(100);
}

if (mode === 'plain') {
  try {
    await page.goto(`${base}/?token=${token}`);
    await idle();
    is(await page.evaluate(() => document.documentElement.dataset.theme || ''), '',
      'no "Dash theme": the browser\'s light or dark preference');
    const before = (await chartData())[0].x;
    await wheelOnChart();
    is((await chartData())[0].x, before, '"Dash scroll zoom": false: the wheel does not zoom');
    is(errors, [], 'no console errors or warnings');
  } catch (e) {
    ok(false, `the page works (${e.message.split('\n')[0]})`);
  } finally {
    await browser.close();
  }
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}

try {
  // ---- the first page: executables over all of the history ----
  const fresh = await browser.newPage();
  await fresh.goto(`${base}/`);
  is(await fresh.textContent('h1'), 'picosnitch', 'without the token: a page that says where the key is');
  ok(!(await fresh.content()).includes('picosnitch-token'), '  and nothing else', null);
  await fresh.close();
  await page.goto(`${base}/?token=${token}`);
  await idle();
  is(page.url(), `${base}/`, 'the address with the token: the page, the token gone from the address bar');
  let charts = await chartData();
  const groups = await api('groups?dim=executable');
  is(charts.length, 2, 'two charts: sent and received');
  is(charts[0].labels.map((l) => l.replace(/ \([^(]*\)$/, '')).sort(),
    groups.rows.map((r) => r.value.text.replace('\n', '\\u{a}')).sort(),
    'one line per executable, named by its value (a newline as \\u{a})');
  const perLine = (c) => c.data.slice(1).map(sum);
  is(sum(perLine(charts[0])), groups.sent, 'the sent chart sums to the query layer\'s total sent');
  is(sum(perLine(charts[1])), groups.received, 'the received chart sums to the total received');
  const curl = groups.rows.find((r) => r.value.text === '/usr/bin/curl');
  const i = charts[0].labels.findIndex((l) => l.startsWith('/usr/bin/curl '));
  is([perLine(charts[0])[i], perLine(charts[1])[i]], [curl.sent, curl.received],
    'curl\'s lines sum to its totals');
  is(charts[0].labels[i], '/usr/bin/curl (1.20 kB)', 'the legend gives each line\'s total');

  // ---- theme, zoom, legend ----
  is(await page.evaluate(() => [document.documentElement.dataset.theme,
    getComputedStyle(document.body).backgroundColor]), ['darkly', 'rgb(34, 34, 34)'],
  '"Dash theme": "darkly" colours the page');
  const full = (await chartData())[0].x;
  await wheelOnChart();
  charts = await chartData();
  ok(charts[0].x[1] - charts[0].x[0] < full[1] - full[0], 'the wheel zooms the time axis',
    { full, zoomed: charts[0].x });
  is(charts[1].x, charts[0].x, 'zoom on one chart is zoom on the other');
  await page.dblclick('.chart[data-chart="received"] .u-over');
  await page.waitForTimeout(100);
  is((await chartData())[0].x, full, 'double-click resets both');
  await page.click('.chart[data-chart="sent"] .u-legend .u-series:nth-child(2)');
  charts = await chartData();
  is([charts[0].shown[0], charts[1].shown[0]], [false, false],
    'turning a line off in one legend turns it off in both');
  await page.selectOption('#period', '15');
  await idle();
  await page.selectOption('#period', '0');
  await idle();
  charts = await chartData();
  is([charts[0].shown[0], charts[1].shown[0]], [false, false], '  and it stays off across reloads');
  await page.click('.chart[data-chart="sent"] .u-legend .u-series:nth-child(2)');

  // ---- resampling, smoothing, label trimming ----
  await page.selectOption('#period', '7');	// 1 hour
  await idle();
  await page.selectOption('#resample', '900');	// 15 min
  await idle();
  charts = await chartData();
  is(charts[0].data[0][2] - charts[0].data[0][1], 900, 'resample 15 min: buckets of 15 minutes');
  ok([4, 5].includes(charts[0].data[0].length), '  an hour in 4 (or 5, cut at round times)', charts[0].data[0].length);
  is(sum(charts[0].data.slice(1).map(sum)), (await api(`groups?dim=executable&from=${Math.floor(Date.now() / 1000) + 1 - 3600}`)).sent,
    '  still summing to the API\'s total');
  ok(page.url().includes('resample=900'), '  the URL holds it', page.url());
  const raw = charts[0].data.slice(1);
  await page.selectOption('#smooth', '3');
  await idle();
  const sm = (await chartData())[0].data.slice(1);
  const avg = raw.map((p) => p.map((_, i) => {
    const w = p.slice(Math.max(0, i - 1), i + 2);
    return w.reduce((a, b) => a + b, 0) / w.length;
  }));
  is(sm, avg, 'smooth 3: each point is the mean of itself and its neighbours');
  await page.selectOption('#smooth', '0');
  await page.selectOption('#resample', '0');
  await page.selectOption('#period', '0');
  await idle();
  await page.selectOption('#dim', 'cmdline');
  await idle();
  is((await chartData())[0].labels.find((l) => l.startsWith('rsync')),
    'rsync -a --delete --exclude=.cac…ample.org:/srv/backups/alice/ (5.00 MB)', 'long labels keep their first 32 and last 29 characters');
  await page.uncheck('#trim');
  await idle();
  is((await chartData())[0].labels.find((l) => l.startsWith('rsync')),
    'rsync -a --delete --exclude=.cache /home/alice/ backup.example.org:/srv/backups/alice/ (5.00 MB)',
    '"trim labels" off: whole');
  await page.check('#trim');
  await page.selectOption('#dim', 'executable');
  await idle();

  // ---- group by another dimension ----
  await page.selectOption('#dim', 'remote_port');
  await idle();
  charts = await chartData();
  is(charts[0].labels.map((l) => l.replace(/ \(.*\)$/, '')).sort(), ['(none)', '22', '443', '53'],
    'group by remote port: one line per port');
  ok(page.url().includes('dim=remote_port'), 'the URL holds the grouping', page.url());

  // ---- time ranges and history ----
  await page.selectOption('#period', '7');	// 1 hour
  await idle();
  const hour = await api(`groups?dim=remote_port&from=${Math.floor(Date.now() / 1000) + 1 - 3600}`);
  charts = await chartData();
  is(sum(charts[0].data.slice(1).map(sum)), hour.sent, 'the last hour: the chart sums to the API\'s');
  is(await page.textContent('#window'), 'the last 1 hour', 'the window is named');
  await page.click('#back');
  await idle();
  ok(/→/.test(await page.textContent('#window')), 'back: the window shows its start and end',
    await page.textContent('#window'));
  ok(page.url().includes('back=1'), 'the URL holds the step back', page.url());
  await page.click('#forward');
  await idle();
  is(await page.textContent('#window'), 'the last 1 hour', 'forward: the present again');
  await page.selectOption('#period', '0');
  await idle();

  // ---- filters ----
  await page.selectOption('#dim', 'executable');
  await idle();
  await page.selectOption('#where-dim', 'name');
  await page.waitForFunction(() => document.querySelectorAll('#where-value option').length > 1);
  await page.selectOption('#where-value', { label: 'curl' });
  await page.click('#where-include');
  await idle();
  charts = await chartData();
  is(charts[0].labels, ['/usr/bin/curl (1.20 kB)'], 'where name is curl: only curl');
  is(await page.textContent('#filters .chip'), 'Process name = curl ×', 'the filter is shown');
  ok(page.url().includes('include=name%3Acurl'), 'the URL holds the filter', page.url());
  await page.click('#filters .chip button');
  await idle();
  is((await chartData())[0].labels.length, 4, 'removing the filter brings the others back');
  await page.selectOption('#where-value', { label: 'curl' });
  await page.click('#where-exclude');
  await idle();
  ok(!(await chartData())[0].labels.some((l) => l.startsWith('/usr/bin/curl')),
    'leave out: curl is gone');
  await page.click('#filters .chip button');
  await idle();

  // ---- the table ----
  await page.click('#tab-table');
  await idle();
  const rows = () => page.$$eval('#rows tr', (trs) => trs.map((tr) => [tr.querySelector('button.link').textContent,
    ...[...tr.children].slice(1, 3).map((td) => td.textContent)]));
  let t = await rows();
  is(t[0], ['/usr/bin/rsync', '5.00 MB', '10.00 MB'], 'the table: the busiest first');
  is(t.length, 4, 'one row per executable');
  await page.click('th[data-sort="sent"]');
  await idle();
  await page.click('th[data-sort="sent"]');
  await idle();
  t = await rows();
  is(t.map((r) => r[1]), ['77 B', '1.20 kB', '2.00 kB', '5.00 MB'], 'sort by sent, ascending');
  await page.fill('#search', 'CURL');
  await idle();
  is((await rows()).map((r) => r[0]), ['/usr/bin/curl'], 'search (case ignored)');
  ok(page.url().includes('search=CURL'), 'the URL holds the search', page.url());
  await page.fill('#search', '');
  await idle();
  const evil = (await rows()).find((r) => r[0].startsWith('/opt/evil'));
  is(evil[0], '/opt/evil\\u{a}path\\xff<script>alert(1)</script>',
    'a hostile name is text, not HTML; its newline shows as \\u{a}, its bad byte as \\xff');
  is(await page.$$eval('script', (s) => s.length), 1, 'no script element came from the data');
  await page.click('#rows tr:has-text("rsync") button.link');
  await idle();
  is((await rows()).map((r) => r[0]), ['/usr/bin/rsync'], 'clicking a value filters on it');

  // ---- a deep link restores the view ----
  const link = page.url();
  const page2 = await context.newPage();
  page2.on('pageerror', (e) => errors.push(String(e)));
  await page2.goto(link);
  await page2.waitForFunction(() => window.picosnitchDash && window.picosnitchDash.idle() && document.querySelectorAll('#rows tr').length);
  is(await page2.$$eval('#rows tr button.link', (b) => b.map((x) => x.textContent)), ['/usr/bin/rsync'],
    'a deep link opens the same table with the same filter');
  is(await page2.inputValue('#dim'), 'executable', '  and the same grouping');
  await page2.close();

  // ---- an executable's page ----
  await page.click('#filters .chip button');
  await idle();
  await page.click('#rows tr:has-text("/usr/bin/curl") button.details');
  await page.waitForFunction(() => document.querySelector('#exe-name'));
  await idle();
  const exe = await api('executable?include=executable:/usr/bin/curl');
  is(await page.textContent('#exe-name'), '/usr/bin/curl', 'details: the executable\'s page');
  is(await page.textContent('.facts'), `first seen ${new Date(exe.first * 1000).toLocaleString()} · last seen ${new Date(exe.last * 1000).toLocaleString()} · 1.20 kB sent, 34.00 kB received, 2 connections`,
    '  when it was first and last seen, and its totals');
  is(await page.$$eval('section[data-list="remote_ports"] td.value', (t) => t.map((x) => x.textContent)), ['443'],
    '  the ports it talked to');
  is(await page.$$eval('section[data-list="users"] td.value', (t) => t.map((x) => x.textContent)), [exe.users.rows[0].value.user + ` (${exe.users.rows[0].value.num})`],
    '  its users, by name');
  const c = await chartData();
  is([sum(c[0].data[1]), sum(c[0].data[2])], [1200, 34000], '  its traffic over time sums to its totals');
  ok(page.url().includes('exe=%2Fusr%2Fbin%2Fcurl'), '  the URL holds it', page.url());
  await page.click('#exe-back');
  await idle();
  ok(await page.isVisible('#table') && !(await page.isVisible('#exe-page')), 'back: the table again');

  // ---- phone width ----
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('#tab-charts');
  await idle();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  ok(overflow <= 0, 'at phone width nothing is wider than the screen', overflow);
  is((await chartData()).length, 2, '  and the charts are drawn');

  is(errors, [], 'no console errors or warnings');
} catch (e) {
  ok(false, `the page works (${e.message.split('\n')[0]})`);
} finally {
  await browser.close();
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
