// Operator: the coordinator's Status RPC. Fields the RPC does not give are
// not shown; fields it gains later appear under "further status".
import { get } from './api.js';
import { h, clear, badge, table, kv } from './dom.js';
import { t, num, dateTime } from './i18n.js';

const KNOWN = ['epoch', 'params', 'members', 'attached', 'public_key_digest', 'ready'];
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

function render() {
  if (state.error) { clear(state.root, h('div', { class: 'panel' }, h('div', { class: 'banner bad' }, state.error))); return; }
  if (!state.data) return;
  const st = state.data.status;
  const memberDetail = Array.isArray(st.member_status) ? st.member_status : null;
  const extra = Object.entries(st).filter(([k]) => !KNOWN.includes(k) && k !== 'member_status');
  clear(state.root,
    h('div', { class: 'grid2' },
      h('div', { class: 'panel', id: 'federation' },
        h('h2', {}, t('op.federation'), ' ', st.ready ? badge('ok', t('op.ready')) : badge('warn', t('op.not_ready'))),
        kv([[t('op.epoch'), st.epoch || '—'], [t('op.params'), st.params], [t('op.members_n'), num(st.members.length)],
          [t('op.attached_n'), num(st.attached.length)], [t('op.pk'), h('span', { class: 'mono small' }, hex(st.public_key_digest))]]),
        h('h3', {}, t('op.members')),
        table([t('run.partner'), t('run.attached'), ...(memberDetail ? Object.keys(memberDetail[0] || {}).filter((k) => k !== 'name').map((k) => t('op.f_' + k, {}, k)) : [])].map((x) => h('th', {}, x)),
          st.members.map((m) => {
            const d = memberDetail && memberDetail.find((x) => x.name === m);
            return h('tr', {}, h('td', {}, m), h('td', {}, st.attached.includes(m) ? badge('ok', t('yes')) : badge('bad', t('no'))),
              d ? Object.entries(d).filter(([k]) => k !== 'name').map(([, v]) => h('td', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))) : null);
          }), { id: 'members' }),
        extra.length ? [h('h3', {}, t('op.further')), kv(extra.map(([k, v]) => [t('op.f_' + k, {}, k), typeof v === 'object' ? JSON.stringify(v) : String(v)]))]
          : h('div', { class: 'muted small' }, t('op.pending_fields'))),
      h('div', { class: 'panel', id: 'recent' },
        h('h2', {}, t('op.recent')),
        h('div', { class: 'muted small' }, t('op.recent_hint')),
        state.data.console_queries.length ? table([t('history.time'), t('spec.purpose'), t('history.state'), t('op.partners'), t('op.duration')].map((x) => h('th', {}, x)),
          state.data.console_queries.map((q) => h('tr', {}, h('td', { class: 'nowrap' }, dateTime(q.created)), h('td', {}, q.purpose),
            h('td', {}, badge(q.state === 'done' ? 'ok' : q.state === 'running' ? 'info' : 'bad', t('state.' + q.state)), q.error ? h('div', { class: 'small muted' }, q.error) : null),
            h('td', {}, (q.partners || []).join(', ')), h('td', { class: 'num' }, q.ms ? `${num(q.ms, 0)} ms` : '')))) : h('div', { class: 'muted' }, t('history.empty')))));
}
