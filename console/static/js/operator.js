// Operator: the coordinator's Status RPC — the federation and its epoch,
// every member's state, the coordinator's recent queries — and this
// console's own queries. Fields the RPC gains later appear under "further
// status".
import { get } from './api.js';
import { h, clear, badge, table, kv } from './dom.js';
import { t, num, dateTime } from './i18n.js';

const KNOWN = ['epoch', 'params', 'members', 'attached', 'public_key_digest', 'ready', 'serving', 'member_status', 'epoch_status',
  'key_generation_running', 'last_key_generation_error', 'recent_queries'];
const PHASES = ['counts', 'release_gate', 'inputs', 'key_switch', 'combine', 'total'];
const state = { root: null, data: null, error: null, timer: null };

export async function initOperator(root) {
  state.root = root;
  await refresh();
}

export function renderOperator() { if (state.root) render(); }

async function refresh() {
  try { state.data = await get('/api/status'); state.error = null; } catch (e) { state.error = e.message; }
  render();
  clearTimeout(state.timer);
  if (!document.getElementById('view-operator').hidden) state.timer = setTimeout(refresh, 5000);
}

export function showOperator() { refresh(); }

function hex(b64) {
  if (!b64) return '—';
  const bin = atob(b64);
  return [...bin].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
}

// nanos turns a protojson int64 of Unix nanoseconds into milliseconds, or
// null for zero.
function nanos(v) {
  const n = Number(v || 0);
  return n > 0 ? n / 1e6 : null;
}

function when(v) { const ms = nanos(v); return ms ? dateTime(ms) : '—'; }

function ago(v) {
  const ms = nanos(v);
  if (!ms) return '—';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return t('op.ago_s', { n: num(s) });
  if (s < 5400) return t('op.ago_m', { n: num(Math.round(s / 60)) });
  return t('op.ago_h', { n: num(Math.round(s / 3600)) });
}

function outcomeBadge(o) {
  const kind = { answered: 'ok', refused: 'bad', rejected: 'bad', failed: 'warn', timeout: 'warn' }[o] || 'info';
  return badge(kind, t('op.outcome_' + o, {}, o));
}

function federation(st) {
  const e = st.epoch_status;
  return h('div', { class: 'panel', id: 'federation' },
    h('h2', {}, t('op.federation'), ' ', st.serving ? badge('ok', t('op.serving')) : badge('warn', t('op.not_serving')), ' ',
      st.ready ? badge('ok', t('op.ready')) : badge('warn', t('op.not_ready'))),
    h('div', { class: 'muted small' }, st.serving ? t('op.serving_hint') : t('op.not_serving_hint')),
    kv([[t('op.epoch'), st.epoch || '—'], [t('op.params'), st.params],
      e && [t('op.quorum'), t('op.quorum_v', { q: num(e.quorum), n: num(e.members.length) })],
      e && [t('op.created'), when(e.created_unix_nanos)],
      [t('op.members_n'), num(st.members.length)], [t('op.attached_n'), num(st.attached.length)],
      [t('op.pk'), h('span', { class: 'mono small' }, hex(st.public_key_digest))],
      st.key_generation_running && [t('op.keygen'), badge('info', t('op.keygen_running'))],
      st.last_key_generation_error && [t('op.keygen_error'), h('span', { class: 'small' }, st.last_key_generation_error)]]),
    h('h3', {}, t('op.members')),
    memberTable(st));
}

function memberTable(st) {
  const byName = Object.fromEntries((st.member_status || []).map((m) => [m.name, m]));
  const head = ['run.partner', 'run.attached', 'op.since', 'op.last_seen', 'op.epoch_key', 'op.bundle', 'op.share'].map((k) => h('th', {}, t(k)));
  return table(head, st.members.map((name) => {
    const m = byName[name] || {};
    const attached = m.attached ?? st.attached.includes(name);
    const key = m.holds_epoch_key ? badge('ok', t('op.key_current')) : m.epoch ? badge('warn', t('op.key_other')) : '—';
    const expires = nanos(m.bundle_expires_unix_nanos);
    const expiring = expires && expires - Date.now() < 7 * 86400e3;
    return h('tr', { 'data-member': name },
      h('td', {}, name, m.last_error ? h('div', { class: 'small muted' }, m.last_error) : null),
      h('td', {}, attached ? badge('ok', t('yes')) : badge('bad', t('no'))),
      h('td', { class: 'nowrap small' }, attached ? when(m.attached_since_unix_nanos) : '—'),
      h('td', { class: 'nowrap small' }, ago(m.last_seen_unix_nanos)),
      h('td', {}, key),
      h('td', { class: 'small' }, m.bundle_revision || '—',
        expires ? h('div', { class: expiring ? 'small bad-text' : 'small muted' }, t('op.expires', { at: dateTime(expires) })) : null),
      h('td', {}, m.bundle_revision ? (m.share_present ? badge('ok', t('yes')) : badge('bad', t('no'))) : '—'));
  }), { id: 'members' });
}

// phaseBar draws a run's phases in proportion to their durations. The
// widths are set through the CSSOM: the page's policy allows no inline
// style attribute.
function phaseBar(timings) {
  const total = timings.total || 0;
  if (!total) return '—';
  return h('div', { class: 'phases' }, PHASES.filter((p) => p !== 'total' && timings[p] !== undefined).map((p) => {
    const seg = h('span', { class: 'phase phase-' + p, title: `${t('op.phase_' + p, {}, p)}: ${num(timings[p], 1)} ms` });
    seg.style.flexGrow = String(Math.max(timings[p], total / 100));
    return seg;
  }));
}

function coordinatorQueries(st) {
  const qs = st.recent_queries || [];
  return h('div', { class: 'panel', id: 'coordinator-queries' },
    h('h2', {}, t('op.coord_recent')),
    h('div', { class: 'muted small' }, t('op.coord_recent_hint')),
    qs.length ? table([t('history.time'), t('spec.purpose'), t('op.outcome'), t('op.refusals'), t('op.phases')].map((x) => h('th', {}, x)),
      qs.map((q) => h('tr', { 'data-query': q.query_id || '' },
        h('td', { class: 'small' }, when(q.started_unix_nanos), h('div', { class: 'mono small muted break' }, q.query_id || '—')),
        h('td', {}, q.purpose || '—'),
        h('td', {}, outcomeBadge(q.outcome), h('div', { class: 'small muted nowrap' }, `${num(q.duration_ms, 0)} ms`),
          q.runs > 1 ? h('div', { class: 'small muted' }, t('op.runs', { n: num(q.runs) })) : null),
        h('td', { class: 'small' }, (q.refusals || []).map((r) => h('div', {}, `${r.node}: `, h('span', { class: 'mono' }, r.codes.join(', ')))),
          !(q.refusals || []).length && q.outcome !== 'answered' && q.error ? h('div', { class: 'muted' }, q.error) : null),
        h('td', {}, phaseBar(q.timings_ms || {}))))) : h('div', { class: 'muted' }, t('history.empty')),
    h('div', { class: 'legend small muted' }, PHASES.filter((p) => p !== 'total').map((p) => h('span', {}, h('span', { class: 'phase phase-' + p }), t('op.phase_' + p, {}, p)))));
}

function consoleQueries() {
  return h('div', { class: 'panel', id: 'recent' },
    h('h2', {}, t('op.recent')),
    h('div', { class: 'muted small' }, t('op.recent_hint')),
    state.data.console_queries.length ? table([t('history.time'), t('spec.purpose'), t('history.state'), t('op.partners'), t('op.duration')].map((x) => h('th', {}, x)),
      state.data.console_queries.map((q) => h('tr', {}, h('td', { class: 'nowrap' }, dateTime(q.created)), h('td', {}, q.purpose),
        h('td', {}, badge(q.state === 'done' ? 'ok' : q.state === 'running' ? 'info' : 'bad', t('state.' + q.state)), q.error ? h('div', { class: 'small muted' }, q.error) : null),
        h('td', {}, (q.partners || []).join(', ')), h('td', { class: 'num' }, q.ms ? `${num(q.ms, 0)} ms` : '')))) : h('div', { class: 'muted' }, t('history.empty')));
}

function render() {
  if (state.error) { clear(state.root, h('div', { class: 'panel' }, h('div', { class: 'banner bad' }, state.error))); return; }
  if (!state.data) return;
  const st = state.data.status;
  const extra = Object.entries(st).filter(([k]) => !KNOWN.includes(k));
  clear(state.root,
    h('div', { class: 'grid2' },
      h('div', {}, federation(st),
        extra.length ? h('div', { class: 'panel', id: 'further' }, h('h3', {}, t('op.further')),
          kv(extra.map(([k, v]) => [t('op.f_' + k, {}, k), typeof v === 'object' ? JSON.stringify(v) : String(v)]))) : null),
      h('div', {}, coordinatorQueries(st), consoleQueries())));
}
