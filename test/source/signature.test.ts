/**
 * Data Source signatures (Standard Webhooks v1): ours verify with the
 * reference implementation (`standardwebhooks`), its verify with ours, and
 * every way a request can be wrong is refused with its reason.
 */
import { Webhook } from 'standardwebhooks';
import { describe, expect, test } from 'vitest';
import {
  generateSigningSecret,
  ReplayGuard,
  signAbloSourceRequest,
  SourceSignatureError,
  verifyAbloSourceRequest,
  type SignatureFailure,
  type VerifyOptions,
} from '../../src/source/index.js';

const body = JSON.stringify({ type: 'load', source: 'app', model: 'tasks', ids: ['t1'] });
const now = () => Math.floor(Date.now() / 1000);

function refusal(run: () => unknown): SignatureFailure | 'accepted' {
  try {
    run();
    return 'accepted';
  } catch (error) {
    if (error instanceof SourceSignatureError) return error.reason;
    throw error;
  }
}

describe('interoperability with the standardwebhooks package', () => {
  test('a request signed by signAbloSourceRequest verifies with Webhook.verify', () => {
    const secret = generateSigningSecret();
    const headers = signAbloSourceRequest(body, secret);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  test('a request signed by Webhook.sign verifies with verifyAbloSourceRequest', () => {
    const secret = generateSigningSecret();
    const id = 'msg_reference_1';
    const timestamp = new Date();
    const signature = new Webhook(secret).sign(id, timestamp, body);
    const headers = { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)), 'webhook-signature': signature };
    expect(verifyAbloSourceRequest({ headers, body }, secret)).toEqual({ id, timestamp: Math.floor(timestamp.getTime() / 1000) });
    // The same through a web Headers object and a byte body.
    expect(verifyAbloSourceRequest({ headers: new Headers(headers), body: new TextEncoder().encode(body) }, secret).id).toBe(id);
  });

  test('a body with multi-byte characters signs and verifies the same on both sides', () => {
    const secret = generateSigningSecret();
    const text = JSON.stringify({ title: 'Ünïcødé ✓ 日本語 🚀' });
    expect(new Webhook(secret).verify(text, signAbloSourceRequest(text, secret))).toEqual(JSON.parse(text));
  });
});

describe('every wrong request is refused', () => {
  const secret = generateSigningSecret();
  const other = generateSigningSecret();
  const signed = (overrides: { timestamp?: number; id?: string } = {}) => signAbloSourceRequest(body, secret, overrides);
  const without = (name: string) => {
    const headers: Record<string, string> = { ...signed() };
    delete headers[name];
    return headers;
  };
  const replayGuard = new ReplayGuard();
  const replayed = signed({ id: 'msg_replay' });
  verifyAbloSourceRequest({ headers: replayed, body }, secret, { replay: replayGuard });

  const cases: Array<{ name: string; headers: Record<string, string>; body?: string; secret?: string; options?: VerifyOptions; reason: SignatureFailure }> = [
    { name: 'tampered body', headers: signed(), body: body.replace('t1', 't2'), reason: 'bad_signature' },
    { name: 'one byte appended', headers: signed(), body: `${body} `, reason: 'bad_signature' },
    { name: 'wrong secret', headers: signed(), secret: other, reason: 'bad_signature' },
    { name: 'timestamp too old (6 min)', headers: signed({ timestamp: now() - 360 }), reason: 'timestamp_too_old' },
    { name: 'timestamp in the future (6 min)', headers: signed({ timestamp: now() + 360 }), reason: 'timestamp_in_future' },
    { name: 'timestamp changed after signing', headers: { ...signed(), 'webhook-timestamp': String(now() - 1) }, reason: 'bad_signature' },
    { name: 'id changed after signing', headers: { ...signed(), 'webhook-id': 'msg_other' }, reason: 'bad_signature' },
    { name: 'timestamp not a number', headers: { ...signed(), 'webhook-timestamp': 'yesterday' }, reason: 'bad_timestamp' },
    { name: 'missing webhook-id', headers: without('webhook-id'), reason: 'missing_header' },
    { name: 'missing webhook-timestamp', headers: without('webhook-timestamp'), reason: 'missing_header' },
    { name: 'missing webhook-signature', headers: without('webhook-signature'), reason: 'missing_header' },
    { name: 'signature of another version only', headers: { ...signed(), 'webhook-signature': signed()['webhook-signature'].replace('v1,', 'v2,') }, reason: 'bad_signature' },
    { name: 'replayed (same id and timestamp)', headers: replayed, options: { replay: replayGuard }, reason: 'replayed' },
  ];

  test.each(cases)('$name → $reason', ({ headers, body: sent, secret: key, options, reason }) => {
    expect(refusal(() => verifyAbloSourceRequest({ headers, body: sent ?? body }, key ?? secret, options))).toBe(reason);
  });

  test('the table covers each reason a signed request can fail for', () => {
    expect(new Set(cases.map((c) => c.reason))).toEqual(
      new Set(['bad_signature', 'timestamp_too_old', 'timestamp_in_future', 'bad_timestamp', 'missing_header', 'replayed']),
    );
  });

  test('the reference implementation refuses the same tampered and stale requests', () => {
    const wh = new Webhook(secret);
    expect(() => wh.verify(body.replace('t1', 't2'), signed())).toThrow();
    expect(() => wh.verify(body, signed({ timestamp: now() - 360 }))).toThrow();
    expect(() => wh.verify(body, signed({ timestamp: now() + 360 }))).toThrow();
  });
});

describe('secrets', () => {
  test('rotation: signed with [old, new], verified by a receiver that knows either one', () => {
    const oldSecret = generateSigningSecret();
    const newSecret = generateSigningSecret();
    const headers = signAbloSourceRequest(body, [oldSecret, newSecret]);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(verifyAbloSourceRequest({ headers, body }, oldSecret).id).toBe(headers['webhook-id']);
    expect(verifyAbloSourceRequest({ headers, body }, newSecret).id).toBe(headers['webhook-id']);
    expect(verifyAbloSourceRequest({ headers, body }, `${newSecret} ${oldSecret}`).id).toBe(headers['webhook-id']);
    // The reference implementation accepts a multi-signature header with either key too.
    expect(new Webhook(oldSecret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(newSecret).verify(body, headers)).toEqual(JSON.parse(body));
    // And one that knows neither refuses it.
    expect(refusal(() => verifyAbloSourceRequest({ headers, body }, generateSigningSecret()))).toBe('bad_signature');
  });

  test('a receiver with [old, new] accepts a request signed with only one of them', () => {
    const oldSecret = generateSigningSecret();
    const newSecret = generateSigningSecret();
    for (const signer of [oldSecret, newSecret]) {
      const headers = signAbloSourceRequest(body, signer);
      expect(verifyAbloSourceRequest({ headers, body }, [oldSecret, newSecret]).id).toBe(headers['webhook-id']);
    }
  });

  test('a secret that is empty or not base64 is refused as no_secret, not taken as some other key', () => {
    expect(refusal(() => signAbloSourceRequest(body, ''))).toBe('no_secret');
    expect(refusal(() => signAbloSourceRequest(body, 'whsec_'))).toBe('no_secret');
    expect(refusal(() => signAbloSourceRequest(body, 'whsec_not base64!'))).toBe('no_secret');
    expect(generateSigningSecret()).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  });

  test('a tolerance is honoured both ways, and a replay guard forgets nothing inside its window', () => {
    const secret = generateSigningSecret();
    const old = signAbloSourceRequest(body, secret, { timestamp: now() - 600 });
    expect(refusal(() => verifyAbloSourceRequest({ headers: old, body }, secret))).toBe('timestamp_too_old');
    expect(refusal(() => verifyAbloSourceRequest({ headers: old, body }, secret, { toleranceSeconds: 900 }))).toBe('accepted');

    const guard = new ReplayGuard(60);
    const t = 1_000_000;
    expect(guard.firstTime('a', t, t)).toBe(true);
    // Many other requests, enough to trigger a sweep: 'a' is still inside the window, so still remembered.
    for (let i = 0; i < 1100; i++) guard.firstTime(`n${i}`, t, t + 30);
    expect(guard.firstTime('a', t, t + 31)).toBe(false);
    // The same id with a new timestamp (a retry re-signed by the sender) is not a replay.
    expect(guard.firstTime('a', t + 5, t + 31)).toBe(true);
  });
});
