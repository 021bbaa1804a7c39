/// <reference types="node" />
/**
 * The Node-only entry point, `nabla/node`: file helpers (safetensors, checkpoints, UTF-8 text) and
 * the native backend's controls. Importing it (or `nabla` itself, in Node) registers the native backend and makes it the
 * default when its addon is built; `NABLA_BACKEND=ref` keeps the reference backend.
 *
 * @example
 * import * as nb from 'nabla';
 * import { setNumThreads, nativeBackendInfo } from 'nabla/node';
 * setNumThreads(2);
 * console.log(nb.getBackend().name, nativeBackendInfo().gemmKernel); // 'native' 'avx2'
 */
import { installNativeBackend } from './backend/native/index.js';

export * from './io/node/files.js';
export * from './io/node/checkpoint.js';
export { readTextFile } from './io/node/text.js';
export {
  nativeBackend,
  nativeBackendInfo,
  useNativeBackend,
  setNumThreads,
  getNumThreads,
  NativeBackendError,
  type NativeBackendInfo,
} from './backend/native/index.js';

installNativeBackend();
