// The raw postMessage peer: the transport every other worker library is built on. A
// number (a no-op call's id) comes back as it came; `{id, v, t}` comes back as it came,
// with `v`'s buffer transferred when `t` is set (so a transferred array makes the round
// trip without a copy).
self.onmessage = (event) => {
  const d = event.data;
  if (d !== null && typeof d === 'object' && d.t) self.postMessage(d, [d.v.buffer]);
  else self.postMessage(d);
};
