/**
 * `nabla` as Node resolves it (the "node" condition of package.json's exports): the same API as
 * the browser entry (./index.js), plus the native backend registered and made the default when its
 * addon is built (see src/backend/native). Set NABLA_BACKEND=ref to keep the reference backend.
 */
import { installNativeBackend } from './backend/native/index.js';

export * from './index.js';

installNativeBackend();
