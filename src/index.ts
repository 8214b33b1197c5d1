/**
 * `ablo`: the runtime entry point. Loads no engine, SQLite, ink or React.
 */
export * from './errors.js';
