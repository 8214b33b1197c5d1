/**
 * Line prompts for interactive terminals (readline, no dependency). Only
 * called when `ctx.isTTY`; every caller has a non-interactive path.
 *
 * End of input (Ctrl-D) answers "no" / the default; Ctrl-C cancels the
 * command (exit 1, nothing changed).
 */
import { createInterface } from 'node:readline';
import { CliError } from '../errors.js';

export interface PromptIO {
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

function cancelled(): CliError {
  return new CliError('cancelled; nothing was changed', { code: 'prompt_cancelled', fix: 'Run the command again when you are ready.' });
}

/** Ask one question; resolves with the answer (trimmed), or null at end of input. */
export function ask(question: string, io: PromptIO = {}): Promise<string | null> {
  const input = io.input ?? process.stdin;
  const output = io.output ?? process.stdout;
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input, output, terminal: (output as { isTTY?: boolean }).isTTY === true });
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      rl.close();
      // Let the process exit after the prompt (readline leaves stdin flowing).
      (input as NodeJS.ReadStream).pause?.();
      fn();
    };
    rl.on('SIGINT', () => {
      output.write('\n');
      finish(() => reject(cancelled()));
    });
    rl.on('close', () => finish(() => resolve(null)));
    rl.question(question, (answer) => finish(() => resolve(answer.trim())));
  });
}

/** y/N question. `defaultYes` decides an empty answer. */
export async function confirm(question: string, defaultYes = false, io: PromptIO = {}): Promise<boolean> {
  const hint = defaultYes ? '[Y/n]' : '[y/N]';
  for (;;) {
    const answer = await ask(`${question} ${hint} `, io);
    if (answer === null) return false;
    if (answer === '') return defaultYes;
    if (/^y(es)?$/i.test(answer)) return true;
    if (/^no?$/i.test(answer)) return false;
    (io.output ?? process.stdout).write('Please answer y or n.\n');
  }
}

export interface Choice<T> {
  value: T;
  label: string;
  hint?: string;
}

/** Numbered choice; the answer may be the number or the label. */
export async function choose<T>(question: string, choices: Array<Choice<T>>, defaultIndex = 0, io: PromptIO = {}): Promise<T> {
  const output = io.output ?? process.stdout;
  const width = Math.max(...choices.map((c) => c.label.length));
  output.write(`${question}\n`);
  choices.forEach((c, i) => output.write(`  ${i + 1}) ${c.label.padEnd(width)}${c.hint ? `  ${c.hint}` : ''}\n`));
  for (;;) {
    const answer = await ask(`Choose 1-${choices.length} [${defaultIndex + 1}]: `, io);
    if (answer === null) throw cancelled();
    if (answer === '') return choices[defaultIndex]!.value;
    const n = Number(answer);
    if (Number.isInteger(n) && n >= 1 && n <= choices.length) return choices[n - 1]!.value;
    const byLabel = choices.find((c) => c.label.toLowerCase() === answer.toLowerCase());
    if (byLabel) return byLabel.value;
    output.write(`Please answer a number from 1 to ${choices.length}.\n`);
  }
}

/** Questions can be asked: output goes to a terminal and answers come from one (not under --json). */
export function canPrompt(ctx: { isTTY: boolean }, input: { isTTY?: boolean } = process.stdin): boolean {
  return ctx.isTTY && input.isTTY === true;
}
