// An example worker script, written as an app would, against the package's worker entry.
import { createTaskWorker, type TaskContext } from 'atelier/worker';

export const handlers = {
  resize(bytes: Uint8Array, size: number, ctx: TaskContext): Uint8Array {
    for (let i = 0; i < bytes.length; i += 4096) ctx.throwIfAborted();
    return bytes.subarray(0, size);
  },
  async label(id: number): Promise<string> {
    return `#${id}`;
  },
};
export type Handlers = typeof handlers;

createTaskWorker(handlers);
