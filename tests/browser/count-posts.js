// Counts every postMessage the page makes to a worker (or through a MessagePort).
export const pageCounts = { post: 0 };
for (const proto of [Worker.prototype, MessagePort.prototype]) {
  const original = proto.postMessage;
  proto.postMessage = function (...args) {
    pageCounts.post++;
    return original.apply(this, args);
  };
}
