// Line plots in plain SVG: the last `span` seconds of one or more series.

const NS = 'http://www.w3.org/2000/svg';

/** A plot in `svg` (its viewBox is 0 0 width height); returns `draw(series)`. */
export function linePlot(svg, { width = 360, height = 120, span = 60, unit = '' } = {}) {
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const label = document.createElementNS(NS, 'text');
  label.setAttribute('x', '4');
  label.setAttribute('y', '12');
  label.setAttribute('font-size', '10');
  svg.append(label);
  const paths = new Map();
  /** `series`: { name: { color, points: [[tSeconds, value], ...] } }. */
  return (series, now) => {
    let max = 0;
    for (const s of Object.values(series)) for (const [, v] of s.points) max = Math.max(max, v);
    max = max || 1;
    const parts = [];
    for (const [name, s] of Object.entries(series)) {
      let path = paths.get(name);
      if (!path) {
        path = document.createElementNS(NS, 'path');
        path.setAttribute('fill', 'none');
        path.setAttribute('stroke', s.color);
        path.setAttribute('stroke-width', '1.5');
        path.dataset.series = name;
        svg.append(path);
        paths.set(name, path);
      }
      const pts = s.points.filter(([t]) => t >= now - span);
      path.setAttribute('d', pts.map(([t, v], i) => `${i ? 'L' : 'M'}${(((t - (now - span)) / span) * width).toFixed(1)},${(height - 2 - (v / max) * (height - 18)).toFixed(1)}`).join(''));
      const last = pts.length ? pts[pts.length - 1][1] : 0;
      parts.push(`${name} ${last.toFixed(last < 10 ? 1 : 0)}${unit}`);
    }
    label.textContent = `${parts.join(' · ')} (max ${max.toFixed(max < 10 ? 1 : 0)}${unit})`;
  };
}
