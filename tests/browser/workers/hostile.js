// The hostile-memory suite's worker: an honest worker (it echoes) that, when asked, writes
// garbage into its task's words in shared memory: slots, its own and other seats' cells,
// completion rings and result records, the work queue. It learns the addresses the way any
// worker script could: by reading the start-up message the page sends it.
import { createTaskWorker } from '/pkg/worker.js';
import { INFO } from '/pkg/port.js';
import { address, garbage } from './hostile-fields.js';

let memory = null;
let info = null;
let seat = -1;
self.addEventListener('message', (event) => {
  const d = event.data;
  if (d !== null && typeof d === 'object' && d.__atelier === 'atelier:init') {
    memory = d.memory;
    seat = d.seat;
    info = {};
    INFO.forEach((name, i) => {
      info[name] = d.info[i];
    });
    // For the page's failure message: where this task's words are.
    self.postMessage({ hostileInfo: info, seat });
  }
});

createTaskWorker({
  echo(value) {
    return value;
  },
  /**
   * Writes each `[field, index, kind, noise]` of `list`; `seats`: the task's seat count.
   * Only on the call's first run: a call requeued after the worker it broke was replaced
   * would otherwise break the next one the same way, for ever (a poison call; the crash
   * policy's retry budget resets whenever another call succeeds).
   */
  corrupt(list, seats, ctx) {
    if (ctx.attempt > 1) return 0;
    const u32 = new Uint32Array(memory.buffer);
    for (const [field, index, kind, noise] of list) {
      const word = address(info, seat, field, index, seats) >>> 2;
      Atomics.store(u32, word, garbage(Atomics.load(u32, word), kind, noise));
    }
    return list.length;
  },
});
