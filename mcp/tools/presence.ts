/**
 * `ablo_presence`: who is on one sync group now — people and agents with a
 * live connection (or one that just dropped), each with the state it shares
 * (a cursor, "working on task 12"). Read from `GET /v1/presence`; the
 * credential must be allowed the group. States are written by others: the
 * text fences them as data.
 */
import type { PresenceMember } from '../../src/protocol/presence.js';
import { fenced, FENCE_CHARS } from '../fence.js';
import { presenceArgs } from '../inputs.js';
import { PRESENCE_OUTPUT } from '../outputs.js';
import { renderParticipant, renderPairs } from '../render.js';
import { ok } from './results.js';
import type { GlobalToolKind } from './types.js';

/** One member as the tool returns it (the contract's shape). */
export interface PresenceMemberView {
  participant: PresenceMember['participant'];
  state: PresenceMember['state'];
  updatedAt: string;
}

export const presenceTool: GlobalToolKind = {
  name: 'ablo_presence',
  write: false,
  needs: ['read'],
  define: (session) => ({
    title: 'Who is on a sync group',
    description:
      'Lists who is on one sync group now (people and agents connected to it, and ones whose connection just dropped), with the state each shares, e.g. what they are looking at or working on. ' +
      'Use it before taking work others may be on. The group is one exact sync group (ablo_schema names each model\'s sync group format).',
    input: presenceArgs(),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    output: PRESENCE_OUTPUT,
    errorContext: () => ({}),
    run: async (args) => {
      const answer = await session.api.presence(args.group as string);
      const all = answer.members;
      // Within the output budget: as many members as fit (text and structured content both count).
      const members: PresenceMemberView[] = [];
      const lines: string[] = [];
      let used = 200 + FENCE_CHARS;
      for (const m of all) {
        const line = `  ${renderParticipant(m.participant)} ${m.status} updatedAt=${m.updatedAt} ${renderPairs(m.state)}`.trimEnd();
        const view: PresenceMemberView = { participant: m.participant, state: m.state, updatedAt: m.updatedAt };
        const cost = line.length + JSON.stringify(view).length + 2;
        if (used + cost > session.budgetChars && members.length > 0) break;
        used += cost;
        members.push(view);
        lines.push(line);
      }
      const head =
        all.length === 0
          ? `Nobody is on ${answer.group} now.`
          : `${all.length} on ${answer.group} (${all.filter((m) => m.status === 'online').length} online):`;
      const cut = members.length < all.length ? `\n(${all.length - members.length} more not shown: over the output budget of ${session.tokenBudget} tokens.)` : '';
      return ok(all.length === 0 ? head : `${head}\n${fenced(lines)}${cut}`, { group: answer.group, members });
    },
  }),
};
