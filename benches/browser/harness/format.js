// Terminal output in criterion's layout: `time: [low mid high]`, `thrpt:`, the change
// against the baseline with its verdict, the outlier counts; plus the tables of ratios
// between peers. Pure (strings in, strings out), so `node --test` checks it.

const PAD = ' '.repeat(24);

/** Criterion's number format: four significant digits, more or less. */
export function short(n) {
  const a = Math.abs(n);
  if (!Number.isFinite(n)) return String(n);
  if (a < 10) return n.toFixed(4);
  if (a < 100) return n.toFixed(3);
  if (a < 1000) return n.toFixed(2);
  if (a < 10000) return n.toFixed(1);
  return n.toFixed(0);
}

/** A duration given in nanoseconds: `69.012 µs`. */
export function fmtTime(ns) {
  if (!Number.isFinite(ns)) return `${ns} ns`;
  if (ns < 1e3) return `${short(ns)} ns`;
  if (ns < 1e6) return `${short(ns / 1e3)} µs`;
  if (ns < 1e9) return `${short(ns / 1e6)} ms`;
  return `${short(ns / 1e9)} s`;
}

/** A rate of `perIter` units per iteration that takes `ns`: `14.490 Kelem/s`, `6.1 GiB/s`. */
export function fmtThroughput(tp, ns) {
  const perSecond = (tp.bytes ?? tp.elements) * (1e9 / ns);
  if (tp.bytes !== undefined) {
    const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s', 'TiB/s'];
    let v = perSecond;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${short(v)} ${units[i]}`;
  }
  const units = ['elem/s', 'Kelem/s', 'Melem/s', 'Gelem/s'];
  let v = perSecond;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${short(v)} ${units[i]}`;
}

/** A share of one core, given in percent: `0.1234 %`. */
export function fmtCpu(pct) {
  return `${short(pct)} %`;
}

/** A value of the unit of the benchmark (`time`: ns, `cpu`: % of a core). */
export function fmtValue(unit, v) {
  return unit === 'cpu' ? fmtCpu(v) : fmtTime(v);
}

/**
 * A signed change: relative (`+0.5123%`), or with `relative` false a difference of CPU
 * shares in percentage points (`+0.0123 pp`).
 */
export function fmtChange(x, relative = true) {
  if (!relative) return `${x >= 0 ? '+' : ''}${x.toFixed(4)} pp`;
  const pct = x * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(4)}%`;
}

/** `1.16×`, `18.0×`, `250×`. */
export function fmtRatio(r) {
  if (!Number.isFinite(r)) return `${r}×`;
  if (r < 10) return `${r.toFixed(2)}×`;
  if (r < 100) return `${r.toFixed(1)}×`;
  return `${r.toFixed(0)}×`;
}

export const VERDICTS = {
  'no-change': 'No change in performance detected.',
  'within-noise': 'Change within noise threshold.',
  improved: 'Performance has improved.',
  regressed: 'Performance has regressed.',
};

function pct(n, total) {
  return `${((100 * n) / total).toFixed(2)}%`;
}

/**
 * The lines criterion prints for one benchmark. `rec` is a run record's benchmark entry:
 * {id, unit, throughput?, stats, change?, baselineNote?, extra?, iters, samples}.
 */
export function benchBlock(rec) {
  const st = rec.stats;
  const lines = [rec.id];
  const v = (x) => fmtValue(rec.unit, x);
  const label = rec.unit === 'cpu' ? 'cpu:    ' : 'time:   ';
  lines.push(`${PAD}${label}[${v(st.mean.lo)} ${v(st.mean.point)} ${v(st.mean.hi)}]${rec.unit === 'cpu' ? ' of one core (renderer)' : ''}`);
  if (rec.throughput && rec.unit === 'time') {
    const t = (ns) => fmtThroughput(rec.throughput, ns);
    lines.push(`${PAD}thrpt:  [${t(st.mean.hi)} ${t(st.mean.point)} ${t(st.mean.lo)}]`);
  }
  lines.push(`${PAD}mean ${v(st.mean.point)} ± σ ${v(st.stdDev.point)}   median ${v(st.median.point)} [${v(st.median.lo)} ${v(st.median.hi)}]   MAD ${v(st.mad.point)}`);
  if (rec.extra) for (const l of rec.extra) lines.push(`${PAD}${l}`);
  if (rec.change) {
    const c = rec.change;
    const p = `(p = ${c.p.toFixed(2)} ${c.p < c.significance ? '<' : '>'} ${c.significance.toFixed(2)})`;
    lines.push(`${PAD}change vs ${rec.change.baseline}:`);
    const rel = c.relative !== false;
    const noise = rel ? '' : ` (noise ±${c.noise} pp)`;
    lines.push(`${PAD}${rec.unit === 'cpu' ? 'cpu:    ' : 'time:   '}[${fmtChange(c.mean.lo, rel)} ${fmtChange(c.mean.point, rel)} ${fmtChange(c.mean.hi, rel)}] ${p}${noise}`);
    if (rec.throughput && rec.unit === 'time' && rel) {
      const inv = (x) => 1 / (1 + x) - 1;
      lines.push(`${PAD}thrpt:  [${fmtChange(inv(c.mean.hi))} ${fmtChange(inv(c.mean.point))} ${fmtChange(inv(c.mean.lo))}]`);
    }
    lines.push(`${PAD}${VERDICTS[c.verdict]}`);
  } else if (rec.baselineNote) {
    lines.push(`${PAD}${rec.baselineNote}`);
  }
  const o = st.outliers;
  if (o.total > 0) {
    lines.push(`Found ${o.total} outliers among ${st.n} measurements (${pct(o.total, st.n)})`);
    const kinds = [
      ['lowSevere', 'low severe'],
      ['lowMild', 'low mild'],
      ['highMild', 'high mild'],
      ['highSevere', 'high severe'],
    ];
    for (const [k, name] of kinds) if (o.counts[k] > 0) lines.push(`  ${o.counts[k]} (${pct(o.counts[k], st.n)}) ${name}`);
  }
  return lines;
}

/** Left- or right-aligned table cells; `align` has one 'l' or 'r' per column. */
export function table(rows, align) {
  const widths = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, String(c).length)));
  return rows.map((r) =>
    r
      .map((c, i) => (align[i] === 'r' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * How `ref` fares against a peer, from the ratio peer/ref of mean times (with interval):
 * `2.31× faster`, `1.20× slower`, `same`.
 */
export function versus(r) {
  if (r.lo <= 1 && r.hi >= 1) return `≈ same (${fmtRatio(r.lo)}–${fmtRatio(r.hi)})`;
  if (r.point >= 1) return `${fmtRatio(r.point)} faster [${fmtRatio(r.lo)} ${fmtRatio(r.hi)}]`;
  return `${fmtRatio(1 / r.point)} slower [${fmtRatio(1 / r.hi)} ${fmtRatio(1 / r.lo)}]`;
}
