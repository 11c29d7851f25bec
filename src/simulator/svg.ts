/**
 * A simulation's timeline as one self-contained SVG: the load (arrivals per second) as a filled
 * area on the left axis, ready and desired replicas as step lines on the right axis. No scripts,
 * styles or fonts from outside, so the file can sit in docs/ and be viewed anywhere.
 */
import type { SimulationResult, TimelineRow } from './engine.js';

/** Options of {@link renderTimelineSvg}. */
export interface TimelineSvgOptions {
  readonly title: string;
  /** @default 960 */
  readonly widthPx?: number;
  /** @default 360 */
  readonly heightPx?: number;
}

const MARGIN = { left: 64, right: 64, top: 40, bottom: 72 } as const;
const COLOR = { load: '#9ecae1', loadEdge: '#3182bd', ready: '#d62728', desired: '#555555', axis: '#333333', grid: '#e5e5e5' } as const;

/** Escapes text for an XML text node or attribute value. */
function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A round step (1, 2 or 5 × 10^k) that splits `max` into about `count` intervals. */
function niceStep(max: number, count: number): number {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * magnitude;
}

function ticks(max: number, step: number): number[] {
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v: number): string {
  return Number(v.toPrecision(3)).toString();
}

/** At most `limit` rows: consecutive rows merged, load averaged, replicas at their maximum (peaks stay visible). */
function downsample(rows: readonly TimelineRow[], limit: number): TimelineRow[] {
  if (rows.length <= limit) return [...rows];
  const group = Math.ceil(rows.length / limit);
  const out: TimelineRow[] = [];
  for (let i = 0; i < rows.length; i += group) {
    const part = rows.slice(i, i + group);
    const last = part[part.length - 1] as TimelineRow;
    out.push({
      tMs: last.tMs,
      arrivalsPerS: part.reduce((sum, r) => sum + r.arrivalsPerS, 0) / part.length,
      concurrency: part.reduce((sum, r) => sum + r.concurrency, 0) / part.length,
      desired: Math.max(...part.map((r) => r.desired)),
      ready: Math.max(...part.map((r) => r.ready)),
      starting: Math.max(...part.map((r) => r.starting)),
    });
  }
  return out;
}

const f = (v: number): string => v.toFixed(1);

/** Renders the result's timeline as an SVG document (a string); the title is escaped. */
export function renderTimelineSvg(result: SimulationResult, options: TimelineSvgOptions): string {
  const width = options.widthPx ?? 960;
  const height = options.heightPx ?? 360;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const rows = downsample(result.timeline, Math.max(2, Math.floor(plotW)));

  const endMs = Math.max(1, ...rows.map((r) => r.tMs));
  const inMinutes = endMs > 600_000;
  const unitMs = inMinutes ? 60_000 : 1000;
  const xStep = niceStep(endMs / unitMs, 8);
  const xMax = endMs / unitMs;
  const loadStep = niceStep(Math.max(1, ...rows.map((r) => r.arrivalsPerS)), 5);
  const loadMax = Math.ceil(Math.max(1, ...rows.map((r) => r.arrivalsPerS)) / loadStep) * loadStep;
  const replicaPeak = Math.max(1, ...rows.map((r) => Math.max(r.desired, r.ready)));
  const replicaStep = Math.max(1, Math.ceil(niceStep(replicaPeak, 5)));
  const replicaMax = Math.ceil(replicaPeak / replicaStep) * replicaStep;

  const x = (tMs: number): number => MARGIN.left + (tMs / unitMs / xMax) * plotW;
  const yLoad = (v: number): number => MARGIN.top + plotH - (v / loadMax) * plotH;
  const yReplicas = (v: number): number => MARGIN.top + plotH - (v / replicaMax) * plotH;
  const baseY = MARGIN.top + plotH;

  const area = [`M${f(x(0))},${f(baseY)}`, ...rows.map((r) => `L${f(x(r.tMs))},${f(yLoad(r.arrivalsPerS))}`), `L${f(x(endMs))},${f(baseY)}`, 'Z'].join(' ');
  const steps = (value: (r: TimelineRow) => number): string => {
    const points: string[] = [];
    let previous: number | undefined;
    for (const r of rows) {
      if (previous !== undefined) points.push(`${f(x(r.tMs))},${f(yReplicas(previous))}`);
      points.push(`${f(x(r.tMs))},${f(yReplicas(value(r)))}`);
      previous = value(r);
    }
    return points.join(' ');
  };

  const parts: string[] = [];
  const text = (tx: number, ty: number, content: string, attrs = ''): void => {
    parts.push(`<text x="${f(tx)}" y="${f(ty)}"${attrs}>${escapeXml(content)}</text>`);
  };
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  );
  text(width / 2, 24, options.title, ' text-anchor="middle" font-size="15" font-weight="bold"');

  for (const v of ticks(loadMax, loadStep)) {
    parts.push(`<line x1="${f(MARGIN.left)}" y1="${f(yLoad(v))}" x2="${f(MARGIN.left + plotW)}" y2="${f(yLoad(v))}" stroke="${COLOR.grid}"/>`);
    text(MARGIN.left - 6, yLoad(v) + 4, label(v), ' text-anchor="end"');
  }
  for (const v of ticks(replicaMax, replicaStep)) text(MARGIN.left + plotW + 6, yReplicas(v) + 4, label(v), ' text-anchor="start"');
  for (const v of ticks(xMax, xStep)) {
    const tx = MARGIN.left + (v / xMax) * plotW;
    parts.push(`<line x1="${f(tx)}" y1="${f(baseY)}" x2="${f(tx)}" y2="${f(baseY + 5)}" stroke="${COLOR.axis}"/>`);
    text(tx, baseY + 18, label(v), ' text-anchor="middle"');
  }

  parts.push(`<path class="load" d="${area}" fill="${COLOR.load}" stroke="${COLOR.loadEdge}" stroke-width="0.5"/>`);
  parts.push(`<polyline class="desired" points="${steps((r) => r.desired)}" fill="none" stroke="${COLOR.desired}" stroke-width="1.5" stroke-dasharray="5,3"/>`);
  parts.push(`<polyline class="ready" points="${steps((r) => r.ready)}" fill="none" stroke="${COLOR.ready}" stroke-width="2"/>`);
  parts.push(
    `<rect x="${f(MARGIN.left)}" y="${f(MARGIN.top)}" width="${f(plotW)}" height="${f(plotH)}" fill="none" stroke="${COLOR.axis}"/>`,
  );

  text(MARGIN.left + plotW / 2, baseY + 36, inMinutes ? 'time (min)' : 'time (s)', ' text-anchor="middle"');
  text(16, MARGIN.top + plotH / 2, 'arrivals/s', ` text-anchor="middle" transform="rotate(-90 16 ${f(MARGIN.top + plotH / 2)})"`);
  const rightX = width - 14;
  text(rightX, MARGIN.top + plotH / 2, 'replicas', ` text-anchor="middle" transform="rotate(90 ${f(rightX)} ${f(MARGIN.top + plotH / 2)})"`);

  const legendY = height - 14;
  let legendX = MARGIN.left;
  parts.push(`<rect x="${f(legendX)}" y="${f(legendY - 9)}" width="14" height="10" fill="${COLOR.load}" stroke="${COLOR.loadEdge}"/>`);
  text(legendX + 20, legendY, 'arrivals/s');
  legendX += 110;
  parts.push(`<line x1="${f(legendX)}" y1="${f(legendY - 4)}" x2="${f(legendX + 18)}" y2="${f(legendY - 4)}" stroke="${COLOR.ready}" stroke-width="2"/>`);
  text(legendX + 24, legendY, 'ready replicas');
  legendX += 140;
  parts.push(
    `<line x1="${f(legendX)}" y1="${f(legendY - 4)}" x2="${f(legendX + 18)}" y2="${f(legendY - 4)}" stroke="${COLOR.desired}" stroke-width="1.5" stroke-dasharray="5,3"/>`,
  );
  text(legendX + 24, legendY, 'desired replicas');
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
