/**
 * The administration API directly: audit events for every action (success and failure, never a
 * token), and refusal of a store that cannot list.
 */
import { describe, expect, it } from 'vitest'
import { AdminError, createAdmin } from '../../../src/admin/admin.js'
import type { AdminAuditEvent } from '../../../src/admin/admin.js'
import type { AuditEvent } from '../../../src/audit-event.js'
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

  it('emits one admin_action audit event per state-changing call to the audit callback, none for reads', async () => {
    const store = createMemoryStore()
    const t = await createTestGatehouse({ store })
    const { client, tokens } = await getTokens(t)
    const other = await getTokens(t)
    const events: AuditEvent[] = []
    const shared: Store = { ...store, close: () => Promise.resolve() }
    const admin = await createAdmin({
      config,
      store: shared,
      actor: 'alice-operator',
      audit: (e) => events.push(e),
      now: t.clock.now,
    })
    const time = new Date(t.clock.now()).toISOString()
    await admin.listClients()
    await admin.listGrants()
    await admin.listKeys()
    await admin.checkStore()
    expect(events).toEqual([])

    const revoked = await admin.revokeToken(other.tokens.access_token)
    await expect(admin.revokeToken(tokens.access_token.slice(0, -4))).rejects.toThrow(AdminError)
    await expect(admin.deleteClient('no-such-client')).rejects.toThrow(AdminError)
    await admin.deleteClient(client.client_id)
    const keys = await admin.rotateKeys()
    expect(events).toEqual([
      {
        time,
        event: 'admin_action',
        outcome: 'success',
        action: 'token.revoke',
        actor: 'alice-operator',
        grantId: revoked.grantId,
      },
      {
        time,
        event: 'admin_action',
        outcome: 'failure',
        action: 'token.revoke',
        actor: 'alice-operator',
        reason: 'not_found',
      },
      expect.objectContaining({
        action: 'client.delete',
        outcome: 'failure',
        clientId: 'no-such-client',
        reason: 'not_found',
      }),
      expect.objectContaining({
        action: 'client.delete',
        outcome: 'success',
        clientId: client.client_id,
      }),
      expect.objectContaining({
        action: 'keys.rotate',
        outcome: 'success',
        kid: keys.find((key) => key.current)?.kid,
      }),
    ])
    const text = JSON.stringify(events)
    for (const secret of [tokens.access_token, other.tokens.access_token, SECRET]) {
      expect(text).not.toContain(secret)
    }
    await admin.close()
    await t.gh.close()
  })

  it('the /admin page is off by default, and refuses to start with nobody who may sign in', async () => {
    const off = await createTestGatehouse()
    const res = await off.call('/admin')
    expect(res.status).toBe(404)
    await off.gh.close()
    await expect(createTestGatehouse({ config: { admin: { enabled: true } } })).rejects.toThrow(
      /admin\.subjects: name who may sign in \(subjects or roles\), or set token/,
    )
    await expect(
      createTestGatehouse({ config: { admin: { enabled: true, token: 'short' } } }),
    ).rejects.toThrow(/admin\.token/)
  })

  it('refuses a store without scan with a TypeError', async () => {
    const withoutScan: Store = createMemoryStore()
    delete withoutScan.scan
    await expect(createAdmin({ config, store: withoutScan })).rejects.toThrow(TypeError)
  })
})
