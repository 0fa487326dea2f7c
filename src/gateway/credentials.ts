/**
 * Per-route upstream credentials. Secrets are read once at start-up from the environment or a
 * file (never the command line or the configuration), so a missing secret fails at start, and the
 * value is kept only in memory.
 */
import { readFileSync } from 'node:fs'
import type { UpstreamCredential } from '../config/gateway-schema.js'
import { ConfigError } from '../errors.js'

/** The header (name, value) a route adds to upstream requests, or `undefined` for `none`. */
export function loadCredential(
  credential: UpstreamCredential,
  where: string,
  env: NodeJS.ProcessEnv = process.env,
): readonly [string, string] | undefined {
  switch (credential.kind) {
    case 'none':
      return undefined
    case 'header': {
      let secret: string | undefined
      if (credential.valueFromEnv !== undefined) {
        secret = env[credential.valueFromEnv]
        if (secret === undefined || secret === '') {
          throw new ConfigError([
            `${where}.valueFromEnv: the environment variable ${credential.valueFromEnv} is not set`,
          ])
        }
      } else if (credential.valueFile !== undefined) {
        try {
          secret = readFileSync(credential.valueFile, 'utf8').replace(/\r?\n$/, '')
        } catch {
          throw new ConfigError([`${where}.valueFile: cannot read the file`])
        }
      }
      if (secret === undefined || secret === '' || /[\r\n\0]/.test(secret)) {
        throw new ConfigError([`${where}: the secret is empty or holds a line break`])
      }
      return [credential.name, `${credential.prefix}${secret}`]
    }
  }
}
