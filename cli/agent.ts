/**
 * Is a coding agent running this command? Used to make data-losing actions
 * need an explicit flag (`--allow-destructive`) instead of a bare `--yes`.
 * Only the environment is read; no process inspection, no network.
 */

/** Variables coding agents set in the shells they run, and who sets them. */
export const AGENT_VARIABLES: ReadonlyArray<readonly [variable: string, agent: string]> = [
  ['ABLO_AGENT', 'an agent (ABLO_AGENT)'],
  ['AI_AGENT', 'an agent (AI_AGENT)'],
  ['CLAUDECODE', 'Claude Code'],
  ['CLAUDE_CODE_ENTRYPOINT', 'Claude Code'],
  ['CURSOR_AGENT', 'Cursor'],
  ['GEMINI_CLI', 'Gemini CLI'],
  ['QWEN_CODE', 'Qwen Code'],
  ['CODEX_SANDBOX', 'Codex'],
  ['CODEX_SANDBOX_NETWORK_DISABLED', 'Codex'],
  ['CODEX_THREAD_ID', 'Codex'],
  ['OPENCODE', 'opencode'],
  ['AMP_CURRENT_THREAD_ID', 'Amp'],
  ['CLINE_ACTIVE', 'Cline'],
  ['AUGMENT_AGENT', 'Augment'],
  ['REPLIT_AGENT', 'Replit Agent'],
];

export interface DetectedAgent {
  /** Who, e.g. `Claude Code`. */
  name: string;
  /** The variable that gave it away, e.g. `CLAUDECODE`. */
  variable: string;
}

export function detectCodingAgent(env: Record<string, string | undefined>): DetectedAgent | undefined {
  for (const [variable, name] of AGENT_VARIABLES) {
    const v = env[variable];
    if (v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false') return { name, variable };
  }
  return undefined;
}
