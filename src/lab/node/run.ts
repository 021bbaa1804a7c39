/// <reference types="node" />
/**
 * Node-only: what `nabla lab` (src/cli/lab.ts) and scripts/lab.ts share — run lab reports one
 * after the other, print each one's findings and tables, write the report directory (./report.ts)
 * and, optionally, format the JSON and HTML with prettier so committed outputs pass its check.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { formatTable, type LabReport } from '../experiments.js';
import { writeReport, type WriteReportOptions, type WrittenReport } from './report.js';

/** One report to produce: its id and how to make it. */
export interface LabJob {
  id: string;
  run: () => LabReport;
}

export interface RunLabOptions extends WriteReportOptions {
  /** Where to write (created if missing). */
  out: string;
  /** Format the written JSON and HTML with prettier when it is installed. */
  format?: boolean;
  /** Receives the printed text (default: stdout). */
  print?: (text: string) => void;
}

export interface RunLabResult {
  reports: LabReport[];
  written: WrittenReport;
}

/** The findings and tables of a report, as printed on the console. */
export function reportText(report: LabReport): string {
  const lines = [`=== ${report.title} (${report.id}, ${report.seconds.toFixed(1)} s) ===`, ''];
  for (const f of report.findings) lines.push(`- ${f}`);
  for (const t of report.tables) lines.push('', formatTable(t));
  return lines.join('\n');
}

/** Formats the written JSON and HTML with prettier when it is available. */
async function formatOutputs(paths: string[]): Promise<void> {
  let prettier: typeof import('prettier');
  try {
    prettier = await import('prettier');
  } catch {
    return;
  }
  for (const path of paths) {
    const options = (await prettier.resolveConfig(path)) ?? {};
    const text = await readFile(path, 'utf8');
    await writeFile(path, await prettier.format(text, { ...options, filepath: path }));
  }
}

/**
 * Runs the jobs in order, printing each report as it finishes, then writes every plot (SVG),
 * `numbers.json`, `report.html` and, with `markdownPath`, a Markdown page into `out`.
 *
 * @example
 * await runLab([{ id: 'positional-encoding', run: () => nb.lab.runPositionalEncoding() }], {
 *   out: 'lab-out/positional-encoding',
 * });
 */
export async function runLab(
  jobs: readonly LabJob[],
  options: RunLabOptions,
): Promise<RunLabResult> {
  const print = options.print ?? ((s: string) => void process.stdout.write(`${s}\n`));
  const reports: LabReport[] = [];
  for (const job of jobs) {
    const report = job.run();
    print(`\n${reportText(report)}`);
    reports.push(report);
  }
  const written = await writeReport(reports, options.out, options);
  if (options.format)
    await formatOutputs(written.html ? [written.json, written.html] : [written.json]);
  const files = [written.html, written.json, written.markdown].filter((f) => f !== null);
  print(`\nwrote ${files.join(', ')} and ${written.svgs.length} SVG plots`);
  return { reports, written };
}
