// The SAB spin floor's far side: waits for a ping word to change and answers on a pong word.
self.onmessage = (event) => {
  const i32 = new Int32Array(event.data);
  let seen = 0;
  for (;;) {
    // Spin on the ping word, then answer.
    let v;
    while ((v = Atomics.load(i32, 0)) === seen) {
      if (v === -1) return;
    }
    if (v === -1) return;
    seen = v;
    Atomics.store(i32, 1, v);
    Atomics.notify(i32, 1);
  }
};
