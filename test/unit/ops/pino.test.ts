import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { configFromEnv } from '../../../src/config/env.js'
import { resolveConfig } from '../../../src/config/schema.js'
import { ConfigError } from '../../../src/errors.js'
import { createPinoLogger } from '../../../src/ops/pino.js'
import { parseTraceparent } from '../../../src/ops/trace.js'

const base = {
  issuer: 'https://gw.example',
  secret: 's'.repeat(32),
  resources: [{ url: 'https://gw.example/mcp' }],
}

describe('the CLI logger', () => {
  it('writes JSON lines with an ISO time, and censors secret-looking fields an app logs', () => {
    let out = ''
    const log = createPinoLogger({
      level: 'info',
      destination: { write: (l: string) => (out += l) },
    })
    log.info(
      {
        authorization: 'Bearer abc.def',
        headers: { cookie: 'sid=1' },
        nested: { refresh_token: 'rt-1' },
      },
      'x',
    )
    const line = JSON.parse(out) as Record<string, unknown>
    expect(new Date(line.time as string).toISOString()).toBe(line.time)
    expect(out).not.toMatch(/abc\.def|sid=1|rt-1/)
    expect(line.authorization).toBe('[redacted]')
  })

  it('writes human-readable lines when pretty', async () => {
    let out = ''
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        out += chunk.toString()
        done()
      },
    })
    const log = createPinoLogger({ level: 'info', pretty: true, destination })
    log.info({ route: '/token', status: 200 }, 'request')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(out).toContain('request')
    expect(out).toContain('/token')
    expect(() => JSON.parse(out) as unknown).toThrow()
  })

  it('honours the level', () => {
    let out = ''
    const log = createPinoLogger({
      level: 'warn',
      destination: { write: (l: string) => (out += l) },
    })
    log.info({}, 'quiet')
    expect(out).toBe('')
  })
})

describe('operations configuration', () => {
  it('maps GATEHOUSE_LOG_LEVEL and GATEHOUSE_LOG_FORMAT to log.level and log.format', () => {
    expect(configFromEnv({ GATEHOUSE_LOG_LEVEL: 'debug', GATEHOUSE_LOG_FORMAT: 'json' })).toEqual({
      log: { level: 'debug', format: 'json' },
    })
    expect(
      resolveConfig({ ...base, ...configFromEnv({ GATEHOUSE_LOG_LEVEL: 'debug' }) }).log.level,
    ).toBe('debug')
  })

  it('refuses an unknown level and a file sink without a file', () => {
    expect(() => resolveConfig({ ...base, log: { level: 'loud' } })).toThrow(ConfigError)
    try {
      resolveConfig({ ...base, audit: { sink: 'file' } })
      expect.unreachable()
    } catch (error) {
      expect((error as ConfigError).issues).toEqual(['audit.file: is required when sink is file'])
    }
  })

  it('defaults: level info, audit to the log stream, metrics off', () => {
    const c = resolveConfig(base)
    expect(c.log).toEqual({ level: 'info' })
    expect(c.audit).toEqual({ sink: 'log' })
    expect(c.metrics).toEqual({ enabled: false, activeGrantsRefreshSeconds: 60 })
  })
})

describe('traceparent', () => {
  it('accepts a valid header and refuses malformed or all-zero ones', () => {
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentId: '00f067aa0ba902b7',
      flags: '01',
    })
    for (const bad of [
      null,
      '',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
      '00-4bf92f35-00f067aa0ba902b7-01',
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined()
    }
  })
})
