// The baseline: a raw postMessage echo, the transport every other worker library uses.
self.onmessage = (event) => self.postMessage(event.data);
