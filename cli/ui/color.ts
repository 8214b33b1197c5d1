/**
 * ANSI colours for human output: on only on an interactive terminal, never
 * with `NO_COLOR` set (https://no-color.org) or under `--json`;
 * `FORCE_COLOR=1` turns them on anywhere.
 */
import type { CliContext } from '../context.js';

export interface Colors {
  enabled: boolean;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export function colorEnabled(ctx: Pick<CliContext, 'isTTY' | 'env' | 'json'>): boolean {
  if (ctx.json) return false;
  const no = ctx.env.NO_COLOR;
  if (no !== undefined && no !== '') return false;
  const force = ctx.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  if (ctx.env.TERM === 'dumb') return false;
  return ctx.isTTY;
}

function wrap(enabled: boolean, open: number, close: number): (text: string) => string {
  return enabled ? (text) => `\u001b[${open}m${text}\u001b[${close}m` : (text) => text;
}

export function colors(enabled: boolean): Colors {
  return {
    enabled,
    red: wrap(enabled, 31, 39),
    green: wrap(enabled, 32, 39),
    yellow: wrap(enabled, 33, 39),
    cyan: wrap(enabled, 36, 39),
    dim: wrap(enabled, 2, 22),
    bold: wrap(enabled, 1, 22),
  };
}

export function colorsFor(ctx: Pick<CliContext, 'isTTY' | 'env' | 'json'>): Colors {
  return colors(colorEnabled(ctx));
}
