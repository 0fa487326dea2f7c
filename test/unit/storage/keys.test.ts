/**
 * The storage keys are stored data: every builder in src/storage/keys.ts gives the byte-identical
 * key earlier releases wrote, and docs/storage-schema.md documents every prefix.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import * as keys from '../../../src/storage/keys.js'

const { storageKey } = keys

describe('storage keys', () => {
  it('every builder gives the key layout earlier releases wrote', () => {
    expect({
      client: storageKey.client('c1'),
      transaction: storageKey.transaction('t1'),
      code: storageKey.code('h'),
      usedCode: storageKey.usedCode('h'),
      grant: storageKey.grant('g'),
      revokedGrant: storageKey.revokedGrant('g'),
      refreshToken: storageKey.refreshToken('h'),
      usedRefreshToken: storageKey.usedRefreshToken('h'),
      identityAssertionJti: storageKey.identityAssertionJti('h'),
      upstreamRefreshLock: storageKey.upstreamRefreshLock('g'),
      metadataDocument: storageKey.metadataDocument('h'),
      clientAssertion: storageKey.clientAssertion('h'),
      dpopJti: storageKey.dpopJti('h'),
      workloadJti: storageKey.workloadJti('h'),
      clientJwks: storageKey.clientJwks('h'),
      signingKeys: storageKey.signingKeys(),
      signingKeyRotationLock: storageKey.signingKeyRotationLock('k'),
      storeCheck: storageKey.storeCheck('r'),
      gatewaySession: storageKey.gatewaySession('h'),
      gatewayRate: storageKey.gatewayRate(),
      adminSession: storageKey.adminSession('h'),
    }).toEqual({
      client: 'client:c1',
      transaction: 'txn:t1',
      code: 'code:h',
      usedCode: 'code-used:h',
      grant: 'grant:g',
      revokedGrant: 'grant-revoked:g',
      refreshToken: 'rt:h',
      usedRefreshToken: 'rt-used:h',
      identityAssertionJti: 'idjag-jti:h',
      upstreamRefreshLock: 'lock:upstream-refresh:g',
      metadataDocument: 'cimd:h',
      clientAssertion: 'client-assertion:h',
      dpopJti: 'dpop-jti:h',
      workloadJti: 'workload-jti:h',
      clientJwks: 'client-jwks:h',
      signingKeys: 'signing-keys',
      signingKeyRotationLock: 'signing-keys:rotation:k',
      storeCheck: 'admin-check:r',
      gatewaySession: 'gw-session:h',
      gatewayRate: 'gw-rate:',
      adminSession: 'admin-session:h',
    })
  })

  it('docs/storage-schema.md has a row for every key prefix', () => {
    const doc = readFileSync(new URL('../../../docs/storage-schema.md', import.meta.url), 'utf8')
    const rows = doc
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => /^\| `([^`]+)`/.exec(line)?.[1] ?? '')
    const prefixes = Object.entries(keys)
      .filter(([name]) => name.endsWith('_PREFIX') || name === 'SIGNING_KEYS')
      .map(([, value]) => value as string)
    expect(prefixes).toHaveLength(21)
    for (const prefix of prefixes) {
      expect([prefix, rows.some((row) => row.startsWith(prefix))]).toEqual([prefix, true])
    }
  })
})
