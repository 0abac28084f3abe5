// Unit tests of the benchmark statistics: `node --test benches/browser/harness/tests/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  rng, seedOf, mean, variance, stdDev, median, mad, quantileSorted, sorted, tukey, bootstrap,
  interval, summarize, compare, ratio, welchT, kde, validSummary, MAD_SCALE, pairedRatio } from '../stats.js';

const close = (a, b, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≉ ${b}`);

/** Normal samples (Box–Muller) from a seeded generator. */
function normal(n, mu, sigma, seed = 7) {
  const r = rng(seed);
  return Array.from({ length: n }, () => mu + sigma * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
}

test('the generator is seeded, uniform on [0, 1) and reproducible', () => {
  const a = rng(42);
  const b = rng(42);
  const xs = Array.from({ length: 20000 }, () => a());
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  close(mean(xs), 0.5, 0.02);
  assert.notEqual(rng(1)(), rng(2)());
  assert.equal(seedOf('a/b'), seedOf('a/b'));
  assert.notEqual(seedOf('a/b'), seedOf('a/c'));
});

test('point estimates match hand-computed values', () => {
  const xs = [2, 4, 4, 4, 5, 5, 7, 9];
  close(mean(xs), 5);
  close(variance(xs), 32 / 7);
  close(stdDev(xs), Math.sqrt(32 / 7));
  close(median(xs), 4.5);
  close(median([3, 1, 2]), 2);
  // |x - 4.5| = 2.5 .5 .5 .5 .5 .5 2.5 4.5 → median 0.5
  close(mad(xs), MAD_SCALE * 0.5);
  assert.ok(Number.isNaN(variance([1])));
  assert.ok(Number.isNaN(mean([])));
});

test('quantiles interpolate between closest ranks (type 7)', () => {
  const s = sorted([10, 20, 30, 40]);
  close(quantileSorted(s, 0), 10);
  close(quantileSorted(s, 1), 40);
  close(quantileSorted(s, 0.5), 25);
  close(quantileSorted(s, 0.25), 17.5);
  close(quantileSorted(sorted([5]), 0.3), 5);
});

test("Tukey's fences classify mild and severe outliers on both sides", () => {
  // Q1 = 10, Q3 = 11 (IQR 1) for the bulk; mild beyond 1.5, severe beyond 3.
  const xs = [10, 10, 10, 10, 10.5, 10.5, 11, 11, 11, 11, 12.8, 15, 7.9, 0];
  const t = tukey(xs);
  close(t.q1, 10);
  close(t.q3, 11);
  assert.deepEqual(t.counts, { lowSevere: 1, lowMild: 1, highMild: 1, highSevere: 1 });
  assert.equal(t.total, 4);
  assert.equal(t.labels[xs.indexOf(15)], 'high severe');
  assert.equal(t.labels[xs.indexOf(12.8)], 'high mild');
  assert.equal(t.labels[xs.indexOf(7.9)], 'low mild');
  assert.equal(t.labels[xs.indexOf(0)], 'low severe');
  assert.equal(t.labels[0], '');
  assert.equal(tukey([1, 1, 1, 1]).total, 0);
});

test('the bootstrap interval of the mean covers the truth about 95 % of the time', () => {
  let covered = 0;
  const trials = 200;
  for (let k = 0; k < trials; k++) {
    const xs = normal(40, 100, 10, 1000 + k);
    const d = bootstrap(xs, { mean }, { resamples: 1000, rand: rng(k) });
    const [lo, hi] = interval(d.mean, 0.95);
    if (lo <= 100 && 100 <= hi) covered++;
  }
  // Percentile intervals of n = 40 undercover slightly; 95 % ± sampling error.
  assert.ok(covered >= trials * 0.88 && covered <= trials * 0.99, `covered ${covered}/${trials}`);
});

test('summarize gives every estimate with an interval that contains it', () => {
  const xs = normal(60, 50, 5);
  const st = summarize(xs, { resamples: 2000, seed: 3 });
  assert.equal(st.n, 60);
  for (const k of ['mean', 'median', 'stdDev', 'mad']) {
    assert.ok(st[k].lo <= st[k].point && st[k].point <= st[k].hi, `${k}: ${JSON.stringify(st[k])}`);
  }
  close(st.mean.point, mean(xs));
  assert.ok(st.mean.hi - st.mean.lo < 4, 'a 95 % interval of the mean is about ±1.3 here');
  close(st.stdDev.point, 5, 0.3);
  close(st.mad.point, 5, 0.4);
  assert.equal(validSummary(st), null);
  // Same seed, same answer.
  assert.deepEqual(summarize(xs, { resamples: 500, seed: 9 }).mean, summarize(xs, { resamples: 500, seed: 9 }).mean);
  assert.throws(() => summarize([]), /no samples/);
});

test('validSummary refuses what cannot be reported', () => {
  assert.match(validSummary(summarize([5], { resamples: 10 })), /fewer than two/);
  assert.match(validSummary(summarize([1, NaN, 3], { resamples: 10 })), /not finite/);
  assert.match(validSummary(summarize([-1, 2, 3], { resamples: 10 })), /negative/);
  assert.equal(validSummary(summarize([0, 0, 0], { resamples: 10 })), null);
});

test('compare finds a 20 % regression and a 20 % improvement, and no change between equals', () => {
  const base = normal(50, 100, 3, 11);
  const slower = normal(50, 120, 3, 12);
  const faster = normal(50, 80, 3, 13);
  const same = normal(50, 100, 3, 14);
  const opts = { resamples: 2000 };
  const r = compare(slower, base, opts);
  assert.equal(r.verdict, 'regressed');
  assert.ok(r.mean.lo < 0.2 && 0.2 < r.mean.hi, JSON.stringify(r.mean));
  assert.ok(r.p < 0.01);
  assert.equal(compare(faster, base, opts).verdict, 'improved');
  const s = compare(same, base, opts);
  assert.ok(s.verdict === 'no-change' || s.verdict === 'within-noise', s.verdict);
  assert.ok(Math.abs(s.mean.point) < 0.03);
});

test('compare calls a significant change inside the noise threshold within-noise', () => {
  // 2 % slower with tiny spread: significant, but inside ±5 %.
  const base = normal(200, 100, 0.2, 21);
  const cur = normal(200, 102, 0.2, 22);
  const r = compare(cur, base, { resamples: 2000 });
  assert.ok(r.p < 0.05);
  assert.equal(r.verdict, 'within-noise');
  assert.equal(compare(cur, base, { resamples: 2000, noise: 0.01 }).verdict, 'regressed');
});

test('compare in absolute mode works for shares near zero', () => {
  const base = [0, 0, 0, 0];
  const cur = [0.01, 0.02, 0.01, 0.02];
  const r = compare(cur, base, { resamples: 1000, relative: false, noise: 0.25 });
  close(r.mean.point, 0.015);
  assert.ok(Number.isFinite(r.mean.lo) && Number.isFinite(r.mean.hi));
  assert.notEqual(r.verdict, 'regressed', 'a change of 0.015 points is inside ±0.25');
  assert.equal(compare([0, 0], [0, 0], { resamples: 100, relative: false }).verdict, 'no-change');
  assert.throws(() => compare([1], [1, 2]), /two samples/);
});

test("Welch's t has the sign of the difference", () => {
  assert.ok(welchT([10, 11, 12], [1, 2, 3]) > 5);
  assert.ok(welchT([1, 2, 3], [10, 11, 12]) < -5);
  assert.equal(welchT([1, 1], [1, 1]), 0);
  assert.equal(welchT([2, 2], [1, 1]), Infinity);
});

test('ratio of means with its interval', () => {
  const a = normal(40, 300, 5, 31);
  const b = normal(40, 100, 2, 32);
  const r = ratio(a, b, { resamples: 2000 });
  close(r.point, mean(a) / mean(b));
  assert.ok(r.lo < r.point && r.point < r.hi && r.lo > 2.8 && r.hi < 3.2, JSON.stringify(r));
});

test('the kernel density integrates to about one', () => {
  const xs = normal(100, 10, 2, 41);
  const d = kde(xs, { points: 400 });
  const step = d.xs[1] - d.xs[0];
  close(d.ys.reduce((s, y) => s + y, 0) * step, 1, 0.02);
  assert.ok(d.bandwidth > 0);
  // Constant samples still give a finite curve.
  assert.ok(kde([3, 3, 3]).ys.every(Number.isFinite));
});

test('pairedRatio: drift shared by both sides of a round cancels out', () => {
  // Each round runs at its own speed (the machine drifts by 3x); the first side is always 5 % slower.
  const speed = Array.from({ length: 30 }, (_, i) => 1 + 2 * Math.abs(Math.sin(i)));
  const den = speed.map((s) => 100 * s);
  const num = den.map((x, i) => x * 1.05 * (1 + (i % 3 - 1) * 0.002));
  const r = pairedRatio(num, den, { resamples: 2000 });
  assert.ok(Math.abs(r.point - 1.05) < 0.002, `point ${r.point}`);
  assert.ok(r.lo <= r.point && r.point <= r.hi && r.hi - r.lo < 0.01, `interval [${r.lo}, ${r.hi}]`);
  assert.throws(() => pairedRatio([1], [1, 2]), RangeError);
});
