// A small time-series chart (uPlot) for the Transactions section. The canvas
// is described by a figure caption and an aria-label with the latest values,
// so a screen reader gets the numbers the picture shows.

import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export type ChartSeries = { readonly label: string; readonly color: string; readonly unit?: string };

/** x: unix seconds; ys: one array per series (null: no reading). */
export type ChartData = { readonly x: readonly number[]; readonly ys: readonly (readonly (number | null)[])[] };

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v === '' ? fallback : v;
}

function latest(values: readonly (number | null)[]): string {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v !== null && v !== undefined) return Number.isInteger(v) ? String(v) : v.toFixed(2);
  }
  return 'no reading';
}

export function TimeChart({ title, series, data, height = 200 }: { title: string; series: readonly ChartSeries[]; data: ChartData; height?: number }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const seriesKey = series.map((s) => s.label).join('|');

  // Created once per series set; data updates go through setData (no re-layout).
  useEffect(() => {
    const el = host.current;
    if (el === null) return;
    const text = cssVar('--muted', '#5b6470');
    const grid = cssVar('--border', '#dfe3e8');
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max <= 0 ? 1 : max * 1.15] } },
      axes: [axis, { ...axis, size: 56 }],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, spanGaps: false, points: { show: false }, value: (_u: uPlot, v: number | null) => (v === null ? '–' : `${Number.isInteger(v) ? v : v.toFixed(2)}${s.unit ?? ''}`) }))],
    };
    const u = new uPlot(opts, [[], ...series.map(() => [])] as unknown as uPlot.AlignedData, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(280, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Rebuilt only when the series set changes (seriesKey stands for `series`).
  }, [seriesKey, height]);

  useEffect(() => {
    plot.current?.setData([data.x, ...data.ys] as unknown as uPlot.AlignedData);
  }, [data]);

  const summary = series.map((s, i) => `${s.label}: ${latest(data.ys[i] ?? [])}${s.unit ?? ''}`).join(', ');
  return (
    <figure className="chart ops-chart">
      <figcaption>{title}</figcaption>
      <div ref={host} role="img" aria-label={`${title}. Latest: ${summary}`} />
    </figure>
  );
}
