/**
 * The router (`createRouter`): `HEAD` reaches a `GET` handler only where the route says its `GET`
 * is safe to repeat (`head: true`); elsewhere it answers 405 without running the handler.
 */
import { describe, expect, it } from 'vitest'
import { createRouter } from '../../src/http/app.js'

describe('createRouter and HEAD', () => {
  it('answers 405 to HEAD on a route whose GET changes state, and never runs its handler', async () => {
    let runs = 0
    const router = createRouter([
      {
        path: '/authorize',
        cors: false,
        methods: {
          GET: () => {
            runs++
            return Promise.resolve(
              new Response(null, {
                status: 302,
                headers: { location: 'https://app.test/cb?code=x' },
              }),
            )
          },
        },
      },
    ])
    const head = await router(new Request('https://as.test/authorize', { method: 'HEAD' }))
    expect(head.status).toBe(405)
    expect(head.headers.get('allow')).toBe('GET')
    expect(head.headers.get('location')).toBeNull()
    expect(runs).toBe(0)
    expect((await router(new Request('https://as.test/authorize'))).status).toBe(302)
    expect(runs).toBe(1)
  })

  it('runs the GET handler for HEAD where the route allows it', async () => {
    let runs = 0
    const router = createRouter([
      {
        path: '/meta',
        cors: true,
        head: true,
        methods: {
          GET: () => {
            runs++
            return Promise.resolve(Response.json({ ok: true }))
          },
        },
      },
    ])
    const head = await router(new Request('https://as.test/meta', { method: 'HEAD' }))
    expect(head.status).toBe(200)
    expect(runs).toBe(1)
  })
})
