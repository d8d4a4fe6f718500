// Analyst: query builder from the catalogue, run with progress, results.
import { get, post } from './api.js';
import { h, clear, badge, table, kv } from './dom.js';
import { t, num, dateTime, lang } from './i18n.js';
import { drawCharts } from './charts.js';

const OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'in', 'not_in', 'between'];
const KINDS = ['count', 'sum', 'mean', 'histogram'];
const PHASES = ['input_1', 'counts_opened', 'input_2', 'key_switch_share'];

const state = {
  catalog: null, session: null, spec: null, check: null, force: false,
  job: null, history: [], timer: null, checkTimer: null, root: null,
};

export async function initAnalyst(root, session) {
  state.root = root;
  state.session = session;
  try {
    state.catalog = await get('/api/catalog');
  } catch (e) {
    clear(root, h('div', { class: 'banner bad' }, e.message));
    return;
  }
  const res = await post('/api/spec/check', { text: state.catalog.default_spec || defaultSpec() });
  state.spec = res.spec || JSON.parse(defaultSpec());
  state.check = res;
  await loadHistory();
  render();
}

export function renderAnalyst() { if (state.catalog) render(); }

function defaultSpec() {
  const p = state.catalog.purposes[0];
  return JSON.stringify({ purpose: p.name, group_by: [], metrics: [{ kind: 'count' }], min_partners: state.catalog.min_partners });
}

function purpose() { return state.catalog.purposes.find((p) => p.name === state.spec.purpose); }

function columnsOf(filter) {
  const p = purpose();
  const cols = p ? p.columns : state.catalog.columns.map((c) => ({ ...c, published: true }));
  return filter ? cols.filter(filter) : cols;
}

const isNumeric = (c) => c.type === 'numeric' || c.type === 'date';

function render() {
  const root = state.root;
  clear(root,
    h('div', { class: 'grid' },
      h('div', {}, builder()),
      h('div', {}, h('div', { id: 'run-panel' }), historyPanel(), catalogPanel())));
  renderRun();
  markFields();
}

// ---- builder ----

function builder() {
  const s = state.spec;
  const purposes = state.catalog.purposes;
  const p = purpose();
  const pipias = p ? p.pipias || [] : [];
  const set = (k, v) => { if (v === '' || v === undefined || Number.isNaN(v)) delete s[k]; else s[k] = v; changed(); };
  return h('div', { class: 'panel', id: 'builder' },
    h('h2', {}, t('analyst.builder')),
    h('div', { class: 'row' },
      h('div', { class: 'grow' }, h('label', {}, t('spec.purpose')),
        h('select', { id: 'f-purpose', 'data-field': 'purpose', onchange: (e) => { s.purpose = e.target.value; render(); changed(); } },
          purposes.map((x) => h('option', { value: x.name, selected: x.name === s.purpose }, x.name)))),
      h('div', {}, h('label', {}, t('spec.pipia')),
        h('select', { id: 'f-pipia', 'data-field': 'pipia_id', onchange: (e) => set('pipia_id', e.target.value) },
          h('option', { value: '' }, t('spec.none')),
          pipias.map((a) => h('option', { value: a.id, selected: a.id === s.pipia_id }, a.id)),
          s.pipia_id && !pipias.some((a) => a.id === s.pipia_id) ? h('option', { value: s.pipia_id, selected: true }, s.pipia_id) : null))),
    p ? h('div', { class: 'muted small' }, p.description, ' · ', t('cat.legal_basis'), ': ', p.legal_basis || '—',
      p.requires_pipia ? [' · ', badge('warn', t('cat.requires_pipia'))] : null,
      p.automated_decision ? [' · ', badge('warn', t('cat.automated'))] : null) : null,
    h('div', { class: 'row' },
      h('div', {}, h('label', {}, t('spec.min_partners')),
        h('input', { id: 'f-min-partners', 'data-field': 'min_partners', type: 'number', min: 2, value: s.min_partners ?? '', onchange: (e) => set('min_partners', parseInt(e.target.value, 10)) })),
      h('div', {}, h('label', {}, t('spec.epsilon')),
        h('input', { id: 'f-epsilon', 'data-field': 'epsilon', type: 'number', step: '0.1', min: 0, placeholder: t('spec.no_noise'), value: s.epsilon ?? '', onchange: (e) => set('epsilon', e.target.value === '' ? '' : parseFloat(e.target.value)) })),
      h('div', {}, h('label', {}, t('spec.decimals')),
        h('input', { id: 'f-decimals', 'data-field': 'decimals', type: 'number', min: -6, max: 6, placeholder: t('spec.decimals_auto'), value: s.decimals ?? '', onchange: (e) => set('decimals', e.target.value === '' ? undefined : parseInt(e.target.value, 10)) }))),
    h('h3', {}, t('spec.group_by'), ' ', h('button', { class: 'small secondary', id: 'add-group', onclick: () => { s.group_by = [...(s.group_by || []), newGroup()]; render(); changed(); } }, '+')),
    (s.group_by || []).map((g, i) => groupRow(g, i)),
    h('h3', {}, t('spec.filter'), ' ', h('button', { class: 'small secondary', id: 'add-filter', onclick: () => { s.filter = [...(s.filter || []), newFilter()]; render(); changed(); } }, '+')),
    (s.filter || []).map((f, i) => filterRow(f, i)),
    h('h3', {}, t('spec.metrics'), ' ', h('button', { class: 'small secondary', id: 'add-metric', onclick: () => { s.metrics = [...(s.metrics || []), { kind: 'count' }]; render(); changed(); } }, '+')),
    (s.metrics || []).map((m, i) => metricRow(m, i)),
    h('div', { id: 'check-panel' }, checkPanel()),
    h('div', { class: 'row' },
      h('label', { class: 'button secondary', for: 'spec-file' }, t('spec.load')),
      h('input', { id: 'spec-file', type: 'file', accept: '.yaml,.yml,.json', class: 'hidden', onchange: loadFile }),
      h('button', { class: 'secondary', id: 'save-spec', onclick: saveFile }, t('spec.save')),
      h('span', { class: 'grow' }),
      h('button', { id: 'run-query', onclick: runQuery, disabled: !state.session.analyst }, t('spec.run'))),
    state.session.analyst ? null : h('div', { class: 'muted small' }, t('spec.no_querier')));
}

function newGroup() {
  const c = columnsOf((x) => x.published)[0] || { name: '' };
  return isNumeric(c) ? { column: c.name, bins: c.bins || [0, 1] } : { column: c.name, values: (c.values || []).slice(0, 3) };
}

function newFilter() {
  const c = columnsOf((x) => x.published)[0] || { name: '' };
  return { column: c.name, op: 'eq', value: (c.values || [''])[0] };
}

function columnSelect(id, field, value, onchange, filter) {
  const cols = columnsOf(filter);
  return h('select', { id, 'data-field': field, onchange },
    cols.map((c) => h('option', { value: c.name, selected: c.name === value }, c.name + (c.unit ? ` (${c.unit})` : ''))),
    value && !cols.some((c) => c.name === value) ? h('option', { value, selected: true }, value) : null);
}

const listText = (xs) => (xs || []).join(', ');
function parseList(text, numeric) {
  const parts = text.split(',').map((x) => x.trim()).filter((x) => x !== '');
  return numeric ? parts.map(Number) : parts;
}

function col(name) { return columnsOf().find((c) => c.name === name) || state.catalog.columns.find((c) => c.name === name); }

function groupRow(g, i) {
  const s = state.spec;
  const mode = g.bins ? 'bins' : 'values';
  const c = col(g.column);
  const hint = c ? (c.bins ? `${t('cat.typical_bins')}: ${listText(c.bins)}` : c.values ? `${t('cat.values')}: ${listText(c.values)}` : '') : '';
  return h('div', { class: 'item', 'data-field': `group_by[${i}]` },
    h('div', { class: 'row' },
      columnSelect(`f-group-${i}-column`, `group_by[${i}].column`, g.column, (e) => {
        const nc = col(e.target.value);
        s.group_by[i] = nc && isNumeric(nc) ? { column: nc.name, bins: nc.bins || [0, 1] } : { column: e.target.value, values: (nc && nc.values || []).slice(0, 4) };
        render(); changed();
      }),
      h('select', { id: `f-group-${i}-mode`, onchange: (e) => { s.group_by[i] = e.target.value === 'bins' ? { column: g.column, bins: (c && c.bins) || [0, 1] } : { column: g.column, values: (c && c.values || []).slice(0, 4) }; render(); changed(); } },
        h('option', { value: 'bins', selected: mode === 'bins' }, t('spec.bins')),
        h('option', { value: 'values', selected: mode === 'values' }, t('spec.values'))),
      h('input', { class: 'grow', id: `f-group-${i}-list`, 'data-field': `group_by[${i}].${mode}`, value: listText(g[mode]),
        onchange: (e) => { g[mode] = parseList(e.target.value, mode === 'bins'); changed(); } }),
      h('button', { class: 'small ghost', title: t('spec.remove'), onclick: () => { s.group_by.splice(i, 1); render(); changed(); } }, '×')),
    hint ? h('div', { class: 'muted small' }, hint) : null);
}

function literal(text, c) {
  if (c && (c.type === 'numeric' || c.type === 'date') && text !== '' && !Number.isNaN(Number(text))) return Number(text);
  if (c && c.type === 'boolean') return text === 'true';
  return text;
}

function filterRow(f, i) {
  const s = state.spec;
  const c = col(f.column);
  const multi = ['in', 'not_in', 'between'].includes(f.op);
  const text = multi ? listText(f.values) : (f.value ?? '');
  return h('div', { class: 'item', 'data-field': `filter[${i}]` },
    h('div', { class: 'row' },
      columnSelect(`f-filter-${i}-column`, `filter[${i}].column`, f.column, (e) => { f.column = e.target.value; render(); changed(); }),
      h('select', { id: `f-filter-${i}-op`, 'data-field': `filter[${i}].op`, onchange: (e) => {
        const was = multi; f.op = e.target.value; const now = ['in', 'not_in', 'between'].includes(f.op);
        if (was !== now) { if (now) { f.values = f.value !== undefined ? [f.value] : []; delete f.value; } else { f.value = (f.values || [])[0]; delete f.values; } }
        render(); changed();
      } }, OPS.map((o) => h('option', { value: o, selected: o === f.op }, t('op.' + o)))),
      h('input', { class: 'grow', id: `f-filter-${i}-value`, 'data-field': `filter[${i}].${multi ? 'values' : 'value'}`, value: text,
        onchange: (e) => {
          if (multi) f.values = parseList(e.target.value, false).map((x) => literal(x, c)); else f.value = literal(e.target.value.trim(), c);
          changed();
        } }),
      h('button', { class: 'small ghost', onclick: () => { s.filter.splice(i, 1); render(); changed(); } }, '×')),
    c && c.values ? h('div', { class: 'muted small' }, `${t('cat.values')}: ${listText(c.values)}`) : null);
}

function metricRow(m, i) {
  const s = state.spec;
  const numericCols = (x) => isNumeric(x) || !x.published;
  return h('div', { class: 'item', 'data-field': `metrics[${i}]` },
    h('div', { class: 'row' },
      h('select', { id: `f-metric-${i}-kind`, 'data-field': `metrics[${i}].kind`, onchange: (e) => {
        const kind = e.target.value;
        const c = columnsOf((x) => isNumeric(x) && x.published)[0];
        s.metrics[i] = kind === 'count' ? { kind } : kind === 'histogram'
          ? { kind, column: m.column || (c && c.name), bins: (col(m.column || (c && c.name)) || {}).bins || [0, 1] }
          : { kind, column: m.column || (c && c.name), clip: clipOf(col(m.column || (c && c.name))) };
        render(); changed();
      } }, KINDS.map((k) => h('option', { value: k, selected: k === m.kind }, t('metric.' + k)))),
      m.kind === 'count' ? null : columnSelect(`f-metric-${i}-column`, `metrics[${i}].column`, m.column, (e) => {
        m.column = e.target.value;
        const c = col(m.column);
        if (m.kind === 'histogram') m.bins = (c && c.bins) || m.bins; else m.clip = clipOf(c);
        render(); changed();
      }, numericCols),
      m.kind === 'sum' || m.kind === 'mean' ? [
        h('span', { class: 'muted small' }, t('spec.clip')),
        h('input', { type: 'number', id: `f-metric-${i}-lo`, 'data-field': `metrics[${i}].clip`, value: m.clip ? m.clip[0] : '', onchange: (e) => { m.clip = [Number(e.target.value), m.clip ? m.clip[1] : 0]; changed(); } }),
        h('input', { type: 'number', id: `f-metric-${i}-hi`, value: m.clip ? m.clip[1] : '', onchange: (e) => { m.clip = [m.clip ? m.clip[0] : 0, Number(e.target.value)]; changed(); } }),
      ] : null,
      m.kind === 'histogram' ? h('input', { class: 'grow', id: `f-metric-${i}-bins`, 'data-field': `metrics[${i}].bins`, value: listText(m.bins), onchange: (e) => { m.bins = parseList(e.target.value, true); changed(); } }) : null,
      h('button', { class: 'small ghost', onclick: () => { s.metrics.splice(i, 1); render(); changed(); } }, '×')));
}

function clipOf(c) {
  if (c && c.range) return [c.range[0], c.range[1]];
  if (c && c.bins) return [c.bins[0], c.bins[c.bins.length - 1]];
  return [0, 1];
}

// ---- checking ----

function changed() {
  clearTimeout(state.checkTimer);
  state.checkTimer = setTimeout(check, 150);
}

async function check() {
  try {
    state.check = await post('/api/spec/check', { spec: state.spec });
  } catch (e) {
    state.check = { ok: false, problems: [{ field: '', message: e.message, kind: 'invalid' }] };
  }
  const panel = document.getElementById('check-panel');
  if (panel) clear(panel, checkPanel());
  markFields();
}

function checkPanel() {
  const c = state.check;
  if (!c) return null;
  const probs = c.problems || [];
  const refused = probs.some((p) => p.kind === 'refused') && !probs.some((p) => p.kind === 'invalid');
  return [
    h('h3', {}, t('spec.check')),
    probs.length === 0
      ? h('div', { class: 'banner ok', id: 'check-ok' }, t('spec.ok', { cells: num(c.cells || 0) }))
      : h('ul', { class: 'problems', id: 'problems' }, probs.map((p) =>
        h('li', { class: p.kind, 'data-problem-field': p.field }, p.field ? [h('code', {}, p.field), ': '] : null, p.message, ' ', badge(p.kind === 'refused' ? 'bad' : p.kind === 'schema' ? 'warn' : 'bad', t('problem.' + p.kind))))),
    refused ? h('label', { class: 'row' }, h('input', { type: 'checkbox', id: 'force', checked: state.force, onchange: (e) => { state.force = e.target.checked; } }), ' ', t('spec.force')) : null,
    h('details', { open: true }, h('summary', {}, t('spec.yaml')), h('pre', { id: 'spec-yaml' }, c.yaml || '')),
  ];
}

function markFields() {
  document.querySelectorAll('.field-error').forEach((el) => el.classList.remove('field-error'));
  for (const p of (state.check && state.check.problems) || []) {
    if (!p.field) continue;
    const el = document.querySelector(`[data-field="${CSS.escape(p.field)}"]`) || document.querySelector(`[data-field="${CSS.escape(p.field.replace(/\.[a-z_]+$/, ''))}"]`);
    if (el) el.classList.add('field-error');
  }
}

async function loadFile(e) {
  const file = e.target.files[0];
  if (!file) return;
  const res = await post('/api/spec/check', { text: await file.text() });
  if (res.spec) { state.spec = res.spec; state.check = res; render(); }
  else { state.check = res; clear(document.getElementById('check-panel'), checkPanel()); }
}

function saveFile() {
  const blob = new Blob([(state.check && state.check.yaml) || ''], { type: 'application/yaml' });
  const a = h('a', { href: URL.createObjectURL(blob), download: `${state.spec.purpose || 'query'}.yaml` });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

// ---- running ----

async function runQuery() {
  const btn = document.getElementById('run-query');
  btn.disabled = true;
  try {
    const { id } = await post('/api/queries', { spec: state.spec, force: state.force });
    await follow(id);
  } catch (e) {
    if (e.body && e.body.problems) { state.check = { ...state.check, problems: e.body.problems }; clear(document.getElementById('check-panel'), checkPanel()); markFields(); }
    state.job = { error_only: e.message };
    renderRun();
  } finally {
    btn.disabled = !state.session.analyst;
  }
}

async function follow(id) {
  clearTimeout(state.timer);
  state.job = await get(`/api/queries/${id}`);
  renderRun();
  if (state.job.state === 'running') state.timer = setTimeout(() => follow(id), 300);
  else await loadHistory();
}

async function loadHistory() {
  try { state.history = await get('/api/queries'); } catch { state.history = []; }
  const el = document.getElementById('history');
  if (el) clear(el, historyTable());
}

function renderRun() {
  const el = document.getElementById('run-panel');
  if (!el) return;
  const j = state.job;
  if (!j) { clear(el, h('div', { class: 'panel muted' }, t('run.none'))); return; }
  if (j.error_only) { clear(el, h('div', { class: 'panel' }, h('div', { class: 'banner bad', id: 'run-error' }, j.error_only))); return; }
  const stateBadge = { running: 'info', done: 'ok', refused: 'bad', failed: 'bad' }[j.state];
  clear(el, h('div', { class: 'panel', id: 'run' },
    h('h2', {}, t('run.title'), ' ', badge(stateBadge, t('state.' + j.state)), ' ',
      j.query_id ? h('span', { class: 'mono muted', id: 'query-id' }, j.query_id) : null),
    progressTable(j),
    j.refusal ? refusalBox(j.refusal) : null,
    j.state === 'failed' ? h('div', { class: 'banner bad', id: 'run-error' }, j.error) : null,
    j.result ? resultBlock(j) : null));
  if (j.result) drawCharts(j, document.getElementById('charts'));
}

function progressTable(j) {
  const head = [t('run.partner'), t('run.attached'), ...PHASES.map((p) => t('phase.' + p))];
  const rows = (j.partner_progress || []).map((p) => h('tr', {},
    h('td', {}, p.name),
    h('td', { class: p.attached ? 'done' : 'pending' }, p.attached ? '✓' : '–'),
    PHASES.map((ph) => {
      if (p.steps[ph] !== undefined) return h('td', { class: 'done' }, '✓ ', h('span', { class: 'muted small' }, `${num(p.steps[ph], 0)} ms`));
      if (p.refused) return h('td', { class: 'refused' }, ph === 'input_1' ? t('run.refused') : '');
      return h('td', { class: 'pending' }, j.state === 'running' ? '…' : '–');
    })));
  return h('div', { class: 'scroll' }, table(head.map((x) => h('th', {}, x)), rows, { class: 'steps', id: 'progress' }));
}

function refusalBox(rf) {
  return h('div', { class: 'banner bad', id: 'refusal' },
    h('strong', {}, t('run.refused_by', { node: rf.node })),
    h('ul', {}, (rf.reasons || []).map((r) => h('li', { class: 'reason' },
      h('code', {}, r.code), r.article ? [' ', badge('bad', r.article)] : null, r.message ? ` — ${r.message}` : null))),
    rf.error ? h('div', {}, rf.error) : null,
    h('div', { class: 'small' }, t('run.refused_hint')));
}

function fmtValue(v, c, decimals) {
  if (v === null || v === undefined) return null;
  if (c.role === 'label') return v;
  if (c.role === 'count' || c.role === 'bin') return num(v, 0);
  return num(v, Math.max(c.decimals ?? decimals ?? 0, 0));
}

function resultBlock(j) {
  const r = j.result;
  const cells = r.rows.map((row, ri) => h('tr', {}, row.map((v, ci) => {
    const c = r.columns[ci];
    const shown = fmtValue(v, c, r.decimals);
    const withheld = v === null && c.role !== 'mean';
    return h('td', { class: c.role === 'label' ? '' : withheld ? 'withheld num' : 'num', 'data-raw': v === null ? '' : String(v), title: withheld ? t('result.withheld_cell') : null },
      shown === null ? (withheld ? t('result.withheld_mark') : '–') : shown);
  })));
  const noise = r.noise;
  return [
    h('h3', {}, t('result.table'), ' ', j.plaintext ? badge(j.plaintext === 'match' ? 'ok' : 'bad', t('result.plaintext_' + j.plaintext)) : null),
    h('div', { class: 'scroll' }, table(r.columns.map((c) => h('th', { class: c.role === 'label' ? '' : 'num' }, c.name)), cells, { id: 'result-table' })),
    r.withheld > 0 ? h('div', { class: 'banner warn', id: 'withheld-note' }, t('result.withheld', { n: num(r.withheld), cells: num(r.withheld_cells), k: num(state.catalog.privacy.min_cell_size) })) : null,
    noise ? h('div', { class: 'banner info', id: 'noise-note' },
      h('div', {}, t('result.noise', { eps: num(noise.epsilon, 2), block: num(noise.block_epsilon, 3) })),
      h('ul', {}, noise.blocks.map((b) => h('li', {}, t('result.noise_block', {
        what: b.column ? `${t('metric.' + b.kind)} ${b.column}` : t('metric.count'),
        scale: num(b.scale, 2), bound: num(b.bound95, 2), sens: num(b.sensitivity, 2),
      }))))) : h('div', { class: 'muted small', id: 'noise-note' }, t('result.no_noise')),
    h('div', { class: 'row' },
      h('a', { class: 'button', id: 'export-csv', href: `/api/queries/${j.id}/result.csv`, download: '' }, t('result.csv')),
      h('a', { class: 'button', id: 'export-json', href: `/api/queries/${j.id}/result.json`, download: '' }, t('result.json'))),
    h('div', { id: 'charts' }),
    h('h3', {}, t('result.receipts')),
    table([t('run.partner'), t('result.decision'), t('result.revision')].map((x) => h('th', {}, x)),
      (j.receipts || []).map((r2) => h('tr', {}, h('td', {}, r2.node), h('td', { class: 'mono' }, r2.decision_id), h('td', {}, r2.bundle_revision)))),
    h('h3', {}, t('result.timings')),
    kv(Object.entries(j.timings_ms || {}).sort((a, b) => timingRank(a[0]) - timingRank(b[0])).map(([k, v]) => [t('timing.' + k, {}, k), `${num(v, 1)} ms`])),
  ];
}

const TIMING_ORDER = ['sign', 'counts', 'release_gate', 'inputs', 'key_switch', 'combine', 'total', 'decrypt', 'end_to_end'];
function timingRank(k) { const i = TIMING_ORDER.indexOf(k); return i < 0 ? TIMING_ORDER.length : i; }

// ---- history ----

function historyPanel() {
  return h('div', { class: 'panel' }, h('h2', {}, t('history.title')), h('div', { id: 'history' }, historyTable()));
}

function historyTable() {
  if (!state.history.length) return h('div', { class: 'muted' }, t('history.empty'));
  return h('div', { class: 'scroll' }, table([t('history.time'), t('spec.purpose'), t('history.state'), t('history.query'), t('history.receipts')].map((x) => h('th', {}, x)),
    state.history.map((q) => h('tr', {},
      h('td', { class: 'nowrap' }, dateTime(q.created)),
      h('td', {}, q.purpose),
      h('td', {}, badge({ done: 'ok', running: 'info' }[q.state] || 'bad', t('state.' + q.state))),
      h('td', {}, h('a', { href: '#analyst', onclick: (e) => { e.preventDefault(); follow(q.id); } }, q.query_id || q.id)),
      h('td', { class: 'small' }, (q.receipts || []).map((r) => h('div', {}, `${r.node}: ${r.bundle_revision}`)))),
    ), { id: 'history-table' }));
}

// ---- catalogue ----

function catalogPanel() {
  const c = state.catalog;
  const p = purpose();
  const pr = c.privacy;
  return h('div', { class: 'panel', id: 'catalog' },
    h('h2', {}, t('cat.title'), ' ', h('span', { class: 'muted small' }, t('cat.revision', { rev: c.revision }))),
    kv([
      [t('cat.min_partners'), num(c.min_partners)],
      [t('cat.min_cell'), num(pr.min_cell_size)],
      [t('cat.dp'), pr.dp_required ? t('cat.required') : t('cat.optional')],
      [t('cat.max_eps'), num(pr.max_epsilon_per_query, 2)],
      [t('cat.daily_eps'), num(pr.daily_epsilon_per_purpose, 2)],
      [t('cat.min_age'), num(pr.min_age)],
    ]),
    p ? [
      h('h3', {}, t('cat.columns_for', { purpose: p.name })),
      h('div', { class: 'muted small' }, t('cat.consent_col', { col: p.consent_column })),
      h('div', { class: 'scroll' }, table([t('cat.column'), t('cat.type'), t('cat.unit'), t('cat.class'), t('cat.requires'), t('cat.shape')].map((x) => h('th', {}, x)),
        p.columns.map((x) => h('tr', {},
          h('td', { class: 'mono' }, x.name),
          h('td', {}, x.published ? t('type.' + x.type) : badge('warn', t('cat.unpublished'))),
          h('td', {}, x.unit || ''),
          h('td', {}, x.class, x.sensitive ? [' ', badge('warn', t('cat.sensitive'))] : null),
          h('td', { class: 'small' }, (x.requires || []).map((r) => t('req.' + r)).join(', ')),
          h('td', { class: 'small' }, x.bins ? listText(x.bins) : listText(x.values)))), { id: 'catalog-columns' })),
    ] : null);
}

export { lang };
