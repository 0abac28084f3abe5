// The guides' code blocks are run by a browser test: each ```js block of the guides must
// appear verbatim (up to indentation) in tests/browser/guides.html or its worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path) => readFileSync(root + path, 'utf8');
const GUIDES = ['docs/cancellation.md', 'docs/crash-recovery.md', 'docs/queues.md', 'docs/parallel-limit.md', 'docs/values.md', 'docs/observability.md'];
const RUNNERS = ['tests/browser/guides.html', 'tests/browser/workers/guide.js'];

/** Lines without their indentation, blank lines dropped. */
const lines = (text) => text.split('\n').map((l) => l.trim()).filter((l) => l !== '');

for (const guide of GUIDES) {
  test(`every js example of ${guide} runs in a browser test`, () => {
    const blocks = [...read(guide).matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
    assert.ok(blocks.length > 0, `${guide} has examples`);
    const runners = RUNNERS.map((p) => lines(read(p)).join('\n'));
    for (const block of blocks) {
      const want = lines(block).join('\n');
      assert.ok(runners.some((r) => r.includes(want)), `this example of ${guide} is in no runner:\n${block}`);
    }
  });
}
