// A time-series chart on uPlot: created once, fed new data with setData (no
// re-creation per point), resized with its box.

import { useEffect, useRef } from 'react';
import uPlot, { type AlignedData, type Options } from 'uplot';

export type ChartSeries = {
  readonly label: string;
  readonly color: string;
  /** Formats a value for the legend and the axis (default: up to 2 decimals). */
  readonly format?: (v: number) => string;
};

export const PALETTE = ['#16a34a', '#2563eb', '#d97706', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];

/** 1234 → "1.2k", 0.5 → "0.5", 2500000 → "2.5M". */
export function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(0)}k`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 10 || a === 0) return v.toFixed(0);
  return `${+v.toFixed(2)}`;
}

const axisColor = (): string => getComputedStyle(document.documentElement).getPropertyValue('--muted').trim() || '#5b6470';
const gridColor = (): string => getComputedStyle(document.documentElement).getPropertyValue('--border').trim() || '#dfe3e8';

/**
 * data[0] are times in seconds; data[i + 1] the values of series[i] (null: no value at that time).
 * The chart's accessible name is its title; a visually hidden summary gives the latest values.
 */
export function TimeChart({ title, series, data, height = 200, yRange }: { title: string; series: readonly ChartSeries[]; data: AlignedData; height?: number; yRange?: [number, number] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const seriesKey = series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const fmt = (i: number) => series[i]?.format ?? ((v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)));
    const options: Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: yRange === undefined ? { auto: true, range: (_u, min, max) => [Math.min(0, min), max <= 0 ? 1 : max * 1.1] } : { auto: false, range: yRange } },
      axes: [
        { stroke: axisColor(), grid: { stroke: gridColor(), width: 1 }, ticks: { stroke: gridColor() } },
        // Axis ticks are compact numbers (the unit is in the title and the legend), so they always fit.
        { stroke: axisColor(), grid: { stroke: gridColor(), width: 1 }, ticks: { stroke: gridColor() }, size: 52, values: (_u, splits) => splits.map((v) => (v === null ? '' : compact(v))) },
      ],
      series: [
        { label: 'time' },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color,
          width: 1.6,
          spanGaps: false,
          points: { show: false },
          // Away from the cursor the legend shows the latest value.
          value: (u: uPlot, v: number | null, _s: number, idx: number | null) => {
            if (idx === null) {
              const values = u.data[i + 1] as (number | null)[];
              v = values[values.length - 1] ?? null;
            }
            return v === null || v === undefined ? '–' : fmt(i)(v);
          },
        })),
      ],
    };
    plot.current = new uPlot(options, data, el);
    const observer = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its series change; new points go through setData below.
  }, [seriesKey, height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  const latest = series
    .map((s, i) => {
      const values = data[i + 1] as (number | null)[] | undefined;
      const v = values?.[values.length - 1];
      return `${s.label}: ${v === null || v === undefined ? 'no value' : (s.format ?? String)(v)}`;
    })
    .join('; ');
  return (
    <figure className="chart" aria-label={title}>
      <figcaption className="chart-title">{title}</figcaption>
      <div ref={box} />
      <p className="sr-only">Latest: {latest}</p>
    </figure>
  );
}
