/**
 * Zeroing blocks of a shared wasm memory fast. V8's TypedArray `fill` on a shared buffer goes
 * element by element (measured ~10× slower than on a plain array), while WebAssembly's
 * `memory.fill` is a memset. The kernels' modules do not export one (wasm/assembly/), so this is a
 * module of its own, written out by hand: 66 bytes, compiled synchronously even where larger
 * modules may not be.
 */

/** (module (import "env" "memory" (memory 1 65536 shared)) (func (export "fill") ...)). */
const MEMSET_WASM = new Uint8Array([
  // "\0asm", version 1
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // type section: one type, (i32 i32 i32) -> ()
  0x01, 0x07, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00,
  // import section: env.memory, a shared memory of 1 to 65536 pages
  0x02, 0x12, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x03,
  0x01, 0x80, 0x80, 0x04,
  // function section: one function of type 0
  0x03, 0x02, 0x01, 0x00,
  // export section: "fill", function 0
  0x07, 0x08, 0x01, 0x04, 0x66, 0x69, 0x6c, 0x6c, 0x00, 0x00,
  // code section: local.get 0, local.get 1, local.get 2, memory.fill, end
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfc, 0x0b, 0x00, 0x0b,
]);

// The part of the WebAssembly JS API used here (not in the ES lib; the DOM lib is not loaded).
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
declare const WebAssembly: WasmApi;

/** fill(ptr, 0, bytes) over `memory` (a shared WebAssembly.Memory); null if it cannot be made. */
export function memsetOver(
  memory: unknown,
): ((ptr: number, value: number, bytes: number) => void) | null {
  try {
    const module = new WebAssembly.Module(MEMSET_WASM);
    const e = new WebAssembly.Instance(module, { env: { memory } }).exports as {
      fill: (ptr: number, value: number, bytes: number) => void;
    };
    return e.fill;
  } catch {
    return null;
  }
}
