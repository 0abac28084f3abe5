// A box blur of grey pixels, row by row: the work the workers do, and what the page checks
// their results against.

/**
 * Blurs `rows` (a stripe `width` pixels wide) horizontally and vertically with a box of
 * `2 * radius + 1` pixels; `check()` is called once per row (a worker passes
 * `ctx.throwIfAborted`, so a cancel stops the loop between rows).
 */
export function boxBlur(rows, width, radius, check = () => {}) {
  const height = rows.length / width;
  const tmp = new Float32Array(rows.length);
  const out = new Uint8ClampedArray(rows.length);
  const span = 2 * radius + 1;
  for (let y = 0; y < height; y++) {
    check();
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = -radius; k <= radius; k++) sum += rows[y * width + Math.min(width - 1, Math.max(0, x + k))];
      tmp[y * width + x] = sum / span;
    }
  }
  for (let y = 0; y < height; y++) {
    check();
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = -radius; k <= radius; k++) sum += tmp[Math.min(height - 1, Math.max(0, y + k)) * width + x];
      out[y * width + x] = Math.round(sum / span);
    }
  }
  return out;
}
