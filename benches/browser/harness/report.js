// The HTML report of a run: one self-contained file (inline CSS and SVG, no script, no
// external resource), so it opens from disk without a server. Per group: a table and a
// bar chart of the means with their intervals; per benchmark: the distribution of its
// samples (kernel density, with the baseline's when there is one) and the samples in
// order with Tukey's fences. Pure: a run record in, a string out.

import { kde } from './stats.js';
import { fmtValue, fmtThroughput, fmtChange, VERDICTS, versus } from './format.js';
import { verdictWord } from './targets.js';

const W = 460;
const H = 220;
const M = { l: 62, r: 12, t: 12, b: 34 };

export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Scales a value unit for axis labels: times in the unit of the largest value. */
function axisUnit(unit, max) {
  if (unit === 'cpu') return { div: 1, name: '% of a core' };
  if (max < 1e3) return { div: 1, name: 'ns' };
  if (max < 1e6) return { div: 1e3, name: 'µs' };
  if (max < 1e9) return { div: 1e6, name: 'ms' };
  return { div: 1e9, name: 's' };
}

function num(v) {
  return Number.isFinite(v) ? Number(v.toFixed(2)) : 0;
}

function frame(inner, { xLabel, yLabel, xTicks, yTicks }) {
  const parts = [`<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" class="frame"/>`];
  for (const [x, label] of xTicks) {
    parts.push(`<line x1="${num(x)}" x2="${num(x)}" y1="${H - M.b}" y2="${H - M.b + 4}" class="tick"/>`);
    parts.push(`<text x="${num(x)}" y="${H - M.b + 15}" text-anchor="middle">${escapeHtml(label)}</text>`);
  }
  for (const [y, label] of yTicks) {
    parts.push(`<line x1="${M.l - 4}" x2="${M.l}" y1="${num(y)}" y2="${num(y)}" class="tick"/>`);
    parts.push(`<text x="${M.l - 6}" y="${num(y) + 4}" text-anchor="end">${escapeHtml(label)}</text>`);
  }
  parts.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 4}" text-anchor="middle" class="axis">${escapeHtml(xLabel)}</text>`);
  if (yLabel) parts.push(`<text transform="translate(12 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle" class="axis">${escapeHtml(yLabel)}</text>`);
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${parts.join('')}${inner}</svg>`;
}

function linear(d0, d1, r0, r1) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

function label(v) {
  return Math.abs(v) >= 1000 ? v.toFixed(0) : String(Number(v.toPrecision(4)));
}

/** The distribution plot: kernel density of the samples (and of the baseline's). */
export function pdfPlot(rec) {
  const values = rec.values;
  const base = rec.baselineValues && rec.baselineValues.length >= 2 ? rec.baselineValues : null;
  const all = base ? values.concat(base) : values;
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.05 || 1;
  lo = Math.max(0, lo - pad);
  hi += pad;
  const cur = kde(values, { lo, hi, points: 120 });
  const old = base ? kde(base, { lo, hi, points: 120 }) : null;
  const ymax = Math.max(...cur.ys, ...(old ? old.ys : [0])) * 1.08 || 1;
  const u = axisUnit(rec.unit, hi);
  const x = linear(lo, hi, M.l, W - M.r);
  const y = linear(0, ymax, H - M.b, M.t);
  const path = (g) => g.xs.map((v, i) => `${i ? 'L' : 'M'}${num(x(v))} ${num(y(g.ys[i]))}`).join('');
  const area = (g) => `${path(g)}L${num(x(g.xs[g.xs.length - 1]))} ${H - M.b}L${num(x(g.xs[0]))} ${H - M.b}Z`;
  const st = rec.stats;
  let inner = '';
  if (old) inner += `<path d="${area(old)}" class="base-area"/><path d="${path(old)}" class="base-line"/>`;
  inner += `<path d="${area(cur)}" class="cur-area"/><path d="${path(cur)}" class="cur-line"/>`;
  inner += `<line x1="${num(x(st.mean.point))}" x2="${num(x(st.mean.point))}" y1="${M.t}" y2="${H - M.b}" class="mean"/>`;
  inner += `<line x1="${num(x(st.median.point))}" x2="${num(x(st.median.point))}" y1="${M.t}" y2="${H - M.b}" class="median"/>`;
  inner += `<rect x="${num(x(st.mean.lo))}" y="${M.t}" width="${Math.max(1, num(x(st.mean.hi) - x(st.mean.lo)))}" height="${H - M.t - M.b}" class="ci"/>`;
  for (const v of values) inner += `<line x1="${num(x(v))}" x2="${num(x(v))}" y1="${H - M.b}" y2="${H - M.b - 6}" class="rug"/>`;
  const xTicks = niceTicks(lo / u.div, hi / u.div).map((t) => [x(t * u.div), label(t)]);
  const legend = `<text x="${W - M.r - 4}" y="${M.t + 14}" text-anchor="end" class="legend">— this run${old ? ' · - - baseline' : ''} · mean (CI shaded) · median dotted</text>`;
  return frame(inner + legend, { xLabel: `per iteration (${u.name})`, yLabel: 'density', xTicks, yTicks: [] });
}

const OUTLIER_CLASS = { '': 'pt', 'low mild': 'pt mild', 'high mild': 'pt mild', 'low severe': 'pt severe', 'high severe': 'pt severe' };

/** The samples in the order they were taken, with Tukey's mild and severe fences. */
export function samplesPlot(rec) {
  const values = rec.values;
  const o = rec.stats.outliers;
  const fences = [o.fences.lowSevere, o.fences.lowMild, o.fences.highMild, o.fences.highSevere];
  let lo = Math.min(...values, o.fences.lowMild);
  let hi = Math.max(...values, o.fences.highMild);
  lo = Math.max(0, lo);
  const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
  lo = Math.max(0, lo - pad);
  hi += pad;
  const u = axisUnit(rec.unit, hi);
  const x = linear(0, Math.max(1, values.length - 1), M.l + 6, W - M.r - 6);
  const y = linear(lo, hi, H - M.b, M.t);
  let inner = '';
  fences.forEach((f, i) => {
    if (f >= lo && f <= hi) inner += `<line x1="${M.l}" x2="${W - M.r}" y1="${num(y(f))}" y2="${num(y(f))}" class="${i === 0 || i === 3 ? 'fence-severe' : 'fence-mild'}"/>`;
  });
  inner += `<line x1="${M.l}" x2="${W - M.r}" y1="${num(y(rec.stats.mean.point))}" y2="${num(y(rec.stats.mean.point))}" class="mean"/>`;
  values.forEach((v, i) => {
    inner += `<circle cx="${num(x(i))}" cy="${num(y(v))}" r="2.6" class="${OUTLIER_CLASS[o.labels[i]] ?? 'pt'}"><title>sample ${i + 1}: ${escapeHtml(fmtValue(rec.unit, v))}${o.labels[i] ? ` (${o.labels[i]})` : ''}</title></circle>`;
  });
  const yTicks = niceTicks(lo / u.div, hi / u.div, 4).map((t) => [y(t * u.div), label(t)]);
  const xTicks = niceTicks(1, values.length, 5).filter((t) => Number.isInteger(t)).map((t) => [x(t - 1), String(t)]);
  return frame(inner, { xLabel: 'sample (fences: mild dashed, severe solid)', yLabel: u.name, xTicks, yTicks });
}

/** A group's means as horizontal bars with interval whiskers (log scale when they spread). */
export function groupPlot(group, records) {
  const recs = group.benches.map((id) => records[id]).filter(Boolean);
  if (recs.length === 0) return '';
  const rowH = 22;
  const h = M.t + M.b + rowH * recs.length;
  const left = 150;
  const his = recs.map((r) => r.stats.mean.hi);
  const los = recs.map((r) => Math.max(r.stats.mean.lo, 1e-12));
  const max = Math.max(...his);
  const min = Math.min(...los);
  const log = group.unit === 'time' && max / min > 20;
  const u = axisUnit(group.unit, max);
  let x;
  let ticks;
  if (log) {
    const l0 = Math.floor(Math.log10(min));
    const l1 = Math.ceil(Math.log10(max));
    const f = linear(l0, l1, left, W - M.r);
    x = (v) => f(Math.log10(Math.max(v, 10 ** l0)));
    ticks = [];
    for (let e = l0; e <= l1; e++) ticks.push([x(10 ** e), label(10 ** e / u.div)]);
  } else {
    x = linear(0, max * 1.05, left, W - M.r);
    ticks = niceTicks(0, (max * 1.05) / u.div).map((t) => [x(t * u.div), label(t)]);
  }
  const base = log ? left : x(0);
  let inner = `<rect x="${left}" y="${M.t}" width="${W - M.r - left}" height="${h - M.t - M.b}" class="frame"/>`;
  recs.forEach((r, i) => {
    const cy = M.t + rowH * i + rowH / 2;
    const st = r.stats.mean;
    const ref = r.id === group.referenceId ? ' ref' : '';
    inner += `<rect x="${num(base)}" y="${num(cy - 7)}" width="${Math.max(1, num(x(st.point) - base))}" height="14" class="bar${ref}"><title>${escapeHtml(`${r.id}: ${fmtValue(r.unit, st.point)}`)}</title></rect>`;
    inner += `<line x1="${num(x(st.lo))}" x2="${num(x(st.hi))}" y1="${num(cy)}" y2="${num(cy)}" class="whisker"/>`;
    inner += `<text x="${left - 6}" y="${num(cy + 4)}" text-anchor="end">${escapeHtml(r.id.split('/').pop())}</text>`;
  });
  for (const [tx, l] of ticks) {
    inner += `<line x1="${num(tx)}" x2="${num(tx)}" y1="${h - M.b}" y2="${h - M.b + 4}" class="tick"/>`;
    inner += `<text x="${num(tx)}" y="${h - M.b + 15}" text-anchor="middle">${escapeHtml(l)}</text>`;
  }
  const what = group.unit === 'cpu' ? 'mean CPU' : 'mean time per iteration';
  inner += `<text x="${(left + W - M.r) / 2}" y="${h - 4}" text-anchor="middle" class="axis">${escapeHtml(`${what} (${u.name}${log ? ', log scale' : ''}); whiskers: ${Math.round(recs[0].stats.level * 100)}% CI`)}</text>`;
  return `<svg viewBox="0 0 ${W} ${h}" width="${W}" height="${h}" role="img">${inner}</svg>`;
}

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#1d2430;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:36px;border-bottom:1px solid #d6dbe3;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 4px}table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{padding:3px 8px;border-bottom:1px solid #e6e9ef;text-align:right;white-space:nowrap}
td:first-child,th:first-child{text-align:left}th{background:#f3f5f8}
.wide{overflow-x:auto}td.wrap{white-space:normal}
.met{color:#17803d;font-weight:600}.missed{color:#b42318;font-weight:600}
.improved{color:#17803d}.regressed{color:#b42318}.muted{color:#667085}
svg{font:11px system-ui,sans-serif;background:#fff;margin:4px 8px 4px 0}
svg text{fill:#344054}.axis{fill:#475467}.legend{fill:#667085;font-size:10px}
.frame{fill:none;stroke:#d0d5dd}.tick{stroke:#98a2b3}
.cur-area{fill:#2e6bd633}.cur-line{fill:none;stroke:#2e6bd6;stroke-width:1.6}
.base-area{fill:#e0731f22}.base-line{fill:none;stroke:#e0731f;stroke-width:1.4;stroke-dasharray:5 3}
.mean{stroke:#1d2430;stroke-width:1.2}.median{stroke:#1d2430;stroke-dasharray:2 2}
.ci{fill:#1d243014}.rug{stroke:#2e6bd6;stroke-opacity:.5}
.pt{fill:#2e6bd6}.pt.mild{fill:#f79009}.pt.severe{fill:#d92d20}
.fence-mild{stroke:#f79009;stroke-dasharray:4 3}.fence-severe{stroke:#d92d20}
.bar{fill:#98a2b3}.bar.ref{fill:#2e6bd6}.whisker{stroke:#1d2430;stroke-width:1.5}
details{margin:6px 0}summary{cursor:pointer}code{background:#f3f5f8;padding:1px 4px;border-radius:3px}
`;

function changeCell(rec) {
  if (!rec.change) return `<span class="muted">${escapeHtml(rec.baselineNote ? '—' : '')}</span>`;
  const c = rec.change;
  const cls = c.verdict === 'improved' ? 'improved' : c.verdict === 'regressed' ? 'regressed' : 'muted';
  const rel = c.relative !== false;
  return `<span class="${cls}" title="${escapeHtml(VERDICTS[c.verdict])} p = ${c.p.toFixed(3)}">${escapeHtml(`${fmtChange(c.mean.point, rel)} [${fmtChange(c.mean.lo, rel)} ${fmtChange(c.mean.hi, rel)}] ${c.verdict}`)}</span>`;
}

function groupTable(group, records) {
  const head = ['benchmark', 'mean [CI]', 'median', 'σ', 'MAD', 'outliers (mild/severe)', group.unit === 'time' && group.throughput ? 'thrpt' : null, group.referenceId ? `vs ${group.referenceId.split('/').pop()}` : null, 'change vs baseline'].filter((h) => h !== null);
  const rows = group.benches
    .map((id) => records[id])
    .filter(Boolean)
    .map((r) => {
      const st = r.stats;
      const v = (x) => fmtValue(r.unit, x);
      const o = st.outliers.counts;
      const cells = [
        `<code>${escapeHtml(r.id)}</code>`,
        escapeHtml(`${v(st.mean.point)} [${v(st.mean.lo)} ${v(st.mean.hi)}]`),
        escapeHtml(v(st.median.point)),
        escapeHtml(v(st.stdDev.point)),
        escapeHtml(v(st.mad.point)),
        `${o.lowMild + o.highMild} / ${o.lowSevere + o.highSevere}`,
      ];
      if (group.unit === 'time' && group.throughput) cells.push(escapeHtml(fmtThroughput(r.throughput, st.mean.point)));
      if (group.referenceId) {
        const ratio = group.ratios && group.ratios[r.id];
        cells.push(r.id === group.referenceId ? 'reference' : ratio ? escapeHtml(`${group.referenceId.split('/').pop()} ${versus(ratio)}`) : '');
      }
      cells.push(changeCell(r));
      return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
    });
  return `<div class="wide"><table><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>${rows.join('')}</table></div>`;
}

/** The whole report. `run` is the run record the page also saves as JSON. */
export function renderReport(run) {
  const out = [];
  out.push(`<!doctype html><html lang="en"><meta charset="utf-8"><title>${escapeHtml(run.title)}</title><style>${CSS}</style><body>`);
  out.push(`<h1>${escapeHtml(run.title)}</h1>`);
  const o = run.options;
  out.push(
    `<p class="muted">${escapeHtml(run.startedAt)} · ${escapeHtml(run.env.userAgent)} · ${run.env.hardwareConcurrency} logical cores · clock step ${escapeHtml(String(run.env.clockStepUs))} µs<br>` +
      `${o.smoke ? '<b>smoke run</b> (tiny counts: the numbers mean nothing) · ' : ''}warm-up ${o.warmUpMs / 1000} s, measurement ${o.measurementMs / 1000} s, ${o.sampleSize} samples per benchmark, ${o.resamples} bootstrap resamples, ${Math.round(o.level * 100)}% intervals; ` +
      `baseline: ${run.baseline.compareWith ? `compared with <code>${escapeHtml(run.baseline.compareWith)}</code>` : 'none'}${run.baseline.saveAs ? `, saved as <code>${escapeHtml(run.baseline.saveAs)}</code>` : ''} (noise ±${o.noise * 100}%, p &lt; ${o.significance})</p>`,
  );
  if (run.targets && run.targets.length) {
    out.push('<h2>Targets</h2><p class="muted">They steer the design; they are not tests.</p><div class="wide"><table><tr><th>target</th><th>goal</th><th>measured</th><th></th></tr>');
    for (const t of run.targets) {
      const cls = t.met === true ? 'met' : t.met === false ? 'missed' : 'muted';
      out.push(`<tr><td class="wrap">${escapeHtml(t.target)}</td><td>${escapeHtml(t.goal)}</td><td class="wrap">${escapeHtml(t.measured)}</td><td class="${cls}">${verdictWord(t.met)}</td></tr>`);
    }
    out.push('</table></div>');
  }
  for (const g of run.groups) {
    const recs = g.benches.map((id) => run.records[id]).filter(Boolean);
    if (recs.length === 0) continue;
    out.push(`<h2 id="${escapeHtml(g.id)}">${escapeHtml(g.id)}: ${escapeHtml(g.title)}</h2>`);
    if (g.note) out.push(`<p class="muted">${escapeHtml(g.note)}</p>`);
    out.push(groupTable(g, run.records));
    out.push(groupPlot(g, run.records));
    for (const r of recs) {
      const st = r.stats;
      out.push(`<details${run.options.smoke ? '' : ' open'}><summary><code>${escapeHtml(r.id)}</code> — ${escapeHtml(r.label)}: ${escapeHtml(fmtValue(r.unit, st.mean.point))}, ${st.n} samples${r.iters ? ` × ${r.iters} iterations` : ''}</summary>`);
      out.push(pdfPlot(r));
      out.push(samplesPlot(r));
      if (r.extra && r.extra.length) out.push(`<p class="muted">${r.extra.map(escapeHtml).join('<br>')}</p>`);
      out.push('</details>');
    }
  }
  out.push(`<p class="muted">Raw samples, statistics and the options of this run: <code>${escapeHtml(run.recordPath)}</code>.</p></body></html>`);
  return out.join('\n');
}
