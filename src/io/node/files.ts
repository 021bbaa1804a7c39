/// <reference types="node" />
/**
 * Node-only file helpers for safetensors, published as the entry point `nabla/node` (not part of
 * `nb.io`, which runs in browsers too).
 *
 * @example
 * import { loadSafetensorsFile, saveSafetensorsFile } from 'nabla/node';
 * model.loadStateDict(await loadSafetensorsFile('model.safetensors'));
 * await saveSafetensorsFile('model.safetensors', model.stateDict(), { format: 'pt' });
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Tensor } from '../../tensor.js';
import {
  parseSafetensors,
  serializeSafetensors,
  type ParseSafetensorsOptions,
  type SafetensorsContents,
} from '../safetensors.js';

/** The tensors (in header order) and metadata of a safetensors file. */
export async function readSafetensorsFile(
  path: string,
  options?: ParseSafetensorsOptions,
): Promise<SafetensorsContents> {
  const buf = await readFile(path);
  return parseSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), options);
}

/** The tensors of a safetensors file, in header order (what `module.loadStateDict` takes). */
export async function loadSafetensorsFile(
  path: string,
  options?: ParseSafetensorsOptions,
): Promise<Record<string, Tensor>> {
  return (await readSafetensorsFile(path, options)).tensors;
}

/**
 * Writes tensors (and optional string metadata) as a safetensors file, atomically: the bytes go to
 * a temporary file in the same directory, which then replaces `path`, so a reader never sees a
 * partial file and a failed save leaves any previous file intact.
 */
export async function saveSafetensorsFile(
  path: string,
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const bytes = serializeSafetensors(tensors, metadata); // before touching the disk
  const tmp = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmp, 'wx');
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
