// Statistics of the browser benchmarks, after criterion's: point estimates, bootstrap
// confidence intervals, Tukey's outlier fences, and the comparison with a baseline
// (relative change with its interval, a bootstrap t-test, and a verdict).
//
// Pure functions over arrays of numbers (one number per sample: the mean time of one
// iteration in that sample's batch, or a CPU share); no DOM, so `node --test` runs them.
// Every random choice goes through a seeded generator, so a run is reproducible.

/** Criterion's scale factor that makes the MAD estimate the standard deviation of a normal. */
export const MAD_SCALE = 1.4826;

/**
 * A seeded uniform generator on [0, 1) (mulberry32: 32-bit state, good enough for
 * resampling and fast in JS). The same seed gives the same sequence.
 */
export function rng(seed = 0x9e3779b9) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed from a string (FNV-1a), so each benchmark resamples its own way. */
export function seedOf(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function sum(xs) {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}

export function mean(xs) {
  return xs.length === 0 ? NaN : sum(xs) / xs.length;
}

/** The unbiased sample variance (n - 1); NaN below two values. */
export function variance(xs) {
  const n = xs.length;
  if (n < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < n; i++) s += (xs[i] - m) ** 2;
  return s / (n - 1);
}

export function stdDev(xs) {
  return Math.sqrt(variance(xs));
}

function ascending(a, b) {
  return a - b;
}

export function sorted(xs) {
  return Float64Array.from(xs).sort(ascending);
}

/**
 * The p-quantile (0 ≤ p ≤ 1) of an ascending array, interpolating linearly between
 * closest ranks (R's type 7, numpy's default, criterion's `percentiles`).
 */
export function quantileSorted(s, p) {
  const n = s.length;
  if (n === 0) return NaN;
  if (n === 1) return s[0];
  const h = (n - 1) * Math.min(1, Math.max(0, p));
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return s[lo] + (h - lo) * (s[hi] - s[lo]);
}

export function median(xs) {
  return quantileSorted(sorted(xs), 0.5);
}

/** The median absolute deviation, scaled by {@link MAD_SCALE} as criterion does. */
export function mad(xs) {
  const m = median(xs);
  return MAD_SCALE * median(Array.from(xs, (x) => Math.abs(x - m)));
}

/**
 * Tukey's fences: samples beyond Q1 - 1.5 IQR or Q3 + 1.5 IQR are mild outliers, beyond
 * 3 IQR severe ones. `labels[i]` classifies `xs[i]`: 'low severe', 'low mild', '' (normal),
 * 'high mild', 'high severe'. Outliers are counted, never dropped.
 */
export function tukey(xs) {
  const s = sorted(xs);
  const q1 = quantileSorted(s, 0.25);
  const q3 = quantileSorted(s, 0.75);
  const iqr = q3 - q1;
  const fences = {
    lowSevere: q1 - 3 * iqr,
    lowMild: q1 - 1.5 * iqr,
    highMild: q3 + 1.5 * iqr,
    highSevere: q3 + 3 * iqr,
  };
  const counts = { lowSevere: 0, lowMild: 0, highMild: 0, highSevere: 0 };
  const labels = Array.from(xs, (x) => {
    if (x < fences.lowSevere) {
      counts.lowSevere++;
      return 'low severe';
    }
    if (x < fences.lowMild) {
      counts.lowMild++;
      return 'low mild';
    }
    if (x > fences.highSevere) {
      counts.highSevere++;
      return 'high severe';
    }
    if (x > fences.highMild) {
      counts.highMild++;
      return 'high mild';
    }
    return '';
  });
  const total = counts.lowSevere + counts.lowMild + counts.highMild + counts.highSevere;
  return { q1, q3, iqr, fences, counts, total, labels };
}

/** Draws `out.length` values from `xs` with replacement into `out`. */
function resampleInto(xs, out, rand) {
  const n = xs.length;
  for (let i = 0; i < out.length; i++) out[i] = xs[Math.floor(rand() * n)];
  return out;
}

/**
 * The bootstrap distributions of several statistics of `xs`: `resamples` times, draws
 * n values with replacement and applies each of `stats` ({name: fn(array)}).
 * Returns {name: ascending Float64Array}.
 */
export function bootstrap(xs, stats, { resamples = 10000, rand = rng() } = {}) {
  const names = Object.keys(stats);
  const dists = Object.fromEntries(names.map((k) => [k, new Float64Array(resamples)]));
  const buf = new Float64Array(xs.length);
  for (let r = 0; r < resamples; r++) {
    resampleInto(xs, buf, rand);
    for (const k of names) dists[k][r] = stats[k](buf);
  }
  for (const k of names) dists[k].sort(ascending);
  return dists;
}

/** The percentile interval of an ascending bootstrap distribution at `level` (0.95). */
export function interval(dist, level = 0.95) {
  const a = (1 - level) / 2;
  return [quantileSorted(dist, a), quantileSorted(dist, 1 - a)];
}

function estimate(point, dist, level) {
  const [lo, hi] = interval(dist, level);
  return { point, lo, hi, se: stdDev(dist) };
}

/**
 * Everything reported for one benchmark's samples: mean, median, standard deviation and
 * MAD, each with its bootstrap confidence interval, plus min, max and Tukey's outliers.
 */
export function summarize(xs, { resamples = 10000, level = 0.95, seed = 1 } = {}) {
  const values = Array.from(xs);
  if (values.length === 0) throw new RangeError('summarize: no samples');
  const dists = bootstrap(values, { mean, median, stdDev, mad }, { resamples, rand: rng(seed) });
  const s = sorted(values);
  return {
    n: values.length,
    level,
    resamples,
    mean: estimate(mean(values), dists.mean, level),
    median: estimate(quantileSorted(s, 0.5), dists.median, level),
    stdDev: estimate(stdDev(values), dists.stdDev, level),
    mad: estimate(mad(values), dists.mad, level),
    min: s[0],
    max: s[s.length - 1],
    outliers: tukey(values),
  };
}

/** Welch's t statistic of two samples (a - b); 0 when both are constant and equal. */
export function welchT(a, b) {
  const va = variance(a) / a.length;
  const vb = variance(b) / b.length;
  const d = mean(a) - mean(b);
  const se = Math.sqrt(va + vb);
  if (se === 0 || !Number.isFinite(se)) return d === 0 ? 0 : Math.sign(d) * Infinity;
  return d / se;
}

/**
 * Compares `current` samples with `base` samples of the same benchmark, as criterion does.
 * - The relative change of the mean and of the median (current / base - 1), each with a
 *   bootstrap interval (both samples resampled independently).
 * - A two-tailed p-value for "the means differ": Welch's t against its distribution when
 *   both samples are drawn from the pooled samples (no difference).
 * - The verdict: 'no-change' when p ≥ significance; otherwise 'regressed' when the
 *   interval of the mean's change lies above +noise, 'improved' when below -noise, and
 *   'within-noise' when it overlaps [-noise, +noise]. Lower values are better (times, CPU).
 * With `relative: false` the changes are differences (current - base) in the samples' unit
 * and `noise` is in that unit too: for values near zero (idle CPU), where ratios explode.
 */
export function compare(current, base, { resamples = 10000, level = 0.95, noise = 0.05, significance = 0.05, seed = 2, relative = true } = {}) {
  const a = Array.from(current);
  const b = Array.from(base);
  if (a.length < 2 || b.length < 2) throw new RangeError('compare: need at least two samples on each side');
  const change = relative ? (x, y) => x / y - 1 : (x, y) => x - y;
  const rand = rng(seed);
  const ra = new Float64Array(a.length);
  const rb = new Float64Array(b.length);
  const dMean = new Float64Array(resamples);
  const dMedian = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    resampleInto(a, ra, rand);
    resampleInto(b, rb, rand);
    dMean[r] = change(mean(ra), mean(rb));
    dMedian[r] = change(median(ra), median(rb));
  }
  dMean.sort(ascending);
  dMedian.sort(ascending);

  const t = welchT(a, b);
  const pooled = a.concat(b);
  let extreme = 0;
  for (let r = 0; r < resamples; r++) {
    resampleInto(pooled, ra, rand);
    resampleInto(pooled, rb, rand);
    if (Math.abs(welchT(ra, rb)) >= Math.abs(t)) extreme++;
  }
  const p = extreme / resamples;

  const meanChange = { point: change(mean(a), mean(b)), ...pick(interval(dMean, level)) };
  const medianChange = { point: change(median(a), median(b)), ...pick(interval(dMedian, level)) };
  let verdict;
  if (!(p < significance)) verdict = 'no-change';
  else if (meanChange.lo > noise) verdict = 'regressed';
  else if (meanChange.hi < -noise) verdict = 'improved';
  else verdict = 'within-noise';
  return { mean: meanChange, median: medianChange, t, p, significance, noise, level, relative, verdict };
}

function pick([lo, hi]) {
  return { lo, hi };
}

/**
 * The ratio of the means of two independent samples (num / den) with its bootstrap
 * interval: how many times slower `num` is than `den` (for times; for rates, invert).
 */
export function ratio(num, den, { resamples = 10000, level = 0.95, seed = 3 } = {}) {
  const a = Array.from(num);
  const b = Array.from(den);
  const rand = rng(seed);
  const ra = new Float64Array(a.length);
  const rb = new Float64Array(b.length);
  const dist = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) dist[r] = mean(resampleInto(a, ra, rand)) / mean(resampleInto(b, rb, rand));
  dist.sort(ascending);
  const [lo, hi] = interval(dist, level);
  return { point: mean(a) / mean(b), lo, hi };
}

/**
 * A Gaussian kernel density estimate of `xs` at `points` evenly spaced points over
 * [lo, hi] (default: the data's range widened by three bandwidths), with Silverman's
 * rule-of-thumb bandwidth (as criterion's plots). Returns {xs, ys, bandwidth}.
 */
export function kde(xs, { points = 100, lo, hi } = {}) {
  const n = xs.length;
  const sd = stdDev(xs);
  const s = sorted(xs);
  const iqr = quantileSorted(s, 0.75) - quantileSorted(s, 0.25);
  let spread = Math.min(sd, iqr / 1.34);
  if (!(spread > 0)) spread = sd > 0 ? sd : Math.abs(mean(xs)) * 0.01 || 1;
  const bw = 0.9 * spread * n ** -0.2;
  const from = lo ?? s[0] - 3 * bw;
  const to = hi ?? s[n - 1] + 3 * bw;
  const gx = [];
  const gy = [];
  const norm = 1 / (n * bw * Math.sqrt(2 * Math.PI));
  for (let i = 0; i < points; i++) {
    const x = from + ((to - from) * i) / (points - 1);
    let y = 0;
    for (let j = 0; j < n; j++) y += Math.exp(-0.5 * ((x - s[j]) / bw) ** 2);
    gx.push(x);
    gy.push(y * norm);
  }
  return { xs: gx, ys: gy, bandwidth: bw };
}

/**
 * Why a summary is unusable, or null when it is fine: at least two samples, every estimate
 * and interval finite with lo ≤ hi, the mean inside its interval, no negative sample.
 */
export function validSummary(st) {
  if (!st || !(st.n >= 2)) return 'fewer than two samples';
  for (const k of ['mean', 'median', 'stdDev', 'mad']) {
    const e = st[k];
    if (!(Number.isFinite(e.point) && Number.isFinite(e.lo) && Number.isFinite(e.hi) && e.lo <= e.hi)) {
      return `the ${k} estimate or its interval is not finite (${JSON.stringify(e)})`;
    }
  }
  const m = st.mean;
  const slack = 1e-9 * Math.abs(m.point);
  if (!(m.lo <= m.point + slack && m.point <= m.hi + slack)) return `the mean ${m.point} lies outside its interval [${m.lo}, ${m.hi}]`;
  if (!(st.min >= 0)) return `a negative sample (${st.min})`;
  return null;
}

/**
 * The geometric mean of the per-round ratios num[i] / den[i] of a paired measurement, with a
 * percentile bootstrap interval over rounds: the pairing removes what both sides of a round
 * share (the machine's drift), which a ratio of two independent means keeps.
 */
export function pairedRatio(num, den, { resamples = 10000, level = 0.95, seed = 3 } = {}) {
  if (num.length !== den.length || num.length === 0) throw new RangeError('pairedRatio: num and den must be non-empty and of one length');
  const logs = Array.from(num, (x, i) => Math.log(x / den[i]));
  const n = logs.length;
  const rand = rng(seed);
  const means = new Float64Array(resamples);
  for (let k = 0; k < resamples; k++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += logs[Math.floor(rand() * n)];
    means[k] = s / n;
  }
  means.sort();
  const tail = (1 - level) / 2;
  const at = (q) => means[Math.min(resamples - 1, Math.max(0, Math.floor(q * resamples)))];
  return { point: Math.exp(logs.reduce((s, x) => s + x, 0) / n), lo: Math.exp(at(tail)), hi: Math.exp(at(1 - tail)) };
}
