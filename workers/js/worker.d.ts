// Types of the Atelier package's worker entry (worker.js).
export type { TaskContext, StripTaskContext } from './index.js';

/**
 * Runs this worker as one of a task's workers, with `handlers` as its methods. Each handler
 * gets the call's arguments and then a TaskContext.
 */
export declare function createTaskWorker<H extends Record<string, (...args: any[]) => unknown>>(handlers: H): void;

