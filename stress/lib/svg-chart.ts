// Line charts as inline SVG strings, for self-contained HTML reports (no
// scripts, no CDN). Linear x; linear or log10 y; one polyline per series.

export type Series = { readonly name: string; readonly color: string; readonly points: readonly (readonly [number, number])[]; readonly dashed?: boolean };

export type ChartSpec = {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly logY?: boolean;
  /** Linear y from the data's minimum (with a margin) instead of 0: small changes on a large level stay visible. */
  readonly yFromData?: boolean;
  readonly width?: number;
  readonly height?: number;
};

const PAD = { left: 64, right: 16, top: 28, bottom: 40 };

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

function niceTicks(min: number, max: number, count: number): number[] {
  if (max <= min) return [min];
  const raw = (max - min) / count;
  const step = 10 ** Math.floor(Math.log10(raw));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / nice) * nice; v <= max + nice * 1e-9; v += nice) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function label(v: number): string {
  if (Math.abs(v) >= 1000) return `${Math.round(v / 100) / 10}k`;
  return String(Number(v.toPrecision(4)));
}

export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 900;
  const height = spec.height ?? 280;
  const all = spec.series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y) && (!spec.logY || y > 0));
  if (all.length === 0) return `<p><em>${escapeXml(spec.title)}: no data</em></p>`;
  const ty = (y: number): number => (spec.logY ? Math.log10(y) : y);
  const xMin = Math.min(...all.map(([x]) => x));
  const xMax = Math.max(...all.map(([x]) => x), xMin + 1);
  const dataMin = Math.min(...all.map(([, y]) => y));
  const dataMax = Math.max(...all.map(([, y]) => y));
  const margin = Math.max((dataMax - dataMin) * 0.1, Math.abs(dataMax) * 0.01, 1e-9);
  const fromData = spec.yFromData === true && !spec.logY;
  const yMin = spec.logY ? Math.floor(Math.min(...all.map(([, y]) => ty(y)))) : fromData ? dataMin - margin : 0;
  const yMax = spec.logY ? Math.ceil(Math.max(...all.map(([, y]) => ty(y))) + 1e-9) : fromData ? dataMax + margin : dataMax * 1.1 || 1;
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const px = (x: number): number => PAD.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number): number => PAD.top + plotH - ((ty(y) - yMin) / (yMax - yMin || 1)) * plotH;
  const yTicks = spec.logY ? Array.from({ length: yMax - yMin + 1 }, (_, i) => 10 ** (yMin + i)) : niceTicks(yMin, yMax, 5);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(spec.title)}</text>`,
    `<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  ];
  for (const t of yTicks) {
    const y = py(t);
    parts.push(`<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of niceTicks(xMin, xMax, 8)) {
    parts.push(`<text x="${px(t)}" y="${PAD.top + plotH + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  parts.push(`<text x="${PAD.left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`);
  let lx = PAD.left + 8;
  for (const s of spec.series) {
    const pts = s.points.filter(([, y]) => Number.isFinite(y) && (!spec.logY || y > 0)).map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5"${dash} points="${pts.join(' ')}"/>`);
    parts.push(`<rect x="${lx}" y="${PAD.top + 6}" width="10" height="10" fill="${s.color}"/>`);
    parts.push(`<text x="${lx + 14}" y="${PAD.top + 15}">${escapeXml(s.name)}</text>`);
    // Legend entries side by side, each as wide as its name (about 6.5 px per character at 11 px).
    lx += Math.max(80, 30 + s.name.length * 6.5);
  }
  parts.push('</svg>');
  return parts.join('\n');
}
