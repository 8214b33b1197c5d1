/**
 * `GET /v1/me`: the credential that asks, as the engine sees it — its kind,
 * participant, sync groups, operations and expiry (never the secret). MCP
 * uses it to offer only the tools a credential may use; an app can use it to
 * show what a session allows. Every active credential may ask (no operation
 * needed beyond being valid).
 */
import type { PrincipalObject } from '../../protocol/operations.js';
import { sendJson } from '../http.js';
import type { Route } from './types.js';

export const meRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/me',
    async handler(r) {
      const p = r.principal;
      const answer: PrincipalObject = {
        object: 'principal',
        kind: p.kind ?? 'custom',
        credentialId: p.credentialId,
        participant: p.participant,
        groups: p.groups === 'all' ? 'all' : [...p.groups],
        operations: [...p.operations],
        expiresAt: p.expiresAt,
      };
      sendJson(r.res, 200, answer);
    },
  },
];
