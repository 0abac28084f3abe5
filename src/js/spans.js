// Spans and traces (API contract Part A "Observability", C.15; docs/observability.md).
//
// A span follows one sampled call from the moment it is made to its settlement and becomes
// an `atelier:span` event for the runtime's event listeners and a `performance.measure`
// entry. A trace groups the spans of the calls made with `task.with({ trace })` and ends
// with an `atelier:trace` event and measure. Sampling is decided once per trace (its calls
// follow it) or once per call without one, from `observability.spans`:
//   'off'                 nothing
//   'on'                  every call
//   'auto' (the default)  'on' in development builds (import.meta.env.DEV, or a NODE_ENV that
//                         is not 'production'), else 'off'
//   { mode, sampleRate }  that mode, keeping each trace or call with probability sampleRate
//                         (clamped to 0..1)
//
// The measures carry Chrome DevTools' extensibility `detail` (`devtools: { dataType:
// 'track-entry', … }`): each task gets a track in an "Atelier" group of the Performance
// panel, where every sampled call shows as its span with its queue wait and its run as
// separate entries beneath it.
import { now } from './events.js';

/** The Performance panel's track group, and the measures' names. */
const TRACK_GROUP = 'Atelier';
const SPAN = 'atelier:span';
const TRACE = 'atelier:trace';

/** Whether `'auto'` means on: a development build says so through its bundler's globals. */
function developmentBuild() {
  try {
    if (import.meta.env && import.meta.env.DEV === true) return true;
  } catch {
    // no import.meta.env here
  }
  const proc = globalThis.process;
  const env = proc && proc.env;
  return env !== undefined && env !== null && typeof env.NODE_ENV === 'string' && env.NODE_ENV !== 'production';
}

/** `observability.spans` (already validated) as `{ on, sampleRate }`. */
export function spanConfig(spans) {
  const mode = spans === undefined ? 'auto' : typeof spans === 'string' ? spans : spans.mode ?? 'auto';
  const rate = typeof spans === 'object' && spans !== null && spans.sampleRate !== undefined ? spans.sampleRate : 1;
  const sampleRate = Math.min(1, Math.max(0, rate));
  const on = mode === 'on' || (mode === 'auto' && developmentBuild());
  return { on: on && sampleRate > 0, sampleRate };
}

/** The error kinds of spans (the table in docs/observability.md). */
export function errorKindOf(error) {
  const name = error !== null && typeof error === 'object' ? error.name : undefined;
  switch (name) {
    case 'AbortError':
      return 'abort';
    case 'QueueDropError':
    case 'TaskDisposedError':
      return 'queue';
    case 'WorkerCrashedError':
      return 'crash';
    default:
      return 'exception';
  }
}

function describe(error) {
  if (error !== null && typeof error === 'object') return `${error.name}: ${error.message}`;
  return String(error);
}

let traceCount = 0;
let spanCount = 0;

/** What `runtime.createTrace(name)` returns; calls join it with `task.with({ trace })`. */
export class TraceContext {
  constructor(tracing, name, sampled) {
    this.traceId = `trace-${++traceCount}`;
    this.name = name;
    this.sampled = sampled;
    this._tracing = tracing;
    this._start = performance.now();
    this._spans = 0;
    this._ended = false;
  }

  get ended() {
    return this._ended;
  }

  /**
   * Ends the trace with `status` ('ok', 'error' or 'canceled'; `error` for the others). A
   * second end is ignored. Calls made with the trace afterwards still have spans.
   */
  end(status = 'ok', error = undefined) {
    if (!['ok', 'error', 'canceled'].includes(status)) {
      throw new TypeError(`trace.end(status): status must be 'ok', 'error' or 'canceled' (got ${String(status)})`);
    }
    if (this._ended) return;
    this._ended = true;
    if (this.sampled) this._tracing.endTrace(this, status, error);
  }
}

/** A sampled call's record until it settles. */
class Span {
  constructor(task, method, trace, start) {
    this.spanId = `span-${++spanCount}`;
    this.task = task;
    this.method = method;
    this.trace = trace;
    this.start = start;
    // Filled from the completion: the worker, the attempt, when that attempt began.
    this.workerIndex = undefined;
    this.attempt = 1;
    this.started = undefined;
  }
}

export class Tracing {
  constructor(events, spans) {
    this.events = events;
    const { on, sampleRate } = spanConfig(spans);
    this.on = on;
    this.sampleRate = sampleRate;
    this.measures = typeof performance.measure === 'function';
  }

  createTrace(name) {
    if (name !== undefined && typeof name !== 'string') throw new TypeError(`createTrace(name): name must be a string or omitted (got ${typeof name})`);
    return new TraceContext(this, name, this.on && (this.sampleRate >= 1 || Math.random() < this.sampleRate));
  }

  /** A span for a call about to be made, or null when it is not sampled. */
  begin(task, method, trace) {
    if (trace !== undefined && trace !== null) {
      if (!trace.sampled) return null;
      trace._spans++;
    } else if (!this.on || (this.sampleRate < 1 && Math.random() >= this.sampleRate)) {
      return null;
    }
    return new Span(task, method, trace ?? null, performance.now());
  }

  /** The call of `span` settled: `error` undefined when it resolved. */
  end(span, callId, error, failed) {
    const end = performance.now();
    const task = span.task;
    const durationMs = end - span.start;
    const ev = {
      kind: 'span',
      name: SPAN,
      ts: now(),
      spanId: span.spanId,
      callId: String(callId),
      taskId: task.id,
      taskName: task.name,
      taskType: task.config.type,
      method: span.method,
      attemptCount: span.attempt,
      durationMs,
      status: 'ok',
    };
    if (span.trace !== null) {
      ev.traceId = span.trace.traceId;
      if (span.trace.name !== undefined) ev.traceName = span.trace.name;
    }
    if (span.workerIndex !== undefined) ev.workerIndex = span.workerIndex;
    let runStart;
    if (span.started !== undefined) {
      runStart = Math.max(span.start, span.started);
      ev.queueWaitLastMs = runStart - span.start;
      if (span.attempt === 1) ev.queueWaitMs = ev.queueWaitLastMs;
    }
    if (failed) {
      ev.status = error !== null && typeof error === 'object' && error.name === 'AbortError' ? 'canceled' : 'error';
      ev.errorKind = errorKindOf(error);
      ev.error = describe(error);
    }
    this.events.emit(ev);
    if (this.measures) this.measure(ev, span.start, runStart, end);
  }

  measure(ev, start, runStart, end) {
    const track = `${ev.taskName} (${ev.taskType})`;
    const color = ev.status === 'ok' ? 'primary' : ev.status === 'canceled' ? 'secondary' : 'error';
    const properties = [['call', ev.callId], ['attempts', String(ev.attemptCount)], ['status', ev.status]];
    if (ev.workerIndex !== undefined) properties.push(['worker', String(ev.workerIndex)]);
    if (ev.traceName !== undefined) properties.push(['trace', ev.traceName]);
    if (ev.error !== undefined) properties.push(['error', ev.error]);
    try {
      performance.measure(SPAN, {
        start,
        end,
        detail: { span: ev, devtools: { dataType: 'track-entry', track, trackGroup: TRACK_GROUP, color, tooltipText: `${ev.method}() ${ev.status}`, properties } },
      });
      if (runStart !== undefined) {
        performance.measure(`${ev.method} (queue)`, {
          start,
          end: runStart,
          detail: { devtools: { dataType: 'track-entry', track, trackGroup: TRACK_GROUP, color: 'tertiary-light', tooltipText: `${ev.method}() waiting for a worker` } },
        });
        performance.measure(`${ev.method} (run)`, {
          start: runStart,
          end,
          detail: { devtools: { dataType: 'track-entry', track, trackGroup: TRACK_GROUP, color: 'tertiary-dark', tooltipText: `${ev.method}() on worker ${ev.workerIndex}` } },
        });
      }
    } catch {
      // a clock that went backwards, or no User Timing: the event was sent anyway
    }
  }

  endTrace(trace, status, error) {
    const end = performance.now();
    const ev = {
      kind: 'trace',
      name: TRACE,
      ts: now(),
      traceId: trace.traceId,
      status,
      durationMs: end - trace._start,
      spanCount: trace._spans,
    };
    if (trace.name !== undefined) ev.traceName = trace.name;
    if (status !== 'ok' && error !== undefined) {
      ev.errorKind = errorKindOf(error);
      ev.error = describe(error);
    }
    this.events.emit(ev);
    if (!this.measures) return;
    try {
      performance.measure(TRACE, {
        start: trace._start,
        end,
        detail: {
          trace: ev,
          devtools: { dataType: 'track-entry', track: 'traces', trackGroup: TRACK_GROUP, color: status === 'ok' ? 'primary-dark' : 'error', tooltipText: `${trace.name ?? trace.traceId} ${status}`, properties: [['spans', String(ev.spanCount)]] },
        },
      });
    } catch {
      // see measure()
    }
  }
}

/** `runtime.runWithTrace(name, fn)`: runs `fn(trace)` and ends the trace with its outcome. */
export async function runWithTrace(tracing, name, fn) {
  if (typeof fn !== 'function') throw new TypeError('runWithTrace(name, fn): fn must be a function that takes the trace');
  const trace = tracing.createTrace(name);
  try {
    const value = await fn(trace);
    trace.end('ok');
    return value;
  } catch (error) {
    trace.end(error !== null && typeof error === 'object' && error.name === 'AbortError' ? 'canceled' : 'error', error);
    throw error;
  }
}
