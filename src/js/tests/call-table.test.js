// The page's table of outstanding calls (call-table.js) against a Map, including calls that
// stay outstanding while 4096 and more newer ones come and go (their cell is taken again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallTable } from '../call-table.js';

const call = (id) => ({ id });

test('a call outlived by 4096 newer ones keeps its place, and the newer one in its cell too', () => {
  const table = new CallTable();
  const old = call(1);
  table.set(1, old);
  // Ids 2..8193 come and go; 4097 and 8193 land on the old call's cell.
  for (let id = 2; id <= 8193; id++) {
    const c = call(id);
    table.set(id, c);
    assert.equal(table.get(id), c);
    assert.equal(table.get(1), old);
    if (id !== 4097) assert.equal(table.delete(id), true);
  }
  assert.equal(table.size, 2);
  assert.deepEqual([...table].map(([id]) => id), [1, 4097], 'oldest first');
  assert.equal(table.get(4097).id, 4097);
  assert.equal(table.delete(1), true);
  assert.equal(table.delete(1), false, 'a call is deleted once');
  assert.equal(table.get(1), undefined);
  assert.equal(table.get(4097).id, 4097);
  assert.equal(table.delete(4097), true);
  assert.equal(table.size, 0);
  assert.deepEqual([...table], []);
});

test('random sets and deletes agree with a Map, and iteration is a snapshot in id order', () => {
  let s = 20261203;
  const rand = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  const table = new CallTable();
  const map = new Map();
  let next = 1;
  for (let step = 0; step < 50_000; step++) {
    if (map.size === 0 || rand() < 0.52) {
      const c = call(next++);
      table.set(c.id, c);
      map.set(c.id, c);
    } else {
      // Mostly the oldest, sometimes any: some calls stay outstanding for a long time.
      const ids = [...map.keys()];
      const id = rand() < 0.9 ? ids[0] : ids[Math.floor(rand() * ids.length)];
      if (rand() < 0.999) {
        assert.equal(table.delete(id), true);
        map.delete(id);
      }
    }
    assert.equal(table.size, map.size);
    if (step % 997 === 0) {
      const seen = [...table];
      assert.deepEqual(seen.map(([id]) => id), [...map.keys()].sort((a, b) => a - b));
      for (const [id, c] of seen) {
        assert.equal(table.get(id), c);
        table.delete(id);
      }
      for (const [id, c] of seen) table.set(id, c);
    }
  }
  assert.ok(next > 20_000, `${next} ids drawn`);
});
