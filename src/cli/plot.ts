/// <reference types="node" />
/**
 * The loss curve of a run, written next to its checkpoint as SVG: training loss (averaged into
 * at most 200 points) and validation loss against the step, from the run's metrics.jsonl, drawn
 * with the lab's Vega-Lite line plot (`nb.lab.linePlotSpec`) and rendered headless by
 * src/lab/node/render.ts (vega's View with the "none" renderer).
 */
import { readFile, writeFile } from 'node:fs/promises';
import * as nb from '../index.node.js';
import type { RunConfig } from './config.js';

type SeriesPoint = nb.lab.SeriesPoint;

/** Averages consecutive points into at most `max` points (keeps curves light and readable). */
function bucket(points: { x: number; y: number }[], max: number): { x: number; y: number }[] {
  if (points.length <= max) return points;
  const size = Math.ceil(points.length / max);
  const out: { x: number; y: number }[] = [];
  for (let i = 0; i < points.length; i += size) {
    const part = points.slice(i, i + size);
    out.push({
      x: part[part.length - 1]!.x,
      y: part.reduce((a, p) => a + p.y, 0) / part.length,
    });
  }
  return out;
}

/**
 * Reads the metrics log at `metricsPath` and writes the loss curve to `svgPath`. Steps on the x
 * axis count completed updates. Returns false (and writes nothing) when the log holds no finite
 * loss.
 */
export async function writeLossPlot(
  metricsPath: string,
  svgPath: string,
  config: RunConfig,
): Promise<boolean> {
  const train: { x: number; y: number }[] = [];
  const val: { x: number; y: number }[] = [];
  for (const line of (await readFile(metricsPath, 'utf8')).split('\n')) {
    if (line.trim() === '') continue;
    let r: nb.train.MetricsRecord;
    try {
      r = JSON.parse(line) as nb.train.MetricsRecord;
    } catch {
      continue; // a torn last line
    }
    if (r.kind === 'train' && typeof r.loss === 'number' && Number.isFinite(r.loss))
      train.push({ x: r.step + 1, y: r.loss });
    else if (r.kind === 'eval' && typeof r.valLoss === 'number' && Number.isFinite(r.valLoss))
      val.push({ x: r.step, y: r.valLoss });
  }
  if (train.length === 0 && val.length === 0) return false;
  const points: SeriesPoint[] = [
    ...bucket(train, 200).map((p) => ({
      ...p,
      series: 'training loss',
      kind: 'measured' as const,
    })),
    ...val.map((p) => ({ ...p, series: 'validation loss', kind: 'measured' as const })),
  ];
  const positive = points.every((p) => p.y > 0);
  const spec = nb.lab.linePlotSpec(points, {
    title: `nabla train --task ${config.task}: loss`,
    xTitle: 'step',
    yTitle: positive ? 'cross-entropy (log scale)' : 'cross-entropy',
    yLog: positive,
  });
  // Vega is large: load it only when a plot is drawn.
  const { renderSvg } = await import('../lab/node/render.js');
  await writeFile(svgPath, await renderSvg(spec));
  return true;
}
