// The side lane's test worker: handlers that take and return platform objects, Blobs,
// shared memory and large buffers (tests/browser/side-lane.html).
import '/tests/browser/no-wait-async.js';
import { counts } from './counting.js';
import { createTaskWorker } from '/pkg/worker.js';

function firstPixel(source, w, h) {
  const canvas = new OffscreenCanvas(w, h);
  const g = canvas.getContext('2d');
  g.drawImage(source, 0, 0);
  return [...g.getImageData(0, 0, 1, 1).data];
}

let kept = null;
/** This worker, among its task's (whoAmI). */
const me = Math.random();
/** Blobs makeBlob made in this worker. */
let made = 0;

createTaskWorker({
  echo(value) {
    return value;
  },
  blobsMade() {
    return made;
  },
  /** Which worker ran the call (its argument is a side-lane value), after 20 ms. */
  async whoAmI(blob) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return [me, await blob.text()];
  },
  /** The next result's side-lane values are never posted (a broken worker). */
  loseNextResultValues() {
    const post = self.postMessage.bind(self);
    self.postMessage = (data, transfer) => {
      if (data && data.__atelier === 'atelier:side-result') {
        self.postMessage = post;
        return;
      }
      post(data, transfer);
    };
  },
  /** A Blob of `text` made here: a result with side-lane values. */
  makeBlob(text) {
    made++;
    return new Blob([text]);
  },
  typeOf(value) {
    return Object.prototype.toString.call(value).slice(8, -1);
  },
  bitmapInfo(bitmap) {
    return [bitmap.width, bitmap.height, ...firstPixel(bitmap, bitmap.width, bitmap.height)];
  },
  makeBitmap(width, height, rgba) {
    const canvas = new OffscreenCanvas(width, height);
    const g = canvas.getContext('2d');
    g.fillStyle = `rgba(${rgba[0]}, ${rgba[1]}, ${rgba[2]}, ${rgba[3] / 255})`;
    g.fillRect(0, 0, width, height);
    return canvas.transferToImageBitmap();
  },
  drawOn(canvas, rgba) {
    const g = canvas.getContext('2d');
    g.fillStyle = `rgba(${rgba[0]}, ${rgba[1]}, ${rgba[2]}, ${rgba[3] / 255})`;
    g.fillRect(0, 0, canvas.width, canvas.height);
    return canvas.transferToImageBitmap();
  },
  portPing(port, text) {
    port.postMessage(text);
    return 'sent';
  },
  makePort() {
    const { port1, port2 } = new MessageChannel();
    port2.onmessage = (event) => port2.postMessage(`echo:${event.data}`);
    return port1;
  },
  async readStream(stream) {
    let text = '';
    for (const reader = stream.getReader(); ;) {
      const { done, value } = await reader.read();
      if (done) return text;
      text += value;
    }
  },
  makeStream(parts) {
    return new ReadableStream({
      start(controller) {
        for (const p of parts) controller.enqueue(p);
        controller.close();
      },
    });
  },
  videoFrameInfo(frame) {
    const info = [frame.codedWidth, frame.codedHeight, frame.timestamp];
    frame.close();
    return info;
  },
  audioDataInfo(data) {
    const info = [data.numberOfFrames, data.numberOfChannels, data.sampleRate];
    data.close();
    return info;
  },
  async blobInfo(blob) {
    return [await blob.text(), blob.type, blob instanceof File ? blob.name : null];
  },
  makeFile(text, name) {
    return new File([text], name, { type: 'text/plain' });
  },
  sabWrite(view, index, value) {
    Atomics.store(view, index, value);
    return view.buffer instanceof SharedArrayBuffer;
  },
  sameBuffer(view, buffer) {
    return view.buffer === buffer;
  },
  /** The sum of a Float32Array, with its offset, length and buffer size. */
  sum(f32) {
    let s = 0;
    for (let i = 0; i < f32.length; i++) s += f32[i];
    return [s, f32.byteOffset, f32.length, f32.buffer.byteLength];
  },
  filled(n, value) {
    return new Float32Array(n).fill(value);
  },
  /** Returns the array it keeps, and the size that array had when the call came. */
  keeper(n) {
    const before = kept === null ? -1 : kept.byteLength;
    if (kept === null || kept.byteLength === 0) kept = new Float32Array(n).fill(2);
    return [kept, before];
  },
  /** Crashes its worker on a call's first attempt; echoes what it got on the next. */
  crashFirst(value, ctx) {
    if (ctx.attempt === 1) {
      setTimeout(() => {
        throw new Error('crashFirst: the first attempt crashes its worker');
      });
      return new Promise(() => {});
    }
    return Object.prototype.toString.call(value).slice(8, -1);
  },
  crash() {
    setTimeout(() => {
      throw new Error('crash: on request');
    });
    return new Promise(() => {});
  },
  postCount() {
    return counts.post;
  },
});
