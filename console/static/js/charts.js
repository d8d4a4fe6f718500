// Charts of a result with Apache ECharts (vendored, window.echarts): a heat
// map for two group-by dimensions, bars per segment, histograms per
// segment. Withheld cells are drawn hatched and named in the tooltip.
import { h, clear } from './dom.js';
import { t, num } from './i18n.js';

let charts = [];

function chart(el) {
  const c = window.echarts.init(el, null, { renderer: 'canvas', locale: document.documentElement.lang === 'zh-CN' ? 'ZH' : 'EN' });
  charts.push(c);
  return c;
}

window.addEventListener('resize', () => charts.forEach((c) => c.resize()));

const WITHHELD = { color: '#d5dae1', decal: { symbol: 'rect', dashArrayX: [1, 0], dashArrayY: [2, 4], rotation: -Math.PI / 4, color: '#aab3bf' } };

function metricColumns(r) {
  return r.columns.map((c, i) => ({ ...c, i })).filter((c) => c.role === 'count' || c.role === 'sum' || c.role === 'mean');
}

export function drawCharts(job, root) {
  charts.forEach((c) => c.dispose());
  charts = [];
  if (!root || !window.echarts) return;
  const r = job.result;
  const metrics = metricColumns(r);
  const hasHist = r.columns.some((c) => c.role === 'bin');
  const tabs = [];
  if (r.dimensions.length === 2) tabs.push(['heatmap', t('chart.heatmap')]);
  if (r.dimensions.length >= 1) tabs.push(['bars', t('chart.bars')]);
  if (hasHist) tabs.push(['hist', t('chart.hist')]);
  if (!tabs.length) return;
  const metricSel = h('select', { id: 'chart-metric' }, metrics.map((m) => h('option', { value: m.i }, m.name)));
  const body = h('div', { class: 'chart', id: 'chart' });
  let active = tabs[0][0];
  const bar = h('div', { class: 'tabs', id: 'chart-tabs' }, tabs.map(([id, label]) => h('button', {
    'data-tab': id, class: id === active ? 'active' : '',
    onclick: (e) => { active = id; bar.querySelectorAll('button').forEach((b) => b.classList.toggle('active', b.dataset.tab === id)); draw(); },
  }, label)));
  clear(root, h('h3', {}, t('chart.title')), bar, h('div', { class: 'row' }, h('label', {}, t('chart.metric')), metricSel), body,
    h('div', { class: 'muted small' }, t('chart.withheld_legend')));
  metricSel.addEventListener('change', draw);
  const c = chart(body);
  function draw() {
    c.clear();
    metricSel.parentElement.classList.toggle('hidden', active === 'hist');
    const mi = Number(metricSel.value);
    if (active === 'heatmap') c.setOption(heatmap(r, mi));
    if (active === 'bars') c.setOption(bars(r, mi));
    if (active === 'hist') c.setOption(histograms(r));
  }
  draw();
}

function labels(r, d) {
  const seen = [];
  for (const row of r.rows) if (!seen.includes(row[d])) seen.push(row[d]);
  return seen;
}

const tooltip = { trigger: 'item', renderMode: 'richText' };

function heatmap(r, mi) {
  const xs = labels(r, 1), ys = labels(r, 0);
  const data = [], withheld = [];
  let lo = Infinity, hi = -Infinity;
  for (const row of r.rows) {
    const x = xs.indexOf(row[1]), y = ys.indexOf(row[0]), v = row[mi];
    if (v === null) withheld.push([x, y]);
    else { data.push([x, y, v]); lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }
  const name = r.columns[mi].name;
  return {
    tooltip: { ...tooltip, formatter: (p) => p.seriesIndex === 1 ? `${ys[p.value[1]]} × ${xs[p.value[0]]}: ${t('result.withheld_cell')}` : `${ys[p.value[1]]} × ${xs[p.value[0]]}\n${name}: ${num(p.value[2], 2)}` },
    grid: { left: 110, right: 110, top: 30, bottom: 50 },
    xAxis: { type: 'category', data: xs, name: r.dimensions[1], nameLocation: 'middle', nameGap: 30, splitArea: { show: true } },
    yAxis: { type: 'category', data: ys, name: r.dimensions[0], splitArea: { show: true } },
    visualMap: { min: Number.isFinite(lo) ? lo : 0, max: Number.isFinite(hi) ? hi : 1, calculable: true, orient: 'vertical', right: 10, top: 'middle', inRange: { color: ['#eef5fc', '#6fa8dc', '#0b3d91'] }, seriesIndex: 0 },
    series: [
      { type: 'heatmap', data, label: { show: true, formatter: (p) => num(p.value[2], r.columns[mi].role === 'count' ? 0 : 1) } },
      { type: 'heatmap', data: withheld.map(([x, y]) => ({ value: [x, y, 0], itemStyle: WITHHELD })), label: { show: true, formatter: () => t('result.withheld_mark') } },
    ],
  };
}

function bars(r, mi) {
  const name = r.columns[mi].name;
  if (r.dimensions.length === 1) {
    const xs = r.rows.map((row) => row[0]);
    return {
      tooltip: { ...tooltip, trigger: 'axis' }, grid: { left: 70, right: 20, top: 30, bottom: 50 },
      xAxis: { type: 'category', data: xs, name: r.dimensions[0], nameLocation: 'middle', nameGap: 30 },
      yAxis: { type: 'value', name },
      series: [{ type: 'bar', name, data: r.rows.map((row) => row[mi] === null ? { value: 0, itemStyle: WITHHELD } : row[mi]) }],
    };
  }
  const xs = labels(r, 0), series = labels(r, 1);
  return {
    tooltip: { ...tooltip, trigger: 'axis' }, legend: { top: 0 }, grid: { left: 70, right: 20, top: 40, bottom: 50 },
    xAxis: { type: 'category', data: xs, name: r.dimensions[0], nameLocation: 'middle', nameGap: 30 },
    yAxis: { type: 'value', name },
    series: series.map((s) => ({
      type: 'bar', name: `${r.dimensions[1]} ${s}`,
      data: xs.map((x) => {
        const row = r.rows.find((rw) => rw[0] === x && rw[1] === s);
        return !row || row[mi] === null ? { value: 0, itemStyle: WITHHELD } : row[mi];
      }),
    })),
  };
}

function histograms(r) {
  const bins = r.columns.map((c, i) => ({ ...c, i })).filter((c) => c.role === 'bin');
  const first = bins[0].metric;
  const own = bins.filter((b) => b.metric === first);
  const segments = r.rows.map((row) => r.dimensions.map((_, d) => row[d]).join(' · '));
  return {
    tooltip: { ...tooltip, trigger: 'axis' }, legend: { top: 0, type: 'scroll' }, grid: { left: 70, right: 20, top: 40, bottom: 50 },
    xAxis: { type: 'category', data: own.map((b) => b.bin), name: own[0].column, nameLocation: 'middle', nameGap: 30 },
    yAxis: { type: 'value', name: t('metric.count') },
    series: r.rows.map((row, k) => ({
      type: 'bar', name: segments[k],
      data: own.map((b) => row[b.i] === null ? { value: 0, itemStyle: WITHHELD } : row[b.i]),
    })).filter((s) => s.data.some((d) => typeof d === 'number' && d > 0)).slice(0, 12),
  };
}
