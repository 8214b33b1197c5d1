/**
 * The TypeScript code blocks of README.md and docs/*.md, as the docs test
 * checks them.
 *
 * A block is a fence whose info string starts with `ts` or `tsx`; words after
 * the language are flags:
 *
 *   ```ts              type-checked as a module of a fresh `ablo init --template agents` project
 *   ```ts runnable     type-checked, then run against `ablo dev` in that project
 *   ```ts fragment     not a module on its own (e.g. one model of a schema): not checked
 *   ```text output     (right after a runnable block) what it prints; `…` matches any text within a line
 *
 * A block whose first line is `// <name>.ts — …` is written to the project as
 * that file, so other blocks can import it (`import { ablo } from './client.js'`);
 * other blocks get a generated name. `// ablo.schema.ts` is the exception: the
 * project already has that file, so such a block is compiled under its own name.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DocBlock {
  /** `README.md`, `docs/sdk.md`, … */
  page: string;
  /** The nearest heading above the block. */
  heading: string;
  /** `page § heading`, with ` (2)`, ` (3)` … for further blocks under the same heading. */
  id: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: 'ts' | 'tsx';
  runnable: boolean;
  fragment: boolean;
  code: string;
  /** The file the block becomes in the project. */
  file: string;
  /** The `text output` block that follows it, if any. */
  output?: string;
  /** The file name the block declares on its first line, if any. */
  declaredName?: string;
}

const FENCE = /^```(\S*)(.*)$/;
const NAMED = /^\/\/ ([\w.-]+\.tsx?)(?:\s|$)/;

/** README.md first, then docs/*.md in name order. */
export function docPages(repo: string): string[] {
  const docs = readdirSync(join(repo, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

export function extractBlocks(repo: string, page: string): DocBlock[] {
  const lines = readFileSync(join(repo, page), 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  const perHeading = new Map<string, number>();
  let heading = '(top)';
  let last: DocBlock | undefined;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    if (/^#{1,6} /.test(text)) {
      heading = text.replace(/^#+ /, '').trim();
      continue;
    }
    const open = FENCE.exec(text);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    const lang = open[1]!;
    const flags = open[2]!.trim().split(/\s+/).filter(Boolean);
    const code = `${body.join('\n')}\n`;
    if (lang === 'text' && flags.includes('output')) {
      if (!last || !last.runnable || last.output !== undefined) {
        throw new Error(`${page}:${start + 1}: a \`text output\` block must follow a runnable ts block`);
      }
      last.output = code;
      continue;
    }
    if (lang !== 'ts' && lang !== 'tsx') {
      last = undefined;
      continue;
    }
    for (const flag of flags) {
      if (flag !== 'runnable' && flag !== 'fragment') throw new Error(`${page}:${start + 1}: unknown flag "${flag}" on a ${lang} block`);
    }
    const n = (perHeading.get(heading) ?? 0) + 1;
    perHeading.set(heading, n);
    const slug = page.replace(/^docs\//, '').replace(/\.md$/, '').toLowerCase().replace(/[^a-z0-9]+/g, '_');
    const named = NAMED.exec(body[0] ?? '')?.[1];
    const declaredName = named && named !== 'ablo.schema.ts' ? named : undefined;
    const block: DocBlock = {
      page,
      heading,
      id: `${page} § ${heading}${n > 1 ? ` (${n})` : ''}`,
      line: start + 1,
      lang,
      runnable: flags.includes('runnable'),
      fragment: flags.includes('fragment'),
      code,
      file: declaredName ?? `doc_${slug}_${String(blocks.length + 1).padStart(2, '0')}.${lang}`,
      ...(declaredName ? { declaredName } : {}),
    };
    if (block.runnable && block.fragment) throw new Error(`${block.id}: a block cannot be both runnable and a fragment`);
    blocks.push(block);
    last = block;
  }
  return blocks;
}

/** Does `actual` match `expected`, line by line, where `…` in `expected` matches any text within a line? */
export function outputMatches(expected: string, actual: string): boolean {
  const want = expected.replace(/\n+$/, '').split('\n');
  const got = actual.replace(/\n+$/, '').split('\n');
  if (want.length !== got.length) return false;
  return want.every((line, i) => {
    const pattern = line
      .split('…')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*?');
    return new RegExp(`^${pattern}$`).test(got[i]!);
  });
}
