// The playground's image pipeline, shared by its Atelier workers and its raw postMessage
// workers: decode (an image generated from a seed, standing in for a file), resize (a box
// filter to half size), analyze (mean, contrast, edge density, histogram). `check()` runs
// between rows, so a cancel stops a synchronous loop.

/** A `size`×`size` grey image from `seed`: rings, gradients and noise. */
export function decode(seed, size, check = () => {}) {
  const px = new Uint8ClampedArray(size * size);
  let s = seed >>> 0 || 1;
  const cx = (seed % 97) / 97;
  for (let y = 0; y < size; y++) {
    check();
    for (let x = 0; x < size; x++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const r = Math.hypot(x / size - cx, y / size - 0.5);
      px[y * size + x] = 128 + 90 * Math.sin(r * 40) * (x / size) + ((s >>> 0) % 24);
    }
  }
  return px;
}

/** Halves a `size`×`size` image with a 2×2 box filter. */
export function resize(px, size, check = () => {}) {
  const half = size >>> 1;
  const out = new Uint8ClampedArray(half * half);
  for (let y = 0; y < half; y++) {
    check();
    for (let x = 0; x < half; x++) {
      const i = 2 * y * size + 2 * x;
      out[y * half + x] = (px[i] + px[i + 1] + px[i + size] + px[i + size + 1] + 2) >> 2;
    }
  }
  return out;
}

/** Mean, contrast (standard deviation), edge density and a 16-bin histogram. */
export function analyze(px, size, check = () => {}) {
  const histogram = new Array(16).fill(0);
  let sum = 0;
  let sq = 0;
  let edges = 0;
  for (let y = 0; y < size; y++) {
    check();
    for (let x = 0; x < size; x++) {
      const v = px[y * size + x];
      sum += v;
      sq += v * v;
      histogram[v >> 4]++;
      if (x > 0 && y > 0 && Math.abs(v - px[y * size + x - 1]) + Math.abs(v - px[(y - 1) * size + x]) > 24) edges++;
    }
  }
  const n = size * size;
  const mean = sum / n;
  return { mean, contrast: Math.sqrt(sq / n - mean * mean), edges: edges / n, histogram };
}
