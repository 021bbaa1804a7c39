/// <reference types="node" />
/**
 * Errors of the `nabla` command line and how they are shown: one line on stderr (no stack
 * trace), and an exit status — 2 for a usage error (unknown command or option, bad value,
 * unknown config key), 1 for anything else a user can act on (a missing or empty data file, a
 * checkpoint of another model), 130 for an interrupted run (128 + SIGINT, as shells report it).
 * Set NABLA_DEBUG=1 to see the stack of an unexpected error.
 */
import * as nb from '../index.node.js';

/** An error the user can act on; `exitCode` is the process's exit status. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A command line that cannot be run as written (exit status 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** Exit status of a run stopped by SIGINT (after saving a resumable checkpoint). */
export const EXIT_INTERRUPTED = 130;

/** Leading "op: " prefixes of library messages that mean nothing to a command-line user. */
const LIBRARY_PREFIX =
  /^(readTextFile|loadCheckpoint|parseSentencePairs|CharTokenizer(\.encode)?): /;

/**
 * One line for an error: its message's first line, the rest (indented details of library
 * errors) folded in after a colon, cut at 400 characters.
 */
export function oneLine(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  let text = lines[0] ?? '';
  if (lines.length > 1) text = `${text.replace(/:$/, '')}: ${lines.slice(1).join('; ')}`;
  text = text.replace(LIBRARY_PREFIX, '');
  return text.length > 400 ? `${text.slice(0, 397)}...` : text;
}

/**
 * Whether `e` is an error to show as one line (ours, or a NablaError of the library: a bad
 * value, shape or checkpoint), rather than a bug to show with its stack.
 */
export function isUserError(e: unknown): e is Error {
  return e instanceof CliError || e instanceof nb.NablaError;
}

/** The exit status for `e`. */
export function exitCodeOf(e: unknown): number {
  return e instanceof CliError ? e.exitCode : 1;
}
