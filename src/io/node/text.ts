/// <reference types="node" />
/**
 * Node-only: reading a text file (a corpus, a TSV of sentence pairs) for `nb.data`, which itself
 * only takes strings so that it runs in browsers too. Meant to be re-exported by the `nabla/node`
 * entry point (src/io/node/files.ts).
 *
 * @example
 * import { readTextFile } from 'nabla/node';
 * const pairs = nb.data.parseSentencePairs(await readTextFile('data/eng-fra.tsv'));
 */
import { readFile } from 'node:fs/promises';
import { ValueError } from '../../core/errors.js';

/**
 * The contents of a UTF-8 text file (a leading byte-order mark removed). Throws a ValueError that
 * names the path when the file is missing, is a directory, cannot be read, or is empty.
 *
 * @example
 * const text = await readTextFile('../shared/data/tinyshakespeare.txt');
 */
export async function readTextFile(path: string | URL): Promise<string> {
  const shown = path instanceof URL ? path.pathname : path;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory, not a file'
          : code === 'EACCES'
            ? 'permission denied'
            : (e as Error).message;
    throw new ValueError(`readTextFile: cannot read '${shown}': ${why}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) throw new ValueError(`readTextFile: '${shown}' is empty`);
  return text;
}
