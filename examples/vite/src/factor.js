// Trial division: CPU-bound work for the workers, and the page's check of their answers.

/** The prime factors of `n` (a safe integer), smallest first; `check()` between divisors. */
export function factor(n, check = () => {}) {
  const out = [];
  let m = n;
  for (let d = 2; d * d <= m; d += d === 2 ? 1 : 2) {
    if (d % 1024 === 1) check();
    while (m % d === 0) {
      out.push(d);
      m /= d;
    }
  }
  if (m > 1) out.push(m);
  return out;
}
