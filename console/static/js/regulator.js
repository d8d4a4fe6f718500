// Regulator: bundles (manifest, signature, rules, purposes, privacy,
// tests), diffs of two revisions, audit logs, a data subject's answer.
import { get, post, upload } from './api.js';
import { h, clear, badge, table, kv } from './dom.js';
import { t, num, dateTime } from './i18n.js';

const state = { root: null, session: null, bundles: [], open: null, detail: null, tests: null, diff: null, audit: null, subject: null, filter: { purpose: '', since: '', until: '', kind: '' } };

export async function initRegulator(root, session) {
  state.root = root;
  state.session = session;
  await refreshBundles();
  if (state.bundles.length) await openBundle(state.bundles[0].id, false);
  render();
}

export function renderRegulator() { if (state.root) render(); }

async function refreshBundles() {
  try { state.bundles = await get('/api/bundles'); } catch (e) { state.bundles = []; state.error = e.message; }
}

async function openBundle(id, rerender = true) {
  state.open = id;
  state.detail = await get(`/api/bundles/${encodeURIComponent(id)}`);
  state.tests = null;
  if (rerender) render();
}

function render() {
  clear(state.root,
    h('div', { class: 'grid2' },
      h('div', {}, bundlesPanel(), diffPanel()),
      h('div', {}, auditPanel(), subjectPanel())),
    state.detail ? detailPanel(state.detail) : null);
}

function verifyBadge(b) {
  if (b.verified) return badge('ok', t('bundle.verified'));
  if (!b.signed) return badge('bad', t('bundle.unsigned'));
  return badge('bad', t('bundle.not_verified'));
}

function bundlesPanel() {
  return h('div', { class: 'panel', id: 'bundles' },
    h('h2', {}, t('bundle.title')),
    table([t('bundle.revision'), t('bundle.source'), t('bundle.signature'), ''].map((x) => h('th', {}, x)),
      state.bundles.map((b) => h('tr', { class: b.id === state.open ? 'selected' : '' },
        h('td', { class: 'mono' }, b.revision),
        h('td', {}, t('source.' + b.source, {}, b.label)),
        h('td', {}, verifyBadge(b)),
        h('td', {}, h('button', { class: 'small secondary', 'data-open': b.id, onclick: () => openBundle(b.id) }, t('bundle.open'))))), { id: 'bundle-list' }),
    h('div', { class: 'row' },
      h('label', { class: 'button', for: 'bundle-file' }, t('bundle.upload')),
      h('input', { type: 'file', id: 'bundle-file', accept: '.tar.gz,.tgz', class: 'hidden', onchange: async (e) => {
        const f = e.target.files[0];
        if (!f) return;
        try {
          const b = await upload('/api/bundles', { bundle: f });
          await refreshBundles();
          await openBundle(b.id);
        } catch (err) { alert(err.message); }
      } })),
    h('div', { class: 'muted small' }, t('bundle.upload_hint')));
}

function detailPanel(d) {
  const settings = privacySettings(d.data);
  return h('div', { class: 'panel', id: 'bundle-detail' },
    h('h2', {}, t('bundle.detail', { rev: d.revision }), ' ', verifyBadge(d)),
    d.verify_error ? h('div', { class: 'banner ' + (d.verified ? 'ok' : 'warn'), id: 'verify-result' }, d.verify_error) : h('div', { class: 'banner ok', id: 'verify-result' }, t('bundle.verified_by', { key: d.key_id })),
    h('div', { class: 'grid2' },
      h('div', {},
        h('h3', {}, t('bundle.manifest')),
        kv([[t('bundle.revision'), d.revision], [t('bundle.digest'), h('span', { class: 'mono' }, d.digest)], [t('bundle.key_id'), d.key_id || '—'],
          [t('bundle.roots'), (d.manifest.roots || []).join(', ')], [t('bundle.files'), num(d.files.length)]]),
        h('h3', {}, t('bundle.privacy')), kv(settings)),
      h('div', {},
        h('h3', {}, t('bundle.tests'), ' ', h('button', { class: 'small', id: 'run-tests', onclick: runTests }, t('bundle.run_tests'))),
        h('div', { id: 'tests' }, testsView()))),
    h('h3', {}, t('bundle.purposes')),
    d.catalog.purposes.map((p) => h('div', { class: 'item' },
      h('strong', {}, p.name), ' ', h('span', { class: 'muted small' }, p.description),
      h('div', { class: 'small' }, `${t('cat.legal_basis')}: ${p.legal_basis} · ${t('cat.consent_col', { col: p.consent_column })} · ${t('cat.retention', { days: num(p.retention_days) })}`,
        p.requires_pipia ? [' · ', badge('warn', t('cat.requires_pipia'))] : null, p.automated_decision ? [' · ', badge('warn', t('cat.automated'))] : null,
        p.licensed_channel ? [' · ', badge('bad', t('cat.licensed'))] : null),
      h('div', { class: 'small' }, t('cat.pipias'), ': ', (p.pipias || []).map((a) => `${a.id} (${a.covers.join(', ')})`).join('; ') || '—'),
      h('div', { class: 'small' }, t('cat.columns'), ': ', p.columns.map((c) => h('span', { class: c.sensitive ? 'badge warn' : 'badge info', title: (c.requires || []).map((r) => t('req.' + r)).join(', ') }, c.name)), ' ',
        h('span', { class: 'muted' }, t('bundle.sensitive_note'))))),
    h('h3', {}, t('bundle.rules', { n: num(d.rules.length) })),
    h('div', { class: 'scroll' }, table([t('rule.code'), t('rule.article'), t('rule.decision'), t('rule.what')].map((x) => h('th', {}, x)),
      d.rules.map((r) => h('tr', { 'data-code': r.code },
        h('td', { class: 'mono' }, r.code),
        h('td', {}, badge('info', r.article)),
        h('td', { class: 'small' }, `${r.package.replace('fedscore.', '')} · ${t('rule.kind_' + r.kind)}`),
        h('td', {}, r.title ? h('strong', {}, r.title) : null, r.description ? h('div', { class: 'small muted' }, r.description) : null,
          h('details', {}, h('summary', {}, `${r.file}:${r.line}`), h('pre', { class: 'rule-src' }, r.source))))), { id: 'rules' })));
}

function privacySettings(data) {
  const dp = data.dp || {}, gate = data.release_gate || {};
  return [
    [t('cat.min_partners'), num(data.min_partners)],
    [t('cat.min_cell'), num(gate.min_cell_size ?? 50)],
    [t('cat.releases_day'), num(gate.max_releases_per_purpose_per_day)],
    [t('cat.dp'), dp.required ? t('cat.required') : t('cat.optional')],
    [t('cat.max_eps'), num(dp.max_epsilon_per_query, 2)],
    [t('cat.daily_eps'), num(dp.daily_epsilon_per_purpose, 2)],
    [t('cat.min_age'), num(data.min_age)],
    [t('cat.cross_border'), data.cross_border_allowed ? t('yes') : t('no')],
    [t('cat.assume_consent'), data.assume_consent_when_absent ? t('yes') : t('no')],
  ];
}

async function runTests() {
  const el = document.getElementById('tests');
  clear(el, h('span', { class: 'muted' }, t('bundle.testing')));
  try { state.tests = await post(`/api/bundles/${encodeURIComponent(state.open)}/test`, {}); } catch (e) { state.tests = { error: e.message }; }
  clear(el, testsView());
}

function testsView() {
  const r = state.tests;
  if (!r) return h('div', { class: 'muted small' }, t('bundle.tests_hint'));
  if (r.error) return h('div', { class: 'banner bad' }, r.error);
  return [
    h('div', { class: 'banner ' + (r.failed ? 'bad' : 'ok'), id: 'tests-summary' }, t('bundle.tests_summary', { passed: num(r.passed), failed: num(r.failed), skipped: num(r.skipped) })),
    h('div', { class: 'scroll' }, table([t('rule.test'), '', 'ms'].map((x) => h('th', {}, x)),
      r.results.map((x) => h('tr', {}, h('td', { class: 'mono small' }, `${x.package.replace('data.fedscore.', '')}.${x.name}`),
        h('td', {}, x.skip ? badge('warn', 'SKIP') : x.pass ? badge('ok', 'PASS') : badge('bad', 'FAIL'), x.error ? h('div', { class: 'small' }, x.error) : null),
        h('td', { class: 'num' }, num(x.ms, 1)))))),
  ];
}

// ---- diff ----

function diffPanel() {
  const opts = (sel) => state.bundles.map((b) => h('option', { value: b.id, selected: b.id === sel }, `${b.revision} — ${t('source.' + b.source, {}, b.label)}`));
  const from = state.diffFrom || (state.bundles[1] || state.bundles[0] || {}).id;
  const to = state.diffTo || (state.bundles[0] || {}).id;
  return h('div', { class: 'panel', id: 'diff-panel' },
    h('h2', {}, t('diff.title')),
    h('div', { class: 'row' },
      h('select', { id: 'diff-from', onchange: (e) => { state.diffFrom = e.target.value; } }, opts(from)), '→',
      h('select', { id: 'diff-to', onchange: (e) => { state.diffTo = e.target.value; } }, opts(to)),
      h('button', { id: 'diff-run', onclick: runDiff }, t('diff.compare'))),
    h('div', { id: 'diff' }, diffView()));
}

async function runDiff() {
  const from = document.getElementById('diff-from').value, to = document.getElementById('diff-to').value;
  state.diffFrom = from; state.diffTo = to;
  try { state.diff = await get(`/api/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`); } catch (e) { state.diff = { error: e.message }; }
  clear(document.getElementById('diff'), diffView());
}

function val(v) { return v === undefined || v === null ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v); }

function diffView() {
  const d = state.diff;
  if (!d) return h('div', { class: 'muted small' }, t('diff.hint'));
  if (d.error) return h('div', { class: 'banner bad' }, d.error);
  const rules = d.rules || [], settings = d.settings || [], files = d.files || [];
  if (!rules.length && !settings.length && !files.length) return h('div', { class: 'banner ok', id: 'diff-none' }, t('diff.none', { from: d.from, to: d.to }));
  return [
    h('div', { class: 'small muted' }, t('diff.summary', { from: d.from, to: d.to, rules: num(rules.length), settings: num(settings.length), files: num(files.length) })),
    rules.length ? [h('h4', {}, t('diff.rules')), table([t('diff.change'), t('rule.code'), t('rule.article'), t('rule.decision')].map((x) => h('th', {}, x)),
      rules.map((c) => {
        const r = c.new || c.old;
        return h('tr', { class: 'rule-change' }, h('td', { class: 'change-' + c.change }, t('change.' + c.change)), h('td', { class: 'mono' }, r.code),
          h('td', {}, c.old && c.new && c.old.article !== c.new.article ? `${c.old.article} → ${c.new.article}` : r.article),
          h('td', { class: 'small' }, r.package, c.old && c.new ? h('details', {}, h('summary', {}, t('diff.source')), h('pre', {}, c.old.source), h('pre', {}, c.new.source)) : null));
      }), { id: 'diff-rules' })] : null,
    settings.length ? [h('h4', {}, t('diff.settings')), table([t('diff.change'), t('diff.setting'), t('diff.old'), t('diff.new')].map((x) => h('th', {}, x)),
      settings.map((s) => h('tr', { class: 'setting-change' }, h('td', { class: 'change-' + s.change }, t('change.' + s.change)), h('td', { class: 'mono' }, s.path),
        h('td', { class: 'small' }, s.removed ? s.removed.map((x) => h('div', { class: 'change-removed' }, '− ' + x)) : val(s.old)),
        h('td', { class: 'small' }, s.added ? s.added.map((x) => h('div', { class: 'change-added' }, '+ ' + x)) : s.removed ? '' : val(s.new)))), { id: 'diff-settings' })] : null,
    files.length ? [h('h4', {}, t('diff.files')), table([t('diff.change'), t('diff.file')].map((x) => h('th', {}, x)),
      files.map((f) => h('tr', {}, h('td', { class: 'change-' + f.change }, t('change.' + f.change)), h('td', { class: 'mono small' }, f.path))))] : null,
  ];
}

// ---- audit ----

function auditPanel() {
  const nodes = state.session.nodes || [];
  return h('div', { class: 'panel', id: 'audit-panel' },
    h('h2', {}, t('audit.title')),
    nodes.length ? h('div', { class: 'row' }, h('span', { class: 'muted small' }, t('audit.node_logs')),
      nodes.map((n) => h('button', { class: 'small secondary', 'data-node': n, onclick: async () => { state.audit = await get(`/api/audit/nodes/${encodeURIComponent(n)}`); renderAudit(); } }, n))) : null,
    h('div', { class: 'row' },
      h('label', {}, t('audit.log_file')), h('input', { type: 'file', id: 'audit-file' }),
      h('label', {}, t('audit.archive_file')), h('input', { type: 'file', id: 'archive-file' }),
      h('button', { id: 'audit-verify', onclick: async () => {
        const log = document.getElementById('audit-file').files[0];
        if (!log) return;
        try { state.audit = await upload('/api/audit/verify', { log, archive: document.getElementById('archive-file').files[0] }); } catch (e) { state.audit = { upload_error: e.message }; }
        renderAudit();
      } }, t('audit.verify'))),
    h('div', { id: 'audit' }, auditView()));
}

function renderAudit() { clear(document.getElementById('audit'), auditView()); }

function auditView() {
  const a = state.audit;
  if (!a) return h('div', { class: 'muted small' }, t('audit.hint'));
  if (a.upload_error) return h('div', { class: 'banner bad' }, a.upload_error);
  const f = state.filter;
  const purposes = [...new Set(a.records.map((r) => r.purpose).filter(Boolean))];
  const inDay = (time, since, until) => (!since || time >= since) && (!until || time.slice(0, 10) <= until);
  const rows = a.records.filter((r) => (!f.purpose || r.purpose === f.purpose) && (!f.kind || r.kind === f.kind) && inDay(r.time, f.since, f.until));
  const queries = new Set(rows.filter((r) => r.query_id).map((r) => r.query_id));
  const redraw = () => renderAudit();
  return [
    a.ok
      ? h('div', { class: 'banner ok', id: 'audit-result' }, t('audit.ok', { source: a.source, entries: num(a.entries), cps: num(a.checkpoints) }),
        h('div', { class: 'small' }, a.signatures_verified ? t('audit.signed_by', { signer: a.signer }) : t('audit.unsigned')),
        a.entries_after_checkpoint ? h('div', { class: 'small' }, t('audit.after_cp', { n: num(a.entries_after_checkpoint) })) : null)
      : h('div', { class: 'banner bad', id: 'audit-result' },
        h('strong', {}, t('audit.bad', { source: a.source })),
        h('div', { id: 'audit-bad-entry' }, t('audit.first_bad', { line: num(a.line), seq: num(a.seq), problem: a.problem || a.error })),
        a.kind ? h('div', { class: 'small' }, t('audit.kind_' + a.kind)) : null),
    h('div', { class: 'row' },
      h('label', {}, t('spec.purpose')),
      h('select', { id: 'audit-purpose', onchange: (e) => { f.purpose = e.target.value; redraw(); } }, h('option', { value: '' }, t('audit.all')),
        purposes.map((p) => h('option', { value: p, selected: p === f.purpose }, p))),
      h('label', {}, t('audit.kind')),
      h('select', { id: 'audit-kind', onchange: (e) => { f.kind = e.target.value; redraw(); } }, h('option', { value: '' }, t('audit.all')),
        ['admission', 'cohort', 'release', 'key_switch', 'setup', 'recovery'].map((k) => h('option', { value: k, selected: k === f.kind }, k))),
      h('label', {}, t('audit.since')), h('input', { type: 'date', id: 'audit-since', value: f.since, onchange: (e) => { f.since = e.target.value; redraw(); } }),
      h('label', {}, t('audit.until')), h('input', { type: 'date', id: 'audit-until', value: f.until, onchange: (e) => { f.until = e.target.value; redraw(); } })),
    a.archive ? null : h('div', { class: 'muted small' }, t('audit.no_archive')),
    h('div', { class: 'small muted' }, t('audit.count', { n: num(rows.length), q: num(queries.size) })),
    h('div', { class: 'scroll' }, table(['seq', t('audit.time'), t('audit.kind'), t('audit.query'), t('spec.purpose'), t('audit.result'), t('audit.reasons'), t('bundle.revision')].map((x) => h('th', {}, x)),
      rows.map((r) => h('tr', {}, h('td', { class: 'num' }, r.seq), h('td', { class: 'small nowrap' }, dateTime(r.time)), h('td', {}, r.kind),
        h('td', { class: 'mono small nowrap' }, r.query_id || ''), h('td', {}, r.purpose || ''),
        h('td', {}, badge(r.result === 'allow' ? 'ok' : 'bad', r.result)), h('td', { class: 'mono small' }, (r.reasons || []).join(', ')),
        h('td', { class: 'small' }, r.bundle_revision || ''))), { id: 'audit-entries' })),
  ];
}

// ---- data subject ----

function subjectPanel() {
  const nodes = state.session.nodes || [];
  return h('div', { class: 'panel', id: 'subject-panel' },
    h('h2', {}, t('subject.title')),
    h('div', { class: 'muted small' }, t('subject.hint')),
    h('div', { class: 'row' },
      nodes.length ? [h('label', {}, t('subject.node')), h('select', { id: 'subject-node' }, nodes.map((n) => h('option', { value: n }, n)), h('option', { value: '' }, t('subject.upload')))] : null,
      h('label', {}, t('subject.id')), h('input', { id: 'subject-id', placeholder: nodes.length ? `${nodes[0]}-000001` : 'customer id' })),
    h('div', { class: 'row', id: 'subject-files' },
      h('label', {}, t('audit.archive_file')), h('input', { type: 'file', id: 'subject-archive' }),
      h('label', {}, t('subject.data_file')), h('input', { type: 'file', id: 'subject-data', accept: '.csv' }),
      h('button', { id: 'subject-run', onclick: runSubject }, t('subject.ask'))),
    h('div', { id: 'subject' }, subjectView()));
}

async function runSubject() {
  const node = document.getElementById('subject-node') ? document.getElementById('subject-node').value : '';
  const id = document.getElementById('subject-id').value.trim();
  try {
    state.subject = node
      ? await post('/api/audit/subject', { node, id })
      : await upload('/api/audit/subject', { id, archive: document.getElementById('subject-archive').files[0], data: document.getElementById('subject-data').files[0] });
  } catch (e) { state.subject = { error: e.message }; }
  clear(document.getElementById('subject'), subjectView());
}

function subjectView() {
  const s = state.subject;
  if (!s) return null;
  if (s.error) return h('div', { class: 'banner bad' }, s.error);
  const used = s.filter((u) => u.used).length;
  return [
    h('div', { class: 'banner info', id: 'subject-summary' }, t('subject.summary', { used: num(used), n: num(s.length) })),
    table([t('audit.time'), t('audit.query'), t('spec.purpose'), t('subject.used'), t('subject.cell')].map((x) => h('th', {}, x)),
      s.map((u) => h('tr', {}, h('td', { class: 'small nowrap' }, dateTime(u.time)), h('td', { class: 'mono small nowrap' }, u.query_id), h('td', {}, u.purpose),
        h('td', {}, u.used ? badge('warn', t('yes')) : badge('ok', t('no'))), h('td', { class: 'small' }, u.used ? u.cell : u.reason)))),
  ];
}
