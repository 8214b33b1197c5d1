/** The package version (shared with the engine). */
export { packageVersion } from '../src/version.js';
