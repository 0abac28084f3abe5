// Counts every postMessage this worker makes, before the runtime's module loads.
export const counts = { post: 0 };
const original = self.postMessage;
self.postMessage = function (...args) {
  counts.post++;
  return original.apply(this, args);
};
const portPost = MessagePort.prototype.postMessage;
MessagePort.prototype.postMessage = function (...args) {
  counts.post++;
  return portPost.apply(this, args);
};
