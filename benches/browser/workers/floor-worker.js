// The far side of the SAB round-trip floor: no runtime, no codec, no ring, only words of
// shared memory. The page writes a number into PING; this worker answers by writing the
// same number into PONG. How it waits for PING and how it answers depend on the mode:
//   'spin'   spins on PING, stores PONG             (the page spins on PONG)
//   'notify' spins on PING, stores PONG, notifies   (the page awaits Atomics.waitAsync)
//   'wait'   sleeps in Atomics.wait on PING, then as 'notify' (the page notifies PING)
//   'copy'   as 'spin', but first copies the Float32Array the page put at DATA out into
//            a fresh array and back in, as a copying echo handler would
// The page stores STOP into PING to end the loop. The layout matches ../peers.js.
const PING = 0;
const PONG = 16; // another cache line, so the two sides do not share one
const STOP = -1;
const DATA = 256; // byte offset of the payload in 'copy' mode

self.onmessage = (event) => {
  const { buffer, mode, length } = event.data;
  const i32 = new Int32Array(buffer);
  const data = mode === 'copy' ? new Float32Array(buffer, DATA, length) : null;
  // Read PING before saying ready: the page pings as soon as it hears it, and a ping read
  // as the starting value would be waited for in vain.
  let seen = Atomics.load(i32, PING);
  self.postMessage('ready');
  let kept = null;
  for (;;) {
    let v;
    if (mode === 'wait') {
      Atomics.wait(i32, PING, seen);
      v = Atomics.load(i32, PING);
      if (v === seen) continue;
    } else {
      while ((v = Atomics.load(i32, PING)) === seen);
    }
    if (v === STOP) return;
    seen = v;
    if (data !== null) {
      kept = new Float32Array(length);
      kept.set(data);
      data.set(kept);
    }
    Atomics.store(i32, PONG, v);
    if (mode === 'notify' || mode === 'wait') Atomics.notify(i32, PONG);
  }
};
