/**
 * The administration API directly: audit events for every action (success and failure, never a
 * token), and refusal of a store that cannot list.
 */
import { describe, expect, it } from 'vitest'
import { AdminError, createAdmin } from '../../../src/ops/admin.js'
import type { AdminAuditEvent } from '../../../src/ops/admin.js'
import { createMemoryStore } from '../../../src/storage/memory.js'
import type { Store } from '../../../src/storage/store.js'
import {
  createTestGatehouse,
  getTokens,
  ISSUER,
  RESOURCE,
  SECRET,
} from '../../helpers/gatehouse.js'

const config = {
  issuer: ISSUER,
  secret: SECRET,
  resources: [{ url: RESOURCE, scopes: ['mcp:read'] }],
}

describe('createAdmin', () => {
  it('reports every action to onAudit with ids and outcome, never the token', async () => {
    const store = createMemoryStore()
    const t = await createTestGatehouse({ store })
    const { tokens } = await getTokens(t)
    const events: AdminAuditEvent[] = []
    // Share the memory store but not its closing: the Gatehouse closes it.
    const shared: Store = { ...store, close: () => Promise.resolve() }
    const admin = await createAdmin({
      config,
      store: shared,
      actor: 'ops',
      onAudit: (e) => events.push(e),
    })
    const [grant] = await admin.listGrants({ subject: 'user-1' })
    await expect(admin.revokeGrant('no-such-grant')).rejects.toBeInstanceOf(AdminError)
    const revoked = await admin.revokeToken(tokens.refresh_token ?? '')
    expect(revoked).toEqual({ grantId: grant?.grantId, kind: 'refresh_token' })
    expect(await admin.listGrants()).toEqual([])
    expect(events.map((e) => [e.action, e.target, e.outcome, e.actor])).toEqual([
      ['grants.list', 'user-1', 'success', 'ops'],
      ['grant.revoke', 'no-such-grant', 'failure', 'ops'],
      ['token.revoke', undefined, 'success', 'ops'],
      ['grants.list', undefined, 'success', 'ops'],
    ])
    expect(JSON.stringify(events)).not.toContain(tokens.refresh_token)
    await admin.close()
    await t.gh.close()
  })

  it('refuses a store without scan with a TypeError', async () => {
    const withoutScan: Store = createMemoryStore()
    delete withoutScan.scan
    await expect(createAdmin({ config, store: withoutScan })).rejects.toThrow(TypeError)
  })
})
