import { describe, expect, it } from 'vitest';
import { digestAuthorization, parseDigestChallenge } from '../../src/node/digest.js';

describe('Digest (RFC 7616)', () => {
  // RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
  const challenge = (algorithm: string) =>
    parseDigestChallenge({
      scheme: 'digest',
      params: {
        realm: 'http-auth@example.org',
        qop: 'auth, auth-int',
        algorithm,
        nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
        opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
      },
    });
  const answer = (algorithm: string) =>
    digestAuthorization({
      challenge: challenge(algorithm)!,
      username: 'Mufasa',
      password: 'Circle of Life',
      method: 'GET',
      uri: '/dir/index.html',
      nc: 1,
      cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    });

  it.each([
    ['MD5', '8ca523f5e9506fed4657c9700eebdbec'],
    ['SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
  ])('%s: the response of RFC 7616 §3.9.1', (algorithm, response) => {
    expect(answer(algorithm)).toBe(
      `Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=${algorithm}, ` +
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, ' +
        `cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="${response}", ` +
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    );
  });

  it('-sess hashes the nonce and cnonce into HA1; nc counts in 8 hex digits', () => {
    const sess = parseDigestChallenge({
      scheme: 'digest',
      params: { realm: 'r', nonce: 'n', algorithm: 'MD5-sess', qop: 'auth' },
    })!;
    const input = { challenge: sess, username: 'u', password: 'p', method: 'GET', uri: '/', nc: 26, cnonce: 'c' };
    const header = digestAuthorization(input);
    expect(header).toContain('nc=0000001a');
    expect(header).toContain('algorithm=MD5-sess');
    // HA1 = MD5(MD5(u:r:p):n:c): a different answer from plain MD5 for the same input.
    const plain = digestAuthorization({ ...input, challenge: { ...sess, algorithm: 'MD5' } });
    expect(header.match(/response="(\w+)"/)?.[1]).not.toBe(plain.match(/response="(\w+)"/)?.[1]);
  });

  it.each([
    ['qop="auth-int" only', { realm: 'r', nonce: 'n', qop: 'auth-int' }],
    ['SHA-512-256', { realm: 'r', nonce: 'n', algorithm: 'SHA-512-256' }],
    ['no nonce', { realm: 'r' }],
  ])('%s cannot be answered', (_, params) => {
    expect(parseDigestChallenge({ scheme: 'digest', params })).toBeUndefined();
  });

  it('stale=true is read, and RFC 2069 (no qop) is answered without nc', () => {
    const stale = parseDigestChallenge({ scheme: 'digest', params: { realm: 'r', nonce: 'n', stale: 'TRUE' } });
    expect(stale).toMatchObject({ stale: true, qop: undefined, algorithm: 'MD5' });
    const header = digestAuthorization({
      challenge: stale!,
      username: 'u',
      password: 'p',
      method: 'GET',
      uri: '/',
      nc: 1,
    });
    expect(header).not.toContain('nc=');
  });
});
