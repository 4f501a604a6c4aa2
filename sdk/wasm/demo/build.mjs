// Builds the demo into demo/dist with esbuild: one ES module bundle (the page, tollgate-sdk's
// glue and @tonconnect/ui), the page, the TON Connect manifest and the package's wasm.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';

const here = new URL('.', import.meta.url);
const dist = new URL('./dist/', here);
mkdirSync(dist, { recursive: true });
await build({
    entryPoints: [new URL('./main.js', here).pathname, new URL('./bench.js', here).pathname],
    bundle: true,
    format: 'esm',
    minify: true,
    target: 'es2022',
    outdir: dist.pathname,
    logLevel: 'warning',
});
copyFileSync(new URL('./index.html', here), new URL('./index.html', dist));
copyFileSync(new URL('./tonconnect-manifest.json', here), new URL('./tonconnect-manifest.json', dist));
copyFileSync(new URL('../pkg/tollgate_sdk_wasm_bg.wasm', here), new URL('./tollgate_sdk_wasm_bg.wasm', dist));
