// The same pipeline over raw postMessage, for the side-by-side run: one message per stage
// call, its buffers transferred, as an app without Atelier would write it.
import { decode, resize, analyze } from './pipeline.js';

const stages = { decode, resize, analyze };
self.onmessage = (event) => {
  const { id, stage, args } = event.data;
  const value = stages[stage](...args);
  self.postMessage({ id, value }, value instanceof Uint8ClampedArray ? [value.buffer] : []);
};
