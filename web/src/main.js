// The pages of `picosnitch dash`: one page, its state in the URL (so a view
// can be bookmarked or shared), drawn from the JSON API (docs/api.md).
// Values come from programs on the monitored machine and may be anything:
// they are only ever inserted as text (textContent, option labels), never
// as HTML.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';

const PERIODS = [
  ['all', 0], ['1 minute', 60], ['3 minutes', 180], ['5 minutes', 300],
  ['10 minutes', 600], ['15 minutes', 900], ['30 minutes', 1800], ['1 hour', 3600],
  ['3 hours', 10800], ['6 hours', 21600], ['12 hours', 43200], ['1 day', 86400],
  ['3 days', 259200], ['7 days', 604800], ['30 days', 2592000], ['365 days', 31536000],
];
const DIM_LABELS = {
  executable: 'Executable', name: 'Process name', cmdline: 'Command', sha256: 'SHA256',
  parent_executable: 'Parent executable', parent_name: 'Parent name',
  parent_cmdline: 'Parent command', parent_sha256: 'Parent SHA256',
  grandparent_executable: 'Grandparent executable', user: 'User', local_port: 'Local port',
  remote_port: 'Remote port', local_address: 'Local address', remote_address: 'Remote address',
  domain: 'Domain', country: 'Country', asn: 'Network owner', protocol: 'Protocol',
  netns: 'Network namespace', time: 'Entry time', service: 'Service',
  domain_source: 'Domain source', host: 'Host',
};
const REFRESH = [['off', 0], ['5 s', 5], ['10 s', 10], ['30 s', 30], ['1 min', 60]];
// bucket lengths of the charts ("resample"); auto: about 4 pixels each
const RESAMPLE = [['auto', 0], ['1 min', 60], ['5 min', 300], ['15 min', 900], ['1 hour', 3600],
  ['6 hours', 21600], ['1 day', 86400]];
// centred moving averages over this many buckets
const SMOOTH = [['off', 0], ['3', 3], ['5', 5], ['9', 9], ['15', 15]];
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1',
  '#ff9da7', '#9c755f', '#bab0ac', '#8c8c8c'];
const TOP = 10;

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// ---- state, in the URL's fragment ----

const state = {
  dim: 'executable', period: 0, back: 0, view: 'charts', refresh: 0, resample: 0, smooth: 0,
  trim: true,
  sort: 'total', order: 'desc', search: '', filters: [],
  exe: null,	// the executable whose page is shown: {kind: 'text'|'hex', value}
};

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  state.dim = DIM_LABELS[p.get('dim')] ? p.get('dim') : 'executable';
  const period = Number(p.get('period'));
  state.period = Number.isInteger(period) && period >= 0 && period < PERIODS.length ? period : 0;
  const back = Number(p.get('back'));
  state.back = state.period && Number.isInteger(back) && back > 0 ? Math.min(back, 100000) : 0;
  state.view = ['table', 'live'].includes(p.get('view')) ? p.get('view') : 'charts';
  const refresh = Number(p.get('refresh'));
  state.refresh = REFRESH.some(([, s]) => s === refresh) ? refresh : 0;
  const resample = Number(p.get('resample'));
  state.resample = RESAMPLE.some(([, s]) => s === resample) ? resample : 0;
  const smooth = Number(p.get('smooth'));
  state.smooth = SMOOTH.some(([, s]) => s === smooth) ? smooth : 0;
  state.trim = p.get('trim') !== '0';
  state.sort = ['total', 'sent', 'received', 'value'].includes(p.get('sort')) ? p.get('sort') : 'total';
  state.order = p.get('order') === 'asc' ? 'asc' : 'desc';
  state.search = p.get('search') || '';
  state.exe = p.has('exe') ? { kind: 'text', value: p.get('exe') }
    : p.has('exe_hex') ? { kind: 'hex', value: p.get('exe_hex') } : null;
  state.filters = [];
  for (const kind of ['include', 'exclude', 'include_hex', 'exclude_hex']) {
    for (const f of p.getAll(kind)) {
      const i = f.indexOf(':');
      if (i > 0 && DIM_LABELS[f.slice(0, i)] && state.filters.length < 32) {
        state.filters.push({ kind, dim: f.slice(0, i), value: f.slice(i + 1) });
      }
    }
  }
}

function writeHash() {
  const p = new URLSearchParams();
  p.set('dim', state.dim);
  p.set('period', state.period);
  if (state.back) p.set('back', state.back);
  if (state.view !== 'charts') p.set('view', state.view);
  if (state.refresh) p.set('refresh', state.refresh);
  if (state.resample) p.set('resample', state.resample);
  if (state.smooth) p.set('smooth', state.smooth);
  if (!state.trim) p.set('trim', '0');
  if (state.sort !== 'total') p.set('sort', state.sort);
  if (state.order !== 'desc') p.set('order', state.order);
  if (state.search) p.set('search', state.search);
  for (const f of state.filters) p.append(f.kind, `${f.dim}:${f.value}`);
  if (state.exe) p.set(state.exe.kind === 'hex' ? 'exe_hex' : 'exe', state.exe.value);
  const hash = '#' + p.toString();
  if (location.hash !== hash) history.pushState(null, '', hash);
}

// ---- formatting ----

function bytes(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + ' GB';
  if (n >= 1e6) return (n / 1e6).toFixed(2) + ' MB';
  if (n >= 1e3) return (n / 1e3).toFixed(2) + ' kB';
  return n + ' B';
}

// long labels keep their start and end (like the terminal view); the
// "trim labels" box turns it off for legends
function trim(s, force) {
  return (force || state.trim) && s.length > 64 ? s.slice(0, 32) + '…' + s.slice(-29) : s;
}

// the centred moving average of n buckets (fewer at the edges)
function smooth(points, n) {
  if (!n) return points;
  const h = Math.floor(n / 2);
  return points.map((_, i) => {
    let sum = 0;
    let k = 0;
    for (let j = Math.max(0, i - h); j <= Math.min(points.length - 1, i + h); j++, k++) sum += points[j];
    return sum / k;
  });
}

// what a value looks like: controls, format characters (bidi overrides,
// zero-width) and line separators as \u{...}, and (as in the terminal
// view) a backslash doubled unless the server already escaped the value
function visible(v) {
  const t = v.hex !== undefined ? v.text : v.text.replace(/\\/g, '\\\\');
  return t.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);
}

function shown(dim, v) {
  if (v === null) return 'other';
  if (dim === 'time') return new Date(v.num * 1000).toLocaleString();
  if (dim === 'user') return v.user ? `${v.user} (${v.num})` : v.num < 0 ? 'unknown' : `??? (${v.num})`;
  if ((dim === 'local_port' || dim === 'remote_port') && v.num < 0) return '(none)';
  if (dim === 'netns' && v.num === 4026531840) return 'host';
  // a remote address with GeoIP: "US 8.8.8.8 · AS15169 Google LLC"
  if (v.country !== undefined && v.text !== '') return `${v.country} ${visible(v)} · ${visible({ text: v.owner })}`;
  return v.text === '' ? '(none)' : visible(v);
}

// where countries and network owners come from, as their licences ask
function geoCredits(geo) {
  if (!geo) return '';
  const c = /dbip-country-lite/.test(geo.countries) ? 'IP Geolocation by DB-IP (dbip.com, CC BY 4.0)'
    : /geo-whois-asn-country/.test(geo.countries) ? '@ip-location-db/geo-whois-asn-country (CC0)'
      : geo.countries ? geo.countries : 'none';
  const o = geo.owners ? '@ip-location-db/asn (CC BY 4.0: RouteViews, DB-IP)' : 'none';
  return ` · countries: ${c} · network owners: ${o}`;
}

function when(t) {
  return new Date(t * 1000).toLocaleString();
}

// ---- the API ----

function windowParams(p) {
  const len = PERIODS[state.period][1];
  if (!len) return;
  const to = Math.floor(Date.now() / 1000) + 1 - state.back * len;
  p.set('from', to - len);
  p.set('to', to);
}

function selectParams(dim) {
  const p = new URLSearchParams();
  p.set('dim', dim);
  windowParams(p);
  for (const f of state.filters) p.append(f.kind, `${f.dim}:${f.value}`);
  return p;
}

async function api(path, params) {
  const r = await fetch(`/api/${path}${params ? '?' + params : ''}`, { cache: 'no-store' });
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || `HTTP ${r.status}`);
  return j;
}

// how many buckets the charts ask for: by the chosen length, or ~4 px each
function buckets() {
  const auto = Math.max(10, Math.min(500, Math.floor($('charts').clientWidth / 4)));
  const len = PERIODS[state.period][1] || (lastBounds ? lastBounds[1] - lastBounds[0] + 1 : 0);
  if (!state.resample || !len) return auto;
  return Math.max(1, Math.min(10000, Math.ceil(len / state.resample)));
}
let lastBounds = null;

// ---- drawing ----

let charts = [];
let lastSeries = null;

function showError(msg) {
  const b = $('error');
  b.textContent = msg;
  b.hidden = !msg;
}

function drawControls() {
  $('dim').value = state.dim;
  $('period').value = String(state.period);
  $('refresh').value = String(state.refresh);
  $('resample').value = String(state.resample);
  $('smooth').value = String(state.smooth);
  $('trim').checked = state.trim;
  const len = PERIODS[state.period][1];
  $('back').disabled = !len;
  $('forward').disabled = !len || !state.back;
  if (!len) {
    $('window').textContent = 'all of the history';
  } else {
    const to = Math.floor(Date.now() / 1000) + 1 - state.back * len;
    $('window').textContent = state.back ? `${when(to - len)} → ${when(to)}` : `the last ${PERIODS[state.period][0]}`;
  }
  $('tab-charts').classList.toggle('active', state.view === 'charts');
  $('tab-table').classList.toggle('active', state.view === 'table');
  $('tab-live').classList.toggle('active', state.view === 'live');
  $('charts').hidden = !!state.exe || state.view !== 'charts';
  $('table').hidden = !!state.exe || state.view !== 'table';
  $('live').hidden = !!state.exe || state.view !== 'live';
  // the live view has its own clock: the window and its controls do not apply
  for (const id of ['period', 'resample', 'smooth', 'where-include', 'where-exclude']) {
    $(id).disabled = state.view === 'live';
  }
  if (state.view === 'live') $('back').disabled = $('forward').disabled = true;
  $('exe-page').hidden = !state.exe;
  document.querySelector('nav').hidden = !!state.exe;
  $('search').value = state.search;
  const list = $('filters');
  list.replaceChildren();
  state.filters.forEach((f, i) => {
    const op = f.kind.startsWith('include') ? '=' : '≠';
    const value = f.kind.endsWith('_hex') ? `(bytes ${f.value})` : visible({ text: f.value });
    list.append(el('span', { class: 'chip' }, `${DIM_LABELS[f.dim]} ${op} ${trim(value, true)} `,
      el('button', { 'aria-label': 'remove filter', title: 'remove', onclick: () => {
        state.filters.splice(i, 1);
        update();
      } }, '×')));
  });
}

// ---- the charts: zoom mirrored, legend choices remembered ----

const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || '';
const hidden = new Set();	// "dim\0value" of lines the user turned off
let zooming = false;

// the same x range on every chart (drag to zoom, double-click to reset)
function mirrorZoom(u) {
  if (zooming) return;
  zooming = true;
  const { min, max } = u.scales.x;
  for (const c of charts) if (c !== u) c.setScale('x', { min, max });
  zooming = false;
}

// the mouse wheel zooms the time axis around the pointer ("Dash scroll zoom")
function wheelZoom(u) {
  u.over.addEventListener('wheel', (e) => {
    e.preventDefault();
    const { min, max } = u.scales.x;
    const [lo, hi] = [u.data[0][0], u.data[0][u.data[0].length - 1]];
    const at = u.posToVal(e.offsetX, 'x');
    const f = e.deltaY < 0 ? 0.75 : 1 / 0.75;
    const nmin = Math.max(lo, at - (at - min) * f);
    const nmax = Math.min(hi, at + (max - at) * f);
    if (nmax - nmin > 1) u.setScale('x', { min: nmin, max: nmax });
  }, { passive: false });
}

function chartOpts(title, width, series, dim, lines) {
  return {
    title, width, height: 280,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.05 : 1] } },
    axes: [{}, { values: (u, ticks) => ticks.map(bytes), size: 80 }],
    cursor: { sync: { key: 'picosnitch', setSeries: true } },
    series: [{}, ...series],
    hooks: {
      setScale: [(u, key) => { if (key === 'x') mirrorZoom(u); }],
      setSeries: [(u, i, opts) => {
        if (i == null || opts.show === undefined) return;
        const key = dim + '\0' + lineKey(lines[i - 1]);
        if (opts.show) hidden.delete(key); else hidden.add(key);
      }],
      ready: meta('picosnitch-scroll-zoom') === 'true' ? [wheelZoom] : [],
    },
  };
}

function lineKey(l) {
  return l.other ? '\0other' : (l.value.hex !== undefined ? 'hex:' + l.value.hex : l.value.text);
}

function drawCharts(s) {
  for (const c of charts) c.destroy();
  charts = [];
  const box = $('charts');
  box.replaceChildren();
  if (!s.lines.length) {
    box.append(el('p', { class: 'empty' }, 'No traffic in this time window.'));
    return;
  }
  const xs = s.bucket_starts.slice(0, -1);
  const width = Math.max(300, box.clientWidth - 8);
  for (const [key, title] of [['sent', 'Data sent'], ['received', 'Data received']]) {
    const lines = s.lines.filter((l) => !l.other || l.sent || l.received);
    const series = lines.map((l, i) => ({
      label: `${trim(shown(s.dim, l.value))} (${bytes(l[key])})`,
      show: !hidden.has(s.dim + '\0' + lineKey(l)),
      stroke: COLORS[i % COLORS.length],
      fill: COLORS[i % COLORS.length] + '22',
      width: 1.5,
      value: (u, v) => (v == null ? '' : bytes(v)),
    }));
    const data = [xs, ...lines.map((l) => smooth(l[`${key}_points`], state.smooth))];
    const div = el('div', { class: 'chart', 'data-chart': key });
    box.append(div);
    charts.push(new uPlot(chartOpts(title, width, series, s.dim, lines), data, div));
  }
}

function drawTable(g) {
  const body = $('rows');
  body.replaceChildren();
  const q = state.search.toLowerCase();
  let n = 0;
  for (const r of g.rows) {
    const text = shown(g.dim, r.value);
    if (q && !text.toLowerCase().includes(q)) continue;
    n++;
    body.append(el('tr', {},
      el('td', { class: 'value', title: text }, el('button', {
        class: 'link', title: 'show only this', onclick: () => addFilter(g.dim, r.value, 'include'),
      }, text), g.dim === 'executable' ? el('button', {
        class: 'details', title: 'its page', 'aria-label': 'details', onclick: () => openExe(r.value),
      }, 'details') : ''),
      el('td', { class: 'num' }, bytes(r.sent)),
      el('td', { class: 'num' }, bytes(r.received)),
      el('td', { class: 'num' }, r.flows),
      el('td', {}, el('button', {
        class: 'exclude', title: 'leave this out', 'aria-label': 'exclude',
        onclick: () => addFilter(g.dim, r.value, 'exclude'),
      }, '−'))));
  }
  $('value-head').textContent = DIM_LABELS[g.dim];
  $('table-count').textContent = `${n} of ${g.groups} values; totals ${bytes(g.sent)} sent, ${bytes(g.received)} received`;
  for (const th of document.querySelectorAll('th[data-sort]')) {
    th.classList.toggle('sorted', th.dataset.sort === state.sort);
    th.dataset.order = th.dataset.sort === state.sort ? state.order : '';
  }
}

function addFilter(dim, v, mode) {
  if (!v || state.filters.length >= 32) return;
  if (v.hex !== undefined) state.filters.push({ kind: `${mode}_hex`, dim, value: v.hex });
  else state.filters.push({ kind: mode, dim, value: v.text });
  update();
}

async function loadValues() {
  const sel = $('where-value');
  const dim = $('where-dim').value;
  sel.replaceChildren();
  try {
    const p = selectParams(dim);
    p.set('limit', '1000');
    const d = await api('distinct', p);
    for (const v of d.values) {
      const o = el('option', {}, trim(shown(dim, v), true));
      o.value = JSON.stringify(v);
      sel.append(o);
    }
  } catch (e) {
    showError(e.message);
  }
}

function openExe(v) {
  state.exe = v.hex !== undefined ? { kind: 'hex', value: v.hex } : { kind: 'text', value: v.text };
  update();
}

const EXE_LISTS = [
  ['names', 'name', 'Process names'], ['commands', 'cmdline', 'Commands'],
  ['parents', 'parent_executable', 'Parents'], ['users', 'user', 'Users'],
  ['remote_addresses', 'remote_address', 'Remote addresses'], ['domains', 'domain', 'Domains'],
  ['remote_ports', 'remote_port', 'Remote ports'], ['local_ports', 'local_port', 'Local ports'],
  ['protocols', 'protocol', 'Protocols'], ['services', 'service', 'Services'],
];

function smallTable(dim, rows, extra) {
  return el('table', { class: 'small' }, el('tbody', {}, ...rows.map((r) => el('tr', {},
    el('td', { class: 'value' }, shown(dim, r.value)),
    ...(extra ? extra(r) : []),
    el('td', { class: 'num' }, bytes(r.sent)),
    el('td', { class: 'num' }, bytes(r.received))))));
}

// what VirusTotal said of a hash (record.json, through /api/executable)
function vtCell(r) {
  const v = r.virustotal;
  if (!v) return el('td', { class: 'vt' }, '');
  const text = v.link ? el('a', { href: v.link, target: '_blank', rel: 'noopener noreferrer' }, v.text) : v.text;
  return el('td', { class: v.flagged ? 'vt flagged' : 'vt' }, text);
}

// whether a hash is what its package installed (record.json's Package)
function packageCell(r) {
  const p = r.package || '';
  return el('td', { class: p.startsWith('modified') ? 'vt flagged' : 'vt' }, p);
}

async function drawExe(mine) {
  const p = selectParams('executable');
  p.delete('dim');
  for (const k of ['include', 'exclude', 'include_hex', 'exclude_hex']) p.delete(k);
  p.set(state.exe.kind === 'hex' ? 'include_hex' : 'include', `executable:${state.exe.value}`);
  const d = await api('executable', p);
  if (mine !== loading) return;
  const sp = new URLSearchParams(p);
  sp.set('dim', 'executable');
  sp.set('top', '1');
  sp.set('other', '0');
  sp.set('align', '1');
  sp.set('buckets', '120');
  const s = await api('series', sp);
  if (mine !== loading) return;
  const box = $('exe-page');
  box.replaceChildren(
    el('p', {}, el('button', { id: 'exe-back', onclick: () => { state.exe = null; update(); } }, '← back')),
    el('h2', { id: 'exe-name' }, shown('executable', d.executable)),
    el('p', { class: 'facts' }, `first seen ${when(d.first)} · last seen ${when(d.last)} · ` +
      `${bytes(d.sent)} sent, ${bytes(d.received)} received, ${d.flows} connections`),
    el('h3', {}, `Hashes (${d.hash_count})`),
    smallTable('sha256', d.hashes, (r) => [el('td', {}, r.first >= 0 ? `from ${when(r.first)}` : ''),
      el('td', {}, r.last >= 0 ? `to ${when(r.last)}` : ''), vtCell(r), packageCell(r)]),
    el('div', { id: 'exe-chart' }),
    el('div', { class: 'lists' }, ...EXE_LISTS.map(([key, dim, title]) => el('section', { 'data-list': key },
      el('h3', {}, `${title} (${d[key].groups})`), smallTable(dim, d[key].rows)))));
  for (const c of charts) c.destroy();
  charts = [];
  if (s.lines.length) {
    const xs = s.bucket_starts.slice(0, -1);
    const l = s.lines[0];
    charts.push(new uPlot({
      title: 'Traffic over time', width: Math.max(300, box.clientWidth - 8), height: 220,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.05 : 1] } },
      axes: [{}, { values: (u, ticks) => ticks.map(bytes), size: 80 }],
      series: [{}, { label: `sent (${bytes(l.sent)})`, stroke: COLORS[0], fill: COLORS[0] + '22' },
        { label: `received (${bytes(l.received)})`, stroke: COLORS[1], fill: COLORS[1] + '22' }],
    }, [xs, l.sent_points, l.received_points], $('exe-chart')));
  }
}

// ---- the live view: each second's traffic per executable (SSE) ----

const LIVE_KEEP = 120;	// seconds drawn
const live = { source: null, seconds: [], running: null };

function liveEvent(e) {
  const d = JSON.parse(e.data);
  const exes = new Map();
  for (const x of d.executables) exes.set(x.executable, [x.sent, x.received]);
  live.seconds.push({ time: d.time, ms: d.ms, exes, others: [d.others.sent, d.others.received] });
  if (live.seconds.length > LIVE_KEEP) live.seconds.splice(0, live.seconds.length - LIVE_KEEP);
  live.running = true;
  drawLive();
}

function liveOpen() {
  if (live.source) return;
  live.seconds = [];
  live.running = null;
  live.source = new EventSource(`/api/live?history=${LIVE_KEEP}`);
  live.source.addEventListener('traffic', liveEvent);
  live.source.addEventListener('state', (e) => {
    live.running = JSON.parse(e.data).running;
    drawLive();
  });
  live.source.addEventListener('error', () => {
    if (live.source && live.source.readyState === EventSource.CLOSED) {
      showError('the live feed was refused by the server (too many open?)');
    }
  });
}

function liveClose() {
  if (live.source) live.source.close();
  live.source = null;
}

// totals per executable over the seconds kept, busiest first
function liveTotals() {
  const totals = new Map();
  for (const sec of live.seconds) {
    for (const [name, [sent, received]] of sec.exes) {
      const t = totals.get(name) || [0, 0];
      totals.set(name, [t[0] + sent, t[1] + received]);
    }
  }
  return [...totals].sort((a, b) => (b[1][0] + b[1][1]) - (a[1][0] + a[1][1]) || (a[0] < b[0] ? -1 : 1));
}

function drawLive() {
  if (state.view !== 'live' || state.exe) return;
  const note = $('live-note');
  const last = live.seconds[live.seconds.length - 1];
  note.textContent = live.running === false ? 'The monitor is not running: no live traffic.'
    : !live.seconds.length ? 'Waiting for the monitor…'
      : `Each second's traffic per executable, the last ${live.seconds.length} s (${when(last.time)})`;
  const totals = liveTotals();
  const top = totals.slice(0, TOP);
  // a gap (the monitor stopped, the page asleep) is left blank, not bridged
  const secs = [];
  for (const sec of live.seconds) {
    const prev = secs[secs.length - 1];
    if (prev && sec.time - prev.time > 2) secs.push({ time: prev.time + 1, gap: true });
    secs.push(sec);
  }
  const at = (sec, name, k) => (sec.gap ? null : (sec.exes.get(name) || [0, 0])[k]);
  const xs = secs.map((sec) => sec.time);
  const box = $('live-charts');
  for (const c of charts) c.destroy();
  charts = [];
  box.replaceChildren();
  if (xs.length) {
    const width = Math.max(300, box.clientWidth - 8);
    [['sent', 0, 'Sent per second'], ['received', 1, 'Received per second']].forEach(([key, k, title]) => {
      const lines = top.map(([name]) => secs.map((sec) => at(sec, name, k)));
      const rest = secs.map((sec) => {
        if (sec.gap) return null;
        let n = sec.others[k];
        for (const [name, v] of sec.exes) if (!top.some(([t]) => t === name)) n += v[k];
        return n;
      });
      const series = top.map(([name, t], i) => ({
        label: `${trim(shown('executable', { text: name }))} (${bytes(t[k])})`,
        stroke: COLORS[i % COLORS.length], width: 1.5,
        value: (u, v) => (v == null ? '' : bytes(v)),
      }));
      const data = [xs, ...lines];
      if (rest.some((v) => v)) {
        series.push({ label: `others (${bytes(rest.reduce((a, b) => a + (b || 0), 0))})`, stroke: COLORS[10], width: 1.5 });
        data.push(rest);
      }
      const div = el('div', { class: 'chart', 'data-chart': `live-${key}` });
      box.append(div);
      charts.push(new uPlot({
        title, width, height: 220,
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.05 : 1] } },
        axes: [{}, { values: (u, ticks) => ticks.map(bytes), size: 80 }],
        series: [{}, ...series],
      }, data, div));
    });
  }
  const body = $('live-rows');
  body.replaceChildren();
  for (const [name, [sent, received]] of totals) {
    const now = last ? last.exes.get(name) || [0, 0] : [0, 0];
    const text = shown('executable', { text: name });
    body.append(el('tr', {},
      el('td', { class: 'value', title: text }, el('button', {
        class: 'link', title: 'its page', onclick: () => openExe({ text: name }),
      }, text)),
      el('td', { class: 'num now' }, bytes(now[0])), el('td', { class: 'num now' }, bytes(now[1])),
      el('td', { class: 'num' }, bytes(sent)), el('td', { class: 'num' }, bytes(received))));
  }
}

// dash --sql: the machines on the SQL server, which stopped sending
// heartbeats (as `picosnitch sql-status`), and as of when the copy is
function fleetText(fleet) {
  if (!fleet || typeof fleet !== 'object') return '';
  const machines = Array.isArray(fleet.machines) ? fleet.machines : [];
  const stopped = machines.filter((m) => m.stopped);
  return ` · fleet: ${machines.length} machine${machines.length === 1 ? '' : 's'}` +
    (stopped.length ? `, heartbeat stopped: ${stopped.map((m) => `${m.host} (${when(m.last)})`).join(', ')}`
      : ', all reporting') +
    (fleet.as_of ? ` · as of ${when(fleet.as_of)}` : '') + (fleet.behind ? ' (copying)' : '') +
    (fleet.error ? ` · server: ${fleet.error}` : '');
}

let loading = 0;

async function update(push = true) {
  if (push) writeHash();
  drawControls();
  const mine = ++loading;
  document.body.classList.add('loading');
  try {
    const status = await api('status');
    if (status.first) lastBounds = [status.first, status.last];
    $('footer').textContent = `picosnitch ${status.version} · monitor ${status.monitor_pid ? 'pid ' + status.monitor_pid : 'not running'}` +
      (status.first ? ` · history ${when(status.first)} – ${when(status.last)}` : '') +
      (status.database !== 'ok' ? ` · ${status.database}` : '') + fleetText(status.fleet) +
      geoCredits(status.geo);
    if (state.view !== 'live' || state.exe) liveClose();
    if (state.exe) {
      await drawExe(mine);
    } else if (state.view === 'live') {
      liveOpen();
      drawLive();
    } else if (state.view === 'charts') {
      const p = selectParams(state.dim);
      p.set('top', TOP);
      p.set('align', '1');
      p.set('buckets', buckets());
      const s = await api('series', p);
      if (mine !== loading) return;
      lastSeries = s;
      drawCharts(s);
    } else {
      const p = selectParams(state.dim);
      p.set('sort', state.sort);
      p.set('order', state.order);
      p.set('limit', '5000');
      const g = await api('groups', p);
      if (mine !== loading) return;
      drawTable(g);
    }
    showError('');
  } catch (e) {
    if (mine === loading) showError(e.message);
  } finally {
    if (mine === loading) document.body.classList.remove('loading');
  }
}

// ---- controls ----

let timer = null;

function setTimer() {
  clearInterval(timer);
  timer = state.refresh ? setInterval(() => update(false), state.refresh * 1000) : null;
}

function init() {
  const theme = meta('picosnitch-theme');
  if (theme) document.documentElement.dataset.theme = theme;
  for (const [name, label] of Object.entries(DIM_LABELS)) {
    $('dim').append(el('option', { value: name }, label));
    $('where-dim').append(el('option', { value: name }, label));
  }
  // country and network owner need GeoIP ("GeoIP lookup" off: not offered),
  // host the fleet view (dash --sql)
  api('dims').then((dims) => {
    for (const d of dims) {
      if (d.available !== false) continue;
      for (const id of ['dim', 'where-dim']) {
        const o = $(id).querySelector(`option[value="${d.name}"]`);
        if (o) o.remove();
      }
    }
  }).catch(() => {});
  PERIODS.forEach(([name], i) => $('period').append(el('option', { value: String(i) }, name)));
  REFRESH.forEach(([name, s]) => $('refresh').append(el('option', { value: String(s) }, name)));
  RESAMPLE.forEach(([name, s]) => $('resample').append(el('option', { value: String(s) }, name)));
  SMOOTH.forEach(([name, s]) => $('smooth').append(el('option', { value: String(s) }, name)));
  $('resample').addEventListener('change', (e) => { state.resample = Number(e.target.value); update(); });
  $('smooth').addEventListener('change', (e) => { state.smooth = Number(e.target.value); update(); });
  $('trim').addEventListener('change', (e) => { state.trim = e.target.checked; update(); });
  $('dim').addEventListener('change', (e) => { state.dim = e.target.value; update(); });
  $('period').addEventListener('change', (e) => { state.period = Number(e.target.value); state.back = 0; update(); });
  $('back').addEventListener('click', () => { state.back++; update(); });
  $('forward').addEventListener('click', () => { state.back = Math.max(0, state.back - 1); update(); });
  $('refresh').addEventListener('change', (e) => { state.refresh = Number(e.target.value); setTimer(); update(); });
  $('tab-charts').addEventListener('click', () => { state.view = 'charts'; update(); });
  $('tab-table').addEventListener('click', () => { state.view = 'table'; update(); });
  $('tab-live').addEventListener('click', () => { state.view = 'live'; update(); });
  $('where-dim').addEventListener('change', loadValues);
  $('where-dim').addEventListener('focus', loadValues, { once: true });
  for (const mode of ['include', 'exclude']) {
    $(`where-${mode}`).addEventListener('click', () => {
      const v = $('where-value').value;
      if (v) addFilter($('where-dim').value, JSON.parse(v), mode);
    });
  }
  $('search').addEventListener('input', (e) => { state.search = e.target.value; writeHash(); update(false); });
  for (const th of document.querySelectorAll('th[data-sort]')) {
    th.addEventListener('click', () => {
      if (state.sort === th.dataset.sort) state.order = state.order === 'desc' ? 'asc' : 'desc';
      else { state.sort = th.dataset.sort; state.order = th.dataset.sort === 'value' ? 'asc' : 'desc'; }
      update();
    });
  }
  $('stop').addEventListener('click', async () => {
    const token = document.querySelector('meta[name="picosnitch-token"]').content;
    await fetch('/api/stop', { method: 'POST', headers: { 'X-Picosnitch-Token': token } });
    $('footer').textContent = 'the server has stopped';
  });
  window.addEventListener('popstate', () => { readHash(); setTimer(); update(false); });
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (state.view === 'charts' && lastSeries) drawCharts(lastSeries);
      if (state.view === 'live') drawLive();
    }, 150);
  });
  readHash();
  setTimer();
  loadValues();
  update(false);
}

// what the browser tests read: the data the charts draw, and the state
window.picosnitchDash = {
  chartData: () => charts.map((c) => ({
    labels: c.series.slice(1).map((s) => s.label),
    shown: c.series.slice(1).map((s) => s.show),
    x: [c.scales.x.min, c.scales.x.max],
    data: c.data,
  })),
  state: () => JSON.parse(JSON.stringify(state)),
  idle: () => !document.body.classList.contains('loading'),
  live: () => ({
    running: live.running,
    seconds: live.seconds.length,
    totals: Object.fromEntries(liveTotals()),
  }),
};

document.addEventListener('DOMContentLoaded', init);
