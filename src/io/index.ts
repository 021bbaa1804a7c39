/**
 * Reading and writing tensors: `nb.io`. Pure (bytes in, bytes out) so that it runs in browsers;
 * the Node file helpers are the separate entry point `nabla/node` (src/io/node/files.ts).
 */
export {
  parseSafetensors,
  loadSafetensors,
  serializeSafetensors,
  SafetensorsError,
  DEFAULT_MAX_HEADER_BYTES,
  type ParseSafetensorsOptions,
  type SafetensorsContents,
} from './safetensors.js';
