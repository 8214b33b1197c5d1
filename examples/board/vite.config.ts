/**
 * Vite config of the board example. `ablo` resolves to this repository's
 * built package (dist/, `npm run build`), as it would from node_modules in
 * your own app.
 */
import { defineConfig } from 'vite';
import { boardViteConfig } from './build.js';

export default defineConfig(boardViteConfig());
