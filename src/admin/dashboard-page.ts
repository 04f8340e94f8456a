/**
 * The dashboard: one HTML page with its style and script inline, served by the admin
 * server (no build step, no file to find at run time, no request leaves the admin
 * server). It reads `dashboard/stream` (Server-Sent Events, one frame a tick) and draws
 * sparklines as small inline SVG polylines: a chart library would be larger than the
 * whole page for what is drawn here (docs/architecture.md, "Admin dashboard"). Every
 * value from the mesh is put in the page as text (`textContent`), never as HTML.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>proxyless dashboard</title>
<link rel="icon" href="data:,">
<style>
:root { --bg:#0f1419; --panel:#171d24; --line:#273039; --text:#d7dde3; --dim:#8a96a3; --ok:#3fb950; --warn:#d29922; --bad:#f85149; --accent:#58a6ff; }
* { box-sizing: border-box; }
body { margin:0; font:13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; flex-wrap:wrap; align-items:center; gap:18px; padding:10px 16px; border-bottom:1px solid var(--line); background:var(--panel); position:sticky; top:0; z-index:1; }
header h1 { font-size:16px; margin:0; }
.stat { display:flex; flex-direction:column; } .stat b { font-size:16px; } .stat span { color:var(--dim); font-size:11px; }
#conn { width:10px; height:10px; border-radius:50%; background:var(--bad); display:inline-block; margin-right:6px; }
#conn.on { background:var(--ok); }
main { display:grid; grid-template-columns: minmax(0,1fr) 300px; gap:12px; padding:12px 16px; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
section { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:10px; margin-bottom:12px; overflow-x:auto; }
h2 { font-size:13px; margin:0 0 8px; color:var(--dim); text-transform:uppercase; letter-spacing:.05em; }
input { background:var(--bg); color:var(--text); border:1px solid var(--line); border-radius:4px; padding:4px 8px; width:240px; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:3px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
th { color:var(--dim); font-weight:500; font-size:11px; }
td.num { text-align:right; font-variant-numeric: tabular-nums; min-width:56px; }
tr.svc { cursor:pointer; } tr.svc:hover { background:#1d252e; }
tr.eps > td { padding:0 0 6px 22px; background:#131920; }
.badge { display:inline-block; padding:0 6px; border-radius:8px; font-size:11px; border:1px solid var(--line); }
.b-ok { color:var(--ok); border-color:var(--ok); } .b-warn { color:var(--warn); border-color:var(--warn); } .b-bad { color:var(--bad); border-color:var(--bad); }
.bar { display:inline-block; height:8px; background:var(--accent); border-radius:2px; vertical-align:middle; }
.barbox { display:inline-block; width:90px; height:8px; background:var(--bg); border-radius:2px; margin-right:6px; vertical-align:middle; }
svg.spark { vertical-align:middle; }
.split { display:flex; height:14px; border-radius:3px; overflow:hidden; margin:3px 0 8px; }
.split div { height:100%; font-size:10px; color:#0b0f14; text-align:center; overflow:hidden; }
.ev { border-bottom:1px solid var(--line); padding:3px 0; } .ev time { color:var(--dim); margin-right:6px; font-size:11px; }
.ev.bad { color:var(--bad); } .ev.warn { color:var(--warn); } .ev.ok { color:var(--ok); }
.dim { color:var(--dim); } .more { color:var(--accent); cursor:pointer; }
#error { color:var(--bad); }
</style>
</head>
<body>
<header>
  <h1><span id="conn" title="stream"></span>proxyless</h1>
  <div class="stat"><b id="t-services">-</b><span>services</span></div>
  <div class="stat"><b id="t-endpoints">-</b><span>endpoints</span></div>
  <div class="stat"><b id="t-available">-</b><span>available</span></div>
  <div class="stat"><b id="t-ejected">-</b><span>ejected</span></div>
  <div class="stat"><b id="t-inflight">-</b><span>in flight</span></div>
  <div class="stat"><b id="t-rate">-</b><span>req/s</span></div>
  <div id="t-spark"></div>
  <input id="filter" placeholder="filter services" aria-label="filter services">
  <span id="error"></span>
</header>
<main>
  <div>
    <section>
      <h2>Services</h2>
      <table id="services"><thead><tr>
        <th>service</th><th>state</th><th>balancer</th><th>req/s</th><th></th><th>err/s</th><th>p50 ms</th><th>p99 ms</th><th></th><th>in flight</th><th>endpoints</th><th>circuit</th>
      </tr></thead><tbody></tbody></table>
      <div id="more-services" class="dim"></div>
    </section>
  </div>
  <div>
    <section><h2>Route splits</h2><div id="splits" class="dim">none</div></section>
    <section><h2>Events</h2><div id="events" class="dim">none yet</div></section>
    <section><h2>Config warnings</h2><div id="warnings" class="dim">none</div></section>
  </div>
</main>
<script>
(() => {
  'use strict';
  const token = new URLSearchParams(location.search).get('token');
  const q = token ? '?token=' + encodeURIComponent(token) : '';
  const base = location.pathname.replace(/\\/dashboard\\/?$/, '');
  const open = new Set();
  // Pages of endpoints asked for (from /clusters, not live: the frame carries only the top ones).
  const pages = new Map();
  const PAGE = 50;
  let last;
  const $ = (id) => document.getElementById(id);
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') el.className = v; else if (k === 'onclick') el.onclick = v; else el.setAttribute(k, String(v));
    }
    for (const c of children) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : String(c));
    return el;
  }
  // Updates \`a\` in place to look like \`b\` (a freshly built tree): elements that stay are kept,
  // so a click, a hover or a selection is not lost when the next frame comes.
  function morph(a, b) {
    if (a.nodeType !== b.nodeType || a.nodeName !== b.nodeName) { a.replaceWith(b); return; }
    if (a.nodeType === 3) { if (a.nodeValue !== b.nodeValue) a.nodeValue = b.nodeValue; return; }
    for (const at of [...a.attributes]) if (!b.hasAttribute(at.name)) a.removeAttribute(at.name);
    for (const at of b.attributes) if (a.getAttribute(at.name) !== at.value) a.setAttribute(at.name, at.value);
    a.onclick = b.onclick;
    const ac = a.childNodes;
    const bc = [...b.childNodes];
    for (let i = 0; i < bc.length; i++) { if (i < ac.length) morph(ac[i], bc[i]); else a.appendChild(bc[i]); }
    while (ac.length > bc.length) a.lastChild.remove();
  }
  function morphChildren(parent, children) {
    morph(parent, h(parent.nodeName.toLowerCase(), Object.fromEntries([...parent.attributes].map((x) => [x.name, x.value])), ...children));
  }
  const fmt = (v, d) => v === null || v === undefined ? '-' : (Math.round(v * 10 ** (d ?? 1)) / 10 ** (d ?? 1)).toLocaleString();
  function spark(values, color) {
    const ns = 'http://www.w3.org/2000/svg';
    const w = 90, ht = 20;
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'spark'); svg.setAttribute('width', w); svg.setAttribute('height', ht);
    const nums = values.map((v) => (v === null ? 0 : v));
    if (nums.length < 2) return svg;
    const max = Math.max(...nums, 1e-9);
    const pts = nums.map((v, i) => (i * (w - 2) / (nums.length - 1) + 1).toFixed(1) + ',' + (ht - 1 - (v / max) * (ht - 3)).toFixed(1)).join(' ');
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', pts); line.setAttribute('fill', 'none'); line.setAttribute('stroke', color); line.setAttribute('stroke-width', '1.5');
    svg.append(line);
    return svg;
  }
  function endpointState(e) {
    if (e.outlier && e.outlier.ejected) return ['ejected', 'b-bad', 'ejected (' + (e.outlier.reason || '?') + ', ' + Math.ceil(e.outlier.timeLeftMs / 1000) + 's left)'];
    if (e.activeHealth && !e.activeHealth.healthy) return ['unhealthy', 'b-bad', 'failing health checks'];
    if (!e.available) return ['unavailable', 'b-warn', 'unavailable'];
    return ['ok', 'b-ok', 'ok'];
  }
  function endpointRows(svc, list, total) {
    const tbody = h('tbody');
    for (const e of list) {
      const [state, cls, text] = endpointState(e);
      tbody.append(h('tr', { 'data-endpoint': e.key, 'data-state': state },
        h('td', {}, e.key),
        h('td', {}, h('span', { class: 'badge ' + cls }, text)),
        h('td', {}, h('span', { class: 'barbox' }, h('span', { class: 'bar', style: 'width:' + Math.round(e.shareLastMinute * 90) + 'px' })), fmt(e.shareLastMinute * 100, 0) + '%'),
        h('td', { class: 'num' }, fmt(e.rate)),
        h('td', { class: 'num' }, e.pending),
        h('td', { class: 'num' }, fmt(e.peakEwmaMs, 2)),
        h('td', { class: 'num' }, e.requests),
        h('td', { class: 'num' }, e.failures),
        h('td', { class: 'num' }, e.weight),
        h('td', { class: 'num' }, e.srvTier),
        h('td', { class: 'dim' }, Object.entries(e.labels).map(([k, v]) => k + '=' + v).join(' '))));
    }
    const table = h('table', {}, h('thead', {}, h('tr', {}, ...['endpoint', 'state', 'share (1 min)', 'req/s', 'pending', 'Peak EWMA ms', 'requests', 'failures', 'weight', 'SRV tier', 'labels'].map((t) => h('th', {}, t)))), tbody);
    const cell = h('td', { colspan: 12 }, table);
    const page = pages.get(svc.key);
    if (page) {
      const offset = page.offset;
      cell.append(h('div', { class: 'dim' }, 'showing ' + (offset + 1) + '-' + (offset + list.length) + ' of ' + total + ' endpoints ',
        h('span', { class: 'more', onclick: () => loadPage(svc.key, Math.max(0, offset - PAGE)) }, '‹ prev'), ' ',
        h('span', { class: 'more', onclick: () => loadPage(svc.key, offset + PAGE < total ? offset + PAGE : offset) }, 'next ›'), ' ',
        h('span', { class: 'more', onclick: () => { pages.delete(svc.key); render(last); } }, 'live top')));
    } else if (total > list.length) {
      cell.append(h('div', { class: 'dim' }, 'top ' + list.length + ' of ' + total + ' endpoints (unavailable and busiest first, live) ',
        h('span', { class: 'more', onclick: () => loadPage(svc.key, 0) }, 'list all ›')));
    }
    return h('tr', { class: 'eps', 'data-endpoints-of': svc.key }, cell);
  }
  async function loadPage(key, offset) {
    const r = await fetch(base + '/clusters' + (q ? q + '&' : '?') + 'service=' + encodeURIComponent(key) + '&offset=' + offset + '&limit=' + PAGE);
    if (!r.ok) return;
    const body = await r.json();
    if (body.clusters[0]) pages.set(key, { offset, endpoints: body.clusters[0].endpoints });
    if (last) render(last);
  }
  /** \`reviews.default.svc.cluster.local/v2\` → \`reviews/v2\`: the split bars are narrow. */
  function shortName(d) {
    const slash = d.indexOf('/');
    const host = (slash < 0 ? d : d.slice(0, slash)).split(/[.:]/)[0];
    return slash < 0 ? host : host + d.slice(slash);
  }
  function circuit(c) {
    if (!c) return h('span', { class: 'dim' }, '-');
    const cls = c.state === 'closed' ? 'b-ok' : c.state === 'open' ? 'b-bad' : 'b-warn';
    return h('span', { class: 'badge ' + cls, 'data-circuit': c.state }, c.state);
  }
  function render(f) {
    last = f;
    $('t-services').textContent = f.totals.services;
    $('t-endpoints').textContent = f.totals.endpoints;
    $('t-available').textContent = f.totals.available;
    $('t-ejected').textContent = f.totals.ejected;
    $('t-inflight').textContent = f.totals.inFlight;
    $('t-rate').textContent = fmt(f.totals.rate);
    morphChildren($('t-spark'), [spark(f.rateHistory, '#58a6ff')]);
    const filter = $('filter').value.trim().toLowerCase();
    const tbody = h('tbody');
    for (const s of f.services) {
      if (filter && !s.key.toLowerCase().includes(filter)) continue;
      const st = s.status === 'known' ? 'b-ok' : s.status === 'pending' ? 'b-warn' : 'b-bad';
      const row = h('tr', { class: 'svc', 'data-service': s.key, onclick: () => { open.has(s.key) ? open.delete(s.key) : open.add(s.key); render(last); } },
        h('td', {}, (open.has(s.key) ? '▾ ' : '▸ ') + s.key),
        h('td', {}, h('span', { class: 'badge ' + st }, s.status + (s.panic ? ' (panic)' : ''))),
        h('td', { class: 'dim' }, s.balancer),
        h('td', { class: 'num', 'data-rate': '' }, fmt(s.rate)),
        h('td', {}, spark(s.history.rate, '#58a6ff')),
        h('td', { class: 'num' }, fmt(s.errorRate)),
        h('td', { class: 'num' }, fmt(s.p50Ms, 2)),
        h('td', { class: 'num' }, fmt(s.p99Ms, 2)),
        h('td', {}, spark(s.history.p99, '#d29922')),
        h('td', { class: 'num' }, s.inFlight),
        h('td', {}, s.counts.available + '/' + s.counts.endpoints + (s.counts.ejected ? ' (' + s.counts.ejected + ' ejected)' : '')),
        h('td', {}, circuit(s.circuit)));
      tbody.append(row);
      if (open.has(s.key)) {
        const page = pages.get(s.key);
        tbody.append(endpointRows(s, page ? page.endpoints : s.endpoints, s.counts.endpoints));
      }
    }
    morph($('services').tBodies[0], tbody);
    $('more-services').textContent = f.moreServices > 0 ? f.moreServices + ' more services (see /clusters)' : '';
    const splits = $('splits');
    if (f.splits.length === 0) splits.textContent = 'none'; else {
      const colors = ['#58a6ff', '#3fb950', '#d29922', '#bc8cff', '#f85149', '#39c5cf'];
      morphChildren(splits, f.splits.map((r) => h('div', { 'data-split': r.host + ' ' + r.route },
        h('div', {}, r.host, h('span', { class: 'dim' }, ' ' + r.route)),
        h('div', { class: 'split' }, ...r.destinations.map((d, i) => h('div', { style: 'width:' + d.percent + '%;background:' + colors[i % colors.length], title: d.destination + ' ' + d.percent + '%' }, d.percent >= 12 ? shortName(d.destination) + ' ' + d.percent + '%' : ''))))));
    }
    const events = $('events');
    if (f.events.length === 0) events.textContent = 'none yet'; else {
      const kindClass = (k) => /rejected|ejected|open|error|unhealthy/.test(k) && !/half/.test(k) ? 'bad' : /half|evicted|level/.test(k) ? 'warn' : 'ok';
      morphChildren(events, f.events.slice().reverse().map((e) => h('div', { class: 'ev ' + kindClass(e.kind), 'data-kind': e.kind }, h('time', {}, new Date(e.at).toLocaleTimeString()), e.message)));
    }
    const warnings = $('warnings');
    if (f.warningCount === 0) warnings.textContent = 'none'; else morphChildren(warnings, [...f.warnings.map((w) => h('div', { class: 'ev warn' }, w)), h('div', { class: 'dim' }, f.warningCount > f.warnings.length ? (f.warningCount - f.warnings.length) + ' more in /config_dump' : '')]);
  }
  $('filter').addEventListener('input', () => last && render(last));
  function connect() {
    const es = new EventSource(base + '/dashboard/stream' + q);
    es.addEventListener('frame', (m) => { $('conn').className = 'on'; $('error').textContent = ''; render(JSON.parse(m.data)); });
    es.onerror = () => { $('conn').className = ''; $('error').textContent = 'reconnecting…'; };
  }
  connect();
})();
</script>
</body>
</html>
`;
