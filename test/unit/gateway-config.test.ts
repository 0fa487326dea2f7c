/**
 * The `gateway` section of the one configuration schema: routes become protected resources, and
 * mistakes are reported with the path of the field (also by `gatehouse check-config`).
 */
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'
import { resolveConfig } from '../../src/config/schema.js'
import { ConfigError } from '../../src/errors.js'

const base = { issuer: 'https://mcp.example.com', secret: 's'.repeat(32) }
const http = { kind: 'http', url: 'http://10.0.0.1:3000/mcp' }

function problems(input: unknown): string[] {
  try {
    resolveConfig(input)
  } catch (error) {
    if (error instanceof ConfigError)
      return error.message.split('\n').map((l) => l.replace(/^\s*- /, ''))
    throw error
  }
  return []
}

describe('gateway configuration', () => {
  it('turns each route into a protected resource with its scopes and metadata location', () => {
    const config = resolveConfig({
      ...base,
      gateway: {
        routes: [
          { path: '/github', upstream: http, scopes: ['repo:read'], requiredScopes: ['repo:read'] },
          { path: '/files', upstream: { kind: 'stdio', command: 'npx', args: ['-y', 'x'] } },
        ],
      },
    })
    expect(config.resources.map((r) => [r.url, r.metadataPath, r.requiredScopes])).toEqual([
      [
        'https://mcp.example.com/github',
        '/.well-known/oauth-protected-resource/github',
        ['repo:read'],
      ],
      ['https://mcp.example.com/files', '/.well-known/oauth-protected-resource/files', []],
    ])
    expect(config.gateway?.routes[1]?.upstream).toMatchObject({
      mode: 'shared',
      maxMessageBytes: 4194304,
    })
  })

  it('reports bad routes with the path of the field', () => {
    const found = problems({
      ...base,
      gateway: {
        routes: [
          { path: '/a', upstream: http },
          { path: '/b', upstream: http },
          { path: '/e', upstream: http },
          { path: 'nope', upstream: { kind: 'ftp' } },
          {
            path: '/c',
            upstream: {
              ...http,
              credential: { kind: 'header', name: 'X-Key', valueFromEnv: 'K', valueFile: '/k' },
            },
          },
          { path: '/d', upstream: { kind: 'stdio', command: 'x', mode: 'forked' } },
        ],
      },
    })
    // Checks across routes run once every route is well-formed.
    const across = problems({
      ...base,
      gateway: {
        routes: [
          { path: '/a', upstream: http },
          { path: '/a', upstream: http },
          { path: '/.well-known/x', upstream: http },
          { path: '/t', upstream: { ...http, timeoutSeconds: 60, maxTimeoutSeconds: 30 } },
          {
            path: '/s',
            upstream: {
              ...http,
              credential: { kind: 'header', name: 'X-Gatehouse-Identity', valueFromEnv: 'K' },
              identityHeaders: { signed: {} },
            },
          },
          {
            path: '/u',
            upstream: { kind: 'stdio', command: 'x', timeoutSeconds: 90, maxTimeoutSeconds: 60 },
          },
        ],
      },
    })
    expect(across).toContain('gateway.routes.1.path: is listed twice')
    expect(across).toContain(
      'gateway.routes.5.upstream.maxTimeoutSeconds: must be at least timeoutSeconds',
    )
    expect(across).toContain(
      'gateway.routes.3.upstream.maxTimeoutSeconds: must be at least timeoutSeconds',
    )
    expect(across).toContain(
      'gateway.routes.4.upstream.identityHeaders.signed.name: names a header the route already sets',
    )
    expect(across).toContain('gateway.routes.2.path: collides with an OAuth endpoint')
    expect(found.some((p) => p.startsWith('gateway.routes.3.path'))).toBe(true)
    expect(found.some((p) => p.startsWith('gateway.routes.3.upstream'))).toBe(true)
    expect(found.some((p) => p.startsWith('gateway.routes.4.upstream.credential'))).toBe(true)
    expect(found.some((p) => p.startsWith('gateway.routes.5.upstream.mode'))).toBe(true)
    expect(
      problems({
        ...base,
        gateway: { routes: [{ path: '/u', upstream: { ...http, maxInFlight: 0 } }] },
      }),
    ).toContain('gateway.routes.0.upstream.maxInFlight: Too small: expected number to be >=1')
  })

  it.each(['azure-obo', 'entra-obo'])(
    'refuses an %s credential at load unless the identity provider is Entra ID',
    (kind) => {
      const route = {
        path: '/graph',
        upstream: {
          ...http,
          credential: { kind, scopes: ['https://graph.microsoft.com/User.Read'] },
        },
      }
      const message =
        'gateway.routes.0.upstream.credential.kind: azure-obo needs upstream.kind azure (Microsoft Entra ID, not B2C) as the identity provider'
      const oidc = {
        kind: 'oidc',
        configUrl: 'https://idp.example.com/.well-known/openid-configuration',
        clientId: 'gw',
        clientSecret: 'x',
      }
      expect(problems({ ...base, upstream: oidc, gateway: { routes: [route] } })).toContain(message)
      expect(problems({ ...base, gateway: { routes: [route] } })).toContain(message)
      const azure = {
        kind: 'azure',
        tenantId: 'contoso.onmicrosoft.com',
        clientId: 'gw',
        clientSecret: 'x',
      }
      expect(problems({ ...base, upstream: azure, gateway: { routes: [route] } })).toEqual([])
      // `entra-obo`, the name before issue 12, is read as `azure-obo`.
      const resolved = resolveConfig({ ...base, upstream: azure, gateway: { routes: [route] } })
      const upstream = resolved.gateway?.routes[0]?.upstream
      expect(upstream?.kind !== 'stdio' && upstream?.credential.kind).toBe('azure-obo')
    },
  )

  it('refuses a gatehouse-token whose audience is one of its own resources, on HTTP and SSE routes', () => {
    const token = (audience?: string) => ({
      kind: 'gatehouse-token',
      ...(audience ? { audience } : {}),
    })
    const found = problems({
      ...base,
      resources: [{ url: 'https://mcp.example.com/other' }],
      gateway: {
        routes: [
          // An SSE route handing the token for another route (non-canonical spelling).
          {
            path: '/a',
            upstream: {
              kind: 'sse',
              url: 'http://10.0.0.1:3001/sse',
              credential: token('HTTPS://MCP.example.com:443/b/'),
            },
          },
          { path: '/b', upstream: { ...http, credential: token('https://mcp.example.com/other') } },
          // The upstream URL is the audience when none is given.
          {
            path: '/c',
            upstream: { kind: 'sse', url: 'https://mcp.example.com/b', credential: token() },
          },
          {
            path: '/d',
            upstream: { ...http, credential: token('https://upstream.example.com/mcp') },
          },
        ],
      },
    })
    const message = "is a resource of this Gatehouse; name the upstream's own audience"
    expect(found).toEqual([
      'invalid configuration:',
      `gateway.routes.0.upstream.credential.audience: ${message}`,
      `gateway.routes.1.upstream.credential.audience: ${message}`,
      `gateway.routes.2.upstream.credential.audience: ${message}`,
    ])
  })

  it("refuses a stdio process's environment set twice, or the caller's credentials outside user mode", () => {
    const stdio = (extra: Record<string, unknown>) => ({
      kind: 'stdio',
      command: 'server',
      ...extra,
    })
    const found = problems({
      ...base,
      gateway: {
        routes: [
          {
            path: '/shared',
            upstream: stdio({
              userTokenEnv: 'USER_TOKEN',
              credentialEnv: {
                API_KEY: { kind: 'secret', valueFromEnv: 'MY_KEY' },
                IDP: { kind: 'idp-token' },
                OBO: { kind: 'azure-obo', scopes: ['api://orders/.default'] },
              },
            }),
          },
          {
            path: '/user',
            upstream: stdio({
              mode: 'user',
              env: { API_KEY: 'plain' },
              inheritEnv: ['SHARED'],
              userTokenEnv: 'SHARED',
              credentialEnv: {
                API_KEY: { kind: 'secret', valueFile: '/run/key' },
                PATH: { kind: 'idp-token' },
                SIGNED: { kind: 'gatehouse-token', audience: 'https://mcp.example.com/user' },
                BOTH: { kind: 'secret', valueFile: '/run/key', valueFromEnv: 'X' },
              },
            }),
          },
        ],
      },
    })
    const caller = (kind: string) =>
      `${kind} is the caller's credential: it needs mode: user (a process per sign-in)`
    expect(found).toEqual([
      'invalid configuration:',
      'gateway.routes.1.upstream.credentialEnv.BOTH: give valueFromEnv or valueFile (one)',
      "gateway.routes.0.upstream.userTokenEnv: is the caller's credential: it needs mode: user (a process per sign-in)",
      `gateway.routes.0.upstream.credentialEnv.IDP.kind: ${caller('idp-token')}`,
      `gateway.routes.0.upstream.credentialEnv.OBO.kind: ${caller('azure-obo')}`,
      'gateway.routes.1.upstream.userTokenEnv: SHARED is set by inheritEnv already',
      'gateway.routes.1.upstream.credentialEnv.API_KEY: API_KEY is set by env already',
      'gateway.routes.1.upstream.credentialEnv.PATH: PATH is set by the gateway (always inherited) already',
      'gateway.routes.0.upstream.credentialEnv.OBO.kind: azure-obo needs upstream.kind azure (Microsoft Entra ID, not B2C) as the identity provider',
      "gateway.routes.1.upstream.credentialEnv.SIGNED.audience: is a resource of this Gatehouse; name the upstream's own audience",
    ])
  })

  it('refuses a variable both inherited and given in env (env would win unseen)', () => {
    const found = problems({
      ...base,
      gateway: {
        routes: [
          {
            path: '/s',
            upstream: {
              kind: 'stdio',
              command: 'server',
              env: { API_URL: 'https://a.example' },
              inheritEnv: ['API_URL', 'PATH'],
            },
          },
        ],
      },
    })
    expect(found).toEqual([
      'invalid configuration:',
      'gateway.routes.0.upstream.env.API_URL: API_URL is set by inheritEnv already',
    ])
  })

  it('refuses resource rule keys no normal-form URI could match, naming the spelling to use', () => {
    const rules = Object.fromEntries(
      [
        'demo://resource/static/*',
        'file:///srv/data/readme.md',
        'https://example.com/',
        'demo://resource/{id}/text',
        'DEMO://resource/dynamic/*',
        'demo://resource/static/../dynamic/*',
        'demo://resource/%2E%2E/x*',
        'demo://résumé/*',
        ' demo://x/*',
        'HTTPS://Example.com/a',
        'https://example.com',
        'demo://a/./b',
        'not a uri',
        'https://*',
        'note://secret*',
        'file:///srv/secre%74.txt',
        'file:///srv/a%2fb',
        'demo://x/doc#intro',
        'demo://x/doc?',
        'https://Docs.example.com/private/*',
        'https://docs.example.com:443/private/*',
        'file://localhost/srv/private/*',
        'https://a.example*',
        'file:///srv/%70rivate/*',
      ].map((key) => [key, {}]),
    )
    const found = problems({
      ...base,
      gateway: { routes: [{ path: '/mcp', upstream: http, resources: rules }] },
    })
    const at = (key: string) => `gateway.routes.0.resources.${key}`
    expect(found).toEqual([
      'invalid configuration:',
      `${at('DEMO://resource/dynamic/*')}: is not in normal form: write the scheme in lower case`,
      `${at('demo://resource/static/../dynamic/*')}: is not in normal form: it has a . or .. segment`,
      `${at('demo://resource/%2E%2E/x*')}: is not in normal form: it has a . or .. segment`,
      `${at('demo://résumé/*')}: is not in normal form: percent-encode non-ASCII characters`,
      `${at(' demo://x/*')}: is not in normal form: it has a space or control character`,
      `${at('HTTPS://Example.com/a')}: is not in normal form: write https://example.com/a`,
      `${at('https://example.com')}: is not in normal form: write https://example.com/`,
      `${at('demo://a/./b')}: is not in normal form: write demo://a/b`,
      `${at('not a uri')}: is not a URI`,
      `${at('file:///srv/secre%74.txt')}: is not in normal form: write %74 as the character it encodes`,
      `${at('file:///srv/a%2fb')}: is not in normal form: write the escape %2f in upper case`,
      `${at('demo://x/doc#intro')}: is not in normal form: it has a fragment`,
      `${at('demo://x/doc?')}: is not in normal form: it has an empty query`,
      `${at('https://Docs.example.com/private/*')}: is not in normal form: write https://docs.example.com/private/*`,
      `${at('https://docs.example.com:443/private/*')}: is not in normal form: write https://docs.example.com/private/*`,
      `${at('file://localhost/srv/private/*')}: is not in normal form: write file:///srv/private/*`,
      `${at('https://a.example*')}: must end at a path boundary: the prefix ends inside the host (add / after it)`,
      `${at('file:///srv/%70rivate/*')}: is not in normal form: write %70 as the character it encodes`,
    ])
  })

  it('is understood by gatehouse check-config (no resources list needed), which wants an IdP as serve does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-gwcfg-'))
    const file = join(dir, 'gatehouse.json')
    await writeFile(
      file,
      JSON.stringify({ ...base, gateway: { routes: [{ path: '/mcp', upstream: http }] } }),
    )
    let text = ''
    const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream
    expect(await main(['check-config', file], out, out)).toBe(1)
    expect(text).toContain('no identity provider')
    text = ''
    expect(await main(['check-config', file, '--dev-idp'], out, out)).toBe(0)
    expect(text).toContain('1 resource(s), 1 route(s)')
  })
})
