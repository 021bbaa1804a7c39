/**
 * Node-only: renders the lab's Vega-Lite specs (src/lab/plots.ts) to SVG strings headless, with
 * vega-lite's compiler and vega's View in "none" renderer mode (View.toSVG needs no canvas).
 * References: https://vega.github.io/vega/usage/#node and https://vega.github.io/vega-lite/usage/compile.html.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { VegaLiteSpec } from '../plots.js';

/**
 * The SVG text of a Vega-Lite spec.
 *
 * @example
 * import { renderSvg } from 'nabla/lab/node'; // (Node only)
 * const svg = await renderSvg(nb.lab.peSimilaritySpec(nb.lab.peSimilarity(64, 16, 32), 16));
 */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const vgSpec = compile(spec as unknown as TopLevelSpec).spec;
  const view = new View(parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
