// Unit tests of the terminal output, the targets and the HTML report:
// `node --test benches/browser/harness/tests/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { short, fmtTime, fmtThroughput, fmtChange, fmtRatio, benchBlock, table, versus } from '../format.js';
import { summarize, compare, rng } from '../stats.js';
import { checkTargets, SIZES } from '../targets.js';
import { renderReport, niceTicks, escapeHtml } from '../report.js';

const jitter = (mu, n = 20, seed = 1) => {
  const r = rng(seed);
  return Array.from({ length: n }, () => mu * (0.97 + 0.06 * r()));
};

function record(id, values, extra = {}) {
  return { id, label: id, unit: 'time', throughput: { elements: 1 }, values, iters: 10, stats: summarize(values, { resamples: 300 }), ...extra };
}

test("numbers, times and rates in criterion's format", () => {
  assert.equal(short(1.23456), '1.2346');
  assert.equal(short(12.3456), '12.346');
  assert.equal(short(123.456), '123.46');
  assert.equal(short(1234.56), '1234.6');
  assert.equal(short(12345.6), '12346');
  assert.equal(fmtTime(512), '512.00 ns');
  assert.equal(fmtTime(69012), '69.012 µs');
  assert.equal(fmtTime(2.5e6), '2.5000 ms');
  assert.equal(fmtTime(3e9), '3.0000 s');
  assert.equal(fmtThroughput({ elements: 1 }, 1000), '1.0000 Melem/s');
  assert.equal(fmtThroughput({ bytes: 1 << 20 }, 1e9), '1.0000 MiB/s');
  assert.equal(fmtChange(0.005123), '+0.5123%');
  assert.equal(fmtChange(-0.5), '-50.0000%');
  assert.equal(fmtChange(0.01, false), '+0.0100 pp');
  assert.equal(fmtRatio(1.155), '1.16×');
  assert.equal(fmtRatio(18.04), '18.0×');
});

test('a benchmark block has the time line, throughput, change and outliers', () => {
  const values = [...jitter(69000, 19), 90000];
  const rec = record('noop/sequential/atelier', values);
  rec.change = { baseline: 'base', ...compare(values, jitter(70000, 20, 5), { resamples: 300 }) };
  const lines = benchBlock(rec);
  assert.equal(lines[0], 'noop/sequential/atelier');
  assert.match(lines[1], /^ {24}time: {3}\[\S+ µs \S+ µs \S+ µs\]$/);
  assert.match(lines[2], /^ {24}thrpt: {2}\[\S+ Kelem\/s \S+ Kelem\/s \S+ Kelem\/s\]$/);
  assert.ok(lines.some((l) => l.includes('change vs base:')));
  assert.ok(lines.some((l) => /\(p = \d\.\d\d [<>] 0\.05\)/.test(l)));
  assert.ok(lines.some((l) => /^Found 1 outliers among 20 measurements \(5\.00%\)$/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^ {2}1 \(5\.00%\) high severe$/.test(l)), lines.join('\n'));
});

test('tables align and versus reads the ratio', () => {
  assert.deepEqual(table([['a', '1'], ['bbb', '22']], 'lr'), ['a     1', 'bbb  22']);
  assert.match(versus({ point: 2.31, lo: 2.2, hi: 2.4 }), /^2\.31× faster/);
  assert.match(versus({ point: 0.5, lo: 0.45, hi: 0.55 }), /^2\.00× slower/);
  assert.match(versus({ point: 1.02, lo: 0.9, hi: 1.1 }), /^≈ same/);
});

test('targets: met, missed, and not measured', () => {
  const records = {
    'noop/pipelined-1w/atelier': record('noop/pipelined-1w/atelier', jitter(1000)),
    'noop/pipelined-1w/postMessage': record('noop/pipelined-1w/postMessage', jitter(20000)),
    'noop/pipelined-2w/atelier': record('noop/pipelined-2w/atelier', jitter(1500)),
    'noop/pipelined-2w/postMessage': record('noop/pipelined-2w/postMessage', jitter(9000)),
    'noop/sequential/atelier': record('noop/sequential/atelier', jitter(20000)),
    'floor/spin': record('floor/spin', jitter(5000)),
    'idle/atelier': { ...record('idle/atelier', [0.1, 0.2, 0.15]), unit: 'cpu' },
  };
  for (const size of SIZES) {
    records[`f32/${size}/atelier`] = record('a', jitter(1000));
    records[`f32/${size}/postMessage-transfer`] = record('t', jitter(900));
    records[`f32/${size}/sab-roundtrip`] = record('c', jitter(2000));
  }
  delete records['f32/16MiB/sab-roundtrip'];
  // Paired ratios: the two-thread one too wide to tell 2 % from none, the loopback one tight.
  records['observability/off'] = { ...record('observability/off', jitter(1000)), paired: { against: 'observability/bare', rounds: 40, calls: 1000, point: 1.06, lo: 0.85, hi: 1.31 } };
  records['observability/off-loopback'] = { ...record('observability/off-loopback', jitter(400)), paired: { against: 'observability/bare-loopback', rounds: 40, calls: 1000, point: 1.004, lo: 0.99, hi: 1.01 } };
  const rows = checkTargets(records, { resamples: 200 });
  const by = (s) => rows.find((r) => r.target.includes(s));
  assert.equal(by('1 worker: atelier / raw').met, true);
  assert.equal(by('2 workers: atelier / raw').met, false);
  assert.equal(rows.find((r) => r.goal === '≥ 1 M calls/s').met, false, '1.5 µs per call is 0.67 M/s');
  assert.equal(by('sequential').met, false, '4× the floor');
  assert.equal(by('1KiB').met, true, '1000 / 900 ≤ 1.2');
  assert.equal(by('16MiB').met, null);
  assert.equal(by('16MiB').measured, 'not measured');
  assert.equal(by('idle').met, true);
  assert.equal(by('pipelined no-op time, as shipped').met, null, 'an interval of 0.85-1.31 cannot tell 2 %');
  assert.match(by('pipelined no-op time, as shipped').measured, /too wide to tell 2 %/);
  assert.equal(by('(loopback)').met, true);
});

test('targets: a tight paired ratio above 2 % is missed', () => {
  const rows = checkTargets({ 'observability/off': { ...record('observability/off', jitter(1000)), paired: { against: 'observability/bare', rounds: 40, calls: 1000, point: 1.05, lo: 1.03, hi: 1.07 } } }, { resamples: 200 });
  assert.equal(rows.find((r) => r.target.includes('pipelined no-op time, as shipped')).met, false);
});

test('the report is one self-contained HTML file with inline SVG plots', () => {
  const a = record('noop/sequential/atelier', jitter(69000));
  a.baselineValues = jitter(70000, 20, 9);
  a.change = { baseline: 'base', ...compare(a.values, a.baselineValues, { resamples: 200 }) };
  const p = record('noop/sequential/postMessage', jitter(80000, 20, 2));
  const run = {
    title: 'Atelier <bench>',
    startedAt: '2026-11-26T00:00:00.000Z',
    env: { userAgent: 'UA', hardwareConcurrency: 2, clockStepUs: 5 },
    options: { smoke: false, warmUpMs: 1000, measurementMs: 3000, sampleSize: 20, resamples: 300, level: 0.95, noise: 0.05, significance: 0.05 },
    baseline: { compareWith: 'base', saveAs: 'base' },
    recordPath: 'target/bench/suite.json',
    groups: [{ id: 'noop/sequential', title: 'seq', unit: 'time', throughput: { elements: 1 }, referenceId: 'noop/sequential/atelier', ratios: { 'noop/sequential/postMessage': { point: 1.16, lo: 1.1, hi: 1.2 } }, benches: ['noop/sequential/atelier', 'noop/sequential/postMessage', 'noop/sequential/missing'] }],
    records: { [a.id]: a, [p.id]: p },
    targets: [{ target: 't', goal: 'g', measured: 'm', met: false }],
  };
  const html = renderReport(run);
  assert.match(html, /^<!doctype html>/);
  assert.ok(html.includes('Atelier &lt;bench&gt;'), 'titles are escaped');
  assert.ok(!/<script|src=|href="http|<link/i.test(html), 'no script and no external resource');
  assert.ok((html.match(/<svg /g) ?? []).length >= 5, 'a group chart and two plots per benchmark');
  assert.ok(html.includes('class="base-line"'), 'the baseline distribution is drawn');
  assert.ok(html.includes('MISSED'));
  assert.ok(html.includes('1.16× faster'));
  assert.ok(!html.includes('NaN'), 'no NaN in coordinates');
});

test('ticks and escaping', () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0.12, 0.5, 4), [0.2, 0.3, 0.4, 0.5]);
  assert.equal(escapeHtml(`<a href="x">&'</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
});
