// The page's outstanding calls by id (runtime.js): an array indexed by the low bits of the
// id, with a Map for the rare call still outstanding when its cell is wanted again.

/** Cells of a CallTable: calls outstanding 4096 ids apart still find a cell each. */
const CALL_TABLE_BITS = 12;

/**
 * The outstanding calls by id, as a Map would hold them. Ids are consecutive (the core counts
 * them), so a call lives in the cell `id & mask` of an array, and in a Map only while that
 * cell is held by a call 4096 ids older that is still outstanding. A Map's insert, look-up and
 * delete cost about 45 ns per call more (V8, 256 calls outstanding), a tenth of a no-op
 * call's work on the page.
 */
export class CallTable {
  constructor() {
    this.cells = new Array(1 << CALL_TABLE_BITS).fill(null);
    this.mask = (1 << CALL_TABLE_BITS) - 1;
    this.overflow = new Map();
    this.size = 0;
  }

  /** Adds `call` under `call.id` (which must not be in the table). */
  set(id, call) {
    const at = id & this.mask;
    if (this.cells[at] === null) this.cells[at] = call;
    else this.overflow.set(id, call);
    this.size++;
  }

  get(id) {
    const c = this.cells[id & this.mask];
    if (c !== null && c.id === id) return c;
    return this.overflow.size === 0 ? undefined : this.overflow.get(id);
  }

  delete(id) {
    const at = id & this.mask;
    const c = this.cells[at];
    if (c !== null && c.id === id) {
      this.cells[at] = null;
    } else if (!this.overflow.delete(id)) {
      return false;
    }
    this.size--;
    return true;
  }

  /** `[id, call]` pairs, oldest call first, as a snapshot (the table may change meanwhile). */
  [Symbol.iterator]() {
    const all = [...this.overflow.values()];
    for (const c of this.cells) if (c !== null) all.push(c);
    all.sort((a, b) => a.id - b.id);
    return all.map((c) => [c.id, c])[Symbol.iterator]();
  }
}
