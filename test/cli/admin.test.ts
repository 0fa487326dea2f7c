/**
 * `gatehouse admin` through `main()` (and `runAdmin` for stdin), against the store a running
 * Gatehouse uses: SQLite (a data directory) and Redis (a key prefix). The Gatehouse is real; the
 * CLI opens its own store connection, as an operator's shell would.
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { runAdmin } from '../../src/cli/commands/admin.js'
import { main } from '../../src/cli/main.js'
import { createRedisStore } from '../../src/storage/redis.js'
import { createSqliteStore } from '../../src/storage/sqlite.js'
import type { Store } from '../../src/storage/store.js'
import {
  bearer,
  createTestGatehouse,
  form,
  getTokens,
  ISSUER,
  RESOURCE,
  SECRET,
} from '../helpers/gatehouse.js'
import type { TestGatehouse } from '../helpers/gatehouse.js'

const REDIS_URL = process.env.REDIS_URL ?? ''

function capture() {
  let text = ''
  return {
    stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream,
    text: () => text,
  }
}

interface Backend {
  name: string
  /** A store for the running Gatehouse, and the `--store` value (plus env) the CLI uses. */
  open(): Promise<{
    store: Store
    where: string
    env: Record<string, string>
    cleanup?: () => Promise<void>
  }>
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    async open() {
      const dataDir = await mkdtemp(join(tmpdir(), 'gh-admin-'))
      return { store: createSqliteStore({ dataDir }), where: `sqlite:${dataDir}`, env: {} }
    },
  },
]
if (REDIS_URL !== '') {
  backends.push({
    name: 'redis',
    open() {
      const keyPrefix = `gh-admin-${randomUUID()}:`
      return Promise.resolve({
        store: createRedisStore({ url: REDIS_URL, keyPrefix }),
        where: REDIS_URL,
        env: { GATEHOUSE_REDIS_PREFIX: keyPrefix },
        async cleanup() {
          const store = createRedisStore({ url: REDIS_URL, keyPrefix })
          for (const key of (await store.scan?.('')) ?? []) await store.delete(key)
          await store.close()
        },
      })
    },
  })
} else if ((process.env.CI ?? '') !== '') {
  throw new Error('REDIS_URL is not set: CI must run the admin CLI tests against Redis')
}
const DATABASE_URL = process.env.DATABASE_URL ?? ''
if (DATABASE_URL !== '') {
  backends.push({
    name: 'postgres',
    async open() {
      const { createPostgresStore } = await import('../../src/storage/postgres.js')
      const schema = `gh_admin_${randomUUID().replace(/-/g, '').slice(0, 12)}`
      return {
        store: createPostgresStore({ connectionString: DATABASE_URL, schema }),
        where: DATABASE_URL,
        env: { GATEHOUSE_PG_SCHEMA: schema },
        async cleanup() {
          const { default: pg } = await import('pg')
          const client = new pg.Client({ connectionString: DATABASE_URL })
          await client.connect()
          try {
            await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
          } finally {
            await client.end()
          }
        },
      }
    },
  })
}

async function setup(backend: Backend) {
  const { store, where, env, cleanup } = await backend.open()
  const t = await createTestGatehouse({
    store,
    config: {
      clients: [
        {
          clientId: 'configured-app',
          tokenEndpointAuthMethod: 'none',
          redirectUris: ['https://app.example/cb'],
        },
      ],
    },
  })
  const dir = await mkdtemp(join(tmpdir(), 'gh-admin-config-'))
  const configFile = join(dir, 'gatehouse.yaml')
  await writeFile(
    configFile,
    [
      `issuer: ${ISSUER}`,
      `secret: ${SECRET}`,
      'resources:',
      `  - url: ${RESOURCE}`,
      '    scopes: [mcp:read, mcp:write]',
      'clients:',
      '  - clientId: configured-app',
      '    tokenEndpointAuthMethod: none',
      '    redirectUris: [https://app.example/cb]',
      '',
    ].join('\n'),
  )
  /** Runs `gatehouse admin ...` as a shell would; `stdin` only for `tokens revoke`. */
  async function admin(args: string[], options: { stdin?: string; extraEnv?: object } = {}) {
    const out = capture()
    const err = capture()
    const saved = { ...process.env }
    Object.assign(process.env, env, options.extraEnv)
    try {
      const argv = [...args, '--config', configFile, '--store', where]
      const code =
        options.stdin === undefined
          ? await main(['admin', ...argv], out.stream, err.stream)
          : await runAdmin(argv, out.stream, err.stream, Readable.from([options.stdin]))
      return { code, out: out.text(), err: err.text() }
    } finally {
      process.env = saved
    }
  }
  async function close(): Promise<void> {
    await t.gh.close()
    await cleanup?.()
  }
  return { t, admin, close }
}

function refresh(t: TestGatehouse, clientId: string, token: string) {
  return t.call(
    '/token',
    form({ grant_type: 'refresh_token', refresh_token: token, client_id: clientId }),
  )
}

describe.each(backends)('gatehouse admin on $name', (backend) => {
  it('lists clients (registered and configured) and grants by subject and client, as JSON and tables', async () => {
    const { t, admin, close } = await setup(backend)
    try {
      const { client } = await getTokens(t)

      const clients = await admin(['clients', 'list', '--json'])
      expect(clients.code).toBe(0)
      const listed = JSON.parse(clients.out) as { clientId: string; kind: string }[]
      expect(listed).toContainEqual(
        expect.objectContaining({
          clientId: client.client_id,
          kind: 'registered',
          readOnly: false,
        }),
      )
      expect(listed).toContainEqual(
        expect.objectContaining({ clientId: 'configured-app', kind: 'static', readOnly: true }),
      )
      expect(clients.out).not.toContain('client_secret')

      const table = await admin(['clients', 'list'])
      expect(table.out.split('\n')[0]).toMatch(/^clientId\s+kind\s+name\s+grantTypes/)
      expect(table.out).toContain(client.client_id)

      const shown = await admin(['clients', 'show', client.client_id, '--json'])
      expect(JSON.parse(shown.out)).toMatchObject({ clientId: client.client_id })
      expect((await admin(['clients', 'show', 'nobody'])).code).toBe(1)

      const bySubject = await admin(['grants', 'list', '--subject', 'user-1', '--json'])
      const grants = JSON.parse(bySubject.out) as { clientId: string; subject: string }[]
      expect(grants).toEqual([
        expect.objectContaining({
          clientId: client.client_id,
          subject: 'user-1',
          resource: RESOURCE,
        }),
      ])
      const byClient = await admin(['grants', 'list', '--client', client.client_id, '--json'])
      // The exit code and stderr first, so that a failure says why.
      expect({ code: byClient.code, err: byClient.err }).toEqual({ code: 0, err: '' })
      expect(JSON.parse(byClient.out)).toHaveLength(1)
      // A client id may start with "-" (base64url): it is still the option's value.
      const dashed = await admin(['grants', 'list', '--client', '-no-such-client', '--json'])
      expect({ code: dashed.code, err: dashed.err }).toEqual({ code: 0, err: '' })
      expect(JSON.parse(dashed.out)).toEqual([])
      expect(JSON.parse((await admin(['grants', 'list', '--subject', 'x', '--json'])).out)).toEqual(
        [],
      )
      expect((await admin(['grants', 'list'])).out).toMatch(/^grantId\s+subject\s+clientId/)
    } finally {
      await close()
    }
  })

  it('revokes a grant: the refresh token fails at once, the access token within revocationCheckSeconds', async () => {
    const { t, admin, close } = await setup(backend)
    try {
      const { client, tokens } = await getTokens(t)
      expect((await t.mcp(bearer(tokens.access_token))).status).toBe(200)
      const [grant] = JSON.parse((await admin(['grants', 'list', '--json'])).out) as {
        grantId: string
      }[]
      const revoked = await admin(['grants', 'revoke', grant!.grantId])
      expect(revoked).toMatchObject({ code: 0, out: `revoked grant ${grant!.grantId}\n` })

      expect((await refresh(t, client.client_id, tokens.refresh_token!)).status).toBe(400)
      t.clock.advance(6)
      expect((await t.mcp(bearer(tokens.access_token))).status).toBe(401)
      expect(JSON.parse((await admin(['grants', 'list', '--json'])).out)).toEqual([])
      // Revoking again, or an unknown id, is refused and changes nothing.
      expect((await admin(['grants', 'revoke', grant!.grantId])).code).toBe(1)
    } finally {
      await close()
    }
  })

  it('revokes the grant of a token read from stdin, never from the arguments', async () => {
    const { t, admin, close } = await setup(backend)
    try {
      const first = await getTokens(t)
      const second = await getTokens(t, first.client)

      const inArgv = await admin(['tokens', 'revoke', first.tokens.refresh_token!])
      expect(inArgv.code).toBe(2)
      expect(inArgv.err).toContain('stdin')
      // A token that starts with "-" (base64url may) is refused the same way, not read as an option.
      for (const argv of [
        ['tokens', 'revoke', `-M${first.tokens.refresh_token!}`],
        ['tokens', 'revoke', '--json', '--', first.tokens.refresh_token!],
      ]) {
        const refused = await admin(argv)
        expect(refused.code).toBe(2)
        expect(refused.err).toContain('give the token on stdin')
      }

      const byRefresh = await admin(['tokens', 'revoke', '--json'], {
        stdin: `${first.tokens.refresh_token!}\n`,
      })
      expect(byRefresh.code).toBe(0)
      expect(JSON.parse(byRefresh.out)).toMatchObject({ kind: 'refresh_token' })
      expect((await refresh(t, first.client.client_id, first.tokens.refresh_token!)).status).toBe(
        400,
      )

      const byAccess = await admin(['tokens', 'revoke'], { stdin: second.tokens.access_token })
      expect(byAccess.code).toBe(0)
      expect(byAccess.out).toContain('access token')
      expect((await refresh(t, first.client.client_id, second.tokens.refresh_token!)).status).toBe(
        400,
      )

      const junk = await admin(['tokens', 'revoke'], { stdin: 'not-a-token' })
      expect(junk.code).toBe(1)
      expect(junk.err).not.toContain('not-a-token')
    } finally {
      await close()
    }
  })

  it('deletes a registered client with its grants, and refuses to delete a configured one', async () => {
    const { t, admin, close } = await setup(backend)
    try {
      const { client, tokens } = await getTokens(t)
      const refused = await admin(['clients', 'delete', 'configured-app'])
      expect(refused.code).toBe(1)
      expect(refused.err).toContain('configuration')

      const deleted = await admin(['clients', 'delete', client.client_id])
      expect(deleted).toMatchObject({ code: 0 })
      expect(deleted.out).toContain('revoked 1 grant(s)')
      expect((await admin(['clients', 'show', client.client_id])).code).toBe(1)
      expect((await refresh(t, client.client_id, tokens.refresh_token!)).status).toBe(401)
    } finally {
      await close()
    }
  })

  it('lists and rotates signing keys; the running Gatehouse picks the new key up', async () => {
    const { t, admin, close } = await setup(backend)
    try {
      const before = JSON.parse((await admin(['keys', 'list', '--json'])).out) as {
        kid: string
        current: boolean
      }[]
      expect(before).toEqual([
        expect.objectContaining({ kid: t.gh.keys.current().kid, current: true }),
      ])
      expect((await admin(['keys', 'list'])).out).not.toMatch(/"d"|privateJwk/)

      const rotated = await admin(['keys', 'rotate', '--json'])
      expect(rotated.code).toBe(0)
      const after = JSON.parse(rotated.out) as {
        kid: string
        current: boolean
        retiredAt?: number
      }[]
      expect(after).toHaveLength(2)
      expect(after.find((key) => key.kid === before[0]!.kid)?.retiredAt).toBeTypeOf('number')
      const current = after.find((key) => key.current)
      expect(current?.kid).not.toBe(before[0]!.kid)
      await t.gh.keys.refresh()
      expect(t.gh.keys.current().kid).toBe(current?.kid)
    } finally {
      await close()
    }
  })

  it('store check: reachable and decrypting with the configured secret; a wrong secret fails', async () => {
    const { admin, close } = await setup(backend)
    try {
      const ok = await admin(['store', 'check', '--json'])
      expect(ok.code).toBe(0)
      expect(JSON.parse(ok.out)).toEqual({
        backend: backend.name,
        reachable: true,
        decrypts: true,
        ...(backend.name === 'postgres' ? { schemaVersion: 1 } : {}),
      })
      expect((await admin(['store', 'check'])).out).toMatch(/^backend\s+/)

      const wrong = await admin(['store', 'check'], {
        extraEnv: { GATEHOUSE_SECRET: 'another-secret-of-at-least-32-bytes!!' },
      })
      expect(wrong.code).toBe(1)
      expect(wrong.err).toContain('ERR_STORE_DECRYPT')
      expect(wrong.err).not.toContain('another-secret')
    } finally {
      await close()
    }
  })
})

/** The `admin_action` audit events among JSON lines (a file, or the log lines on stderr). */
function adminActions(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.event === 'admin_action')
}

describe.each(backends)('gatehouse admin audit events on $name', (backend) => {
  it('emits one admin_action event per state-changing command (who, what, when, outcome), never a token', async () => {
    const { t, admin, close } = await setup(backend)
    try {
      const first = await getTokens(t)
      const second = await getTokens(t)
      const [grant] = JSON.parse(
        (await admin(['grants', 'list', '--client', first.client.client_id, '--json'])).out,
      ) as { grantId: string }[]
      const auditFile = join(await mkdtemp(join(tmpdir(), 'gh-admin-audit-')), 'audit.jsonl')
      const toFile = { GATEHOUSE_AUDIT__SINK: 'file', GATEHOUSE_AUDIT__FILE: auditFile }

      // Reading changes nothing and records nothing.
      const listed = await admin(['grants', 'list'], { extraEnv: toFile })
      expect(adminActions(listed.err)).toEqual([])

      const before = Date.now()
      expect((await admin(['grants', 'revoke', grant!.grantId], { extraEnv: toFile })).code).toBe(0)
      expect((await admin(['grants', 'revoke', 'no-such-grant'], { extraEnv: toFile })).code).toBe(
        1,
      )
      expect((await admin(['keys', 'rotate'], { extraEnv: toFile })).code).toBe(0)
      const fromFile = adminActions(await readFile(auditFile, 'utf8'))
      const kid = t.gh.keys.current().kid
      await t.gh.keys.refresh()
      expect(fromFile).toEqual([
        expect.objectContaining({
          event: 'admin_action',
          action: 'grant.revoke',
          outcome: 'success',
          grantId: grant!.grantId,
          actor: expect.any(String) as unknown,
        }),
        expect.objectContaining({
          action: 'grant.revoke',
          outcome: 'failure',
          grantId: 'no-such-grant',
          reason: 'not_found',
        }),
        expect.objectContaining({
          action: 'keys.rotate',
          outcome: 'success',
          kid: t.gh.keys.current().kid,
        }),
      ])
      expect(t.gh.keys.current().kid).not.toBe(kid)
      for (const event of fromFile) {
        expect(Date.parse(event.time as string)).toBeGreaterThanOrEqual(before - 1000)
      }

      // The default sink is the log stream: JSON lines on stderr, stdout keeps the output.
      const byToken = await admin(['tokens', 'revoke', '--json'], {
        stdin: second.tokens.refresh_token!,
      })
      expect(byToken.code).toBe(0)
      const revokedGrant = (JSON.parse(byToken.out) as { revoked: string }).revoked
      expect(adminActions(byToken.err)).toEqual([
        expect.objectContaining({
          audit: true,
          action: 'token.revoke',
          outcome: 'success',
          grantId: revokedGrant,
        }),
      ])
      const refused = await admin(['tokens', 'revoke'], { stdin: second.tokens.access_token })
      expect(refused.code).toBe(1)
      expect(adminActions(refused.err)).toEqual([
        expect.objectContaining({
          action: 'token.revoke',
          outcome: 'failure',
          reason: 'not_found',
        }),
      ])
      const deleted = await admin(['clients', 'delete', first.client.client_id])
      expect(adminActions(deleted.err)).toEqual([
        expect.objectContaining({
          action: 'client.delete',
          outcome: 'success',
          clientId: first.client.client_id,
        }),
      ])
      const everything = [
        await readFile(auditFile, 'utf8'),
        byToken.err,
        refused.err,
        deleted.err,
      ].join('\n')
      for (const secret of [
        first.tokens.refresh_token!,
        first.tokens.access_token,
        second.tokens.refresh_token!,
        second.tokens.access_token,
        SECRET,
      ]) {
        expect(everything).not.toContain(secret)
      }
    } finally {
      await close()
    }
  })
})

describe('gatehouse admin usage', () => {
  it('prints its help and refuses unknown commands with exit 2', async () => {
    const out = capture()
    const err = capture()
    expect(await main(['admin', '--help'], out.stream, err.stream)).toBe(0)
    expect(out.text()).toContain('grants revoke <grant_id>')
    expect(await main(['admin', 'grants', 'burn'], out.stream, err.stream)).toBe(2)
    expect(await main(['admin', 'grants', 'revoke'], out.stream, err.stream)).toBe(2)
  })

  it('names an unknown command or option with the nearest known one, exit 2, no parseArgs text', async () => {
    const cases: [string[], string][] = [
      [
        ['admin', 'clinets', 'list'],
        'gatehouse admin: unknown command "clinets list" (did you mean clients list?); see gatehouse admin --help\n',
      ],
      [
        ['admin', 'clinets'],
        'gatehouse admin: unknown command "clinets" (did you mean clients?); see gatehouse admin --help\n',
      ],
      [
        ['admin', 'clients', 'list', '--jsn'],
        'gatehouse admin: unknown option --jsn (did you mean --json?); see gatehouse admin --help\n',
      ],
      // A token pasted where `revoke` belonged is not echoed.
      [
        ['admin', 'tokens', 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln'],
        'gatehouse admin: unknown command "tokens …" (did you mean tokens revoke?); see gatehouse admin --help\n',
      ],
    ]
    for (const [argv, expected] of cases) {
      const out = capture()
      const err = capture()
      expect(await main(argv, out.stream, err.stream)).toBe(2)
      expect(err.text()).toBe(expected)
      expect(out.text()).toBe('')
    }
  })
})
