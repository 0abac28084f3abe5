// Typed-array views of the shared memory, for the page and the workers alike.
//
// Reading `memory.buffer` costs about 200 ns in Chromium, too much for every call, so the
// views are renewed only when an address they must reach lies beyond them: memory only
// grows, and every address the runtime reads was handed out (and so checked) by the wasm
// module, which sees the memory's current size.
export class Views {
  constructor(memory) {
    this.memory = memory;
    this.u8 = null;
    this.u32 = null;
    this.i32 = null;
    this.refresh();
  }

  refresh() {
    const buffer = this.memory.buffer;
    this.u8 = new Uint8Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.i32 = new Int32Array(buffer);
    return this;
  }

  /** Renews the views when they do not reach byte `end` (the memory grew). */
  cover(end) {
    if (end > this.u8.length) {
      this.refresh();
      if (end > this.u8.length) throw new RangeError(`address ${end} lies beyond the shared memory (${this.u8.length} bytes)`);
    }
    return this;
  }
}
