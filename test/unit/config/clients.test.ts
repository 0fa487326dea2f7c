import { describe, expect, it } from 'vitest'
import { resolveConfig } from '../../../src/config/schema.js'

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const base = {
  issuer: 'https://as.example',
  secret: 's'.repeat(40),
  resources: [{ url: 'https://as.example/mcp' }],
}
const secret = 'c'.repeat(40)
const trusted = {
  trustedIssuers: [{ issuer: 'https://idp.example', jwksUri: 'https://idp.example/jwks' }],
}

function problems(input: Record<string, unknown>): string[] {
  try {
    resolveConfig({ ...base, ...input })
    return []
  } catch (error) {
    return [...(error as { issues: string[] }).issues]
  }
}

describe('configured clients and the identity-assertion grant', () => {
  it('accept a confidential jwt-bearer client when identityAssertion is configured', () => {
    const config = resolveConfig({
      ...base,
      clients: [{ clientId: 'agent', clientSecret: secret, grantTypes: [JWT_BEARER] }],
      identityAssertion: trusted,
    })
    expect(config.clients[0]).toMatchObject({ tokenEndpointAuthMethod: 'client_secret_basic' })
    expect(config.identityAssertion?.maxAssertionLifetimeSeconds).toBe(300)
  })

  it('refuse a public client with the jwt-bearer grant, and the grant without identityAssertion', () => {
    expect(
      problems({
        clients: [{ clientId: 'pub', tokenEndpointAuthMethod: 'none', grantTypes: [JWT_BEARER] }],
        identityAssertion: trusted,
      }),
    ).toEqual(['clients.0.grantTypes: the jwt-bearer grant is for confidential clients only'])
    expect(
      problems({
        clients: [{ clientId: 'agent', clientSecret: secret, grantTypes: [JWT_BEARER] }],
      }),
    ).toEqual([
      'clients.0.grantTypes: the jwt-bearer grant needs identityAssertion to be configured',
    ])
  })

  it('refuse duplicate ids, URL-like ids, missing secrets, short secrets and bad redirect URIs', () => {
    const found = problems({
      clients: [
        { clientId: 'a', clientSecret: secret, redirectUris: ['https://app.example/cb'] },
        { clientId: 'a', clientSecret: secret, redirectUris: ['javascript:alert(1)'] },
        { clientId: 'https://client.example/meta', clientSecret: secret, grantTypes: [JWT_BEARER] },
        { clientId: 'b', redirectUris: ['https://app.example/cb'] },
        { clientId: 'c', clientSecret: 'short', redirectUris: ['https://app.example/cb'] },
      ],
      identityAssertion: trusted,
    })
    expect(found).toEqual(
      expect.arrayContaining([
        'clients.1.clientId: is listed twice',
        expect.stringMatching(/^clients\.1\.redirectUris\.0: uses the forbidden scheme/),
        expect.stringMatching(/^clients\.2\.clientId: /),
        'clients.3.clientSecret: is required for client_secret_basic',
        expect.stringMatching(/^clients\.4\.clientSecret: /),
      ]),
    )
  })

  it('require distinct subject prefixes when several issuers are trusted', () => {
    const two = (a?: string, b?: string) => ({
      identityAssertion: {
        trustedIssuers: [
          { issuer: 'https://a.example', jwksUri: 'https://a.example/jwks', subjectPrefix: a },
          { issuer: 'https://b.example', jwksUri: 'https://b.example/jwks', subjectPrefix: b },
        ],
      },
    })
    expect(problems(two('a', 'b'))).toEqual([])
    expect(problems(two('a'))).toEqual([
      'identityAssertion.trustedIssuers.1.subjectPrefix: must be set, and differ between issuers, when several issuers are trusted',
    ])
    expect(problems(two('same', 'same'))).toHaveLength(1)
  })

  it('require a subject prefix on a single trusted issuer when users also sign in through a proxy upstream', () => {
    const one = (subjectPrefix?: string) => ({
      trustedIssuers: [
        { issuer: 'https://idp.example', jwksUri: 'https://idp.example/jwks', subjectPrefix },
      ],
    })
    const upstream = {
      kind: 'oidc',
      configUrl: 'https://login.example/.well-known/openid-configuration',
      clientId: 'gh',
      clientSecret: 'x',
    }
    const message =
      'identityAssertion.trustedIssuers.0.subjectPrefix: is required when upstream or upstreams is configured: ID-JAG subjects become "<subjectPrefix>:<sub>" so the IdP cannot name a user who signs in through the proxy'
    // The documented single-IdP enterprise setup (no proxy) keeps the ID-JAG's sub as is.
    expect(problems({ identityAssertion: one() })).toEqual([])
    expect(problems({ identityAssertion: one(), upstream })).toEqual([message])
    expect(problems({ identityAssertion: one(), upstreams: [{ id: 'corp', upstream }] })).toEqual([
      message,
    ])
    expect(problems({ identityAssertion: one('corp'), upstream })).toEqual([])
    // An upstreams prefix overlapping "corp:" would name the same subjects.
    expect(
      problems({
        identityAssertion: one('corp'),
        upstreams: [{ id: 'corp', upstream }],
      }),
    ).toEqual([])
    expect(
      problems({
        identityAssertion: one('corp'),
        upstreams: [{ id: 'corp', subjectPrefix: 'corp:', upstream }],
      }),
    ).toEqual([
      'identityAssertion.trustedIssuers.0.subjectPrefix: "corp:" overlaps upstreams.0.subjectPrefix "corp:": ID-JAG users and that IdP\'s users would share subjects',
    ])
  })

  it('refuse an identityAssertion subject prefix that a tokenExchange issuer also uses', () => {
    const te = (subjectPrefix: string) => ({
      tokenExchange: {
        trustedIssuers: [
          { issuer: 'https://te.example', jwksUri: 'https://te.example/jwks', subjectPrefix },
        ],
      },
    })
    const ia = {
      trustedIssuers: [
        {
          issuer: 'https://idp.example',
          jwksUri: 'https://idp.example/jwks',
          subjectPrefix: 'corp',
        },
      ],
    }
    expect(problems({ identityAssertion: ia, ...te('other') })).toEqual([])
    expect(problems({ identityAssertion: ia, ...te('corp') })).toEqual([
      'identityAssertion.trustedIssuers.0.subjectPrefix: "corp" is also a tokenExchange.trustedIssuers subjectPrefix: the two issuers would share subjects',
    ])
  })

  it('refuse a tokenExchange subject prefix overlapping an upstreams prefix', () => {
    const upstream = {
      kind: 'oidc',
      configUrl: 'https://login.example/.well-known/openid-configuration',
      clientId: 'gh',
      clientSecret: 'x',
    }
    const te = {
      tokenExchange: {
        trustedIssuers: [
          {
            issuer: 'https://te.example',
            jwksUri: 'https://te.example/jwks',
            subjectPrefix: 'corp',
          },
        ],
      },
    }
    // "corp|…" (the default prefix of upstream id corp) and "corp:…" are different namespaces.
    expect(problems({ ...te, upstreams: [{ id: 'corp', upstream }] })).toEqual([])
    // A prefix the exchanged subjects start with, or one that starts with theirs, is refused:
    // a token of that issuer with sub "alice" would be the IdP user "alice" and the other way round.
    for (const prefix of ['corp:', 'co', '', 'corp:alice']) {
      expect(
        problems({ ...te, upstreams: [{ id: 'corp', subjectPrefix: prefix, upstream }] }),
      ).toEqual([
        `tokenExchange.trustedIssuers.0.subjectPrefix: "corp:" overlaps upstreams.0.subjectPrefix "${prefix}": token-exchange subjects and that IdP's users would share subjects`,
      ])
    }
  })

  it('refuse a trusted issuer with no key source or two of them, and symmetric algorithms', () => {
    expect(
      problems({ identityAssertion: { trustedIssuers: [{ issuer: 'https://idp.example' }] } }),
    ).toEqual([
      'identityAssertion.trustedIssuers.0: give exactly one of jwksUri, discoveryUrl or jwks',
    ])
    expect(
      problems({
        identityAssertion: {
          trustedIssuers: [
            {
              issuer: 'https://idp.example',
              jwksUri: 'https://idp.example/jwks',
              discoveryUrl: 'https://idp.example',
            },
          ],
        },
      }),
    ).toHaveLength(1)
    expect(
      problems({
        identityAssertion: {
          trustedIssuers: [
            {
              issuer: 'https://idp.example',
              jwksUri: 'https://idp.example/jwks',
              algorithms: ['HS256'],
            },
          ],
        },
      }),
    ).toHaveLength(1)
  })
})
