/** Helpers shared by the benchmark scripts. */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** The CPU's model name as /proc/cpuinfo gives it (Linux), else as Node reports it. */
export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux: fall back to what Node reports
  }
  return os.cpus()[0]?.model ?? 'unknown CPU';
}
