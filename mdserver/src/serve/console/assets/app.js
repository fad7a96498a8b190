// mdscan console: one page, no framework, no build step. Every view reads
// the REST API with the visitor's session (or API key) in the `apikey`
// header, so the console can do exactly what its user may do.
//
// File names, threat names and user names are attacker-chosen: they are
// put in the page with textContent only (see `h`), never as markup.
'use strict';

const S = {
  key: sessionStorage.getItem('mdscan.key') || '',
  me: null,
  timer: null,
  history: { q: '', result: '', user: '', from: '', to: '', first: 0, size: 25 },
};

// ---------------------------------------------------------------- helpers

/** An element: h('a', {href: '#/x', class: 'c', onclick: f}, 'text', child). */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (['value', 'checked', 'disabled', 'hidden', 'selected', 'multiple'].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

/** Calls the API; JSON in and out. `raw` returns the Response. */
async function api(method, path, body, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  if (S.key) headers.apikey = S.key;
  let payload = body;
  if (body !== undefined && !(body instanceof Blob)) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, { method, headers, body: payload });
  } catch (e) {
    throw new ApiError(0, 'The server cannot be reached: ' + e.message);
  }
  if (opts.raw) {
    if (!r.ok) throw new ApiError(r.status, await errorText(r));
    return r;
  }
  if (!r.ok) {
    const msg = await errorText(r);
    if (r.status === 403 && !S.me && path !== '/login') signin();
    throw new ApiError(r.status, msg);
  }
  const type = r.headers.get('content-type') || '';
  return type.includes('json') ? r.json() : r.text();
}

async function errorText(r) {
  try {
    const v = await r.json();
    return v.err || JSON.stringify(v);
  } catch (_) {
    return r.status + ' ' + r.statusText;
  }
}

function can(area, mode) {
  const r = S.me && S.me.rights && S.me.rights[area];
  return Array.isArray(r) && r.includes(mode);
}

function alertBox(msg, kind) {
  const a = document.getElementById('alert');
  if (!msg) { a.hidden = true; a.textContent = ''; return; }
  a.className = 'alert' + (kind === 'info' ? ' info' : '');
  a.textContent = msg;
  a.hidden = false;
}

function fail(e) { alertBox(e instanceof ApiError || e instanceof Error ? e.message : String(e)); }

function bytes(n) {
  if (n === null || n === undefined) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : v) + ' ' + u[i];
}

function when(ms) { return ms ? new Date(ms).toLocaleString() : ''; }

function ms(v) { return v === null || v === undefined ? '' : v + ' ms'; }

function badge(result) {
  const cls = String(result || '').toLowerCase();
  return h('span', { class: 'badge ' + cls }, result || '');
}

function page(title, ...children) {
  const main = document.getElementById('main');
  main.replaceChildren(h('h1', {}, title), ...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  document.title = title + ' — mdscan';
  return main;
}

/** Repeats `f` every `every` ms while the view that started it is shown. */
function every(f, everyMs) {
  const token = {};
  S.timer = token;
  const tick = async () => {
    if (S.timer !== token) return;
    try { await f(); } catch (e) { fail(e); }
    if (S.timer === token) setTimeout(tick, everyMs);
  };
  setTimeout(tick, everyMs);
}

/** Saves a response body as a file. */
async function save(path, name) {
  const r = await api('GET', path, undefined, { raw: true });
  const blob = await r.blob();
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function localInput(msValue) {
  if (!msValue) return '';
  const d = new Date(Number(msValue));
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fromInput(v) { return v ? String(new Date(v).getTime()) : ''; }

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) u.set(k, v);
  const t = u.toString();
  return t ? '?' + t : '';
}

// ---------------------------------------------------------------- sign-in

function signin(message) {
  S.timer = null;
  S.me = null;
  updateHeader();
  const user = h('input', { id: 'user', name: 'user', autocomplete: 'username', required: true });
  const pw = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const key = h('input', { id: 'apikey', name: 'apikey', autocomplete: 'off' });
  const err = h('p', { class: 'alert', role: 'alert', hidden: !message }, message || '');
  const form = h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      err.hidden = true;
      try {
        const r = await fetch('/login', {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user: user.value, password: pw.value }),
        });
        const v = await r.json().catch(() => ({}));
        if (!r.ok) throw new Error(r.status === 429 ? 'Too many failed sign-ins. Wait a minute.' : (v.err || 'Sign-in failed'));
        S.key = v.session_id;
        sessionStorage.setItem('mdscan.key', S.key);
        await start();
      } catch (e) {
        err.textContent = e.message;
        err.hidden = false;
        pw.focus();
      }
    },
  },
  h('label', { for: 'user' }, 'User name', user),
  h('label', { for: 'password' }, 'Password', pw),
  h('button', { type: 'submit' }, 'Sign in'));
  const keyForm = h('form', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      S.key = key.value.trim();
      sessionStorage.setItem('mdscan.key', S.key);
      await start();
    },
  },
  h('label', { for: 'apikey' }, 'API key', key),
  h('button', { type: 'submit', class: 'secondary' }, 'Use the key'));
  const main = document.getElementById('main');
  main.replaceChildren(h('section', { class: 'signin card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to mdscan'), err, form,
    h('h2', {}, 'Or with an API key'), keyForm));
  document.title = 'Sign in — mdscan';
  alertBox('');
  user.focus();
}

function updateHeader() {
  const who = document.getElementById('who');
  const out = document.getElementById('signout');
  const nav = document.getElementById('nav');
  if (!S.me) {
    who.textContent = '';
    out.hidden = true;
    nav.hidden = true;
    return;
  }
  nav.hidden = false;
  who.textContent = S.me.open ? 'Open server (no sign-in)' : `${S.me.name} (${S.me.role})`;
  out.hidden = !!S.me.open;
  for (const a of nav.querySelectorAll('a[data-right]')) {
    const [area, mode] = a.dataset.right.split(':');
    a.hidden = !can(area, mode);
  }
}

// ---------------------------------------------------------------- views

async function dashboard() {
  const cards = h('div', { class: 'grid', id: 'cards' });
  const chart = h('div', { class: 'card' }, h('h2', {}, 'Files over the last 24 hours'), h('div', { id: 'chart' }));
  const nodes = h('div', { class: 'card scroll' }, h('h2', {}, 'Nodes'), h('div', { id: 'nodes' }));
  const engines = h('div', { class: 'card scroll' }, h('h2', {}, 'Engines and definitions'), h('div', { id: 'engines' }));
  page('Dashboard', cards, chart, nodes, engines);
  const load = async () => {
    const [report, st, eng] = await Promise.all([
      api('GET', '/stat/report'), api('GET', '/stat/nodes'), api('GET', '/stat/engines'),
    ]);
    cards.replaceChildren(
      stat('Files (24 h)', report.total),
      stat('Blocked', report.blocked),
      stat('Allowed', report.allowed),
      stat('Processing', report.processing),
      stat('Files per hour', report.files_per_hour),
      stat('Latency p50 / p99', `${report.latency_ms.p50 ?? '–'} / ${report.latency_ms.p99 ?? '–'} ms`),
    );
    document.getElementById('chart').replaceChildren(barChart(report.throughput));
    document.getElementById('nodes').replaceChildren(nodeTable(st.statuses || []));
    document.getElementById('engines').replaceChildren(engineTable(eng));
  };
  await load();
  every(async () => { if (!document.getElementById('nodes').contains(document.activeElement)) await load(); }, 5000);
}

function stat(label, value) {
  return h('div', { class: 'card' }, h('div', { class: 'stat' }, String(value)), h('div', { class: 'stat-label' }, label));
}

/** Stacked bars (blocked over allowed) per bucket. */
function barChart(series) {
  const W = 720;
  const H = 160;
  const pad = 24;
  const max = Math.max(1, ...series.map((b) => b.files));
  const bw = (W - pad) / Math.max(1, series.length);
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H + 20}`, role: 'img',
    'aria-label': `Files per interval: ${series.reduce((a, b) => a + b.files, 0)} in all, at most ${max} in one` });
  svg.append(s('line', { class: 'axis', x1: pad, y1: H, x2: W, y2: H }));
  svg.append(s('text', { x: 0, y: 10 }, String(max)));
  series.forEach((b, i) => {
    const x = pad + i * bw;
    const hb = (b.blocked / max) * (H - 10);
    const ha = (b.allowed / max) * (H - 10);
    const other = ((b.files - b.blocked - b.allowed) / max) * (H - 10);
    const title = `${new Date(b.time_ms).toLocaleString()}: ${b.files} files, ${b.blocked} blocked`;
    const g = s('g', {}, s('title', {}, title));
    g.append(s('rect', { class: 'allowed', x: x + 1, y: H - ha, width: Math.max(1, bw - 2), height: ha }));
    g.append(s('rect', { class: 'blocked', x: x + 1, y: H - ha - hb, width: Math.max(1, bw - 2), height: hb }));
    if (other > 0) g.append(s('rect', { fill: '#8a5a00', x: x + 1, y: H - ha - hb - other, width: Math.max(1, bw - 2), height: other }));
    svg.append(g);
    if (i % Math.ceil(series.length / 8) === 0) {
      const d = new Date(b.time_ms);
      svg.append(s('text', { x, y: H + 14 }, `${d.getMonth() + 1}/${d.getDate()} ${String(d.getHours()).padStart(2, '0')}:00`));
    }
  });
  return h('div', {}, svg, h('p', { class: 'legend muted' },
    h('span', {}, h('span', { class: 'sw blocked' }), 'Blocked'),
    h('span', {}, h('span', { class: 'sw allowed' }), 'Allowed')));
}

function nodeTable(list) {
  if (!list.length) return h('p', { class: 'muted' }, 'No live node.');
  const drain = can('nodes', 'write');
  return h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Node'), h('th', { class: 'hide-narrow' }, 'Address'),
      h('th', { class: 'hide-narrow' }, 'Version'), h('th', { class: 'num' }, 'CPU load'),
      h('th', { class: 'num' }, 'Memory used'), h('th', { class: 'num hide-narrow' }, 'Free disk'),
      h('th', { class: 'num' }, 'Queue'), h('th', {}, 'Status'), drain ? h('th', {}, '') : null)),
    h('tbody', {}, list.map((n) => {
      const used = n.total_memory ? Math.round(100 * (1 - n.free_memory / n.total_memory)) + ' %' : '';
      const status = n.status || (n.issues && n.issues.length ? n.issues.join(', ') : 'healthy');
      return h('tr', {},
        h('td', { class: 'mono' }, n.id), h('td', { class: 'mono hide-narrow' }, n.address || ''),
        h('td', { class: 'hide-narrow' }, n.version || ''),
        h('td', { class: 'num' }, n.load !== undefined ? `${n.load} % of ${n.cpu_cores} cores` : ''),
        h('td', { class: 'num' }, used), h('td', { class: 'num hide-narrow' }, bytes(n.free_disk_space)),
        h('td', { class: 'num' }, `${n.scan_queue ?? 0} / ${n.scan_queue_details ? n.scan_queue_details.total_scan_queue : ''}`),
        h('td', {}, status),
        drain ? h('td', {}, n.id === 'local' ? '' : h('button', {
          class: 'secondary', type: 'button', disabled: status === 'draining',
          'aria-label': `Drain ${n.id}`,
          onclick: async (ev) => {
            if (!confirm(`Drain ${n.id}? It stops taking files, finishes what it holds and leaves.`)) return;
            try {
              await api('POST', `/admin/node/${encodeURIComponent(n.id)}/drain`);
              ev.target.disabled = true;
              ev.target.textContent = 'Draining';
              alertBox(`${n.id} is draining.`, 'info');
            } catch (e) { fail(e); }
          },
        }, 'Drain')) : null);
    })));
}

function engineTable(list) {
  return h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'Engine'), h('th', {}, 'Version'), h('th', {}, 'Type'),
      h('th', {}, 'Definitions'), h('th', { class: 'num' }, 'Age'))),
    h('tbody', {}, list.map((e) => {
      const t = Date.parse(e.def_time);
      const age = Number.isNaN(t) ? '' : Math.max(0, Math.floor((Date.now() - t) / 86400000)) + ' d';
      return h('tr', {}, h('td', {}, e.eng_name), h('td', { class: 'mono' }, e.eng_ver),
        h('td', {}, e.engine_type || e.eng_type || ''), h('td', {}, e.def_time || ''), h('td', { class: 'num' }, age));
    })));
}

async function history() {
  const f = S.history;
  const q = h('input', { id: 'h-q', type: 'search', value: f.q, placeholder: 'name or md5/sha1/sha256' });
  const result = h('select', { id: 'h-result' },
    ['', 'blocked', 'allowed', 'processing'].map((v) => h('option', { value: v, selected: f.result === v }, v ? v[0].toUpperCase() + v.slice(1) : 'Any')));
  const user = h('input', { id: 'h-user', value: f.user, size: 12 });
  const from = h('input', { id: 'h-from', type: 'datetime-local', value: localInput(f.from) });
  const to = h('input', { id: 'h-to', type: 'datetime-local', value: localInput(f.to) });
  const body = h('tbody', {});
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'secondary', onclick: () => { f.first = Math.max(0, f.first - f.size); load(); } }, 'Newer');
  const next = h('button', { type: 'button', class: 'secondary', onclick: () => { f.first += f.size; load(); } }, 'Older');
  const form = h('form', {
    class: 'inline card', role: 'search',
    onsubmit: (ev) => {
      ev.preventDefault();
      Object.assign(f, { q: q.value.trim(), result: result.value, user: user.value.trim(), from: fromInput(from.value), to: fromInput(to.value), first: 0 });
      load();
    },
  },
  h('label', { for: 'h-q' }, 'Name or hash', q),
  h('label', { for: 'h-result' }, 'Verdict', result),
  can('scanlog', 'read') ? h('label', { for: 'h-user' }, 'User', user) : null,
  h('label', { for: 'h-from' }, 'From', from),
  h('label', { for: 'h-to' }, 'To', to),
  h('button', { type: 'submit' }, 'Search'));
  page('Scan history', form,
    h('div', { class: 'scroll' }, h('table', { id: 'history' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Uploaded'), h('th', {}, 'File'), h('th', { class: 'num hide-narrow' }, 'Size'),
        h('th', {}, 'Verdict'), h('th', {}, 'Threats'), h('th', { class: 'hide-narrow' }, 'User'),
        h('th', { class: 'num hide-narrow' }, 'Time'))), body)),
    h('div', { class: 'pager' }, prev, next, status));
  const load = async () => {
    const v = await api('GET', '/stat/history' + qs({ q: f.q, result: f.result, user: f.user, from: f.from, to: f.to, first: f.first, size: f.size }));
    body.replaceChildren(...v.scans.map((r) => h('tr', {},
      h('td', {}, when(r.upload_ms)),
      h('td', {}, h('a', { href: '#/result/' + r.data_id }, r.display_name || r.data_id)),
      h('td', { class: 'num hide-narrow' }, bytes(r.file_size)),
      h('td', {}, badge(r.result), ' ', h('span', { class: 'muted' }, r.scan_all_result_a)),
      h('td', {}, (r.threats || []).join(', ')),
      h('td', { class: 'hide-narrow' }, r.user || ''),
      h('td', { class: 'num hide-narrow' }, ms(r.processing_ms)))));
    if (!v.scans.length) body.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No scan matches.')));
    prev.disabled = f.first === 0;
    next.disabled = !v.more;
    status.textContent = `Showing ${v.scans.length ? f.first + 1 : 0}–${f.first + v.scans.length}` + (v.truncated ? ' (search stopped early: narrow the period)' : '');
  };
  await load();
  // Live while looking at the newest scans.
  // (Not while the visitor is on a row: the focus would be lost.)
  every(async () => { if (f.first === 0 && !body.contains(document.activeElement)) await load(); }, 3000);
}

async function result(id) {
  page('Result');
  let first = true;
  const load = async () => {
    const v = await api('GET', `/file/${encodeURIComponent(id)}?first=0&size=1000`);
    if (v[id] === 'Not Found') {
      page('Result', h('p', {}, 'There is no result with this id, or it is not yours to see.'));
      return false;
    }
    const fi = v.file_info || {};
    const sr = v.scan_results || {};
    const pi = v.process_info || {};
    const done = sr.progress_percentage === 100;
    const actions = h('div', { class: 'pager no-print' });
    if (can('download', 'read')) {
      actions.append(h('button', { type: 'button', class: 'secondary', onclick: () => save(`/file/download/${encodeURIComponent(id)}`, fi.display_name || id).catch(fail) }, 'Download original'));
    }
    const pp = pi.post_processing || {};
    if (pp.converted_destination) {
      actions.append(h('button', { type: 'button', class: 'secondary', onclick: () => save(`/file/converted/${encodeURIComponent(id)}`, pp.converted_destination).catch(fail) }, 'Download sanitized'));
    }
    if (!done) {
      actions.append(h('button', {
        type: 'button', class: 'danger',
        onclick: async () => {
          try { await api('POST', `/file/${encodeURIComponent(id)}/cancel`); alertBox('Cancel requested.', 'info'); } catch (e) { fail(e); }
        },
      }, 'Cancel scan'));
    }
    const details = Object.entries(sr.scan_details || {});
    const notes = (v.mdscan && v.mdscan.notes) || [];
    const ex = v.extracted_files;
    const main = page(fi.display_name || id,
      h('p', {}, badge(pi.result), ' ', h('strong', {}, sr.scan_all_result_a || ''), done ? '' : ` — ${sr.progress_percentage} %`),
      actions,
      h('div', { class: 'card' }, h('dl', { class: 'kv' },
        kv('data_id', v.data_id, true), kv('Type', `${fi.file_type || ''} ${fi.file_type_description ? '— ' + fi.file_type_description : ''}`),
        kv('Size', bytes(fi.file_size)), kv('MD5', fi.md5, true), kv('SHA-1', fi.sha1, true), kv('SHA-256', fi.sha256, true),
        kv('Uploaded', fi.upload_timestamp), kv('Workflow', pi.profile), kv('User', pi.username),
        kv('Processing', ms(pi.processing_time)), kv('Queued', ms(pi.queue_time)),
        v.parent_data_id ? kv('Inside', h('a', { href: '#/result/' + v.parent_data_id }, v.parent_data_id)) : null)),
      notes.length ? h('div', { class: 'card' }, h('h2', {}, 'Notes'), h('ul', {}, notes.map((n) => h('li', {}, n)))) : null,
      details.length ? h('div', { class: 'card scroll' }, h('h2', {}, 'Engines'), h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, 'Engine'), h('th', {}, 'Result'), h('th', {}, 'Threat'), h('th', { class: 'num' }, 'Time'))),
        h('tbody', {}, details.map(([name, d]) => h('tr', {}, h('td', {}, name), h('td', {}, String(d.scan_result_i)),
          h('td', {}, d.threat_found || ''), h('td', { class: 'num' }, ms(d.scan_time))))))) : null,
      ex ? tree(ex) : null);
    if (first) main.focus();
    first = false;
    return !done;
  };
  const running = await load();
  if (running) every(async () => { if (!(await load())) S.timer = null; }, 2000);
}

function kv(k, v, mono) {
  if (v === undefined || v === null || v === '') return null;
  return [h('dt', {}, k), h('dd', { class: mono ? 'mono' : '' }, v)];
}

/** The extracted objects, depth first, drawn as an indented tree. */
function tree(ex) {
  const items = ex.files_in_archive || [];
  return h('div', { class: 'card' },
    h('h2', {}, `Objects inside (${ex.files_extracted_count})`),
    ex.files_extracted_count > items.length ? h('p', { class: 'muted' }, `The first ${items.length} are listed.`) : null,
    h('ul', { class: 'tree', role: 'tree', 'aria-label': 'Objects inside' }, items.map((c) => {
      const worst = c.data_id === ex.worst_data_id;
      return h('li', { role: 'treeitem', 'aria-level': c.depth || 1 },
        h('div', { class: 'node', 'data-depth': c.depth || 1 },
          h('span', { class: 'muted', 'aria-hidden': 'true' }, '└'),
          h('a', { href: '#/result/' + c.data_id }, c.display_name || c.data_id),
          badge(c.process_info && c.process_info.result),
          h('span', { class: 'muted' }, `${c.scan_all_result_a} · ${c.file_type || ''} · ${bytes(c.file_size)}`),
          worst ? h('strong', {}, 'worst') : null));
    })));
}

async function upload() {
  const rules = await api('GET', '/file/rules');
  const input = h('input', { id: 'files', type: 'file', multiple: true });
  const rule = h('select', { id: 'rule' }, rules.map((r) => h('option', { value: r.name }, r.name)));
  const pw = h('input', { id: 'archivepwd', type: 'password', autocomplete: 'off' });
  const list = h('ul', { id: 'uploads', 'aria-live': 'polite' });
  const drop = h('label', { class: 'drop', for: 'files',
    ondragover: (ev) => { ev.preventDefault(); drop.classList.add('over'); },
    ondragleave: () => drop.classList.remove('over'),
    ondrop: (ev) => { ev.preventDefault(); drop.classList.remove('over'); send(ev.dataTransfer.files); },
  }, h('p', {}, 'Drop files here, or choose them:'), input);
  const send = async (files) => {
    for (const file of files) {
      const li = h('li', {}, `${file.name}: uploading…`);
      list.prepend(li);
      try {
        const headers = { filename: encodeURIComponent(file.name), rule: encodeURIComponent(rule.value) };
        if (pw.value) headers.archivepwd1 = encodeURIComponent(pw.value);
        const v = await api('POST', '/file', file, { headers });
        li.replaceChildren(h('a', { href: '#/result/' + v.data_id }, file.name), ' — accepted, ', h('span', { class: 'mono' }, v.data_id));
      } catch (e) {
        li.replaceChildren(`${file.name}: `, h('strong', {}, e.message));
      }
    }
  };
  const form = h('form', { class: 'card', onsubmit: (ev) => { ev.preventDefault(); send(input.files); } },
    drop,
    h('div', { class: 'inline' },
      h('label', { for: 'rule' }, 'Workflow', rule),
      h('label', { for: 'archivepwd' }, 'Archive password (optional)', pw)),
    h('p', {}, h('button', { type: 'submit' }, 'Upload')));
  page('Upload', form, h('h2', {}, 'This session'), list);
}

async function workflows() {
  const list = await api('GET', '/admin/config/rule');
  const edit = can('workflow', 'write');
  const FIELDS = [
    ['max_file_size', 'Largest upload (bytes)'], ['max_depth', 'Archive depth'], ['max_files', 'Objects per file'],
    ['max_size', 'Bytes extracted per file'], ['max_object_size', 'Largest object (bytes)'],
    ['max_ratio', 'Compression ratio'], ['timeout_secs', 'Time limit (s)'],
  ];
  const card = (w, i) => {
    const inputs = {};
    const fields = FIELDS.map(([k, label]) => {
      inputs[k] = h('input', { id: `w${i}-${k}`, name: k, type: 'number', min: k === 'max_depth' ? 0 : 1, value: w[k], disabled: !edit });
      return h('label', { for: `w${i}-${k}` }, label, inputs[k]);
    });
    inputs.extract = h('input', { id: `w${i}-extract`, type: 'checkbox', checked: w.extract, disabled: !edit });
    inputs.block_codes = h('input', { id: `w${i}-block_codes`, value: (w.block_codes || []).join(', '), disabled: !edit, size: 30 });
    inputs.user_agents = h('input', { id: `w${i}-user_agents`, value: (w.user_agents || []).join(', '), disabled: !edit, size: 20 });
    const form = h('form', {
      class: 'inline',
      'aria-label': `Workflow ${w.name}`,
      onsubmit: async (ev) => {
        ev.preventDefault();
        const body = { extract: inputs.extract.checked };
        for (const [k] of FIELDS) body[k] = Number(inputs[k].value);
        body.block_codes = inputs.block_codes.value.split(',').map((c) => c.trim()).filter((c) => c).map(Number);
        body.user_agents = inputs.user_agents.value.split(',').map((c) => c.trim()).filter((c) => c);
        try {
          await api('PUT', `/admin/config/rule/${encodeURIComponent(w.name)}`, body);
          await workflows();
          alertBox(`Workflow ${w.name} saved; it is in force now.`, 'info');
        } catch (e) { fail(e); }
      },
    }, fields,
    h('label', { for: `w${i}-extract` }, 'Open archives', inputs.extract),
    h('label', { for: `w${i}-block_codes` }, 'Blocking result codes', inputs.block_codes),
    h('label', { for: `w${i}-user_agents` }, 'Client agents (empty: any)', inputs.user_agents),
    edit ? h('button', { type: 'submit' }, 'Save') : null,
    edit && w.edited ? h('button', {
      type: 'button', class: 'secondary',
      onclick: async () => {
        if (!confirm(`Drop the edits of ${w.name}?`)) return;
        try { await api('DELETE', `/admin/config/rule/${encodeURIComponent(w.name)}`); await workflows(); alertBox(`Workflow ${w.name} reverted.`, 'info'); } catch (e) { fail(e); }
      },
    }, 'Revert') : null);
    return h('div', { class: 'card' }, h('h2', {}, w.name, w.edited ? h('span', { class: 'badge processing' }, 'edited') : null),
      form, h('p', { class: 'muted' }, `Archive passwords: ${w.passwords || 0} (set in the config file or through the API)`));
  };
  const name = h('input', { id: 'w-new', required: true });
  const create = h('form', {
    class: 'inline card',
    onsubmit: async (ev) => {
      ev.preventDefault();
      try { await api('PUT', `/admin/config/rule/${encodeURIComponent(name.value.trim())}`, {}); await workflows(); } catch (e) { fail(e); }
    },
  }, h('label', { for: 'w-new' }, 'Name', name), h('button', { type: 'submit' }, 'Add workflow'));
  page('Workflows',
    h('p', { class: 'muted' }, edit ? 'Changes are saved durably and are in force at once (on every gateway within seconds).' : 'Your role may read workflows, not change them.'),
    ...list.map(card),
    edit ? [h('h2', {}, 'New workflow (from the defaults)'), create] : null);
}

async function engines() {
  const [list, nodes] = await Promise.all([api('GET', '/stat/engines'), api('GET', '/stat/nodes')]);
  const reload = can('engines', 'write') ? h('button', {
    id: 'reload-engines', type: 'button',
    onclick: async (ev) => {
      ev.target.disabled = true;
      try {
        const r = await api('POST', '/admin/engine/reload');
        await engines();
        alertBox(`Definitions reloaded (reload ${r.reload}); workers follow within seconds.`, 'info');
      } catch (e) { ev.target.disabled = false; fail(e); }
    },
  }, 'Reload rules and hash lists') : null;
  const perNode = (nodes.statuses || []).filter((n) => n.engines_reload !== undefined);
  page('Engines and rules',
    h('p', { class: 'muted' }, reload
      ? 'A reload reads the configured YARA rules and hash lists again; definitions that do not compile change nothing.'
      : 'Your role may read the engines, not reload them.'),
    h('div', { class: 'card scroll' }, engineTable(list), reload),
    perNode.length ? h('div', { class: 'card scroll' }, h('h2', {}, 'Definitions on each worker'),
      h('table', { id: 'node-engines' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Node'), h('th', { class: 'num' }, 'Reload'), h('th', {}, 'Engines'))),
        h('tbody', {}, perNode.map((n) => h('tr', {}, h('td', {}, n.id), h('td', { class: 'num' }, String(n.engines_reload)),
          h('td', { class: 'mono' }, (n.engines || []).map((e) => `${e.eng_name || e.name} ${e.eng_ver || e.version || ''}`).join('; '))))))) : null);
}

async function users() {
  const [list, roles] = await Promise.all([api('GET', '/admin/user'), api('GET', '/admin/role')]);
  const roleSelect = (id, value) => h('select', { id }, roles.map((r) => h('option', { value: r.id, selected: r.name === value }, r.display_name)));
  const name = h('input', { id: 'u-name', required: true, autocomplete: 'off' });
  const display = h('input', { id: 'u-display' });
  const email = h('input', { id: 'u-email', type: 'email' });
  const pw = h('input', { id: 'u-password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
  const role = roleSelect('u-role', 'user');
  const form = h('form', {
    class: 'inline card',
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api('POST', '/admin/user', { name: name.value.trim(), display_name: display.value, email: email.value, password: pw.value, roles: [role.value] });
        alertBox(`User ${name.value} created.`, 'info');
        users();
      } catch (e) { fail(e); }
    },
  },
  h('label', { for: 'u-name' }, 'Name', name), h('label', { for: 'u-display' }, 'Display name', display),
  h('label', { for: 'u-email' }, 'Email', email), h('label', { for: 'u-role' }, 'Role', role),
  h('label', { for: 'u-password' }, 'Password (8 or more)', pw), h('button', { type: 'submit' }, 'Create user'));
  page('Users and roles',
    h('div', { class: 'card scroll' }, h('table', { id: 'users' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', { class: 'hide-narrow' }, 'Display name'), h('th', { class: 'hide-narrow' }, 'Email'),
        h('th', {}, 'Role'), h('th', {}, 'Source'), h('th', { class: 'num' }, 'Keys'), h('th', {}, ''))),
      h('tbody', {}, list.map((u) => {
        const sel = roleSelect('role-' + u.name, u.role);
        sel.disabled = !u.editable;
        sel.setAttribute('aria-label', `Role of ${u.name}`);
        sel.addEventListener('change', async () => {
          try { await api('PUT', `/admin/user/${encodeURIComponent(u.name)}`, { roles: [sel.value] }); alertBox(`Role of ${u.name} changed.`, 'info'); } catch (e) { fail(e); users(); }
        });
        return h('tr', {}, h('td', {}, u.name), h('td', { class: 'hide-narrow' }, u.display_name), h('td', { class: 'hide-narrow' }, u.email),
          h('td', {}, sel), h('td', {}, u.directory), h('td', { class: 'num' }, String((u.api_keys || []).length)),
          h('td', {}, u.editable ? h('button', {
            type: 'button', class: 'danger', 'aria-label': `Delete ${u.name}`,
            onclick: async () => {
              if (!confirm(`Delete ${u.name} and their API keys?`)) return;
              try { await api('DELETE', `/admin/user/${encodeURIComponent(u.name)}`); users(); } catch (e) { fail(e); }
            },
          }, 'Delete') : ''));
      })))),
    h('h2', {}, 'New user'), form,
    h('h2', {}, 'Roles'),
    h('div', { class: 'card scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Role'), h('th', {}, 'May'))),
      h('tbody', {}, roles.map((r) => h('tr', {}, h('td', {}, r.display_name),
        h('td', {}, Object.entries(r.rights).filter(([, m]) => m.length).map(([a, m]) => `${a}: ${m.join('/')}`).join('; ')))))),
    ));
}

async function keys() {
  const mine = await api('GET', '/user/apikey');
  const all = can('users', 'read') ? await api('GET', '/admin/apikey') : null;
  const name = h('input', { id: 'k-name', placeholder: 'what it is for' });
  const days = h('input', { id: 'k-days', type: 'number', min: 1, max: 3650, value: 90 });
  const shown = h('div', { 'aria-live': 'polite' });
  const form = h('form', {
    class: 'inline card',
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const body = { name: name.value };
        if (days.value) body.expires_in_days = Number(days.value);
        const v = await api('POST', '/user/apikey', body);
        await keys();
        document.getElementById('new-key').replaceChildren(h('div', { class: 'secret' },
          h('p', {}, 'Your new key. Copy it now: it is not shown again.'),
          h('p', { class: 'mono', id: 'secret' }, v.apikey),
          h('button', { type: 'button', class: 'secondary', onclick: () => navigator.clipboard && navigator.clipboard.writeText(v.apikey) }, 'Copy')));
      } catch (e) { fail(e); }
    },
  },
  h('label', { for: 'k-name' }, 'Name', name), h('label', { for: 'k-days' }, 'Expires in days', days),
  h('button', { type: 'submit' }, 'Create key'));
  shown.id = 'new-key';
  const table = (rows, id) => h('table', { id },
    h('thead', {}, h('tr', {}, h('th', {}, 'Id'), h('th', {}, 'User'), h('th', {}, 'Name'), h('th', { class: 'hide-narrow' }, 'Created'),
      h('th', {}, 'Expires'), h('th', {}, ''))),
    h('tbody', {}, rows.length ? rows.map((k) => h('tr', {}, h('td', { class: 'mono' }, k.id), h('td', {}, k.user), h('td', {}, k.name),
      h('td', { class: 'hide-narrow' }, k.created), h('td', {}, k.expired ? 'expired' : (k.expires || 'never')),
      h('td', {}, h('button', {
        type: 'button', class: 'danger', 'aria-label': `Revoke key ${k.id}`,
        onclick: async () => {
          try { await api('DELETE', `/user/apikey/${encodeURIComponent(k.id)}`); alertBox(`Key ${k.id} revoked.`, 'info'); keys(); } catch (e) { fail(e); }
        },
      }, 'Revoke')))) : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No key.'))));
  const children = [];
  if (S.me.name && !S.me.name.startsWith('apikey-')) children.push(h('h2', {}, 'New key'), form, shown);
  children.push(h('h2', {}, 'Your keys'), h('div', { class: 'card scroll' }, table(mine, 'my-keys')));
  if (all) children.push(h('h2', {}, 'Every key'), h('div', { class: 'card scroll' }, table(all, 'all-keys')));
  if (S.me.directory === 'local') children.push(passwordForm());
  page('API keys', ...children);
}

function passwordForm() {
  const old = h('input', { id: 'p-old', type: 'password', autocomplete: 'current-password', required: true });
  const nw = h('input', { id: 'p-new', type: 'password', autocomplete: 'new-password', minlength: 8, required: true });
  return h('div', {}, h('h2', {}, 'Change your password'), h('form', {
    class: 'inline card',
    onsubmit: async (ev) => {
      ev.preventDefault();
      try { await api('POST', '/user/changepassword', { old_password: old.value, new_password: nw.value }); alertBox('Password changed.', 'info'); old.value = ''; nw.value = ''; } catch (e) { fail(e); }
    },
  }, h('label', { for: 'p-old' }, 'Current password', old), h('label', { for: 'p-new' }, 'New password', nw), h('button', { type: 'submit' }, 'Change')));
}

async function audit() {
  const user = h('input', { id: 'a-user', size: 12 });
  const action = h('input', { id: 'a-action', size: 12, placeholder: 'login, download…' });
  const from = h('input', { id: 'a-from', type: 'datetime-local' });
  const to = h('input', { id: 'a-to', type: 'datetime-local' });
  const body = h('tbody', {});
  const params = () => ({ user: user.value.trim(), action: action.value.trim(), from: fromInput(from.value), to: fromInput(to.value), limit: 500 });
  const load = async () => {
    const v = await api('GET', '/admin/audit' + qs(params()));
    body.replaceChildren(...(v.events.length ? v.events.map((e) => h('tr', {}, h('td', {}, when(e.time_ms)), h('td', {}, e.user || ''),
      h('td', { class: 'hide-narrow mono' }, e.address || ''), h('td', {}, e.action), h('td', { class: 'mono' }, e.target || ''), h('td', {}, e.outcome)))
      : [h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No entry matches.'))]));
  };
  const form = h('form', { class: 'inline card', role: 'search', onsubmit: (ev) => { ev.preventDefault(); load().catch(fail); } },
    h('label', { for: 'a-user' }, 'User', user), h('label', { for: 'a-action' }, 'Action', action),
    h('label', { for: 'a-from' }, 'From', from), h('label', { for: 'a-to' }, 'To', to),
    h('button', { type: 'submit' }, 'Filter'),
    h('button', { type: 'button', class: 'secondary', onclick: () => save('/admin/audit' + qs(Object.assign(params(), { format: 'csv', limit: 10000 })), 'mdscan-audit.csv').catch(fail) }, 'Export CSV'));
  page('Audit log', form, h('div', { class: 'card scroll' }, h('table', { id: 'audit' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'User'), h('th', { class: 'hide-narrow' }, 'Address'),
      h('th', {}, 'Action'), h('th', {}, 'Target'), h('th', {}, 'Outcome'))), body)));
  await load();
}

async function report() {
  const period = h('select', { id: 'r-period' },
    [['86400000', 'Last 24 hours'], ['604800000', 'Last 7 days'], ['2592000000', 'Last 30 days']].map(([v, t]) => h('option', { value: v }, t)));
  const out = h('div', { id: 'report' });
  const params = () => { const to = Date.now(); return { from: to - Number(period.value), to }; };
  const load = async () => {
    const p = params();
    const r = await api('GET', '/stat/report' + qs(p));
    out.replaceChildren(
      h('p', {}, `From ${new Date(r.from_ms).toLocaleString()} to ${new Date(r.to_ms).toLocaleString()}` + (r.truncated ? ' (counted up to the limit)' : '')),
      h('div', { class: 'grid' }, stat('Files', r.total), stat('Blocked', r.blocked), stat('Allowed', r.allowed),
        stat('Files per hour', r.files_per_hour), stat('Data', bytes(r.bytes)), stat('Objects examined', r.objects)),
      h('div', { class: 'card' }, h('h2', {}, 'Throughput'), barChart(r.throughput)),
      h('div', { class: 'grid' },
        h('div', { class: 'card' }, h('h2', {}, 'By verdict'), h('table', {}, h('tbody', {},
          Object.entries(r.by_verdict).map(([k, n]) => h('tr', {}, h('td', {}, k), h('td', { class: 'num' }, String(n))))))),
        h('div', { class: 'card' }, h('h2', {}, 'Top threats'), r.top_threats.length ? h('table', {}, h('tbody', {},
          r.top_threats.map((t) => h('tr', {}, h('td', {}, t.threat), h('td', { class: 'num' }, String(t.count)))))) : h('p', { class: 'muted' }, 'None.')),
        h('div', { class: 'card' }, h('h2', {}, 'Latency (upload to result)'), h('dl', { class: 'kv' },
          kv('p50', ms(r.latency_ms.p50)), kv('p90', ms(r.latency_ms.p90)), kv('p99', ms(r.latency_ms.p99)), kv('max', ms(r.latency_ms.max))))));
  };
  page('Executive report',
    h('form', { class: 'inline card no-print', onsubmit: (ev) => { ev.preventDefault(); load().catch(fail); } },
      h('label', { for: 'r-period' }, 'Period', period), h('button', { type: 'submit' }, 'Show'),
      h('button', { type: 'button', class: 'secondary', onclick: () => window.print() }, 'Print'),
      h('button', { type: 'button', class: 'secondary', onclick: () => save('/stat/report' + qs(Object.assign(params(), { format: 'csv' })), 'mdscan-report.csv').catch(fail) }, 'Export CSV')),
    out);
  await load();
}

// ---------------------------------------------------------------- routing

const ROUTES = { dashboard, history, upload, report, workflows, engines, users, keys, audit };

async function route() {
  S.timer = null;
  alertBox('');
  if (!S.me) return;
  const hash = location.hash.replace(/^#\/?/, '');
  const [name, ...rest] = hash.split('/');
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === (name || 'dashboard')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.getElementById('nav').classList.remove('open');
  try {
    if (name === 'result' && rest.length) await result(decodeURIComponent(rest.join('/')));
    else await (ROUTES[name] || dashboard)();
  } catch (e) {
    if (e.status === 403 && !S.me) return;
    fail(e);
  }
}

async function start() {
  try {
    S.me = await api('GET', '/user');
  } catch (e) {
    if (S.key) { sessionStorage.removeItem('mdscan.key'); S.key = ''; }
    signin(e.status === 403 ? '' : e.message);
    return;
  }
  updateHeader();
  await route();
}

document.addEventListener('DOMContentLoaded', () => {
  window.addEventListener('hashchange', route);
  document.getElementById('signout').addEventListener('click', async () => {
    try { await api('POST', '/logout'); } catch (_) { /* signed out either way */ }
    sessionStorage.removeItem('mdscan.key');
    S.key = '';
    signin('You are signed out.');
  });
  const toggle = document.getElementById('menu-toggle');
  toggle.addEventListener('click', () => {
    const nav = document.getElementById('nav');
    const open = nav.classList.toggle('open');
    toggle.setAttribute('aria-expanded', String(open));
  });
  start();
});
