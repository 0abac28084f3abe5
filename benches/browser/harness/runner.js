// Runs a suite of benchmarks (see ../suite.js) in the page, as criterion runs a bench
// binary: per benchmark a warm-up, then `sampleSize` samples, each timing one batch of
// iterations (the isolated page's clock moves in 5 µs steps, so a single call cannot be
// timed); then statistics, the comparison with a saved baseline, and criterion's output.
//
// Each benchmark is one harness test: it passes when it produced valid statistics (the
// numbers themselves are never asserted). A last test prints the tables, checks the
// targets and has the driver write the run record and the HTML report.
//
// The driver (`cargo atelier bench`, serve/src/bench.rs) answers these `data` reports:
//   bench:progress {line}                          shown as a progress line on a terminal
//   bench:cpu {token, phase: 'start'|'end', smoke} CPU of Chromium's processes over a window;
//                                                  written to <root>/cpu/<token>.json
//   bench:baseline {smoke, baseline, stem, record} saved as <root>/baselines/<baseline>/<stem>.json
//   bench:run {smoke, name, stamp, record}         saved as <root>/<name>.json and runs/<stamp>-<name>.json
//   bench:report {smoke, file, html}               saved as <root>/report/<file>.html
// where <root> is target/bench (target/bench/smoke for a smoke run), served at /target/bench/.

import { log, data, test, done } from '/serve/js/harness.js';
import { parseOptions, baselinePlan, selected, fileStem, USAGE } from './options.js';
import { summarize, compare, ratio, pairedRatio, validSummary, seedOf, mean } from './stats.js';
import { benchBlock, table, fmtValue, fmtThroughput, fmtCpu, fmtRatio, versus, short } from './format.js';
import { checkTargets, verdictWord } from './targets.js';
import { renderReport } from './report.js';

/** Changes of an idle-CPU share within ±this many percentage points are noise. */
const CPU_NOISE_PP = 0.25;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The smallest step of performance.now() on this page, in µs. */
function clockStepUs() {
  let min = Infinity;
  for (let i = 0; i < 20; i++) {
    const a = performance.now();
    let b;
    while ((b = performance.now()) === a);
    min = Math.min(min, b - a);
  }
  return Math.round(min * 1000 * 1000) / 1000;
}

/** `[3/44] ` while the third of 44 benchmarks runs: the start of every progress line. */
let progressPrefix = '';

function progress(line) {
  return data('bench:progress', { line: progressPrefix + line });
}

async function timed(inst, iters) {
  const t0 = performance.now();
  const r = inst.run(iters);
  if (r !== undefined) await r;
  return performance.now() - t0;
}

/**
 * A paired comparison: `p.run(n)` (this benchmark) and `p.other(n)` (the one it is compared
 * with, `p.against`) alternate, ABBA, over rounds of `p.calls` iterations, so that both see
 * the same machine; returns the ratio of their mean times with a bootstrap interval.
 */
async function measurePaired(p, o, id) {
  const rounds = Math.max(4, Math.min(40, o.sampleSize));
  const mine = [];
  const theirs = [];
  // Each round starts from a collected heap where the page has gc() (the driver's Chromium
  // runs with --expose-gc): a major collection then falls in neither side's timing, where it
  // otherwise lands on whichever side allocated last (measured per-round times of one side
  // ranged 22-58 ms without it, 24-43 ms with it).
  const round = (run) => {
    if (typeof globalThis.gc === 'function') globalThis.gc();
    return timed({ run }, p.calls);
  };
  await round(p.run);
  await round(p.other);
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      mine.push(await round(p.run));
      theirs.push(await round(p.other));
    } else {
      theirs.push(await round(p.other));
      mine.push(await round(p.run));
    }
  }
  const r = pairedRatio(mine, theirs, { resamples: o.resamples, level: o.level, seed: seedOf(id) });
  return { against: p.against, rounds, calls: p.calls, point: r.point, lo: r.lo, hi: r.hi };
}


/** Warm-up, then the samples; returns {iters, samplesMs, values (ns per iteration), notes}. */
async function measureTime(id, inst, o) {
  const minIters = inst.minIters ?? 1;
  await progress(`Benchmarking ${id}: Warming up for ${(o.warmUpMs / 1000).toFixed(4)} s`);
  const start = performance.now();
  let iters = minIters;
  let total = 0;
  let count = 0;
  for (;;) {
    total += await timed(inst, iters);
    count += iters;
    const elapsed = performance.now() - start;
    if (elapsed >= o.warmUpMs) break;
    const perIter = Math.max(total / count, 1e-6);
    iters = Math.max(minIters, Math.min(iters * 2, Math.ceil((o.warmUpMs - elapsed) / perIter)));
  }
  const perIter = total / count;
  const k = Math.max(minIters, Math.ceil(o.measurementMs / o.sampleSize / Math.max(perIter, 1e-6)));
  const estimateMs = k * perIter * o.sampleSize;
  const notes = [];
  if (estimateMs > 1.5 * o.measurementMs) {
    notes.push(`Warning: unable to complete ${o.sampleSize} samples in ${o.measurementMs / 1000} s (one iteration takes ${fmtValue('time', perIter * 1e6)}); it takes about ${(estimateMs / 1000).toFixed(1)} s.`);
  }
  if (k * perIter < 1) notes.push(`Warning: samples of ${fmtValue('time', k * perIter * 1e6)} are short against the clock's step; raise --measurement-time.`);
  await progress(`Benchmarking ${id}: Collecting ${o.sampleSize} samples in estimated ${(estimateMs / 1000).toFixed(4)} s (${k * o.sampleSize} iterations)`);
  const samplesMs = [];
  for (let i = 0; i < o.sampleSize; i++) samplesMs.push(await timed(inst, k));
  return { iters: k, samplesMs, values: samplesMs.map((ms) => (ms * 1e6) / k), warmUp: { iters: count, ms: total }, notes };
}

async function fetchJson(url) {
  const res = await fetch(url, { cache: 'no-store' });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

async function pollJson(url, timeoutMs) {
  const until = performance.now() + timeoutMs;
  for (;;) {
    await sleep(20);
    const got = await fetchJson(url);
    if (got !== null) return got;
    if (performance.now() > until) {
      throw new Error(`no CPU measurement at ${url} after ${timeoutMs / 1000} s: idle-CPU benchmarks need the driver (run the page with \`cargo atelier bench\`, not from a browser by hand)`);
    }
  }
}

/**
 * Burst, idle window, CPU from the driver; one sample per window (renderer % of a core).
 * A first burst and a short unmeasured pause settle what earlier benchmarks left behind
 * (terminated workers, their garbage).
 */
async function measureCpu(id, inst, o, ctx) {
  await progress(`Benchmarking ${id}: settling (burst, then ${Math.min(500, o.idleWindowMs) / 1000} s unmeasured)`);
  if (inst.burst) await inst.burst();
  await sleep(Math.min(500, o.idleWindowMs));
  const windows = [];
  for (let w = 0; w < o.idleWindows; w++) {
    await progress(`Benchmarking ${id}: burst, then idle window ${w + 1}/${o.idleWindows} (${o.idleWindowMs / 1000} s)`);
    if (inst.burst) await inst.burst();
    const token = `${ctx.runId}-${fileStem(id)}-${w}`;
    await data('bench:cpu', { token, phase: 'start', smoke: o.smoke });
    await sleep(o.idleWindowMs);
    await data('bench:cpu', { token, phase: 'end', smoke: o.smoke });
    const win = await pollJson(`${ctx.root}/cpu/${token}.json`, 10000);
    if (win.error) throw new Error(win.error);
    windows.push(win);
  }
  const byType = {};
  for (const win of windows) for (const [k, v] of Object.entries(win.pct.byType)) byType[k] = (byType[k] ?? 0) + v / windows.length;
  const threads = {};
  for (const win of windows) for (const [k, v] of Object.entries(win.pct.rendererThreads ?? {})) threads[k] = (threads[k] ?? 0) + v / windows.length;
  const top = Object.entries(threads)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([k, v]) => `${k || '?'} ${fmtCpu(v)}`);
  const total = mean(windows.map((win) => win.pct.total));
  const notes = [
    `all Chromium processes: ${fmtCpu(total)} (${Object.entries(byType)
      .map(([k, v]) => `${k} ${fmtCpu(v)}`)
      .join(', ')}); ${windows.length} window(s) of ${(mean(windows.map((win) => win.wallMs)) / 1000).toFixed(2)} s, ${windows[0].method}`,
    `busiest renderer threads: ${top.join(', ') || 'none'}`,
  ];
  return { windows, values: windows.map((win) => win.pct.renderer), totalPct: total, notes };
}

/**
 * The saved baseline of benchmark `id`, if any. The driver keeps `index.json` (the stems
 * saved) next to the records, so that absent baselines are not probed one 404 at a time.
 */
async function loadBaseline(ctx, id, unit) {
  if (ctx.plan.compareWith === null) return { base: null, note: null };
  const dir = `${ctx.root}/baselines/${ctx.plan.compareWith}`;
  const missing = { base: null, note: `no baseline "${ctx.plan.compareWith}" for this benchmark yet` };
  let base;
  try {
    ctx.baselineIndex ??= fetchJson(`${dir}/index.json`).then((ix) => new Set(ix && Array.isArray(ix.stems) ? ix.stems : []));
    if (!(await ctx.baselineIndex).has(fileStem(id))) return missing;
    base = await fetchJson(`${dir}/${fileStem(id)}.json`);
  } catch (e) {
    return { base: null, note: `baseline ${ctx.plan.compareWith} unreadable: ${e.message}` };
  }
  if (base === null) return missing;
  if (base.unit !== unit || !Array.isArray(base.values) || base.values.length < 2 || !base.values.every(Number.isFinite)) {
    return { base: null, note: `baseline ${ctx.plan.compareWith} of this benchmark is not comparable (other unit or too few samples)` };
  }
  return { base, note: null };
}

function groupSummary(g, records, o) {
  const recs = g.benches.map((b) => records[`${g.id}/${b.id}`]).filter(Boolean);
  if (recs.length === 0) return [];
  const lines = [''];
  if (g.unit === 'cpu') {
    const control = records[`${g.id}/control`];
    lines.push(`${g.id}: renderer CPU (% of one core), mean [${Math.round(o.level * 100)}% CI]; all = every Chromium process of the run`);
    const rows = [['variant', 'renderer', 'CI', 'all', control ? 'renderer − control' : '']];
    for (const r of recs) {
      const st = r.stats.mean;
      const delta = control && r !== control ? `${st.point - control.stats.mean.point >= 0 ? '+' : ''}${short(st.point - control.stats.mean.point)} %` : '';
      rows.push([r.id.split('/').pop(), fmtCpu(st.point), `[${fmtCpu(st.lo)} ${fmtCpu(st.hi)}]`, fmtCpu(r.totalPct), delta]);
    }
    lines.push(...table(rows, 'lrrrr').map((l) => `  ${l}`));
    return lines;
  }
  const ref = g.reference ? records[`${g.id}/${g.reference}`] : null;
  g.ratios = {};
  lines.push(`${g.id}: mean per iteration [${Math.round(o.level * 100)}% CI]${ref ? `; how ${g.reference} fares against each (ratio of means)` : ''}`);
  const rows = [['benchmark', 'mean', 'CI', g.throughput ? 'thrpt' : '', ref ? g.reference : '']];
  for (const r of recs) {
    const st = r.stats.mean;
    let vs = '';
    if (ref && r !== ref) {
      const q = ratio(r.values, ref.values, { resamples: Math.min(o.resamples, 5000), level: o.level, seed: seedOf(r.id) });
      g.ratios[r.id] = q;
      vs = versus(q);
    } else if (ref) vs = '(reference)';
    rows.push([r.id.split('/').pop(), fmtValue('time', st.point), `[${fmtValue('time', st.lo)} ${fmtValue('time', st.hi)}]`, g.throughput ? fmtThroughput(g.throughput, st.point) : '', vs]);
  }
  lines.push(...table(rows, 'lrrrl').map((l) => `  ${l}`));
  for (const [num, den] of g.extraRatios ?? []) {
    if (!records[num] || !records[den]) continue;
    const q = ratio(records[num].values, records[den].values, { resamples: Math.min(o.resamples, 5000), level: o.level, seed: seedOf(num + den) });
    lines.push(`  ${num} / ${den} = ${fmtRatio(q.point)} [${fmtRatio(q.lo)} ${fmtRatio(q.hi)}]`);
  }
  if (g.check) for (const w of g.check(records)) lines.push(`  Warning: ${w}`);
  return lines;
}

/** The table of every benchmark of the run, for the end of the output. */
function resultsTable(groups, records) {
  const rows = [['benchmark', 'mean', 'median', 'σ', 'MAD', 'outl.', 'thrpt', 'vs ref', 'change']];
  for (const g of groups) {
    for (const b of g.benches) {
      const id = `${g.id}/${b.id}`;
      const r = records[id];
      if (!r) {
        rows.push([id, 'FAILED', '', '', '', '', '', '', '']);
        continue;
      }
      const st = r.stats;
      const v = (x) => fmtValue(r.unit, x);
      const q = g.ratios && g.ratios[id];
      const c = r.change;
      rows.push([
        id,
        v(st.mean.point),
        v(st.median.point),
        v(st.stdDev.point),
        v(st.mad.point),
        String(st.outliers.total),
        r.throughput && r.unit === 'time' ? fmtThroughput(r.throughput, st.mean.point) : '',
        q ? `${fmtRatio(q.point)}` : g.reference === b.id ? 'ref' : '',
        c ? `${c.mean.point >= 0 ? '+' : ''}${c.relative === false ? `${c.mean.point.toFixed(2)} pp` : `${(c.mean.point * 100).toFixed(1)}%`} ${c.verdict}` : '',
      ]);
    }
  }
  return table(rows, 'lrrrrrrrl');
}

/**
 * Registers one harness test per selected benchmark of `makeSuite(ctx)` and a last one for
 * the summary, then runs them. `name` names the outputs (`suite` → report/index.html);
 * `prepare(ms, pauseMs)`, when given, runs before the first benchmark (the warm-up time);
 * `defaultFilter` applies when the command line gives none.
 */
export function runSuite({ name, title, makeSuite, prepare = null, defaultFilter = [] }) {
  const { options: o, errors } = parseOptions(location.search, { defaultFilter });
  if (errors.length) {
    test('options', () => {
      throw new Error(`${errors.join('\n')}\nusage: cargo atelier bench ${name} -- [options] [FILTER...]\n${USAGE.map(([k, what]) => `  --${k.padEnd(22)} ${what}`).join('\n')}`);
    });
    done();
    return;
  }
  const startedAt = new Date();
  const ctx = {
    root: o.smoke ? '/target/bench/smoke' : '/target/bench',
    runId: `${startedAt.getTime().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`,
    plan: baselinePlan(o),
    burstCalls: o.smoke ? 2000 : 20000,
  };
  const groups = makeSuite(ctx)
    .map((g) => ({ ...g, extraRatios: g.ratios ?? [], ratios: {}, benches: g.benches.filter((b) => selected(`${g.id}/${b.id}`, o.filter)) }))
    .filter((g) => g.benches.length > 0);
  const records = {};
  const env = {
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    clockStepUs: clockStepUs(),
  };
  const count = groups.reduce((n, g) => n + g.benches.length, 0);
  log(
    [
      `${title}${o.smoke ? ' [smoke: tiny counts, the numbers mean nothing]' : ''}`,
      `${count} benchmarks; warm-up ${o.warmUpMs / 1000} s, measurement ${o.measurementMs / 1000} s, ${o.sampleSize} samples each; idle: ${o.idleWindows} × ${o.idleWindowMs / 1000} s windows${o.filter.length ? `; filter: ${o.filter.join(' | ')}` : ''}`,
      `baseline: ${ctx.plan.compareWith ? `compare with "${ctx.plan.compareWith}"` : 'none'}${ctx.plan.saveAs ? `, save as "${ctx.plan.saveAs}"` : ', not saved'}; ${env.userAgent}; ${env.hardwareConcurrency} cores; clock step ${env.clockStepUs} µs`,
    ].join('\n'),
  );

  let n = 0;
  for (const g of groups) {
    g.benches.forEach((b, i) => {
      const id = `${g.id}/${b.id}`;
      const at = ++n;
      const last = i === g.benches.length - 1;
      const budget = 120000 + 10 * (o.warmUpMs + o.measurementMs) + (g.unit === 'cpu' ? 4 * o.idleWindows * o.idleWindowMs : 0);
      test(
        id,
        async () => {
          try {
            if (at === 1 && prepare) {
              progressPrefix = '';
              await progress(`Warming up the runtime's code for ${(o.warmUpMs / 1000).toFixed(4)} s`);
              await prepare(o.warmUpMs, o.smoke ? 20 : 500);
            }
            await runOne({ g, b, id, at, count, o, ctx, records });
          } finally {
            if (last) await log(groupSummary(g, records, o).join('\n'));
          }
        },
        { timeoutMs: budget },
      );
    });
  }

  test(
    'summary: tables, targets, run record and HTML report',
    async () => {
      progressPrefix = '';
      await progress('Writing the summary, the run record and the report');
      const targets = checkTargets(records, { resamples: Math.min(o.resamples, 2000) });
      const lines = ['', `== results${o.smoke ? ' [smoke]' : ''} (mean per iteration; vs ref = ratio of means to the group's reference: > 1 means the reference is faster)`];
      lines.push(...resultsTable(groups, records).map((l) => `  ${l}`));
      lines.push('', '== targets (they steer the design; they are not tests)');
      lines.push(...table([['target', 'goal', 'measured', ''], ...targets.map((t) => [t.target, t.goal, t.measured, verdictWord(t.met)])], 'llll').map((l) => `  ${l}`));
      await log(lines.join('\n'));
      const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
      const record = {
        title,
        name,
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        env,
        options: o,
        baseline: ctx.plan,
        recordPath: `${ctx.root.slice(1)}/${name}.json`,
        groups: groups.map((g) => ({ id: g.id, title: g.title, unit: g.unit, throughput: g.throughput ?? null, note: g.note ?? null, referenceId: g.reference ? `${g.id}/${g.reference}` : null, ratios: g.ratios, benches: g.benches.map((b) => `${g.id}/${b.id}`) })),
        records,
        targets,
      };
      await data('bench:run', { smoke: o.smoke, name, stamp, record });
      await data('bench:report', { smoke: o.smoke, file: name === 'suite' ? 'index' : name, html: renderReport(record) });
    },
    { timeoutMs: 120000 },
  );
  done();
}

async function runOne({ g, b, id, at, count, o, ctx, records }) {
  progressPrefix = `[${at}/${count}] `;
  await progress(`Benchmarking ${id}: setting up`);
  const inst = await b.make(ctx);
  let m;
  let paired = null;
  try {
    m = g.unit === 'cpu' ? await measureCpu(id, inst, o, ctx) : await measureTime(id, inst, o);
    if (inst.paired) {
      // A paired comparison (see measurePaired): immune to the machine's drift between the
      // benchmarks of a group, which sequential samples are not.
      await progress(`Benchmarking ${id}: paired rounds against ${inst.paired.against}`);
      paired = await measurePaired(inst.paired, o, id);
      m.notes.push(`paired with ${paired.against}: ${paired.rounds} interleaved rounds of ${paired.calls} iterations each: ${fmtRatio(paired.point)} [${fmtRatio(paired.lo)} ${fmtRatio(paired.hi)}] (time of this one / time of that one)`);
    }
  } finally {
    if (inst.teardown) await inst.teardown();
  }
  if (inst.notes) m.notes.push(...inst.notes());
  await progress(`Benchmarking ${id}: Analyzing`);
  const stats = summarize(m.values, { resamples: o.resamples, level: o.level, seed: seedOf(id) });
  const rec = {
    id,
    group: g.id,
    label: b.label,
    unit: g.unit,
    throughput: g.throughput ?? null,
    iters: m.iters ?? null,
    samplesMs: m.samplesMs ?? null,
    windows: m.windows ?? null,
    totalPct: m.totalPct ?? null,
    values: m.values,
    stats,
    extra: m.notes,
    warmUp: m.warmUp ?? null,
    paired,
  };
  const { base, note } = await loadBaseline(ctx, id, g.unit);
  if (base) {
    // CPU shares sit near zero, where relative changes explode: compare them in percentage points.
    const cpu = g.unit === 'cpu';
    const how = { resamples: o.resamples, level: o.level, noise: cpu ? CPU_NOISE_PP : o.noise, significance: o.significance, seed: seedOf(`${id}:change`), relative: !cpu };
    rec.change = { baseline: ctx.plan.compareWith, savedAt: base.savedAt ?? null, ...compare(m.values, base.values, how) };
    rec.baselineValues = base.values;
  } else {
    rec.baselineNote = note;
  }
  const bad = validSummary(stats);
  if (ctx.plan.saveAs && bad === null) {
    await data('bench:baseline', {
      smoke: o.smoke,
      baseline: ctx.plan.saveAs,
      stem: fileStem(id),
      record: { id, unit: g.unit, label: b.label, savedAt: new Date().toISOString(), userAgent: navigator.userAgent, iters: rec.iters, values: m.values, mean: stats.mean, median: stats.median },
    });
  }
  records[id] = rec;
  await log(benchBlock(rec).join('\n'));
  if (bad !== null) throw new Error(`${id} produced no valid statistics: ${bad}`);
}
