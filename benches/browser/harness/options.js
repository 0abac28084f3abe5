// The bench page's options, read from its query string. `cargo atelier bench PAGE -- ARGS`
// turns ARGS into the query (`--k v`, `--k=v`, `k=v` → `k=v`; `--flag`, `word` → `flag`,
// `word`), so these are the command-line options of the suite. Pure: tested with node.

/** Defaults of a full run: the whole suite in a few minutes on a 2-core machine. */
export const FULL = Object.freeze({
  warmUpMs: 1000,
  measurementMs: 3000,
  sampleSize: 50,
  resamples: 10000,
  idleWindowMs: 2000,
  idleWindows: 4,
});

/** Defaults of a smoke run (CI): every benchmark, tiny counts, well under a minute. */
export const SMOKE = Object.freeze({
  warmUpMs: 20,
  measurementMs: 60,
  sampleSize: 10,
  resamples: 500,
  idleWindowMs: 100,
  idleWindows: 2,
});

/** The options and what each means, for the page's usage message and the docs. */
export const USAGE = [
  ['smoke', 'tiny counts: checks that every benchmark runs and yields statistics (CI)'],
  ['warm-up-time S', `seconds of warm-up per benchmark (default ${FULL.warmUpMs / 1000})`],
  ['measurement-time S', `seconds of measurement per benchmark (default ${FULL.measurementMs / 1000})`],
  ['sample-size N', `samples per benchmark, each a batch of iterations (default ${FULL.sampleSize}, at least 10)`],
  ['nresamples N', `bootstrap resamples (default ${FULL.resamples})`],
  ['confidence-level X', 'confidence level of the intervals (default 0.95)'],
  ['noise-threshold X', 'relative changes within ±X are noise (default 0.05)'],
  ['significance-level X', 'p-value below which a change is significant (default 0.05)'],
  ['idle-window S', `seconds per idle-CPU window (default ${FULL.idleWindowMs / 1000})`],
  ['idle-windows N', `idle-CPU windows per variant (default ${FULL.idleWindows})`],
  ['save-baseline NAME', 'compare with baseline NAME (if saved), then save this run as NAME'],
  ['baseline NAME', 'compare with baseline NAME; save nothing'],
  ['filter TEXT', 'run only benchmarks whose id contains TEXT (a bare word does the same; several: any)'],
];

const KNOWN = new Map([
  ['warm-up-time', ['warmUpMs', 'seconds']],
  ['measurement-time', ['measurementMs', 'seconds']],
  ['sample-size', ['sampleSize', 'count']],
  ['nresamples', ['resamples', 'count']],
  ['confidence-level', ['level', 'fraction']],
  ['noise-threshold', ['noise', 'fraction']],
  ['significance-level', ['significance', 'fraction']],
  ['idle-window', ['idleWindowMs', 'seconds']],
  ['idle-windows', ['idleWindows', 'count']],
  ['save-baseline', ['saveBaseline', 'name']],
  ['baseline', ['baseline', 'name']],
  ['filter', ['filter', 'text']],
]);

/**
 * Reads the options from a query string (`?smoke&measurement-time=2`). Returns
 * `{options, errors}`; `errors` lists what was not understood, each with the fix.
 * Bare words that are not options are filters (like `cargo bench -- WORD`).
 */
export function parseOptions(search, { defaultFilter = [] } = {}) {
  const q = new URLSearchParams(search);
  const smoke = q.has('smoke');
  const base = smoke ? SMOKE : FULL;
  const o = {
    smoke,
    ...base,
    level: 0.95,
    noise: 0.05,
    significance: 0.05,
    saveBaseline: null,
    baseline: null,
    filter: [],
  };
  const errors = [];
  for (const [key, value] of q) {
    if (key === 'smoke') continue;
    const known = KNOWN.get(key);
    if (known === undefined) {
      if (value === '') o.filter.push(key);
      else errors.push(`unknown option --${key}=${value}: the options are ${USAGE.map(([k]) => `--${k}`).join(', ')}`);
      continue;
    }
    const [field, kind] = known;
    const num = Number(value);
    switch (kind) {
      case 'seconds':
        if (value !== '' && Number.isFinite(num) && num > 0) o[field] = num * 1000;
        else errors.push(`--${key} takes a positive number of seconds (got ${JSON.stringify(value)})`);
        break;
      case 'count':
        if (Number.isInteger(num) && num >= 1) o[field] = num;
        else errors.push(`--${key} takes a positive integer (got ${JSON.stringify(value)})`);
        break;
      case 'fraction':
        if (value !== '' && Number.isFinite(num) && num > 0 && num < 1) o[field] = num;
        else errors.push(`--${key} takes a number between 0 and 1 (got ${JSON.stringify(value)})`);
        break;
      case 'name':
        if (/^[A-Za-z0-9_-]+$/.test(value)) o[field] = value;
        else errors.push(`--${key} takes a name of letters, digits, '-' and '_' (got ${JSON.stringify(value)})`);
        break;
      default:
        if (value !== '') o.filter.push(value);
        else errors.push(`--${key} needs a value`);
    }
  }
  if (o.sampleSize < 10 && !errors.length) errors.push(`--sample-size must be at least 10 (got ${o.sampleSize}), as in criterion`);
  if (o.saveBaseline !== null && o.baseline !== null) {
    errors.push('--save-baseline and --baseline exclude each other: --baseline NAME compares without saving, --save-baseline NAME compares with NAME and then saves');
  }
  if (o.filter.length === 0) o.filter = [...defaultFilter];
  return { options: o, errors };
}

/**
 * Which baseline a run compares with and which it saves, as criterion does: by default
 * compare with `base` and save as `base`; `--save-baseline N` compares with N and saves N;
 * `--baseline N` compares with N and saves nothing.
 */
export function baselinePlan(o) {
  if (o.baseline !== null) return { compareWith: o.baseline, saveAs: null };
  const name = o.saveBaseline ?? 'base';
  return { compareWith: name, saveAs: name };
}

/** Whether benchmark `id` is selected by the filters (none: every benchmark). */
export function selected(id, filter) {
  return filter.length === 0 || filter.some((f) => id.includes(f));
}

/** The file stem of a benchmark id (`noop/sequential/atelier` → `noop.sequential.atelier`). */
export function fileStem(id) {
  const s = id.replace(/\//g, '.').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
  return s === '' ? 'unnamed' : s;
}
