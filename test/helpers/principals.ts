/**
 * A test `Authenticator`: bearer tokens mapped to principals the test chooses
 * (scoped to some sync groups and operations), revocable. Knows no API keys.
 */
import { AbloAuthenticationError } from '../../src/errors.js';
import { KeyRevocations } from '../../src/engine/apiKeys.js';
import { expandOperations, OPERATIONS, type Authenticator, type CredentialRevoked, type OperationInput, type Principal } from '../../src/engine/auth/principal.js';

export class TestAuthenticator implements Authenticator {
  readonly principals = new Map<string, Principal>();
  private readonly revocations = new KeyRevocations<CredentialRevoked>();

  /**
   * `operations` may say `write` (create, update, delete). Without `kind`, a
   * principal with every operation and every group stands for a secret key
   * (it may act as others); any other is `custom`.
   */
  add(
    token: string,
    principal: Omit<Principal, 'credentialId' | 'expiresAt' | 'operations'> & Partial<Pick<Principal, 'expiresAt'>> & { operations: readonly OperationInput[] },
  ): Principal {
    const operations = expandOperations(principal.operations);
    const everything = principal.groups === 'all' && operations.length === OPERATIONS.length;
    const p: Principal = { kind: everything ? 'secret' : 'custom', expiresAt: null, credentialId: `cred_${token}`, ...principal, operations };
    this.principals.set(token, p);
    return p;
  }

  async authenticate(credential: string | undefined): Promise<Principal> {
    const p = credential ? this.principals.get(credential) : undefined;
    if (!p) throw new AbloAuthenticationError('Unknown test token.', { code: 'invalid_token' });
    return p;
  }

  onRevoked(listener: (event: CredentialRevoked) => void): () => void {
    return this.revocations.subscribe(listener);
  }

  revoke(token: string): void {
    const p = this.principals.get(token)!;
    this.revocations.notify({ credentialId: p.credentialId, error: new AbloAuthenticationError('This test token was revoked.', { code: 'revoked_token' }) });
  }
}
