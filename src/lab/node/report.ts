/// <reference types="node" />
/**
 * Node-only: writes lab reports (src/lab/experiments.ts) to a directory — one SVG per plot
 * (rendered by ./render.ts), `numbers.json` with every measured number, and ONE self-contained
 * `report.html` that puts the theory, the tables and the plots (inline SVG) side by side — and,
 * on request, a Markdown page whose images link to the SVGs (docs/theory-in-numbers.md).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { LabReport, LabTable } from '../experiments.js';
import { renderSvg } from './render.js';

export interface WriteReportOptions {
  /** Write report.html (default true). */
  html?: boolean;
  /** Also write a Markdown page here (image links relative to it). */
  markdownPath?: string;
  /** Title of the HTML and Markdown pages. */
  title?: string;
  /** A sentence under the title (e.g. how the page was generated). */
  subtitle?: string;
}

export interface WrittenReport {
  html: string | null;
  json: string;
  svgs: string[];
  markdown: string | null;
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function htmlTable(t: LabTable): string {
  const head = t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = t.rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`)
    .join('\n');
  const note = t.note ? `<p class="note">${escapeHtml(t.note)}</p>` : '';
  return `<h4>${escapeHtml(t.title)}</h4>\n<div class="scroll"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table></div>\n${note}`;
}

const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function markdownTable(t: LabTable): string {
  const lines = [
    `**${t.title}**`,
    '',
    `| ${t.columns.map(mdCell).join(' | ')} |`,
    `| ${t.columns.map(() => '---').join(' | ')} |`,
    ...t.rows.map((r) => `| ${r.map((c) => mdCell(String(c))).join(' | ')} |`),
  ];
  if (t.note) lines.push('', `_${t.note}_`);
  return lines.join('\n');
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1500px; padding: 0 1rem; color: #222; }
section { border-top: 1px solid #ccc; margin-top: 2rem; padding-top: 1rem; }
.side { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; }
.text { flex: 1 1 560px; min-width: 0; }
.plots { flex: 0 1 560px; }
.plots figure { margin: 0 0 1.5rem 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85rem; margin-bottom: 0.5rem; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; }
.theory { background: #f7f7fb; border-left: 3px solid #88a; padding: 0.5rem 1rem; }
.note { font-size: 0.8rem; color: #555; }
`;

/**
 * Renders every plot, then writes `<dir>/<plot>.svg`, `<dir>/numbers.json`, `<dir>/report.html`
 * and, with `markdownPath`, the Markdown page. Returns the paths written.
 *
 * @example
 * import { writeReport } from '../src/lab/node/report.js';
 * await writeReport([nb.lab.runLabExperiment('positional-encoding')], 'out/lab');
 */
export async function writeReport(
  reports: readonly LabReport[],
  dir: string,
  options: WriteReportOptions = {},
): Promise<WrittenReport> {
  await mkdir(dir, { recursive: true });
  const title = options.title ?? 'nabla lab report';
  const svgs: string[] = [];
  const inline = new Map<string, string>();
  for (const r of reports) {
    for (const p of r.plots) {
      const svg = await renderSvg(p.spec);
      const path = join(dir, `${p.id}.svg`);
      await writeFile(path, svg);
      svgs.push(path);
      inline.set(p.id, svg);
    }
  }

  const json = join(dir, 'numbers.json');
  const numbers = Object.fromEntries(
    reports.map((r) => [r.id, { title: r.title, tables: r.tables, data: r.data }]),
  );
  await writeFile(json, `${JSON.stringify(numbers, null, 2)}\n`);

  const sections = reports.map((r) => {
    const theory = r.theory.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n');
    const findings = r.findings.map((p) => `<li>${escapeHtml(p)}</li>`).join('\n');
    const tables = r.tables.map(htmlTable).join('\n');
    const plots = r.plots
      .map(
        (p) =>
          `<figure>${inline.get(p.id) ?? ''}<figcaption>${escapeHtml(p.title)}</figcaption></figure>`,
      )
      .join('\n');
    return `<section id="${r.id}">
<h2>${escapeHtml(r.title)} <small>(${r.id}, ${r.seconds.toFixed(1)} s)</small></h2>
<div class="side">
<div class="text">
<h3>Theory</h3>
<div class="theory">${theory}</div>
<h3>Measured</h3>
<ul>${findings}</ul>
${tables}
</div>
<div class="plots">${plots}</div>
</div>
</section>`;
  });
  const html = options.html === false ? null : join(dir, 'report.html');
  const subtitle = options.subtitle ? `<p>${escapeHtml(options.subtitle)}</p>` : '';
  if (html) {
    await writeFile(
      html,
      `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${subtitle}
${sections.join('\n')}
</body>
</html>
`,
    );
  }

  let markdown: string | null = null;
  if (options.markdownPath) {
    markdown = options.markdownPath;
    const base = dirname(markdown);
    const link = (id: string): string =>
      relative(base, join(dir, `${id}.svg`))
        .split(sep)
        .join('/');
    const parts = [`# ${title}`, ''];
    if (options.subtitle) parts.push(options.subtitle, '');
    for (const r of reports) {
      parts.push(`## ${r.title}`, '', `_Experiment \`${r.id}\`, ${r.seconds.toFixed(1)} s._`, '');
      parts.push('### Theory', '', ...r.theory.flatMap((p) => [`> ${p}`, '>']));
      parts.pop();
      parts.push('', '### Measured', '', ...r.findings.map((f) => `- ${f}`), '');
      for (const p of r.plots) parts.push(`![${p.title}](${link(p.id)})`, '');
      for (const t of r.tables) parts.push(markdownTable(t), '');
    }
    await mkdir(base, { recursive: true });
    await writeFile(markdown, `${parts.join('\n').trimEnd()}\n`);
  }
  return { html, json, svgs, markdown };
}
