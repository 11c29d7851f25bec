/**
 * A uPlot time series chart that follows its container's width. The chart is created once per set
 * of series and fed new data in place, so a one-second poll does not rebuild it.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** One line of a chart. */
export interface SeriesSpec {
  readonly label: string;
  readonly color: string;
  /** 'right' draws it against a second axis (e.g. load against replicas). */
  readonly axis?: 'left' | 'right';
  readonly dash?: boolean;
}

/** Props of {@link Chart}: x in epoch seconds, then one column per series (null = no value). */
export interface ChartProps {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly rightUnit?: string;
  readonly series: readonly SeriesSpec[];
  readonly data: uPlot.AlignedData;
}

const HEIGHT = 180;

/** Axis ticks with three significant digits, so a cost of $0.00004 does not read as 0. */
function tickValues(_u: uPlot, splits: number[]): string[] {
  return splits.map((v) => String(Number(v.toPrecision(3))));
}

/** The largest value of the first series: exposed on the element so a test can see the chart move. */
function firstSeriesMax(data: uPlot.AlignedData): number {
  let max = 0;
  for (const v of data[1] ?? []) if (typeof v === 'number' && v > max) max = v;
  return max;
}

/** A titled live chart. */
export function Chart({ id, title, unit, rightUnit, series, data }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const seriesKey = series.map((s) => `${s.label}/${s.axis ?? 'left'}`).join('|');

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const axisStroke = getComputedStyle(el).color;
    const grid = { stroke: 'rgba(127,127,127,0.2)', width: 1 };
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height: HEIGHT,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] }, r: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: axisStroke, grid },
        { stroke: axisStroke, grid, label: unit, size: 64, values: tickValues },
        ...(series.some((s) => s.axis === 'right') ? [{ stroke: axisStroke, scale: 'r', side: 1 as const, grid: { show: false }, label: rightUnit ?? '', size: 64, values: tickValues }] : []),
      ],
      series: [
        {},
        ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: false }, scale: s.axis === 'right' ? 'r' : 'y', spanGaps: false, ...(s.dash === true ? { dash: [6, 4] } : {}) })),
      ],
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 200), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its series change; data flows in through the effect below.
  }, [seriesKey]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return (
    <figure className="chart" data-chart={id} data-points={data[0].length} data-max={firstSeriesMax(data)}>
      <figcaption>{title}</figcaption>
      <div ref={box} className="chart-plot" />
    </figure>
  );
}
