/**
 * Identity roles: sync groups that belong to a participant, declared once on
 * the schema (`defineSchema({ models, identityRoles: { self: 'user:{participantId}' } })`)
 * and expanded per participant when a session token or a restricted key is
 * made (docs/auth.md, "Identity roles").
 *
 * A template may use `{participantId}` and `{participantKind}`; it expands to
 * an exact group, or to a prefix when the template itself ends in `*`
 * (`'org:{participantId}:*'`). A participant id never makes a wildcard: an id
 * with `*` or white space is refused where a role would expand it.
 */
import { AbloSchemaError, AbloValidationError } from '../errors.js';

/** Role name → group template. */
export type IdentityRoles = Record<string, string>;

const ROLE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
const PLACEHOLDER = /\{([^{}]*)\}/g;
const PLACEHOLDERS = new Set(['participantId', 'participantKind']);

/** Check role names and templates (a schema defined in code, or received as JSON); `AbloSchemaError` names the role. */
export function validateIdentityRoles(roles: IdentityRoles): void {
  for (const [name, template] of Object.entries(roles)) {
    if (!ROLE_NAME.test(name)) {
      throw new AbloSchemaError(`Identity role "${name}" is not a valid name. Use letters, digits, _ and -, starting with a letter (at most 63).`, {
        code: 'invalid_name',
      });
    }
    if (typeof template !== 'string' || template.length === 0 || template.length > 200) {
      throw new AbloSchemaError(`Identity role "${name}": its template must be a string of 1 to 200 characters, e.g. 'user:{participantId}'.`, {
        code: 'invalid_sync_group',
      });
    }
    for (const match of template.matchAll(PLACEHOLDER)) {
      if (!PLACEHOLDERS.has(match[1]!)) {
        throw new AbloSchemaError(
          `Identity role "${name}": template "${template}" uses {${match[1]}}; a template may use {participantId} and {participantKind}.`,
          { code: 'invalid_sync_group' },
        );
      }
    }
    const literal = template.replace(PLACEHOLDER, 'x');
    if (/\s/.test(literal) || literal.slice(0, -1).includes('*') || /[{}]/.test(literal)) {
      throw new AbloSchemaError(
        `Identity role "${name}": template "${template}" must give a sync group (no white space or braces; * only at the end, for a prefix).`,
        { code: 'invalid_sync_group' },
      );
    }
  }
}

/** A participant as roles see it. */
export interface RoleParticipant {
  kind: string;
  id: string;
}

/** `template` for `participant`; 400 `invalid_participant` when the id would make a wildcard or is not one group. */
export function expandIdentityRole(template: string, participant: RoleParticipant): string {
  if (template.includes('{participantId}') && /[\s*{}]/.test(participant.id)) {
    throw new AbloValidationError(
      `Participant id ${JSON.stringify(participant.id)} cannot fill an identity role: it has *, a brace or white space, and a group made from it would not be its own.`,
      { code: 'invalid_participant', field: 'participant.id' },
    );
  }
  return template.replace(PLACEHOLDER, (_, name: string) => (name === 'participantId' ? participant.id : participant.kind));
}

/**
 * The sync group patterns a credential for `participant` gets:
 *
 * - `requested` entries as given, each `@role` replaced by the role's template
 *   expanded for the participant (400 `unknown_identity_role` naming the roles
 *   there are);
 * - no `requested`: every identity role, expanded (400 `sync_groups_required`
 *   when the schema declares none).
 *
 * Duplicates are dropped; the order is kept.
 */
export function resolveSyncGroups(requested: readonly string[] | undefined, roles: IdentityRoles | undefined, participant: RoleParticipant): string[] {
  const known = roles ?? {};
  const names = Object.keys(known);
  if (requested === undefined) {
    if (names.length === 0) {
      throw new AbloValidationError(
        'Pass syncGroups (e.g. ["user:ana"] or ["board:*"]): the schema declares no identityRoles to give this participant its groups. Or declare some: defineSchema({ models, identityRoles: { self: \'user:{participantId}\' } }).',
        { code: 'sync_groups_required', field: 'syncGroups' },
      );
    }
    return [...new Set(names.map((n) => expandIdentityRole(known[n]!, participant)))];
  }
  const out: string[] = [];
  for (const entry of requested) {
    if (!entry.startsWith('@')) {
      out.push(entry);
      continue;
    }
    const role = entry.slice(1);
    const template = Object.prototype.hasOwnProperty.call(known, role) ? known[role] : undefined;
    if (template === undefined) {
      throw new AbloValidationError(
        `No identity role "${role}" in the schema (${entry}). ${names.length ? `Its roles: ${names.map((n) => `@${n}`).join(', ')}.` : 'It declares none: defineSchema({ models, identityRoles: { self: \'user:{participantId}\' } }).'}`,
        { code: 'unknown_identity_role', field: 'syncGroups', role, known: names },
      );
    }
    out.push(expandIdentityRole(template, participant));
  }
  return [...new Set(out)];
}
