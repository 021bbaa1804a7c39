/**
 * nb.io safetensors: round trips, one test per kind of malformed file, property-based fuzzing, and
 * files written and read by PyTorch (fixtures from scripts/fixtures/gen_safetensors.py, and a live
 * check with python3 when torch and safetensors are installed).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as nb from '../../src/index.js';
import {
  loadSafetensorsFile,
  readSafetensorsFile,
  saveSafetensorsFile,
} from '../../src/io/node/files.js';
import { Linear } from '../../src/nn/linear.js';

const { parseSafetensors, loadSafetensors, serializeSafetensors, SafetensorsError } = nb.io;

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(here, '..', 'fixtures', 'safetensors');

// ---- Helpers -----------------------------------------------------------------------------------

/** A file from a header (object, or raw JSON text) and data bytes; `headerLength` overrides N. */
function rawFile(
  header: unknown,
  data: Uint8Array | number = 0,
  headerLength?: number | bigint,
): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === 'string' ? header : JSON.stringify(header),
  );
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

function bytesOf(
  kind: 'f32' | 'f64' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64',
  values: (number | bigint)[],
): Uint8Array {
  const size = { f32: 4, f64: 8, u16: 2, i32: 4, u32: 4, i64: 8, u64: 8 }[kind];
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    const at = i * size;
    if (kind === 'f32') v.setFloat32(at, Number(x), true);
    else if (kind === 'f64') v.setFloat64(at, Number(x), true);
    else if (kind === 'u16') v.setUint16(at, Number(x), true);
    else if (kind === 'i32') v.setInt32(at, Number(x), true);
    else if (kind === 'u32') v.setUint32(at, Number(x), true);
    else if (kind === 'i64') v.setBigInt64(at, BigInt(x), true);
    else v.setBigUint64(at, BigInt(x), true);
  });
  return out;
}

/** Asserts that `fn` throws a SafetensorsError (a NablaError and ValueError) matching `message`. */
function throwsST(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected a SafetensorsError, got ${String(e)}`);
    assert.ok(e instanceof nb.NablaError);
    assert.ok(e instanceof nb.ValueError);
    assert.equal(e.name, 'SafetensorsError');
    assert.match(e.message, message);
    return true;
  });
}

/** Elements compared with Object.is (NaN equals NaN, -0 differs from 0). */
function assertSameTensor(actual: nb.Tensor | undefined, expected: nb.Tensor, what = ''): void {
  assert.ok(actual, `missing tensor ${what}`);
  assert.equal(actual.dtype, expected.dtype, `dtype of ${what}`);
  assert.deepEqual(actual.shape, expected.shape, `shape of ${what}`);
  assert.deepEqual(
    Array.from(actual.dataSync()),
    Array.from(expected.dataSync()),
    `values of ${what}`,
  );
}

/** A record that may hold any key, `__proto__` included, in the given order. */
function record<T>(entries: [string, T][]): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of entries) {
    Object.defineProperty(out, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** The JSON header of a file, as text. */
function headerText(bytes: Uint8Array): string {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return new TextDecoder().decode(bytes.subarray(8, 8 + n));
}

const f32 = (shape: number[], values: number[]) => nb.tensor(new Float32Array(values), { shape });

// ---- Round trips -------------------------------------------------------------------------------

describe('safetensors round trip', () => {
  test('every dtype, 0-d and empty tensors', () => {
    const tensors = {
      f32: f32([2, 3], [0.5, -0, 1e-40, Infinity, -Infinity, NaN]),
      f64: nb.tensor(new Float64Array([0.1, -1e300, 5e-324, 2 ** 53 + 2]), { shape: [2, 2] }),
      i32: nb.tensor(new Int32Array([0, -1, 2147483647, -2147483648, 7]), { shape: [5] }),
      bool: nb.tensor([
        [true, false],
        [false, true],
      ]),
      scalar: nb.scalar(3.25),
      scalarInt: nb.scalar(-4, { dtype: 'int32' }),
      scalarBool: nb.scalar(1, { dtype: 'bool' }),
      empty: nb.zeros([2, 0, 3]),
      emptyInt: nb.zeros([0], { dtype: 'int32' }),
      emptyBool: nb.zeros([0, 4], { dtype: 'bool' }),
      emptyF64: nb.zeros([3, 0], { dtype: 'float64' }),
    };
    const bytes = serializeSafetensors(tensors);
    const back = loadSafetensors(bytes);
    assert.deepEqual(Object.keys(back).sort(), Object.keys(tensors).sort());
    for (const [k, t] of Object.entries(tensors)) assertSameTensor(back[k], t, k);
  });

  test('metadata round trip (unicode included); none gives {}', () => {
    const t = { w: nb.ones([2]) };
    const metadata = { format: 'pt', note: 'ünïcode ✓ 𝔘', empty: '', '0': 'numeric key' };
    const parsed = parseSafetensors(serializeSafetensors(t, metadata));
    assert.deepEqual(parsed.metadata, metadata);
    assert.deepEqual(parseSafetensors(serializeSafetensors(t)).metadata, {});
    assert.deepEqual(parseSafetensors(serializeSafetensors(t, {})).metadata, {});
    assert.doesNotMatch(headerText(serializeSafetensors(t, {})), /__metadata__/);
  });

  test('an empty dict is a valid file', () => {
    const bytes = serializeSafetensors({});
    assert.deepEqual(parseSafetensors(bytes), { tensors: {}, metadata: {} });
  });

  test('layout: header padded with spaces to 8 bytes, tensors aligned and contiguous', () => {
    const tensors = {
      b: nb.tensor([true, false, true]),
      f: f32([3], [1, 2, 3]),
      d: nb.tensor(new Float64Array([1, 2, 3])),
      i: nb.tensor(new Int32Array([4, 5])),
      d2: nb.tensor(new Float64Array([6])),
    };
    const bytes = serializeSafetensors(tensors, { a: 'b' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const text = headerText(bytes);
    assert.match(text, /^\{.*\} *$/);
    const header = JSON.parse(text) as Record<string, { dtype: string; data_offsets: number[] }>;
    // Largest elements first, in the given order within a size.
    assert.deepEqual(Object.keys(header), ['__metadata__', 'd', 'd2', 'f', 'i', 'b']);
    let end = 0;
    for (const [k, e] of Object.entries(header)) {
      if (k === '__metadata__') continue;
      const [b, en] = e.data_offsets as [number, number];
      assert.equal(b, end, `${k} starts where the previous ended`);
      const size = { F64: 8, F32: 4, I32: 4, BOOL: 1 }[e.dtype]!;
      assert.equal((8 + n + b) % size, 0, `${k} is aligned`);
      end = en;
    }
    assert.equal(bytes.length, 8 + n + end);
  });

  test('non-contiguous views are written in C order', () => {
    const x = f32([2, 3], [1, 2, 3, 4, 5, 6]).transpose(0, 1);
    const back = loadSafetensors(serializeSafetensors({ x }));
    assert.deepEqual(back.x!.toArray(), [
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
  });

  test('tensors come back in header order; odd names are own keys', () => {
    const data = bytesOf('f32', [1, 2, 3]);
    const bytes = rawFile(
      '{"zeta":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},' +
        '"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},' +
        '"alpha":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
      data,
    );
    const back = loadSafetensors(bytes);
    assert.deepEqual(Object.keys(back), ['zeta', '__proto__', 'alpha']);
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(back, '__proto__')!.value.item(), 2);
    assert.equal(back.alpha!.item(), 1);
    // And written back out under the same names.
    const again = loadSafetensors(serializeSafetensors(back));
    assert.deepEqual(Object.keys(again), ['zeta', '__proto__', 'alpha']);
  });

  test('reads F16, BF16, I64, U64, U32, I16, U16, I8, U8 and BOOL bytes', () => {
    const u8 = (xs: number[]) => new Uint8Array(xs);
    const cases: [string, Uint8Array, number[], string][] = [
      // F16: 1, -2, 2^-24 (subnormal), 65504, -0, inf, nan
      [
        'F16',
        bytesOf('u16', [0x3c00, 0xc000, 0x0001, 0x7bff, 0x8000, 0x7c00, 0x7e00]),
        [1, -2, 2 ** -24, 65504, -0, Infinity, NaN],
        'float32',
      ],
      // BF16: 1, -3.140625, -0, -inf, nan
      [
        'BF16',
        bytesOf('u16', [0x3f80, 0xc049, 0x8000, 0xff80, 0x7fc0]),
        [1, -3.140625, -0, -Infinity, NaN],
        'float32',
      ],
      [
        'I64',
        bytesOf('i64', [0, -1, 2147483647, -2147483648]),
        [0, -1, 2147483647, -2147483648],
        'int32',
      ],
      ['U64', bytesOf('u64', [0, 2147483647]), [0, 2147483647], 'int32'],
      ['U32', bytesOf('u32', [0, 2147483647]), [0, 2147483647], 'int32'],
      ['I16', bytesOf('u16', [0x8000, 0xffff, 7]), [-32768, -1, 7], 'int32'],
      ['U16', bytesOf('u16', [0x8000, 0xffff, 7]), [32768, 65535, 7], 'int32'],
      ['I8', u8([0x80, 0xff, 7]), [-128, -1, 7], 'int32'],
      ['U8', u8([0x80, 0xff, 7]), [128, 255, 7], 'int32'],
      ['BOOL', u8([0, 1, 2]), [0, 1, 1], 'bool'],
    ];
    for (const [dtype, data, values, nbDtype] of cases) {
      const t = loadSafetensors(
        rawFile({ x: { dtype, shape: [values.length], data_offsets: [0, data.length] } }, data),
      ).x!;
      assert.equal(t.dtype, nbDtype, dtype);
      assert.deepEqual(Array.from(t.dataSync()), values, dtype);
    }
  });

  test('accepts a Node Buffer view with a non-zero byteOffset (unaligned data)', () => {
    const bytes = serializeSafetensors({
      x: f32([2], [1.5, -2]),
      y: nb.tensor(new Float64Array([3])),
    });
    const pool = Buffer.alloc(bytes.length + 3);
    pool.set(bytes, 3);
    const view = pool.subarray(3);
    const back = loadSafetensors(view);
    assert.deepEqual(Array.from(back.x!.dataSync()), [1.5, -2]);
    assert.deepEqual(Array.from(back.y!.dataSync()), [3]);
  });

  test('maxHeaderBytes raises or lowers the header limit', () => {
    const bytes = serializeSafetensors({ x: nb.ones([1]) });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(loadSafetensors(bytes, { maxHeaderBytes: n }).x!.item(), 1);
    throwsST(() => loadSafetensors(bytes, { maxHeaderBytes: n - 1 }), /exceeds maxHeaderBytes/);
    assert.throws(() => loadSafetensors(bytes, { maxHeaderBytes: -1 }), nb.ValueError);
  });

  test('serializing rejects what the format cannot hold', () => {
    throwsST(
      () => serializeSafetensors({ x: [1, 2] as unknown as nb.Tensor }),
      /"x" is an array.*not a Tensor/,
    );
    throwsST(
      () => serializeSafetensors({ __metadata__: nb.ones([1]) }),
      /"__metadata__" is reserved/,
    );
    throwsST(
      () => serializeSafetensors({ x: nb.ones([1]) }, { n: 3 as unknown as string }),
      /metadata "n" is number 3, not a string/,
    );
    throwsST(() => serializeSafetensors({ ['a\ud800']: nb.ones([1]) }), /lone surrogate/);
    const gone = nb.ones([1]);
    gone.dispose();
    assert.throws(() => serializeSafetensors({ gone }), nb.DisposedError);
  });
});

// ---- Malformed files: one test per check -------------------------------------------------------

describe('safetensors malformed files', () => {
  const good = { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  test('truncated: shorter than the 8-byte length', () => {
    throwsST(
      () => parseSafetensors(new Uint8Array(0)),
      /0 bytes long, shorter than the 8-byte header length/,
    );
    throwsST(() => parseSafetensors(new Uint8Array(7)), /7 bytes long/);
  });

  test('header length 0', () => {
    throwsST(() => parseSafetensors(new Uint8Array(8)), /header length is 0/);
  });

  test('header length larger than the file', () => {
    throwsST(
      () => parseSafetensors(rawFile(good, 8, 1000)),
      /header length 1000 runs past the end of the \d+-byte input/,
    );
    throwsST(() => parseSafetensors(rawFile(good, 8, 2n ** 64n - 1n)), /runs past the end/);
  });

  test('header length larger than maxHeaderBytes (default 100 MB)', () => {
    throwsST(
      () => parseSafetensors(rawFile(good, 8), { maxHeaderBytes: 10 }),
      /header length \d+ exceeds maxHeaderBytes \(10\)/,
    );
  });

  test('truncated data: offsets past the end of the data section', () => {
    const whole = serializeSafetensors({ x: f32([4], [1, 2, 3, 4]) });
    throwsST(
      () => parseSafetensors(whole.subarray(0, whole.length - 1)),
      /data_offsets \[0, 16\] run past the end of the data section \(15 bytes\)/,
    );
    throwsST(
      () =>
        parseSafetensors(rawFile({ x: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 8)),
      /tensor "x": data_offsets \[8, 16\] run past the end/,
    );
  });

  test('header not valid UTF-8', () => {
    const bytes = rawFile('{}', 0);
    bytes[9] = 0xff; // '{' '\xff'
    throwsST(() => parseSafetensors(bytes), /header is not valid UTF-8/);
  });

  test('header not JSON', () => {
    throwsST(() => parseSafetensors(rawFile('{"x": {', 0)), /header is not valid JSON/);
    throwsST(() => parseSafetensors(rawFile('{} trailing', 0)), /header is not valid JSON/);
  });

  test('header JSON but not an object', () => {
    throwsST(
      () => parseSafetensors(rawFile('[1, 2]', 0)),
      /must be a JSON object starting with '\{', it starts with "\[1, 2\]"/,
    );
    throwsST(() => parseSafetensors(rawFile('"x"', 0)), /must be a JSON object/);
    throwsST(() => parseSafetensors(rawFile(' {}', 0)), /must be a JSON object/);
  });

  test('entry not an object', () => {
    throwsST(
      () => parseSafetensors(rawFile({ x: [1, 2] }, 0)),
      /tensor "x": the header entry must be an object.*got an array of length 2/,
    );
    throwsST(() => parseSafetensors(rawFile({ x: null }, 0)), /tensor "x".*got null/);
  });

  test('entry missing dtype, shape or data_offsets', () => {
    for (const field of ['dtype', 'shape', 'data_offsets']) {
      const entry: Record<string, unknown> = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
      delete entry[field];
      throwsST(
        () => parseSafetensors(rawFile({ x: entry }, 8)),
        new RegExp(`tensor "x": the header entry has no "${field}"`),
      );
    }
  });

  test('dtype not a string', () => {
    throwsST(
      () => parseSafetensors(rawFile({ x: { dtype: 4, shape: [1], data_offsets: [0, 4] } }, 4)),
      /"dtype" must be a string, got number 4/,
    );
  });

  test('unknown dtype', () => {
    throwsST(
      () => parseSafetensors(rawFile({ x: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, 4)),
      /tensor "x": unknown dtype "F33"; expected one of F32, F64/,
    );
    throwsST(
      () => parseSafetensors(rawFile({ x: { dtype: 'f32', shape: [1], data_offsets: [0, 4] } }, 4)),
      /unknown dtype "f32"/,
    );
    throwsST(
      () =>
        parseSafetensors(
          rawFile({ x: { dtype: 'toString', shape: [1], data_offsets: [0, 4] } }, 4),
        ),
      /unknown dtype "toString"/,
    );
  });

  test('dtype of the format that nabla does not read', () => {
    throwsST(
      () =>
        parseSafetensors(rawFile({ x: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1)),
      /dtype F8_E4M3 is not supported/,
    );
  });

  test('shape not an array of non-negative integers', () => {
    const entry = (shape: unknown) =>
      rawFile({ x: { dtype: 'F32', shape, data_offsets: [0, 4] } }, 4);
    throwsST(
      () => parseSafetensors(entry(4)),
      /"shape" must be an array of integers, got number 4/,
    );
    throwsST(
      () => parseSafetensors(entry([-1])),
      /shape\[0\] must be a non-negative integer, got number -1/,
    );
    throwsST(
      () => parseSafetensors(entry([1, 1.5])),
      /shape\[1\] must be a non-negative integer, got number 1.5/,
    );
    throwsST(
      () => parseSafetensors(entry(['1'])),
      /shape\[0\] must be a non-negative integer, got the string "1"/,
    );
    throwsST(() => parseSafetensors(entry([2 ** 60])), /shape\[0\] must be a non-negative integer/);
  });

  test('data_offsets not two non-negative integers, or begin > end', () => {
    const entry = (data_offsets: unknown) =>
      rawFile({ x: { dtype: 'F32', shape: [1], data_offsets } }, 4);
    throwsST(
      () => parseSafetensors(entry([0])),
      /"data_offsets" must be an array \[begin, end\], got an array of length 1/,
    );
    throwsST(() => parseSafetensors(entry({ 0: 0, 1: 4 })), /"data_offsets" must be an array/);
    throwsST(
      () => parseSafetensors(entry([0, '4'])),
      /data_offsets\[1\] must be a non-negative integer/,
    );
    throwsST(
      () => parseSafetensors(entry([-4, 0])),
      /data_offsets\[0\] must be a non-negative integer/,
    );
    throwsST(
      () => parseSafetensors(entry([0, 4.5])),
      /data_offsets\[1\] must be a non-negative integer/,
    );
    throwsST(() => parseSafetensors(entry([4, 0])), /data_offsets \[4, 0\] has begin > end/);
  });

  test('shape/size mismatch', () => {
    throwsST(
      () => parseSafetensors(rawFile({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8)),
      /tensor "x": shape \[3\] of F32 needs 3 x 4 = 12 bytes, but data_offsets \[0, 8\] hold 8/,
    );
    // A huge claimed shape is rejected without allocating anything.
    throwsST(
      () =>
        parseSafetensors(
          rawFile({ x: { dtype: 'F64', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, 8),
        ),
      /needs .* bytes, but data_offsets \[0, 8\] hold 8/,
    );
  });

  test('overlapping tensors', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    throwsST(
      () => parseSafetensors(rawFile(header, 12)),
      /tensors "a" \(bytes \[0, 8\)\) and "b" \(bytes \[4, 12\)\) overlap/,
    );
    const same = { a: good.x, b: good.x };
    throwsST(() => parseSafetensors(rawFile(same, 8)), /overlap/);
  });

  test('a hole in the data section', () => {
    const header = {
      a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
    };
    throwsST(
      () => parseSafetensors(rawFile(header, 12)),
      /bytes \[4, 8\) of the data section belong to no tensor \(a hole before "b"\)/,
    );
    throwsST(
      () => parseSafetensors(rawFile({ b: header.b }, 12)),
      /bytes \[0, 8\).*hole before "b"/,
    );
  });

  test('trailing bytes after the last tensor', () => {
    throwsST(
      () => parseSafetensors(rawFile(good, 9)),
      /bytes \[8, 9\) at the end of the data section belong to no tensor/,
    );
    throwsST(() => parseSafetensors(rawFile({}, 1)), /bytes \[0, 1\) at the end/);
  });

  test('__metadata__ not a string map', () => {
    throwsST(
      () => parseSafetensors(rawFile({ __metadata__: [] }, 0)),
      /"__metadata__" must be an object of strings, got an array/,
    );
    throwsST(
      () => parseSafetensors(rawFile({ __metadata__: { a: 'b', n: 1 } }, 0)),
      /"__metadata__" values must be strings, but "n" is number 1/,
    );
    throwsST(
      () => parseSafetensors(rawFile({ __metadata__: { a: { b: 'c' } } }, 0)),
      /but "a" is an object/,
    );
    // The reference reads null as "no metadata".
    assert.deepEqual(parseSafetensors(rawFile({ __metadata__: null }, 0)).metadata, {});
  });

  test('I64 (and U64, U32) values outside int32 range', () => {
    const i64 = (values: bigint[]) =>
      rawFile(
        { big: { dtype: 'I64', shape: [values.length], data_offsets: [0, 8 * values.length] } },
        bytesOf('i64', values),
      );
    throwsST(
      () => parseSafetensors(i64([1n, 2n ** 40n])),
      /tensor "big" \(I64\) holds 1099511627776 at flat index 1, outside the int32 range/,
    );
    throwsST(() => parseSafetensors(i64([2n ** 31n])), /holds 2147483648 at flat index 0/);
    throwsST(() => parseSafetensors(i64([-(2n ** 31n) - 1n])), /holds -2147483649 at flat index 0/);
    throwsST(() => parseSafetensors(i64([-(2n ** 63n)])), /holds -9223372036854775808/);
    throwsST(
      () =>
        parseSafetensors(
          rawFile(
            { u: { dtype: 'U64', shape: [1], data_offsets: [0, 8] } },
            bytesOf('u64', [2n ** 64n - 1n]),
          ),
        ),
      /"u" \(U64\) holds 18446744073709551615/,
    );
    throwsST(
      () =>
        parseSafetensors(
          rawFile(
            { u: { dtype: 'U32', shape: [1], data_offsets: [0, 4] } },
            bytesOf('u32', [2 ** 31]),
          ),
        ),
      /"u" \(U32\) holds 2147483648/,
    );
  });

  test('not bytes at all', () => {
    throwsST(
      () => parseSafetensors('abc' as unknown as Uint8Array),
      /expected the file's bytes as a Uint8Array, got string/,
    );
  });
});

// ---- Property-based ----------------------------------------------------------------------------

type Spec = { dtype: nb.DType; shape: number[]; values: number[] };

const specArb: fc.Arbitrary<Spec> = fc
  .tuple(
    fc.constantFrom<nb.DType>('float32', 'float64', 'int32', 'bool'),
    fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
  )
  .chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const value: fc.Arbitrary<number> =
      dtype === 'float32'
        ? fc.float()
        : dtype === 'float64'
          ? fc.double()
          : dtype === 'int32'
            ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
            : fc.boolean().map(Number);
    return fc
      .array(value, { minLength: n, maxLength: n })
      .map((values) => ({ dtype, shape, values }));
  });

const nameArb = fc.string({ unit: 'binary', maxLength: 8 }).filter((s) => s !== '__metadata__');

function build(spec: Spec): nb.Tensor {
  const arrays = {
    float32: Float32Array,
    float64: Float64Array,
    int32: Int32Array,
    bool: Uint8Array,
  };
  return nb.tensor(new arrays[spec.dtype](spec.values), { shape: spec.shape });
}

/** Parses; any exception other than a SafetensorsError fails the property. */
function parsesOrRejects(bytes: Uint8Array): void {
  try {
    const { tensors } = parseSafetensors(bytes, { maxHeaderBytes: 1 << 16 });
    for (const t of Object.values(tensors)) assert.equal(t.dataSync().length, t.size);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
  }
}

describe('safetensors properties', () => {
  test('random valid tensor dicts round-trip exactly', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(nameArb, specArb), { selector: ([k]) => k, maxLength: 6 }),
        fc.uniqueArray(fc.tuple(nameArb, fc.string({ unit: 'binary', maxLength: 8 })), {
          selector: ([k]) => k,
          maxLength: 3,
        }),
        (entries, meta) => {
          const tensors = record(entries.map(([k, s]) => [k, build(s)]));
          const metadata = record(meta);
          const { tensors: back, metadata: backMeta } = parseSafetensors(
            serializeSafetensors(tensors, metadata),
          );
          assert.deepEqual(Object.keys(back).sort(), Object.keys(tensors).sort());
          for (const [k, t] of entries) assertSameTensor(back[k], build(t), k);
          assert.deepEqual(backMeta, metadata);
        },
      ),
      { numRuns: 300 },
    );
  });

  const base = serializeSafetensors(
    {
      w: f32([2, 3], [1, -2, 3.5, NaN, 0, -0]),
      b: nb.tensor(new Float64Array([1e-300, 2])),
      i: nb.tensor(new Int32Array([5, -6, 7])),
      m: nb.tensor([true, false]),
      s: nb.scalar(2),
      e: nb.zeros([0, 2]),
    },
    { format: 'pt' },
  );
  const fixture = readFileSync(join(FIXTURES, 'dtypes.safetensors'));
  const files = [base, new Uint8Array(fixture.buffer, fixture.byteOffset, fixture.byteLength)];

  test('byte mutations of valid files parse or throw SafetensorsError', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: files.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
        (which, edits) => {
          const bytes = files[which]!.slice();
          for (const [pos, byte] of edits) bytes[pos % bytes.length] = byte;
          parsesOrRejects(bytes);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('mutations aimed at the header (ASCII swaps, length prefix) parse or reject', () => {
    const chars = fc.constantFrom(
      ...'{}[]",:0123456789-.eE ntrufalsF3IBO_'.split('').map((c) => c.charCodeAt(0)),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: files.length - 1 }),
        fc.array(fc.tuple(fc.nat(), chars), { minLength: 1, maxLength: 4 }),
        fc.option(fc.integer({ min: 0, max: 2000 })),
        (which, edits, length) => {
          const bytes = files[which]!.slice();
          const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
          for (const [pos, c] of edits) bytes[8 + (pos % n)] = c;
          if (length !== null) new DataView(bytes.buffer).setUint32(0, length, true);
          parsesOrRejects(bytes);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('truncations and extensions parse or reject', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: files.length - 1 }),
        fc.nat(),
        fc.uint8Array({ maxLength: 16 }),
        (which, cut, extra) => {
          const f = files[which]!;
          const bytes = new Uint8Array((cut % (f.length + 1)) + extra.length);
          bytes.set(f.subarray(0, cut % (f.length + 1)));
          bytes.set(extra, cut % (f.length + 1));
          parsesOrRejects(bytes);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('arbitrary bytes parse or reject', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, fixLength) => {
        if (fixLength && bytes.length >= 8) {
          // A plausible length, so the JSON stage sees the garbage.
          new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(
            0,
            BigInt(bytes.length - 8),
            true,
          );
        }
        parsesOrRejects(bytes);
      }),
      { numRuns: 500 },
    );
  });

  test('random JSON headers parse or reject', () => {
    const num = fc.oneof(
      fc.nat(24),
      fc.integer(),
      fc.double(),
      fc.constant(2 ** 53),
      fc.string({ maxLength: 2 }),
    );
    const entry = fc.record(
      {
        dtype: fc.oneof(
          fc.constantFrom('F32', 'F64', 'F16', 'BF16', 'I64', 'I32', 'U8', 'BOOL', 'F8_E5M2', 'X'),
          fc.jsonValue(),
        ),
        shape: fc.oneof(fc.array(num, { maxLength: 3 }), fc.jsonValue()),
        data_offsets: fc.oneof(
          fc.array(num, { minLength: 2, maxLength: 2 }),
          fc.array(num, { maxLength: 3 }),
          fc.jsonValue(),
        ),
      },
      { requiredKeys: [] },
    );
    const headerArb = fc.dictionary(
      fc.oneof(fc.string({ maxLength: 4 }), fc.constant('__metadata__')),
      fc.oneof(
        entry,
        entry,
        fc.jsonValue({ maxDepth: 2 }),
        fc.dictionary(fc.string(), fc.string()),
      ),
      { maxKeys: 4 },
    );
    fc.assert(
      fc.property(headerArb, fc.uint8Array({ maxLength: 48 }), (header, data) => {
        parsesOrRejects(rawFile(header, data));
      }),
      { numRuns: 500 },
    );
  });
});

// ---- Files from PyTorch ------------------------------------------------------------------------

type Expected = Record<
  string,
  {
    metadata: Record<string, string>;
    tensors: Record<
      string,
      { dtype: nb.DType; shape: number[]; values: (number | boolean | string)[] }
    >;
    error?: string;
    forward?: { input: number[][]; output: number[][] };
  }
>;

/** JSON values as written by gen_safetensors.py (non-finite floats as strings, bools as bools). */
function decodeValue(v: number | boolean | string): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') return v === 'nan' ? NaN : v === 'inf' ? Infinity : -Infinity;
  return v;
}

function headerOrder(bytes: Uint8Array): string[] {
  return Object.keys(JSON.parse(headerText(bytes)) as object).filter((k) => k !== '__metadata__');
}

describe('safetensors files written by PyTorch', () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Expected;

  for (const [file, want] of Object.entries(expected)) {
    test(`reads ${file}`, async () => {
      const path = join(FIXTURES, file);
      if (want.error !== undefined) {
        await assert.rejects(readSafetensorsFile(path), (e: unknown) => {
          assert.ok(e instanceof SafetensorsError);
          assert.match(e.message, new RegExp(want.error!));
          return true;
        });
        return;
      }
      const { tensors, metadata } = await readSafetensorsFile(path);
      assert.deepEqual(metadata, want.metadata);
      assert.deepEqual(Object.keys(tensors), headerOrder(readFileSync(path)));
      assert.deepEqual(Object.keys(tensors).sort(), Object.keys(want.tensors).sort());
      for (const [name, w] of Object.entries(want.tensors)) {
        const t = tensors[name]!;
        assert.equal(t.dtype, w.dtype, name);
        assert.deepEqual(t.shape, w.shape, name);
        assert.deepEqual(Array.from(t.dataSync()), w.values.map(decodeValue), name);
      }
    });
  }

  test('loads the nn.Linear(3, 2) state dict into nb.nn.Linear and matches its output', async () => {
    const want = expected['linear.safetensors']!;
    const model = new Linear(3, 2);
    model.loadStateDict(await loadSafetensorsFile(join(FIXTURES, 'linear.safetensors')));
    const out = model.forward(nb.tensor(want.forward!.input)).toArray() as number[][];
    want.forward!.output.forEach((row, i) =>
      row.forEach((v, j) => assert.ok(Math.abs(out[i]![j]! - v) < 1e-6, `output[${i}][${j}]`)),
    );
  });
});

// ---- The Node adapter --------------------------------------------------------------------------

describe('nabla/node safetensors files', () => {
  test('save then load; no temporary file left; overwrites atomically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nabla-st-'));
    try {
      const path = join(dir, 'model.safetensors');
      await saveSafetensorsFile(path, { w: f32([2], [1, 2]) }, { format: 'pt' });
      await saveSafetensorsFile(path, { w: f32([2], [3, 4]), b: nb.scalar(5) }, { v: '2' });
      assert.deepEqual(readdirSync(dir), ['model.safetensors']);
      const { tensors, metadata } = await readSafetensorsFile(path);
      assert.deepEqual(metadata, { v: '2' });
      assert.deepEqual(Array.from(tensors.w!.dataSync()), [3, 4]);
      assert.equal((await loadSafetensorsFile(path)).b!.item(), 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a failed save leaves the previous file intact and no temporary file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nabla-st-'));
    try {
      const path = join(dir, 'model.safetensors');
      await saveSafetensorsFile(path, { w: f32([1], [1]) });
      const before = readFileSync(path);
      await assert.rejects(
        saveSafetensorsFile(path, { w: 'nope' as unknown as nb.Tensor }),
        SafetensorsError,
      );
      await assert.rejects(saveSafetensorsFile(join(dir, 'missing', 'x.safetensors'), {}));
      assert.deepEqual(readdirSync(dir), ['model.safetensors']);
      assert.deepEqual(readFileSync(path), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a malformed file rejects with SafetensorsError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nabla-st-'));
    try {
      const path = join(dir, 'bad.safetensors');
      writeFileSync(path, new Uint8Array([1, 2, 3]));
      await assert.rejects(loadSafetensorsFile(path), SafetensorsError);
      assert.ok(existsSync(path));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- Read back by PyTorch ----------------------------------------------------------------------

const PYTHON = process.env.PYTHON ?? 'python3';
const pythonReady = spawnSync(PYTHON, ['-c', 'import torch, safetensors'], { encoding: 'utf8' });
const skipPython =
  pythonReady.status === 0
    ? false
    : `needs ${PYTHON} with torch and safetensors (pip install torch safetensors): ${
        pythonReady.error?.message ?? pythonReady.stderr.trim().split('\n').pop()
      }`;

const READ_WITH_TORCH = `
import json, math, sys
from safetensors import safe_open
from safetensors.torch import load_file
path = sys.argv[1]
tensors = load_file(path)
with safe_open(path, framework="pt") as f:
    metadata = f.metadata()
def enc(v):
    if isinstance(v, bool): return int(v)
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v
print(json.dumps({"metadata": metadata or {}, "tensors": {k: {
    "dtype": str(t.dtype), "shape": list(t.shape), "values": [enc(v) for v in t.reshape(-1).tolist()]
} for k, t in tensors.items()}}))
`;

describe('safetensors read back by PyTorch', () => {
  test('safetensors.torch.load_file reads what nabla writes', { skip: skipPython }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nabla-st-'));
    try {
      const tensors = {
        'layer.weight': f32([2, 3], [0.1, -0, 3.5, Infinity, NaN, -1e-40]),
        'layer.bias': nb.tensor(new Float64Array([1e-300, -2])),
        idx: nb.tensor(new Int32Array([2147483647, -2147483648, 0]), { shape: [3, 1] }),
        mask: nb.tensor([[true], [false]]),
        scalar: nb.scalar(7.5),
        empty: nb.zeros([0, 3]),
        odd: f32([1], [9]),
      };
      const metadata = { format: 'pt', note: 'ünïcode ✓' };
      const path = join(dir, 'from-nabla.safetensors');
      await saveSafetensorsFile(path, tensors, metadata);
      const run = spawnSync(PYTHON, ['-c', READ_WITH_TORCH, path], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      const got = JSON.parse(run.stdout) as {
        metadata: Record<string, string>;
        tensors: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }>;
      };
      assert.deepEqual(got.metadata, metadata);
      const torchDtype = {
        float32: 'torch.float32',
        float64: 'torch.float64',
        int32: 'torch.int32',
        bool: 'torch.bool',
      };
      assert.deepEqual(Object.keys(got.tensors).sort(), Object.keys(tensors).sort());
      for (const [name, t] of Object.entries(tensors)) {
        const g = got.tensors[name]!;
        assert.equal(g.dtype, torchDtype[t.dtype], name);
        assert.deepEqual(g.shape, t.shape, name);
        assert.deepEqual(g.values.map(decodeValue), Array.from(t.dataSync()), name);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
