/**
 * Bad session tokens for tests: a real token with its payload changed (the
 * signature kept), or with a signature that was never made by an engine.
 */

/** The token with its groups widened to `user:*`, its signature kept: a tampered token. */
export function tamper(token: string): string {
  const [head, sig] = token.split('.');
  const payload = JSON.parse(Buffer.from(head!.slice(3), 'base64url').toString('utf8'));
  payload.g = ['user:*'];
  return `ek_${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
}

/** The token's payload with a made-up signature: a forged token. */
export function forge(token: string): string {
  const [head] = token.split('.');
  return `${head}.${Buffer.alloc(32, 7).toString('base64url')}`;
}
