// The page: a runtime, a task whose workers Vite bundles from factor.worker.js, and calls.
import { createTaskRuntime } from 'atelier';
import { factor } from './factor.js';

const status = document.getElementById('status');
const runtime = createTaskRuntime();
const factoring = runtime.defineTask({
  type: 'parallel',
  taskName: 'factor',
  poolSize: 2,
  worker: () => new Worker(new URL('./factor.worker.js', import.meta.url), { type: 'module' }),
});

async function run(seed) {
  // Products of two primes near 2^20, and a few easy ones.
  const numbers = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 2 ** 20 + seed + i : (1_048_573 * (1_048_583 + 2 * i)) % Number.MAX_SAFE_INTEGER));
  const t0 = performance.now();
  const answers = await Promise.all(numbers.map((n) => factoring.factor(n)));
  const ms = performance.now() - t0;
  const right = answers.filter((a, i) => JSON.stringify(a) === JSON.stringify(factor(numbers[i]))).length;
  status.textContent = `factored ${numbers.length} numbers on ${factoring.getState().poolSize} workers in ${ms.toFixed(1)} ms; ${right} of ${numbers.length} match the page's own`;
  return { numbers: numbers.length, right, isolated: crossOriginIsolated };
}

document.getElementById('again').addEventListener('click', () => run(Date.now() % 1000));

// The first run; its result is on the page for whoever embeds it (the examples test).
document.body.dataset.result = JSON.stringify(await run(1));
