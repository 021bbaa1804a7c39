/**
 * Plots and reports: the Vega-Lite specs of src/lab/plots.ts are plain JSON (browser-safe), render
 * headless to well-formed SVG with the expected marks (lines with points and dashed predictions,
 * one colour per series, rects for the heat map) through src/lab/node/render.ts (vega +
 * vega-lite), and src/lab/node/report.ts writes the SVGs, numbers.json, one self-contained
 * report.html and a Markdown page.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as nb from '../../src/index.js';
import { renderSvg } from '../../src/lab/node/render.js';
import { writeReport } from '../../src/lab/node/report.js';

/** Checks that `xml` is one balanced tree of tags with quoted attributes; returns tag counts. */
function checkWellFormed(xml: string): Map<string, number> {
  const counts = new Map<string, number>();
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(xml); m !== null; m = tag.exec(xml)) {
    const between = xml.slice(last, m.index);
    assert.ok(!between.includes('<'), `stray '<' before offset ${m.index}`);
    last = m.index + m[0].length;
    const [, close, name, , selfClose] = m;
    if (close) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else {
      counts.set(name!, (counts.get(name!) ?? 0) + 1);
      if (!selfClose) stack.push(name!);
    }
  }
  assert.ok(!xml.slice(last).includes('<'), 'unparsed markup at the end');
  assert.deepEqual(stack, [], 'unclosed elements');
  return counts;
}

const points: nb.lab.SeriesPoint[] = [];
for (const series of ['kaiming', 'xavier']) {
  for (let l = 0; l <= 4; l++) {
    const f = series === 'kaiming' ? 2 : 1.5;
    points.push({ x: l, y: f ** l * 1.01, series, kind: 'measured' });
    points.push({ x: l, y: f ** l, series, kind: 'predicted' });
  }
}

describe('lab plots', () => {
  test('specs are plain JSON data', () => {
    const spec = nb.lab.linePlotSpec(points, { title: 't', xTitle: 'l', yTitle: 'v', yLog: true });
    assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
    assert.match(String(spec.$schema), /vega-lite/);
  });

  test('a line plot renders to well-formed SVG with lines, points, dashes and a legend', async () => {
    const spec = nb.lab.linePlotSpec(points, {
      title: 'Var[u_l] against l',
      xTitle: 'block l',
      yTitle: 'variance',
      yLog: true,
    });
    const svg = await renderSvg(spec);
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    const counts = checkWellFormed(svg);
    assert.ok((counts.get('path') ?? 0) >= 4 + 10, 'two measured + two dashed lines, 10 points');
    assert.match(svg, /class="mark-line role-mark/);
    assert.match(svg, /class="mark-symbol role-mark/);
    assert.match(svg, /stroke-dasharray="6,4"/);
    for (const text of ['Var[u_l] against l', 'block l', 'kaiming', 'xavier']) {
      assert.ok(svg.includes(text), `missing text ${text}`);
    }
  });

  test('the heat map renders one rect per table entry', async () => {
    const table = nb.lab.peTable(6, 4);
    const svg = await renderSvg(nb.lab.peHeatmapSpec(table));
    checkWellFormed(svg);
    const rects = svg.match(/class="mark-rect role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/);
    assert.ok(rects, 'a rect mark group');
    assert.equal((rects![1]!.match(/<path/g) ?? []).length, 6 * 4);
  });

  test('writeReport writes SVGs, numbers.json, one self-contained HTML and Markdown', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nabla-lab-'));
    try {
      const report = nb.lab.runLabExperiment('positional-encoding', { quick: true });
      const md = join(dir, 'page.md');
      const out = await writeReport([report], join(dir, 'out'), { markdownPath: md });
      const files = (await readdir(join(dir, 'out'))).sort();
      assert.deepEqual(files, ['numbers.json', 'pe-similarity.svg', 'pe-table.svg', 'report.html']);
      const html = await readFile(out.html!, 'utf8');
      assert.equal((html.match(/<svg/g) ?? []).length, 2); // plots inline
      assert.ok(!/<(script|link|img)\b/.test(html), 'self-contained: no external resources');
      assert.ok(html.includes('<table>') && html.includes('Theory'));
      const numbers = JSON.parse(await readFile(out.json, 'utf8')) as Record<string, unknown>;
      assert.deepEqual(Object.keys(numbers), ['positional-encoding']);
      const page = await readFile(md, 'utf8');
      assert.match(page, /!\[The sinusoidal table\]\(out\/pe-table\.svg\)/);
      assert.match(page, /\| k \| mean over pos \|/);
      assert.throws(() => nb.lab.runLabExperiment('nope'), nb.ValueError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
