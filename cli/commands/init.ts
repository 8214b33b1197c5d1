/**
 * `ablo init`: scaffold ablo into the current project.
 *
 *   ablo.schema.ts     the schema (from templates/<template>/)
 *   agent.ts           an example script / agent (from templates/<template>/)
 *   ablo.config.json   { schema, dev: { port, db } }
 *   .env.local         ABLO_URL and ABLO_API_KEY (a new sk_test_ key, made here;
 *                      `ablo dev` registers it with the engine on start); mode 0600
 *   package.json       scripts ablo:dev, ablo:push, agent (created when missing,
 *                      as an ES module package)
 *   tsconfig.json      when there is none: Node ESM settings the templates compile under
 *   .gitignore         .ablo/, .env.local and ablo-data/ listed
 *
 * In an existing CommonJS package (package.json without "type": "module"),
 * the package is never switched to ESM: the schema and the agent are written
 * as `ablo.schema.mts` and `agent.mts` (ES modules by their extension) and
 * the `agent` script runs `agent.mts`. An existing `ablo.schema.ts` (or the
 * file `ablo.config.json` names) is kept and used.
 *
 * Never replaces an existing file without a yes on a terminal; off a terminal
 * it keeps the file and says so. Existing `.env.local`, `package.json` and
 * `.gitignore` only get what is missing added (a key, a script, a line); their
 * other content is kept as is. Running it twice changes nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateApiKey } from '../../src/engine/apiKeys.js';
import { CONFIG_FILE, DEFAULT_DEV_DB, DEFAULT_PORT, KEY_VAR, URL_VAR, parseDotenv, resolveConfig, setDotenvValues } from '../config.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../fs.js';
import { colorsFor } from '../ui/color.js';
import { canPrompt, choose, confirm } from '../ui/prompt.js';

export const TEMPLATES = {
  basic: 'projects and tasks; a script that creates and lists rows',
  agents: 'a task board; an agent that claims a task, works on it and updates it',
} as const;
export type TemplateName = keyof typeof TEMPLATES;

export const AGENT_FILE = 'agent.ts';
/** The agent file and the default schema file in a CommonJS package (ES modules by extension). */
export const AGENT_FILE_CJS = 'agent.mts';
export const SCHEMA_FILE_CJS = 'ablo.schema.mts';

/** The package.json scripts init adds, for the agent file it wrote. */
export function scriptsFor(agentFile: string): Record<string, string> {
  return {
    'ablo:dev': 'ablo dev',
    'ablo:push': 'ablo push',
    agent: `node --env-file=.env.local --import jiti/register ${agentFile}`,
  };
}

/** The import specifier the templates use for the schema; init points it at the schema file it uses. */
const TEMPLATE_SCHEMA_IMPORT = "'./ablo.schema.js'";

/**
 * `tsconfig.json` for a project that has none: Node's ES modules (`nodenext`,
 * so relative imports carry their `.js` extension), strict, type-check only
 * (scripts run through jiti). `dom` provides `console` and timers when
 * `@types/node` is not installed (when it is, it is picked up automatically).
 */
export const TSCONFIG_TEXT = `${JSON.stringify(
  {
    compilerOptions: {
      target: 'es2022',
      lib: ['es2023', 'esnext.disposable', 'dom'],
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      skipLibCheck: true,
      noEmit: true,
    },
  },
  null,
  2,
)}\n`;

export type FileAction = 'created' | 'updated' | 'overwritten' | 'kept' | 'unchanged';

export interface InitFile {
  path: string;
  action: FileAction;
  /** What changed or why it was kept. */
  note?: string;
}

/** ablo's own directory (templates live in `<root>/templates`). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'ablo' && existsSync(join(dir, 'templates'))) return dir;
    } catch {
      // keep walking
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new CliError('cannot find the ablo templates next to the installed package', {
    code: 'templates_missing',
    fix: 'Reinstall ablo (`npm install ablo`); the package ships a templates/ directory.',
  });
}

function templateFile(template: TemplateName, name: string): string {
  return readFileSync(join(packageRoot(), 'templates', template, name), 'utf8');
}

export function configText(schemaFile: string): string {
  return `${JSON.stringify({ schema: schemaFile, dev: { port: DEFAULT_PORT, db: DEFAULT_DEV_DB } }, null, 2)}\n`;
}

export function envLocalText(key: string): string {
  return `# Local ablo settings for the CLI and your scripts (written by \`ablo init\`). Do not commit this file.\n${URL_VAR}=http://127.0.0.1:${DEFAULT_PORT}\n${KEY_VAR}=${key}\n`;
}

function detectIndent(text: string): string | number {
  const m = /^[{[]\r?\n([ \t]+)\S/.exec(text);
  return m ? m[1]! : 2;
}

function packageName(dir: string): string {
  const name = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+|-+$/g, '');
  return name || 'ablo-app';
}

interface Writer {
  ctx: CliContext;
  files: InitFile[];
  /** Replace an existing file with different content? */
  mayReplace(shown: string): Promise<boolean>;
}

async function writeNew(w: Writer, cwd: string, rel: string, content: string): Promise<void> {
  const abs = join(cwd, rel);
  if (existsSync(abs)) {
    const current = readFileSync(abs, 'utf8');
    if (current === content) {
      w.files.push({ path: rel, action: 'unchanged' });
      return;
    }
    if (!(await w.mayReplace(rel))) {
      w.files.push({ path: rel, action: 'kept', note: 'it exists; not overwritten' });
      return;
    }
    await writeFileAtomic(abs, content, rel);
    w.files.push({ path: rel, action: 'overwritten' });
    return;
  }
  await writeFileAtomic(abs, content, rel);
  w.files.push({ path: rel, action: 'created' });
}

/** `.env.local` holds the API key: only its owner may read it. */
const SECRET = { mode: 0o600 } as const;

async function writeEnvLocal(w: Writer, cwd: string): Promise<string | undefined> {
  const rel = '.env.local';
  const abs = join(cwd, rel);
  if (!existsSync(abs)) {
    const key = generateApiKey('test');
    await writeFileAtomic(abs, envLocalText(key), rel, SECRET);
    w.files.push({ path: rel, action: 'created', note: `${URL_VAR}, ${KEY_VAR}` });
    return key;
  }
  const text = readFileSync(abs, 'utf8');
  const values = parseDotenv(text);
  const missing: Record<string, string> = {};
  if (!values[URL_VAR]) missing[URL_VAR] = `http://127.0.0.1:${DEFAULT_PORT}`;
  if (!values[KEY_VAR]) missing[KEY_VAR] = generateApiKey('test');
  if (!Object.keys(missing).length) {
    w.files.push({ path: rel, action: 'unchanged', note: `has ${URL_VAR} and ${KEY_VAR}` });
    return values[KEY_VAR];
  }
  await writeFileAtomic(abs, setDotenvValues(text, missing), rel, SECRET);
  w.files.push({ path: rel, action: 'updated', note: `added ${Object.keys(missing).join(', ')}` });
  return missing[KEY_VAR] ?? values[KEY_VAR];
}

/** Is the project an existing CommonJS package (package.json without "type": "module")? */
export function isCommonJsPackage(cwd: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { type?: unknown } | null;
    return !!pkg && typeof pkg === 'object' && pkg.type !== 'module';
  } catch {
    return false; // none (init creates an ES module package) or unreadable (reported when it is updated)
  }
}

/** `./x.js` for `x.ts` (and `.mjs` for `.mts`, `.cjs` for `.cts`): how Node ESM code imports a TypeScript file. */
function importSpecifier(fromDir: string, file: string): string {
  let rel = relative(fromDir, file).split(sep).join('/');
  const ext = extname(rel);
  const mapped = ({ '.ts': '.js', '.mts': '.mjs', '.cts': '.cjs' } as Record<string, string>)[ext];
  if (mapped) rel = rel.slice(0, -ext.length) + mapped;
  return rel.startsWith('.') ? rel : `./${rel}`;
}

async function writePackageJson(w: Writer, cwd: string, scripts: Record<string, string>): Promise<{ hasAblo: boolean }> {
  const rel = 'package.json';
  const abs = join(cwd, rel);
  const version = (() => {
    try {
      return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'latest';
    }
  })();
  if (!existsSync(abs)) {
    const pkg = { name: packageName(cwd), private: true, type: 'module', scripts: { ...scripts }, dependencies: { ablo: `^${version}` } };
    await writeFileAtomic(abs, `${JSON.stringify(pkg, null, 2)}\n`, rel);
    w.files.push({ path: rel, action: 'created', note: `scripts ${Object.keys(scripts).join(', ')}; dependency ablo` });
    return { hasAblo: true };
  }
  const text = readFileSync(abs, 'utf8');
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`package.json is not valid JSON (${(err as Error).message})`, {
      code: 'package_json_invalid',
      fix: 'Fix package.json, then run `ablo init` again (nothing else was changed by this step).',
    });
  }
  if (!pkg || typeof pkg !== 'object' || Array.isArray(pkg)) {
    throw new CliError('package.json does not hold a JSON object', { code: 'package_json_invalid', fix: 'Fix package.json, then run `ablo init` again.' });
  }
  const deps = { ...(pkg.dependencies as object | undefined), ...(pkg.devDependencies as object | undefined) } as Record<string, unknown>;
  const hasAblo = 'ablo' in deps;
  const existing = (pkg.scripts && typeof pkg.scripts === 'object' ? pkg.scripts : {}) as Record<string, string>;
  const added: string[] = [];
  const clashes: string[] = [];
  for (const [name, cmd] of Object.entries(scripts)) {
    if (existing[name] === undefined) {
      existing[name] = cmd;
      added.push(name);
    } else if (existing[name] !== cmd) clashes.push(name);
  }
  const clashNote = clashes.length ? `kept your script${clashes.length > 1 ? 's' : ''} ${clashes.join(', ')}` : undefined;
  if (!added.length) {
    w.files.push({ path: rel, action: clashes.length ? 'kept' : 'unchanged', ...(clashNote ? { note: clashNote } : {}) });
    return { hasAblo };
  }
  pkg.scripts = existing;
  const trailing = text.endsWith('\n') ? '\n' : '';
  await writeFileAtomic(abs, JSON.stringify(pkg, null, detectIndent(text)) + trailing, rel);
  w.files.push({ path: rel, action: 'updated', note: `added script${added.length > 1 ? 's' : ''} ${added.join(', ')}${clashNote ? `; ${clashNote}` : ''}` });
  return { hasAblo };
}

/** What init lists in .gitignore: the dev database, the key, and `ablo data export`'s default directory. */
export type IgnoredEntry = '.ablo/' | '.env.local' | 'ablo-data/';

/** Is `entry` ignored by these .gitignore lines (roughly: an exact or common wildcard line)? */
function ignored(lines: string[], entry: IgnoredEntry): boolean {
  const set = new Set(lines.map((l) => l.trim().replace(/^\//, '')));
  if (entry === '.ablo/') return set.has('.ablo') || set.has('.ablo/') || set.has('.ablo/*');
  if (entry === 'ablo-data/') return set.has('ablo-data') || set.has('ablo-data/') || set.has('ablo-data/*');
  return ['.env.local', '.env*', '.env*.local', '*.local', '.env.*'].some((p) => set.has(p));
}

/**
 * Make sure `.gitignore` lists `wanted` (created with node_modules/ when there is none); lines that are
 * missing are appended, the rest of the file is kept. Also used by `ablo source add` for `.env.local`.
 */
export async function ensureGitignored(cwd: string, wanted: readonly IgnoredEntry[]): Promise<InitFile> {
  const rel = '.gitignore';
  const abs = join(cwd, rel);
  if (!existsSync(abs)) {
    await writeFileAtomic(abs, `node_modules/\n${wanted.join('\n')}\n`, rel);
    return { path: rel, action: 'created', note: wanted.join(', ') };
  }
  const text = readFileSync(abs, 'utf8');
  const missing = wanted.filter((e) => !ignored(text.split(/\r?\n/), e));
  if (!missing.length) return { path: rel, action: 'unchanged' };
  await writeFileAtomic(abs, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${missing.join('\n')}\n`, rel);
  return { path: rel, action: 'updated', note: `added ${missing.join(', ')}` };
}

async function writeGitignore(w: Writer, cwd: string): Promise<void> {
  w.files.push(await ensureGitignored(cwd, ['.ablo/', '.env.local', 'ablo-data/']));
}

export interface InitFlags {
  yes?: boolean;
  template?: string;
}

export async function run(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as InitFlags;
  const c = colorsFor(ctx);
  const names = Object.keys(TEMPLATES) as TemplateName[];
  let template: TemplateName;
  if (flags.template !== undefined) {
    if (!names.includes(flags.template as TemplateName)) {
      throw new UsageError(`unknown template ${JSON.stringify(flags.template)}`, { code: 'unknown_template', fix: `Use --template ${names.join(' or --template ')}.` });
    }
    template = flags.template as TemplateName;
  } else if (canPrompt(ctx) && !flags.yes) {
    template = await choose(
      'Which template?',
      names.map((n) => ({ value: n, label: n, hint: TEMPLATES[n] })),
      0,
    );
  } else {
    template = 'basic';
    if (!flags.yes) ctx.note(`No terminal to ask on: using the basic template (pass --template agents for the task board).`);
  }

  const config = resolveConfig({ cwd: ctx.cwd, env: ctx.env });
  const cwd = config.cwd;
  // A CommonJS package stays one: ablo's files are ES modules by their .mts extension.
  const cjs = isCommonJsPackage(cwd);
  const agentFile = cjs ? AGENT_FILE_CJS : AGENT_FILE;
  const schemaAbs =
    cjs && config.schema.source === 'default' && !config.file && !existsSync(config.schema.value) ? join(cwd, SCHEMA_FILE_CJS) : config.schema.value;
  const schemaRel = relative(cwd, schemaAbs) || 'ablo.schema.ts';
  const w: Writer = {
    ctx,
    files: [],
    mayReplace: async (shown) => (canPrompt(ctx) && !flags.yes ? confirm(`${shown} exists and differs from the template. Overwrite it?`, false) : false),
  };

  await writeNew(w, cwd, schemaRel, templateFile(template, 'ablo.schema.ts'));
  const agentText = templateFile(template, 'agent.ts');
  const schemaImport = /\.[cm]?[jt]s$/.test(schemaAbs) ? `'${importSpecifier(cwd, schemaAbs)}'` : TEMPLATE_SCHEMA_IMPORT;
  await writeNew(w, cwd, agentFile, agentText.replace(TEMPLATE_SCHEMA_IMPORT, schemaImport));
  if (config.file) w.files.push({ path: CONFIG_FILE, action: 'unchanged', note: 'it exists; kept as is' });
  else await writeNew(w, cwd, CONFIG_FILE, configText(schemaRel));
  await writeEnvLocal(w, cwd);
  const { hasAblo } = await writePackageJson(w, cwd, scriptsFor(agentFile));
  if (cjs) {
    const pkg = w.files.find((f) => f.path === 'package.json');
    const esm = [agentFile, ...(schemaRel.endsWith('.mts') ? [schemaRel] : [])];
    const note = `CommonJS package: "type" left as is; ${esm.join(' and ')} ${esm.length > 1 ? 'are ES modules' : 'is an ES module'} by extension`;
    if (pkg) pkg.note = pkg.note ? `${pkg.note}; ${note}` : note;
  }
  if (existsSync(join(cwd, 'tsconfig.json'))) w.files.push({ path: 'tsconfig.json', action: 'unchanged', note: 'it exists; kept as is' });
  else await writeNew(w, cwd, 'tsconfig.json', TSCONFIG_TEXT);
  await writeGitignore(w, cwd);

  const label: Record<FileAction, (s: string) => string> = {
    created: c.green,
    updated: c.green,
    overwritten: c.yellow,
    kept: c.yellow,
    unchanged: c.dim,
  };
  ctx.line(`ablo init (${template} template) in ${cwd}`);
  const width = Math.max(...w.files.map((f) => f.action.length));
  for (const f of w.files) ctx.line(`  ${label[f.action](f.action.padEnd(width))}  ${f.path}${f.note ? c.dim(` (${f.note})`) : ''}`);
  const installed = existsSync(join(cwd, 'node_modules', 'ablo'));
  ctx.line('');
  ctx.line('Next:');
  if (!installed) ctx.line(`  npm install${hasAblo ? '' : ' ablo'}      # ablo itself, for your schema and scripts`);
  ctx.line(`  npx ablo dev       # the local engine; pushes ${schemaRel} on every save`);
  ctx.line(`  npm run agent      # in another terminal: the example in ${agentFile}`);
  ctx.result({ template, files: w.files });
  return 0;
}
