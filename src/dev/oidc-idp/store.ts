/**
 * An in-memory storage adapter for the development identity provider, private to one instance.
 *
 * oidc-provider's own quick-start adapter keeps one store for the whole process and prints a
 * warning; this one belongs to a single dev IdP, so a rebuilt provider (key rotation) keeps its
 * sessions, grants and tokens, and `close()` drops everything.
 */
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider'

interface Entry {
  payload: AdapterPayload
  /** Epoch milliseconds; `Infinity` when oidc-provider gave no lifetime. */
  expiresAt: number
}

/** Models whose records hang off a grant and go with it when the grant is revoked. */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
])

const SWEEP_EVERY = 256

/** One dev IdP's storage: hand `adapter` to oidc-provider, `clear()` on close. */
export interface DevIdPStore {
  adapter: AdapterFactory
  clear(): void
}

/** Creates an empty store whose records expire lazily when read (and in periodic sweeps). */
export function createDevIdPStore(): DevIdPStore {
  const records = new Map<string, Entry>()
  const indexes = new Map<string, string>()
  const grants = new Map<string, Set<string>>()
  let writes = 0

  const live = (key: string): Entry | undefined => {
    const entry = records.get(key)
    if (entry && entry.expiresAt <= Date.now()) {
      records.delete(key)
      return undefined
    }
    return entry
  }

  const sweep = (): void => {
    const now = Date.now()
    for (const [key, entry] of records) if (entry.expiresAt <= now) records.delete(key)
    for (const [key, id] of indexes) if (!records.has(id)) indexes.delete(key)
    for (const [grantId, members] of grants) {
      for (const key of members) if (!records.has(key)) members.delete(key)
      if (members.size === 0) grants.delete(grantId)
    }
  }

  const adapter = (model: string): Adapter => {
    const keyFor = (id: string): string => `${model}:${id}`
    const find = (id: string | undefined): Promise<AdapterPayload | undefined> =>
      Promise.resolve(id === undefined ? undefined : live(keyFor(id))?.payload)
    const findByIndex = (index: string): Promise<AdapterPayload | undefined> => {
      const key = indexes.get(index)
      return Promise.resolve(key === undefined ? undefined : live(key)?.payload)
    }

    return {
      upsert(id, payload, expiresIn) {
        const key = keyFor(id)
        const expiresAt =
          typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY
        records.set(key, { payload, expiresAt })
        if (model === 'Session' && typeof payload.uid === 'string') {
          indexes.set(`sessionUid:${payload.uid}`, key)
        }
        if (typeof payload.userCode === 'string') indexes.set(`userCode:${payload.userCode}`, key)
        if (GRANTABLE.has(model) && typeof payload.grantId === 'string') {
          const members = grants.get(payload.grantId) ?? new Set<string>()
          members.add(key)
          grants.set(payload.grantId, members)
        }
        writes += 1
        if (writes % SWEEP_EVERY === 0) sweep()
        return Promise.resolve()
      },
      find,
      findByUid: (uid) => findByIndex(`sessionUid:${uid}`),
      findByUserCode: (userCode) => findByIndex(`userCode:${userCode}`),
      consume(id) {
        const entry = live(keyFor(id))
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000)
        return Promise.resolve()
      },
      destroy(id) {
        records.delete(keyFor(id))
        return Promise.resolve()
      },
      revokeByGrantId(grantId) {
        for (const key of grants.get(grantId) ?? []) records.delete(key)
        grants.delete(grantId)
        return Promise.resolve()
      },
    }
  }

  return {
    adapter,
    clear() {
      records.clear()
      indexes.clear()
      grants.clear()
    },
  }
}
