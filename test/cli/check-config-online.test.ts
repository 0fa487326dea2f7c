import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/index.js'
import { startGoogleStandIn } from '../../src/dev/google-stand-in/index.js'
import { startAuth0StandIn } from '../../src/dev/auth0-stand-in/index.js'

function capture() {
  let text = ''
  return {
    stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream,
    text: () => text,
  }
}

async function checkConfig(config: unknown) {
  const dir = await mkdtemp(join(tmpdir(), 'gh-online-'))
  const file = join(dir, 'config.json')
  await writeFile(file, JSON.stringify(config))
  const out = capture()
  const err = capture()
  const saved = process.env.GATEHOUSE_SECRET
  process.env.GATEHOUSE_SECRET = 's'.repeat(40)
  try {
    const code = await main(['check-config', '--online', file], out.stream, err.stream)
    return { code, out: out.text(), err: err.text() }
  } finally {
    if (saved === undefined) delete process.env.GATEHOUSE_SECRET
    else process.env.GATEHOUSE_SECRET = saved
  }
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as { port: number }
  await new Promise<void>((done) =>
    server.close(() => {
      done()
    }),
  )
  return port
}

const base = {
  issuer: 'http://127.0.0.1:8787',
  resources: [{ url: 'http://127.0.0.1:8787/mcp' }],
}

describe('gatehouse check-config --online', () => {
  let idp: DevIdP
  beforeAll(async () => {
    idp = await startDevIdentityProvider({
      users: [{ username: 'u', password: 'p' }],
      clients: [
        {
          clientId: 'gh',
          clientSecret: 'x'.repeat(32),
          redirectUris: ['http://127.0.0.1:8787/auth/callback'],
        },
      ],
    })
  })
  afterAll(() => idp.close())

  it('reports the dev IdP discovery document and its keys as ok', async () => {
    const r = await checkConfig({
      ...base,
      upstream: {
        kind: 'oidc',
        configUrl: `${idp.issuer}/.well-known/openid-configuration`,
        clientId: 'gh',
        clientSecret: 'x'.repeat(32),
      },
    })
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    const lines = r.out.trim().split('\n')
    expect(lines[1]).toBe(
      `ok     upstream discovery ${idp.issuer}/.well-known/openid-configuration: issuer ${idp.issuer}`,
    )
    expect(lines[2]).toMatch(
      new RegExp(`^ok     upstream JWKS ${idp.issuer}/\\S+: [1-9]\\d* keys?$`),
    )
  })

  it('probes a Google upstream’s discovery document and keys', async () => {
    const google = await startGoogleStandIn({ clients: [], users: [] })
    try {
      const r = await checkConfig({
        ...base,
        upstream: {
          kind: 'google',
          discoveryUrl: google.discoveryUrl,
          clientId: 'id.apps.googleusercontent.com',
          clientSecret: 'x',
        },
      })
      expect(r.code).toBe(0)
      const lines = r.out.trim().split('\n')
      expect(lines[1]).toBe(
        `ok     upstream discovery ${google.discoveryUrl}: issuer ${google.url}`,
      )
      expect(lines[2]).toMatch(/^ok {5}upstream JWKS \S+\/oauth2\/v3\/certs: 1 key$/)
    } finally {
      await google.close()
    }
  })

  it('probes an Auth0 upstream’s discovery document (trailing-slash issuer) and keys', async () => {
    const auth0 = await startAuth0StandIn({ clients: [], apis: [], users: [] })
    try {
      const r = await checkConfig({
        ...base,
        upstream: {
          kind: 'auth0',
          domain: 'acme.us.auth0.com',
          authority: auth0.url,
          audience: 'https://api.example.com',
          clientId: 'id',
          clientSecret: 'x',
        },
      })
      expect(r.code).toBe(0)
      const lines = r.out.trim().split('\n')
      expect(lines[1]).toBe(
        `ok     upstream discovery ${auth0.url}/.well-known/openid-configuration: issuer ${auth0.url}/`,
      )
      expect(lines[2]).toMatch(/^ok {5}upstream JWKS \S+\/jwks\.json: 1 key$/)
    } finally {
      await auth0.close()
    }
  })

  it('reports a closed port as failed with the reason, and exits 1', async () => {
    const port = await closedPort()
    const r = await checkConfig({
      ...base,
      upstream: {
        kind: 'oauth',
        issuer: `http://127.0.0.1:${port}`,
        authorizationEndpoint: `http://127.0.0.1:${port}/authorize`,
        tokenEndpoint: `http://127.0.0.1:${port}/token`,
        jwksUri: `http://127.0.0.1:${port}/jwks`,
        clientId: 'gh',
        clientSecret: 'x',
      },
    })
    expect(r.code).toBe(1)
    expect(r.out).toContain(
      `FAILED upstream JWKS http://127.0.0.1:${port}/jwks: connection refused\n`,
    )
    expect(r.err).toBe('gatehouse check-config: 1 online check(s) failed\n')
  })

  it('reports a discovery URL on a closed port as failed, and a missing document by its status', async () => {
    const port = await closedPort()
    const r = await checkConfig({
      ...base,
      upstream: {
        kind: 'oidc',
        configUrl: `http://127.0.0.1:${port}/.well-known/openid-configuration`,
        clientId: 'gh',
        clientSecret: 'x',
      },
      identityAssertion: {
        trustedIssuers: [
          { issuer: idp.issuer, jwksUri: `${idp.issuer}/no-such-keys`, subjectPrefix: 'corp' },
        ],
      },
    })
    expect(r.code).toBe(1)
    expect(r.out).toContain(
      `FAILED upstream discovery http://127.0.0.1:${port}/.well-known/openid-configuration: connection refused\n`,
    )
    expect(r.out).toContain(
      `FAILED identityAssertion.trustedIssuers.0 keys ${idp.issuer}/no-such-keys: JWKS request answered with status 404\n`,
    )
    expect(r.out).not.toContain('upstream JWKS')
  })
})
