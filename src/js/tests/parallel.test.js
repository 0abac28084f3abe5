import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parallelLimit, yieldAsCompleted } from '../parallel.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const collect = async (gen) => {
  const out = [];
  for await (const v of gen) out.push(v);
  return out;
};
const abortError = () => Object.assign(new Error('aborted'), { name: 'AbortError' });

/** A fake abortTaskController. */
class Keys {
  constructor() {
    this.aborted = new Set();
  }
  isAborted(k) {
    return this.aborted.has(k);
  }
}

describe('parallelLimit', () => {
  test('at most `limit` calls run; results come in completion order', async () => {
    let now = 0;
    let peak = 0;
    const fn = async (ms) => {
      now++;
      peak = Math.max(peak, now);
      await sleep(ms);
      now--;
      return ms;
    };
    const out = await collect(parallelLimit([60, 10, 30, 5, 20], 2, fn));
    assert.equal(peak, 2);
    assert.deepEqual(out, [10, 30, 5, 60, 20]);
  });

  test('fn gets the item and its index; async iterables work', async () => {
    async function* items() {
      yield 'a';
      yield 'b';
    }
    const out = await collect(parallelLimit(items(), 3, async (x, i) => `${x}${i}`));
    assert.deepEqual(out.sort(), ['a0', 'b1']);
  });

  test('invalid limits and options throw at once and fn is never called', () => {
    let called = 0;
    const fn = () => called++;
    for (const limit of [0, -1, 0.5, NaN, Infinity, '2', undefined]) {
      assert.throws(() => parallelLimit([1], limit, fn), RangeError, String(limit));
    }
    assert.throws(() => parallelLimit(5, 1, fn), TypeError);
    assert.throws(() => parallelLimit([1], 1, 'fn'), TypeError);
    assert.throws(() => parallelLimit([1], 1, fn, { errorPolicy: 'ignore' }), /errorPolicy/);
    assert.throws(() => parallelLimit([1], 1, fn, { retries: 2 }), /unknown option "retries"/);
    assert.throws(() => parallelLimit([1], 1, fn, { keyOf: String }), /go together/);
    assert.equal(called, 0);
  });

  test("'fail-fast' throws the first error and starts nothing after it", async () => {
    const started = [];
    const fn = async (x) => {
      started.push(x);
      await sleep(5);
      if (x === 2) throw new Error('two');
      return x;
    };
    const got = [];
    await assert.rejects(async () => {
      for await (const v of parallelLimit([1, 2, 3, 4, 5, 6], 2, fn)) got.push(v);
    }, /two/);
    assert.ok(!started.includes(6), `started ${started}`);
    assert.ok(!got.includes(2));
  });

  test("'continue' skips failures and tells onError", async () => {
    const errors = [];
    const fn = async (x) => {
      if (x % 2) throw new Error(`odd ${x}`);
      return x;
    };
    const out = await collect(parallelLimit([1, 2, 3, 4], 2, fn, { errorPolicy: 'continue', onError: (e, item) => errors.push([e.message, item]) }));
    assert.deepEqual(out.sort(), [2, 4]);
    assert.deepEqual(errors.sort(), [['odd 1', 1], ['odd 3', 3]]);
  });

  test('returnSettled yields records and never throws', async () => {
    const fn = async (x) => {
      if (x === 'bad') throw new TypeError('no');
      return x.toUpperCase();
    };
    const out = await collect(parallelLimit(['a', 'bad'], 1, fn, { returnSettled: true }));
    assert.deepEqual(out[0], { status: 'fulfilled', value: 'A', item: 'a' });
    assert.equal(out[1].status, 'rejected');
    assert.equal(out[1].error.name, 'TypeError');
    assert.equal(out[1].item, 'bad');
  });

  test('signal: nothing starts after it aborts, and AbortError is not fatal', async () => {
    const stop = new AbortController();
    const started = [];
    const fn = async (x) => {
      started.push(x);
      if (x === 2) {
        stop.abort();
        throw abortError();
      }
      await sleep(5);
      return x;
    };
    const out = await collect(parallelLimit([1, 2, 3, 4], 2, fn, { signal: stop.signal }));
    assert.deepEqual(out, [1]);
    assert.deepEqual(started, [1, 2]);
  });

  test('keys: aborted keys are not started, their results are dropped, AbortError is not fatal', async () => {
    const keys = new Keys();
    keys.aborted.add('b');
    const started = [];
    const fn = async (item) => {
      started.push(item.id);
      if (item.id === 'c') {
        keys.aborted.add('d'); // d is aborted while it runs
        throw abortError();
      }
      await sleep(10);
      return item.id;
    };
    const items = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id }));
    const out = await collect(parallelLimit(items, 3, fn, { abortTaskController: keys, keyOf: (item) => item.id }));
    assert.ok(!started.includes('b'), 'b was aborted before it started');
    assert.deepEqual(out.sort(), ['a', 'e'], 'd ran, but its key was aborted: dropped');
  });

  test('breaking out of the loop starts nothing more', async () => {
    const started = [];
    for await (const v of parallelLimit([1, 2, 3, 4, 5], 2, async (x) => {
      started.push(x);
      await sleep(1);
      return x;
    })) {
      if (v) break;
    }
    await sleep(20);
    assert.ok(started.length <= 3, `started ${started}`);
  });
});

describe('yieldAsCompleted', () => {
  test('yields in completion order and throws a rejection', async () => {
    const out = await collect(yieldAsCompleted([sleep(30).then(() => 'slow'), 'now', sleep(10).then(() => 'soon')]));
    assert.deepEqual(out, ['now', 'soon', 'slow']);
    await assert.rejects(collect(yieldAsCompleted([Promise.reject(new Error('x'))])), /x/);
    await assert.rejects(collect(yieldAsCompleted(7)), TypeError);
  });
});
