// Unit tests of the bench options: `node --test benches/browser/harness/tests/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOptions, baselinePlan, selected, fileStem, FULL, SMOKE } from '../options.js';

test('defaults, smoke and explicit values', () => {
  let { options: o, errors } = parseOptions('');
  assert.deepEqual(errors, []);
  assert.equal(o.smoke, false);
  assert.equal(o.measurementMs, FULL.measurementMs);
  ({ options: o } = parseOptions('?smoke'));
  assert.equal(o.smoke, true);
  assert.equal(o.sampleSize, SMOKE.sampleSize);
  ({ options: o, errors } = parseOptions('?measurement-time=2.5&warm-up-time=0.5&sample-size=20&nresamples=100&noise-threshold=0.02&idle-windows=5&idle-window=1'));
  assert.deepEqual(errors, []);
  assert.equal(o.measurementMs, 2500);
  assert.equal(o.warmUpMs, 500);
  assert.equal(o.sampleSize, 20);
  assert.equal(o.resamples, 100);
  assert.equal(o.noise, 0.02);
  assert.equal(o.idleWindows, 5);
  assert.equal(o.idleWindowMs, 1000);
});

test('bare words filter; bad values are errors that say what is expected', () => {
  let { options: o, errors } = parseOptions('?noop&f32/1KiB&filter=idle');
  assert.deepEqual(errors, []);
  assert.deepEqual(o.filter, ['noop', 'f32/1KiB', 'idle']);
  ({ errors } = parseOptions('?sample-size=3'));
  assert.match(errors[0], /at least 10/);
  ({ errors } = parseOptions('?measurement-time=soon'));
  assert.match(errors[0], /positive number of seconds/);
  ({ errors } = parseOptions('?bogus=1'));
  assert.match(errors[0], /unknown option --bogus=1/);
  ({ errors } = parseOptions('?baseline=a&save-baseline=b'));
  assert.match(errors[0], /exclude each other/);
  ({ errors } = parseOptions('?baseline=../x'));
  assert.match(errors[0], /letters, digits/);
  ({ options: o } = parseOptions('', { defaultFilter: ['noop/'] }));
  assert.deepEqual(o.filter, ['noop/']);
});

test('baselines as criterion: base by default, save-baseline saves, baseline only compares', () => {
  assert.deepEqual(baselinePlan(parseOptions('').options), { compareWith: 'base', saveAs: 'base' });
  assert.deepEqual(baselinePlan(parseOptions('?save-baseline=main').options), { compareWith: 'main', saveAs: 'main' });
  assert.deepEqual(baselinePlan(parseOptions('?baseline=main').options), { compareWith: 'main', saveAs: null });
});

test('selection and file names', () => {
  assert.ok(selected('noop/sequential/atelier', []));
  assert.ok(selected('noop/sequential/atelier', ['xyz', 'sequential']));
  assert.ok(!selected('idle/atelier', ['noop']));
  assert.equal(fileStem('noop/sequential/atelier'), 'noop.sequential.atelier');
  assert.equal(fileStem('f32/1KiB/postMessage-transfer'), 'f32.1KiB.postMessage-transfer');
  assert.equal(fileStem('/a b'), 'a_b');
  assert.equal(fileStem(''), 'unnamed');
});
