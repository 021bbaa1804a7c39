/**
 * The safetensors format (Hugging Face), bytes in and bytes out: no file system, so it runs in
 * browsers too (`nabla/node` adds file helpers).
 *
 * Layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON header
 * `{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"key": "value"}}` with offsets relative to the data section that follows the
 * header, then the data (little-endian, C order). https://huggingface.co/docs/safetensors
 *
 * Reading treats the bytes as hostile: every field of the header is checked (types, ranges, sizes,
 * overlaps and holes, as the reference implementation does) before any tensor is allocated, and
 * every allocation is bounded by the size of the input. Anything wrong is a `SafetensorsError`.
 */
import { Tensor } from '../tensor.js';
import { tensor } from '../ops/creation.js';
import type { DType, TypedArray } from '../core/dtype.js';
import { ValueError } from '../core/errors.js';

/**
 * A malformed safetensors file (or a value that cannot be written as one). Also a `ValueError`
 * (and so a `NablaError`), the class nabla uses for bad argument values.
 */
export class SafetensorsError extends ValueError {}

export interface ParseSafetensorsOptions {
  /** The largest JSON header accepted, in bytes (default 100 MB, the reference's limit). */
  maxHeaderBytes?: number;
}

export interface SafetensorsContents {
  /** The tensors, in the order of the file's header. */
  tensors: Record<string, Tensor>;
  /** The `__metadata__` string map (empty when the file has none). */
  metadata: Record<string, string>;
}

// Every browser and Node has these, but no `lib` this package compiles with declares them (the
// build has neither DOM nor Node types), so declare what is used here.
declare const TextDecoder: new (
  label?: string,
  options?: { fatal?: boolean; ignoreBOM?: boolean },
) => { decode(input: Uint8Array): string };
declare const TextEncoder: new () => { encode(input: string): Uint8Array };

/** The reference implementation's limit on the header size. */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type Reader = (bytes: Uint8Array, begin: number, count: number, name: string) => TypedArray;

interface DTypeInfo {
  /** Bytes per element. */
  size: number;
  /** The nabla dtype the values are read into. */
  dtype: DType;
  read: Reader;
}

/** A copy of `bytes[begin, begin + length)` in a fresh (so aligned) ArrayBuffer. */
function copyBytes(bytes: Uint8Array, begin: number, length: number): ArrayBuffer {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(begin, begin + length));
  return out.buffer;
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readF32(bytes: Uint8Array, begin: number, n: number): Float32Array {
  if (LITTLE_ENDIAN) return new Float32Array(copyBytes(bytes, begin, n * 4));
  const v = viewOf(bytes);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = v.getFloat32(begin + 4 * i, true);
  return out;
}

function readF64(bytes: Uint8Array, begin: number, n: number): Float64Array {
  if (LITTLE_ENDIAN) return new Float64Array(copyBytes(bytes, begin, n * 8));
  const v = viewOf(bytes);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = v.getFloat64(begin + 8 * i, true);
  return out;
}

function readI32(bytes: Uint8Array, begin: number, n: number): Int32Array {
  if (LITTLE_ENDIAN) return new Int32Array(copyBytes(bytes, begin, n * 4));
  const v = viewOf(bytes);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = v.getInt32(begin + 4 * i, true);
  return out;
}

/** IEEE half precision bits to a number (exact: every half is a float32). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function readF16(bytes: Uint8Array, begin: number, n: number): Float32Array {
  const v = viewOf(bytes);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = halfToFloat(v.getUint16(begin + 2 * i, true));
  return out;
}

function readBF16(bytes: Uint8Array, begin: number, n: number): Float32Array {
  // bfloat16 is the top half of a float32: shift the bits into place.
  const v = viewOf(bytes);
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) bits[i] = v.getUint16(begin + 2 * i, true) << 16;
  return new Float32Array(bits.buffer);
}

function readSmallInt(
  size: 1 | 2,
  signed: boolean,
): (bytes: Uint8Array, begin: number, n: number) => Int32Array {
  return (bytes, begin, n) => {
    const v = viewOf(bytes);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const at = begin + size * i;
      out[i] =
        size === 1
          ? signed
            ? v.getInt8(at)
            : v.getUint8(at)
          : signed
            ? v.getInt16(at, true)
            : v.getUint16(at, true);
    }
    return out;
  };
}

const INT32_RANGE = '[-2147483648, 2147483647]';

function outOfRange(name: string, st: string, value: bigint | number, index: number): never {
  throw new SafetensorsError(
    `safetensors: tensor ${quote(name)} (${st}) holds ${value} at flat index ${index}, outside the int32 ` +
      `range ${INT32_RANGE} that nabla stores integer tensors in`,
  );
}

/** 64-bit integers, read as int32 when every value fits. */
function readWide(signed: boolean): Reader {
  return (bytes, begin, n, name) => {
    const v = viewOf(bytes);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const at = begin + 8 * i;
      const lo = v.getUint32(at, true);
      const hi = v.getUint32(at + 4, true);
      // Fits int32 iff the high word is the sign extension of the low word.
      const fits = signed
        ? (hi === 0 && lo < 0x80000000) || (hi === 0xffffffff && lo >= 0x80000000)
        : hi === 0 && lo < 0x80000000;
      if (!fits)
        outOfRange(
          name,
          signed ? 'I64' : 'U64',
          signed ? v.getBigInt64(at, true) : v.getBigUint64(at, true),
          i,
        );
      out[i] = lo | 0;
    }
    return out;
  };
}

function readU32(bytes: Uint8Array, begin: number, n: number, name: string): Int32Array {
  const v = viewOf(bytes);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const x = v.getUint32(begin + 4 * i, true);
    if (x > 0x7fffffff) outOfRange(name, 'U32', x, i);
    out[i] = x;
  }
  return out;
}

function readBool(bytes: Uint8Array, begin: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = bytes[begin + i] !== 0 ? 1 : 0;
  return out;
}

/** The safetensors dtypes nabla reads, and the nabla dtype each becomes. */
const READ_DTYPES: Record<string, DTypeInfo> = {
  F32: { size: 4, dtype: 'float32', read: readF32 },
  F64: { size: 8, dtype: 'float64', read: readF64 },
  F16: { size: 2, dtype: 'float32', read: readF16 },
  BF16: { size: 2, dtype: 'float32', read: readBF16 },
  I32: { size: 4, dtype: 'int32', read: readI32 },
  I64: { size: 8, dtype: 'int32', read: readWide(true) },
  U64: { size: 8, dtype: 'int32', read: readWide(false) },
  U32: { size: 4, dtype: 'int32', read: readU32 },
  I16: { size: 2, dtype: 'int32', read: readSmallInt(2, true) },
  U16: { size: 2, dtype: 'int32', read: readSmallInt(2, false) },
  I8: { size: 1, dtype: 'int32', read: readSmallInt(1, true) },
  U8: { size: 1, dtype: 'int32', read: readSmallInt(1, false) },
  BOOL: { size: 1, dtype: 'bool', read: readBool },
};

/** Dtypes of the format that nabla does not read (yet). */
const UNSUPPORTED_DTYPES = ['F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64'];

/** How each nabla dtype is written. */
const WRITE_DTYPES: Record<DType, { name: string; size: number }> = {
  float64: { name: 'F64', size: 8 },
  float32: { name: 'F32', size: 4 },
  int32: { name: 'I32', size: 4 },
  bool: { name: 'BOOL', size: 1 },
};

// ---- Messages ----------------------------------------------------------------------------------

function clip(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

function quote(name: string): string {
  return clip(JSON.stringify(name));
}

/** A short description of an untrusted JSON value (never recursing into it). */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${quote(v)}`;
  return `${typeof v} ${String(v)}`;
}

function formatList(v: readonly number[]): string {
  return clip(`[${v.join(', ')}]`);
}

function fail(message: string): never {
  throw new SafetensorsError(`safetensors: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Defines an own property even for names like `__proto__`. */
function setEntry<T>(out: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

// ---- Reading -----------------------------------------------------------------------------------

interface Entry {
  name: string;
  info: DTypeInfo;
  dtypeName: string;
  shape: number[];
  numel: number;
  begin: number;
  end: number;
}

function checkEntry(name: string, value: unknown, dataLength: number): Entry {
  const what = `tensor ${quote(name)}`;
  if (!isObject(value)) {
    fail(
      `${what}: the header entry must be an object with dtype, shape and data_offsets, got ${describe(value)}`,
    );
  }
  for (const field of ['dtype', 'shape', 'data_offsets']) {
    if (!Object.hasOwn(value, field)) fail(`${what}: the header entry has no "${field}"`);
  }
  const dtypeName = value.dtype;
  if (typeof dtypeName !== 'string')
    fail(`${what}: "dtype" must be a string, got ${describe(dtypeName)}`);
  const info = Object.hasOwn(READ_DTYPES, dtypeName) ? READ_DTYPES[dtypeName] : undefined;
  if (info === undefined) {
    if (UNSUPPORTED_DTYPES.includes(dtypeName)) {
      fail(
        `${what}: dtype ${dtypeName} is not supported; nabla reads ${Object.keys(READ_DTYPES).join(', ')}`,
      );
    }
    fail(
      `${what}: unknown dtype ${quote(dtypeName)}; expected one of ${Object.keys(READ_DTYPES).join(', ')}`,
    );
  }

  const shape = value.shape;
  if (!Array.isArray(shape))
    fail(`${what}: "shape" must be an array of integers, got ${describe(shape)}`);
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      fail(`${what}: shape[${i}] must be a non-negative integer, got ${describe(d)}`);
    }
  }
  const dims = shape as number[];

  const offsets = value.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    fail(`${what}: "data_offsets" must be an array [begin, end], got ${describe(offsets)}`);
  }
  for (const [i, o] of (offsets as unknown[]).entries()) {
    if (typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0) {
      fail(`${what}: data_offsets[${i}] must be a non-negative integer, got ${describe(o)}`);
    }
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(`${what}: data_offsets [${begin}, ${end}] has begin > end`);
  if (end > dataLength) {
    fail(
      `${what}: data_offsets [${begin}, ${end}] run past the end of the data section (${dataLength} bytes); ` +
        'the file may be truncated',
    );
  }

  // Exact while below 2^53; above, the rounded product is still >= 2^53 > end - begin.
  let numel = 1;
  for (const d of dims) numel *= d;
  const bytes = numel * info.size;
  if (bytes !== end - begin) {
    fail(
      `${what}: shape ${formatList(dims)} of ${dtypeName} needs ${numel} x ${info.size} = ${bytes} bytes, ` +
        `but data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, info, dtypeName, shape: [...dims], numel, begin, end };
}

/** Offsets must tile the data section exactly: no overlap, no hole, nothing left over. */
function checkCoverage(entries: readonly Entry[], dataLength: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let last: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < covered) {
      fail(
        `tensors ${quote(last!.name)} (bytes [${last!.begin}, ${last!.end})) and ${quote(e.name)} ` +
          `(bytes [${e.begin}, ${e.end})) overlap`,
      );
    }
    if (e.begin > covered) {
      fail(
        `bytes [${covered}, ${e.begin}) of the data section belong to no tensor (a hole before ` +
          `${quote(e.name)}); safetensors files have none`,
      );
    }
    last = e;
    covered = e.end;
  }
  if (covered !== dataLength) {
    fail(
      `bytes [${covered}, ${dataLength}) at the end of the data section belong to no tensor; ` +
        'safetensors files have no trailing data',
    );
  }
}

function checkMetadata(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === null) return out; // the reference reads `null` as no metadata
  if (!isObject(value)) fail(`"__metadata__" must be an object of strings, got ${describe(value)}`);
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (typeof v !== 'string') {
      fail(`"__metadata__" values must be strings, but ${quote(key)} is ${describe(v)}`);
    }
    setEntry(out, key, v);
  }
  return out;
}

/**
 * Reads a safetensors file held in memory: its tensors (in header order) and metadata. F16 and
 * BF16 become float32; integer dtypes become int32 (a value outside int32 range is an error).
 * Throws `SafetensorsError` naming the first problem of a malformed file.
 *
 * @example
 * const { tensors, metadata } = nb.io.parseSafetensors(bytes);
 */
export function parseSafetensors(
  bytes: Uint8Array,
  options: ParseSafetensorsOptions = {},
): SafetensorsContents {
  const maxHeader = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (typeof maxHeader !== 'number' || !(maxHeader >= 0)) {
    throw new ValueError(
      `parseSafetensors: maxHeaderBytes must be a non-negative number, got ${String(maxHeader)}`,
    );
  }
  if (!(bytes instanceof Uint8Array)) {
    fail(
      `expected the file's bytes as a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`,
    );
  }
  // (A Node Buffer is a Uint8Array whose `slice` does not copy: only views are taken below.)
  const total = bytes.byteLength;
  if (total < 8) {
    fail(
      `the input is ${total} bytes long, shorter than the 8-byte header length: truncated, or not a safetensors file`,
    );
  }
  const view = viewOf(bytes);
  // A u64 as a double: exact below 2^53, and any larger value is larger than every real input.
  const headerLength = view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true);
  if (headerLength === 0) fail('the header length is 0; a safetensors header is at least "{}"');
  if (headerLength > total - 8) {
    fail(
      `the header length ${headerLength} runs past the end of the ${total}-byte input ` +
        `(at most ${total - 8} bytes follow the length): truncated, or not a safetensors file`,
    );
  }
  if (headerLength > maxHeader) {
    fail(`the header length ${headerLength} exceeds maxHeaderBytes (${maxHeader})`);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(8, 8 + headerLength),
    );
  } catch {
    fail('the header is not valid UTF-8');
  }
  if (!text.startsWith('{')) {
    fail(
      `the header must be a JSON object starting with '{', it starts with ${quote(text.slice(0, 16))}`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`the header is not valid JSON (${clip(e instanceof Error ? e.message : String(e), 120)})`);
  }
  if (!isObject(header)) fail(`the header must be a JSON object, got ${describe(header)}`);

  const dataStart = 8 + headerLength;
  const dataLength = total - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const name of Object.keys(header)) {
    if (name === '__metadata__') metadata = checkMetadata(header[name]);
    else entries.push(checkEntry(name, header[name], dataLength));
  }
  checkCoverage(entries, dataLength);

  // Everything checked: decode all values first, so that an error creates no tensor.
  const arrays = entries.map((e) => e.info.read(bytes, dataStart + e.begin, e.numel, e.name));
  const tensors: Record<string, Tensor> = {};
  entries.forEach((e, i) => setEntry(tensors, e.name, tensor(arrays[i]!, { shape: e.shape })));
  return { tensors, metadata };
}

/**
 * The tensors of a safetensors file held in memory, in header order (what `module.loadStateDict`
 * takes). See `parseSafetensors` for the metadata.
 *
 * @example
 * model.loadStateDict(nb.io.loadSafetensors(bytes));
 */
export function loadSafetensors(
  bytes: Uint8Array,
  options: ParseSafetensorsOptions = {},
): Record<string, Tensor> {
  return parseSafetensors(bytes, options).tensors;
}

// ---- Writing -----------------------------------------------------------------------------------

const LONE_SURROGATE = /\p{Surrogate}/u;

function checkText(s: string, what: string): void {
  // JSON would carry it as an escape, but the reference implementation rejects it.
  if (LONE_SURROGATE.test(s)) fail(`${what} ${quote(s)} is not valid Unicode (a lone surrogate)`);
}

function writeData(out: Uint8Array, at: number, data: TypedArray): void {
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    return;
  }
  const v = viewOf(out);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float64Array) v.setFloat64(at + 8 * i, data[i]!, true);
    else if (data instanceof Float32Array) v.setFloat32(at + 4 * i, data[i]!, true);
    else v.setInt32(at + 4 * i, data[i]!, true);
  }
}

/**
 * Writes tensors (and optional string metadata) as a safetensors file: float32 → F32, float64 →
 * F64, int32 → I32, bool → BOOL. Tensors are grouped by element size, largest first (keeping the
 * given order within a group), so every tensor is aligned; the header is padded with spaces to a
 * multiple of 8 bytes, as the reference implementation does.
 *
 * @example
 * const bytes = nb.io.serializeSafetensors(model.stateDict(), { format: 'pt' });
 */
export function serializeSafetensors(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  if (!isObject(tensors))
    fail(`serializeSafetensors: expected an object of tensors, got ${describe(tensors)}`);
  const items: { name: string; t: Tensor; size: number; dtypeName: string }[] = [];
  for (const name of Object.keys(tensors)) {
    const t = tensors[name];
    if (name === '__metadata__')
      fail('serializeSafetensors: "__metadata__" is reserved and cannot name a tensor');
    checkText(name, 'serializeSafetensors: the tensor name');
    if (!(t instanceof Tensor))
      fail(`serializeSafetensors: ${quote(name)} is ${describe(t)}, not a Tensor`);
    const w = WRITE_DTYPES[t.dtype];
    items.push({ name, t, size: w.size, dtypeName: w.name });
  }
  // Stable: larger elements first, so each tensor starts at a multiple of its element size.
  items.sort((a, b) => b.size - a.size);

  let metaJson: string | undefined;
  if (metadata !== undefined && metadata !== null) {
    if (!isObject(metadata))
      fail(
        `serializeSafetensors: metadata must be an object of strings, got ${describe(metadata)}`,
      );
    const pairs: string[] = [];
    for (const key of Object.keys(metadata)) {
      const v: unknown = metadata[key];
      if (typeof v !== 'string')
        fail(`serializeSafetensors: metadata ${quote(key)} is ${describe(v)}, not a string`);
      checkText(key, 'serializeSafetensors: the metadata key');
      checkText(v, `serializeSafetensors: metadata ${quote(key)} has value`);
      pairs.push(`${JSON.stringify(key)}:${JSON.stringify(v)}`);
    }
    if (pairs.length > 0) metaJson = `{${pairs.join(',')}}`;
  }

  const datas: TypedArray[] = [];
  const parts: string[] = metaJson === undefined ? [] : [`"__metadata__":${metaJson}`];
  let offset = 0;
  for (const { name, t, dtypeName } of items) {
    const data = t.dataSync();
    datas.push(data);
    const end = offset + data.byteLength;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${dtypeName}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = viewOf(out);
  view.setUint32(0, headerLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const data of datas) {
    writeData(out, at, data);
    at += data.byteLength;
  }
  return out;
}
