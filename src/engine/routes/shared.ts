/**
 * What several route modules share: the current schema (or `no_schema`), and
 * submitting an HTTP write to the commit pipeline with its claim check and
 * key check.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { abloError } from '../../errors.js';
import type { CommitRequest } from '../../protocol/commit.js';
import type { CompiledSchema } from '../../schema/compile.js';
import { actingAs, type Actor, type Principal } from '../auth/principal.js';
import { commitWriter, type CommitOutcome } from '../commit.js';
import type { HttpContext } from '../http.js';

export function requireSchema(ctx: HttpContext): CompiledSchema {
  const schema = ctx.schema.current();
  if (!schema) {
    throw abloError('no_schema');
  }
  return schema;
}

/**
 * An HTTP write into the pipeline: the claims it presents (`Ablo-Claim`) are
 * checked when its turn comes, and so is its credential (one revoked or
 * expired while the commit waited writes nothing).
 */
export function submitCommit(ctx: HttpContext, request: CommitRequest, actor: Actor, principal: Principal, headers: IncomingHttpHeaders): Promise<CommitOutcome> {
  // Claims are held by the participant acted for.
  const claimCheck = ctx.claimCheck?.(actingAs(actor), headers);
  ctx.guard.assertCommit(principal, request);
  const authorized = (): void => ctx.guard.assertActive(principal);
  return ctx.pipeline.submit({ request, ...commitWriter(actor), scope: principal.groups, ...(claimCheck ? { claimCheck } : {}), authorized });
}
