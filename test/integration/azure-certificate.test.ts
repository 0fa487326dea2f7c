/**
 * Entra's certificate credential: Gatehouse authenticates to Entra with a signed client assertion
 * (PS256, `x5t#S256`, `aud` the token endpoint) at code exchange, refresh and On-Behalf-Of, and
 * never sends a secret.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeProtectedHeader, decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AzureProvider, createAzureProxy } from '../../src/presets/azure.js'
import { startAzureStandIn, type AzureStandIn } from '../../src/dev/azure-stand-in/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { createClock } from '../helpers/gatehouse.js'
import { signIn, type AzureSetup } from '../helpers/azure.js'

const TENANT = 'aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa'
const APP = '33333333-cccc-4ccc-8ccc-333333333333'
const GH = 'http://127.0.0.1:7791'

/** A self-signed certificate and its PKCS#8 key, made by openssl as a user would. */
function makeCertificate(): { privateKey: string; certificate: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gh-cert-'))
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=gatehouse-test',
      '-days',
      '1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  )
  return {
    privateKey: readFileSync(join(dir, 'key.pem'), 'utf8'),
    certificate: readFileSync(join(dir, 'cert.pem'), 'utf8'),
  }
}

describe('Azure certificate credential', () => {
  let entra: AzureStandIn
  let cert: { privateKey: string; certificate: string }
  let other: { privateKey: string; certificate: string }
  beforeAll(async () => {
    cert = makeCertificate()
    other = makeCertificate()
    entra = await startAzureStandIn({
      tenants: [{ id: TENANT }],
      apps: [
        {
          clientId: APP,
          clientSecret: 'unused-secret',
          certificate: cert.certificate,
          tenantId: TENANT,
          scopes: ['read'],
          redirectUris: [`${GH}/auth/callback`],
        },
      ],
      users: [{ username: 'ann', password: 'ann-pw', tenantId: TENANT }],
    })
  })
  afterAll(() => entra.close())

  async function setup(credential: {
    privateKey: string
    certificate: string
  }): Promise<AzureSetup> {
    const clock = createClock()
    const gh = await createAzureProxy({
      baseUrl: GH,
      clientId: APP,
      clientCertificate: credential,
      tenantId: TENANT,
      authority: entra.url,
      requiredScopes: ['read'],
      additionalAuthorizeScopes: ['User.Read'],
      secret: 's'.repeat(32),
      store: createMemoryStore(),
      now: clock.now,
    })
    if (!(gh.base instanceof AzureProvider)) throw new Error('expected the Azure provider')
    return { gh, provider: gh.base, clock, warnings: [], errors: [] }
  }

  it('signs in and exchanges On-Behalf-Of with a PS256 client assertion, never a secret', async () => {
    const s = await setup(cert)
    const { token } = await signIn(s, { username: 'ann', password: 'ann-pw' })
    expect(token?.subject).toBeTypeOf('string')
    const exchange = entra.requestsTo('token').at(-1)!
    expect(exchange.clientAuth).toBe('private_key_jwt')
    expect(exchange.params.client_secret).toBeUndefined()
    const assertion = exchange.params.client_assertion!
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'PS256', typ: 'JWT' })
    expect(decodeProtectedHeader(assertion)['x5t#S256']).toMatch(/^[\w-]{43}$/)
    expect(decodeJwt(assertion)).toMatchObject({
      aud: `${entra.url}/${TENANT}/oauth2/v2.0/token`,
      iss: APP,
      sub: APP,
    })
    const graph = await s.provider.onBehalfOf(token!, ['https://graph.microsoft.com/User.Read'])
    const obo = entra.requestsTo('token').at(-1)!
    expect(obo.params.requested_token_use).toBe('on_behalf_of')
    expect(obo.clientAuth).toBe('private_key_jwt')
    expect(obo.params.client_assertion).not.toBe(assertion) // a fresh jti each time
    const me = await fetch(`${entra.url}/v1.0/me`, {
      headers: { authorization: `Bearer ${graph}` },
    })
    expect(me.status).toBe(200)
  })

  it('fails the sign-in when the certificate is not the registered one', async () => {
    const s = await setup(other)
    const { back } = await signIn(s, { username: 'ann', password: 'ann-pw' })
    expect(back.searchParams.get('error')).toBe('temporarily_unavailable')
    expect(back.href).not.toContain('PRIVATE KEY')
  })

  it('refuses a configuration with both a secret and a certificate, or a key that is not PEM', async () => {
    await expect(
      createAzureProxy({
        baseUrl: GH,
        clientId: APP,
        clientSecret: 'x',
        clientCertificate: cert,
        tenantId: TENANT,
        authority: entra.url,
        requiredScopes: ['read'],
        secret: 's'.repeat(32),
        store: createMemoryStore(),
      }),
    ).rejects.toMatchObject({
      issues: ['upstream.clientCertificate: give clientSecret or clientCertificate, not both'],
    })
    const broken = await setup({ privateKey: 'not a key', certificate: cert.certificate }).catch(
      (e: unknown) => e,
    )
    expect(broken).toBeInstanceOf(TypeError)
    expect(String(broken)).not.toContain('not a key')
  })
})
