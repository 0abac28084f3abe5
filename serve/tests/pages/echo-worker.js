// Used by selftest.html: stores 42 into the shared buffer it is sent, then replies.
self.onmessage = (e) => {
  Atomics.store(new Int32Array(e.data), 0, 42);
  self.postMessage('stored');
};
