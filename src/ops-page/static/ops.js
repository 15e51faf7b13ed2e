// tally's freshness page: reads materializedViews from ../graphql, draws what each view reads
// and its recent refresh durations, and refreshes views with the ops token. Plain DOM and SVG.
'use strict';
(function () {
  const GRAPHQL = new URL('../graphql', location.href).href;
  const TOKEN_KEY = 'tally.opsToken';
  const SVG = 'http://www.w3.org/2000/svg';
  const QUERY = `query OpsPage {
    materializedViews {
      name dependsOn sourceTables populated stale lastRefreshedAt lastRefreshStartedAt lastRefreshDurationMs
      recentRefreshes(last: 30) { startedAt refreshedAt durationMs concurrently by }
    }
  }`;
  const REFRESH = `mutation OpsPageRefresh($views: [String!]) {
    refreshViews(views: $views) { refreshed { name durationMs concurrently refreshedAt } }
  }`;

  const $ = (id) => document.getElementById(id);
  let views = [];
  let busy = false;

  function el(tag, attrs = {}, ...children) {
    const node = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.setAttribute('class', v);
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    return node;
  }

  async function graphql(query, variables, token) {
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(GRAPHQL, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    let body;
    try {
      body = await res.json();
    } catch {
      throw new Error(`the server answered ${res.status} without JSON`);
    }
    if (body.errors && body.errors.length) {
      const e = new Error(body.errors.map((x) => x.message).join('; '));
      e.code = body.errors[0].extensions && body.errors[0].extensions.code;
      throw e;
    }
    return body.data;
  }

  function say(text, kind) {
    const m = $('message');
    m.textContent = text;
    m.className = kind || '';
  }

  function formatAge(seconds) {
    if (seconds < 60) return `${Math.floor(seconds)} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
    return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
  }
  const formatMs = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

  // ---- dependency graph: base tables in the first column, each view one column right of what it reads
  function drawGraph() {
    const levels = new Map();
    for (const v of views) levels.set(v.name, 1 + Math.max(0, ...v.dependsOn.map((d) => levels.get(d) || 0)));
    const tables = [...new Set(views.flatMap((v) => v.sourceTables))].sort();
    const columns = [tables.map((t) => ({ id: `t:${t}`, label: t.replace(/^public\./, ''), kind: 'table' }))];
    for (const v of views) {
      const level = levels.get(v.name);
      (columns[level] = columns[level] || []).push({ id: `v:${v.name}`, label: v.name, kind: !v.populated || v.stale ? 'stale' : 'fresh' });
    }
    const W = 176, H = 28, GAPX = 70, GAPY = 14, PAD = 10;
    const pos = new Map();
    const rows = Math.max(...columns.map((c) => (c ? c.length : 0)));
    const height = PAD * 2 + rows * H + (rows - 1) * GAPY;
    columns.forEach((col, x) => {
      if (!col) return;
      const top = (height - (col.length * H + (col.length - 1) * GAPY)) / 2;
      col.forEach((n, y) => pos.set(n.id, { x: PAD + x * (W + GAPX), y: top + y * (H + GAPY), node: n }));
    });
    const width = PAD * 2 + columns.length * W + (columns.length - 1) * GAPX;
    const svg = el('svg:svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'What each view reads' });
    svg.append(
      el('svg:defs', {}, el('svg:marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 8, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto' },
        el('svg:path', { d: 'M0,0 L8,4 L0,8 z', fill: '#98a2b3' }))),
    );
    for (const v of views) {
      const to = pos.get(`v:${v.name}`);
      for (const from of [...v.sourceTables.map((t) => `t:${t}`), ...v.dependsOn.map((d) => `v:${d}`)]) {
        const a = pos.get(from);
        if (!a || !to) continue;
        const x1 = a.x + W, y1 = a.y + H / 2, x2 = to.x, y2 = to.y + H / 2, mid = (x1 + x2) / 2;
        svg.append(el('svg:path', { class: 'edge', d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, 'marker-end': 'url(#arrow)' }));
      }
    }
    for (const { x, y, node } of pos.values()) {
      const g = el('svg:g', { class: `node ${node.kind}`, 'data-node': node.id });
      g.append(el('svg:rect', { x, y, width: W, height: H, rx: 6 }), el('svg:text', { x: x + 10, y: y + H / 2 + 4 }, node.label));
      g.append(el('svg:title', {}, node.kind === 'table' ? `table ${node.label}` : `${node.label}: ${node.kind}`));
      svg.append(g);
    }
    $('graph').replaceChildren(svg);
  }

  // ---- duration plot over the refresh log: time on x, milliseconds on y
  function plot(records) {
    const W = 240, H = 56, L = 4, R = 44, T = 6, B = 6;
    const svg = el('svg:svg', { class: 'plot', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img' });
    if (!records.length) {
      svg.append(el('svg:text', { x: L, y: H / 2 + 4 }, 'no refresh logged'));
      return svg;
    }
    const pts = records.map((r) => ({ t: Date.parse(r.refreshedAt), ms: r.durationMs, r })).sort((a, b) => a.t - b.t);
    const t0 = pts[0].t, t1 = pts[pts.length - 1].t, max = Math.max(...pts.map((p) => p.ms)) || 1;
    const X = (t) => (t1 === t0 ? L + (W - L - R) / 2 : L + ((t - t0) / (t1 - t0)) * (W - L - R));
    const Y = (ms) => T + (1 - ms / max) * (H - T - B);
    svg.setAttribute('aria-label', `${pts.length} refreshes, longest ${formatMs(max)}`);
    svg.append(el('svg:line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
    svg.append(el('svg:text', { x: W - R + 4, y: T + 8 }, formatMs(max)), el('svg:text', { x: W - R + 4, y: H - B }, '0'));
    if (pts.length > 1) svg.append(el('svg:polyline', { class: 'line', points: pts.map((p) => `${X(p.t)},${Y(p.ms)}`).join(' ') }));
    for (const p of pts) {
      const dot = el('svg:circle', { class: `dot${p.r.concurrently ? '' : ' plain'}`, cx: X(p.t), cy: Y(p.ms), r: 2.5 });
      dot.append(el('svg:title', {}, `${new Date(p.t).toLocaleString()}: ${formatMs(p.ms)} (${p.r.concurrently ? 'concurrently' : 'plain'}, by ${p.r.by})`));
      svg.append(dot);
    }
    return svg;
  }

  function stateBadge(v) {
    if (!v.populated) return el('span', { class: 'badge empty' }, 'not populated');
    return v.stale ? el('span', { class: 'badge stale' }, 'stale') : el('span', { class: 'badge fresh' }, 'fresh');
  }

  function ageText(v) {
    return v.lastRefreshedAt ? formatAge((Date.now() - Date.parse(v.lastRefreshedAt)) / 1000) : 'never refreshed';
  }

  function medianOf(values) {
    if (!values.length) return null;
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  function drawTable() {
    const rows = views.map((v) => {
      const median = medianOf(v.recentRefreshes.map((r) => r.durationMs));
      return el('tr', { 'data-view': v.name, class: v.stale ? 'is-stale' : 'is-fresh' },
        el('td', { class: 'name' }, v.name),
        el('td', { class: 'reads' }, [...v.dependsOn, ...v.sourceTables.map((t) => t.replace(/^public\./, ''))].join(', ')),
        el('td', { class: 'state' }, stateBadge(v)),
        el('td', { class: 'age', 'data-refreshed-at': v.lastRefreshedAt || '' }, ageText(v)),
        el('td', { class: 'last' }, v.lastRefreshDurationMs === null ? '—' : formatMs(v.lastRefreshDurationMs),
          median === null ? null : el('div', { class: 'muted small' }, `median ${formatMs(median)} of ${v.recentRefreshes.length}`)),
        el('td', { class: 'plot' }, plot(v.recentRefreshes)),
        el('td', {}, el('button', { type: 'button', class: 'refresh', 'data-view': v.name, onclick: () => refresh([v.name]) }, 'Refresh')),
      );
    });
    $('views').tBodies[0].replaceChildren(...rows);
  }

  function tickAges() {
    for (const td of document.querySelectorAll('td.age')) {
      const at = td.getAttribute('data-refreshed-at');
      if (at) td.textContent = formatAge((Date.now() - Date.parse(at)) / 1000);
    }
  }

  async function load() {
    try {
      views = (await graphql(QUERY)).materializedViews;
      drawGraph();
      drawTable();
      const stale = views.filter((v) => v.stale || !v.populated).length;
      $('updated').textContent = `${views.length} views, ${stale} stale · updated ${new Date().toLocaleTimeString()}`;
      document.body.dataset.loaded = 'true';
    } catch (err) {
      say(`Could not read the views: ${err.message}`, 'error');
    }
  }

  // ---- the token: asked for in a dialog, kept in sessionStorage only when the person says so
  function askToken() {
    return new Promise((resolve) => {
      const dialog = $('token-dialog');
      const input = $('token-input');
      input.value = '';
      const done = (value) => {
        dialog.close();
        $('token-form').onsubmit = null;
        $('token-cancel').onclick = null;
        resolve(value);
      };
      $('token-form').onsubmit = (e) => {
        e.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        if ($('token-remember').checked) sessionStorage.setItem(TOKEN_KEY, token);
        done(token);
      };
      $('token-cancel').onclick = () => done(null);
      dialog.addEventListener('cancel', () => done(null), { once: true });
      dialog.showModal();
      input.focus();
    });
  }

  function showForget() {
    $('forget-token').hidden = !sessionStorage.getItem(TOKEN_KEY);
  }

  async function refresh(names) {
    if (busy) return;
    const token = sessionStorage.getItem(TOKEN_KEY) || (await askToken());
    showForget();
    if (!token) return say('Nothing refreshed: no token given.');
    busy = true;
    for (const b of document.querySelectorAll('button.refresh, #refresh-all')) b.disabled = true;
    say(`Refreshing ${names ? names.join(', ') + ' and what reads it' : 'every view'}…`);
    try {
      const done = (await graphql(REFRESH, { views: names }, token)).refreshViews.refreshed;
      say(done.length ? `Refreshed ${done.map((r) => `${r.name} (${formatMs(r.durationMs)})`).join(', ')}.` : 'Nothing needed refreshing.', 'ok');
    } catch (err) {
      if (err.code === 'FORBIDDEN' || err.code === 'UNAUTHENTICATED') {
        sessionStorage.removeItem(TOKEN_KEY);
        showForget();
        say(`Refused: ${err.message}. Try again with the server's OPS_TOKEN.`, 'error');
      } else {
        say(`Refresh failed: ${err.message}`, 'error');
      }
    } finally {
      busy = false;
      await load();
      for (const b of document.querySelectorAll('button.refresh, #refresh-all')) b.disabled = false;
    }
  }

  $('refresh-all').addEventListener('click', () => refresh(null));
  $('reload').addEventListener('click', () => load());
  $('forget-token').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showForget();
    say('Token forgotten.');
  });
  showForget();
  load();
  setInterval(() => (busy ? null : load()), 10_000);
  setInterval(tickAges, 1000);
})();
