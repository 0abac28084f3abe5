// A worker that runs on the page's own thread, for measuring the page's side of a call alone.
//
// `LoopbackWorker` stands where `new Worker(...)` stands in a task's `worker()` factory: it
// answers the start-up handshake and then holds its seat with the package's own worker-side
// port (port.js), but it runs calls only when told to (`runAll()`: every pending call, with
// an `undefined` result). A batch of calls is then: the page submits them, `runAll()` runs
// them, the page settles them; one thread, no cross-core traffic, no scheduler between the
// two sides. Its time per call is the page's work per call plus a fixed worker part, which
// makes it the steady measure of what the page's observability hooks cost (suite.js).
//
// It imports the package's internal modules (port.js, views.js, codec.js, protocol.js,
// layout.js) from `base`, so that each package (as shipped, or built without its hooks)
// gets a worker of its own build.

const WORKERS = new Set();

/** Loads the worker side of the package under `base` ('/target/pkg/' or '/target/pkg-bare/'). */
export async function loopbackKit(base) {
  const [port, views, codec, protocol, layout] = await Promise.all(
    ['port.js', 'views.js', 'codec.js', 'protocol.js', 'layout.js'].map((f) => import(base + f)),
  );
  return { port, views, codec, protocol, layout };
}

export class LoopbackWorker extends EventTarget {
  constructor(kit) {
    super();
    this.kit = kit;
    this.port = null;
    this.writer = new kit.codec.Writer(() => {
      throw new Error('a loopback result outgrew the arena');
    });
    this.beat = 0;
    WORKERS.add(this);
    queueMicrotask(() => this.emit({ __atelier: kit.protocol.MSG_HELLO }));
  }

  emit(data) {
    this.dispatchEvent(new MessageEvent('message', { data }));
  }

  postMessage(msg) {
    const { protocol, port, views } = this.kit;
    if (msg === null || typeof msg !== 'object' || msg.__atelier !== protocol.MSG_INIT) return;
    const info = {};
    port.INFO.forEach((name, i) => {
      info[name] = msg.info[i];
    });
    this.port = new port.Port(new views.Views(msg.memory), info, msg.seat);
    // Beats while idle, as a parked worker does, so the watchdog sees it alive.
    this.beat = setInterval(() => this.port.beat(), 100);
    queueMicrotask(() => this.emit({ __atelier: protocol.MSG_READY }));
  }

  terminate() {
    clearInterval(this.beat);
    WORKERS.delete(this);
  }

  /** Runs every pending call this worker's quota lets it take; returns how many. */
  runAll() {
    const port = this.port;
    const L = this.kit.layout;
    let n = 0;
    for (let slot; (slot = port.take()) >= 0; n++) {
      const start = port.place(16);
      if (start < 0) throw new Error('the loopback arena is full');
      const w = this.writer;
      w.reset(port.views.u8, port.arenaAddr(start), port.room(start));
      this.kit.codec.encode(undefined, w);
      port.complete(slot, L.STATUS_OK, port.arenaAddr(start), w.length, ((start + w.length + 7) & ~7) >>> 0);
    }
    return n;
  }
}
