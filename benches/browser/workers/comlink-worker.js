// The Comlink peer: the same handlers as runtime-worker.js, exposed with Comlink (from npm,
// installed into benches/node_modules by `cargo atelier setup`).
import * as Comlink from '/benches/node_modules/comlink/dist/esm/comlink.mjs';

Comlink.expose({
  noop() {},
  echo(value) {
    return value;
  },
  echoTransfer(array) {
    return Comlink.transfer(array, [array.buffer]);
  },
});
