// tollgate-sdk in Node: the same API as index.js, with the WebAssembly module loaded from disk
// synchronously at import (Node's fetch cannot read file: URLs).
import { readFileSync } from 'node:fs';
import { initializeSync } from './index.js';

initializeSync(readFileSync(new URL('./pkg/tollgate_sdk_wasm_bg.wasm', import.meta.url)));

export * from './index.js';
