/**
 * A stdio MCP server behind a route. The gateway speaks Streamable HTTP to clients (its own
 * session layer, served-session.ts, one per session) and newline-delimited JSON-RPC to the
 * process. In `shared` mode one process serves every session, restarted with backoff if it dies;
 * in `user` mode each user has one; in `session` mode each session has its own, stopped when the
 * session ends. This file opens, finds and ends sessions and picks their process; the `Bridge`
 * (stdio-bridge.ts) carries messages between the sessions and the process they share. Clients of
 * MCP 2026-07-28, which have no sessions, are served by translation (modern-calls.ts) in `shared`
 * and `user` mode.
 *
 * Sessions of stdio routes live in this instance's memory (the process is here); their owners are
 * still recorded in the store, so another instance answers 404 rather than serving them.
 */
import { randomUUID } from 'node:crypto'
import { OAuthError, StoreError } from '../errors.js'
import { credentialRefusal } from './credentials.js'
import { EventBuffer } from './event-buffer.js'
import { isStatelessEra, RPC, rpcError, validID } from './messages.js'
import { ModernCalls } from './modern-calls.js'
import { commandSpawnable } from './readiness.js'
import { idle, postRefusal, recordOwner, ServedSession, type Sweepable } from './served-session.js'
import { Bridge, type BridgeDeps, type BridgeSession } from './stdio-bridge.js'
import type { StdioConfig } from './stdio-process.js'
import type { Upstream, UpstreamCall } from './upstream.js'
import { principalKey, principalOf, type AccessToken } from '../jwt/access-token.js'

type Rewrite = NonNullable<UpstreamCall['rewrite']>

interface SessionEntry extends BridgeSession, Sweepable {
  transport: ServedSession<Rewrite>
  bridge: Bridge
  /**
   * With the caller's credentials in the environment (`userTokenEnv`, `credentialEnv`): the grant
   * whose process this is; the session is that grant's only.
   */
  grant?: string | undefined
}

export interface StdioDeps extends BridgeDeps {
  /** Secrets for every process's environment (`credentialEnv` of kind `secret`), read at start-up. */
  secretEnv?: Readonly<Record<string, string>>
  /**
   * `user` mode: the caller's credentials for a new process's environment, by variable
   * (`userTokenEnv`, and `credentialEnv` but secrets). Each may reject (`OAuthError`).
   */
  callerEnv?: readonly (readonly [string, (token: AccessToken) => Promise<string>])[]
  /** The caller's credential for a `user` process could not be had (audit). */
  onCredentialFailure?: (token: AccessToken, error: unknown) => void
}

export function createStdioUpstream(config: StdioConfig, deps: StdioDeps): Upstream {
  const sessions = new Map<string, SessionEntry>()
  let shared: Bridge | undefined
  const perUser = new Map<string, Bridge>()
  /**
   * Whose each `user` process is (the user, and the client that signed in), and when a request
   * last went to it by way of `bridgeFor` (a session's first, or any 2026-07-28 request; a 2025
   * session's later requests are its `lastSeen`).
   */
  const owners = new Map<Bridge, { user: string; clientId: string; used: number }>()
  /**
   * `user` processes being started (the caller's IdP token is being fetched), by key: other
   * requests for the key wait for it, and on a failure make their own attempt (and answer).
   */
  const starting = new Map<string, Promise<Bridge | undefined>>()
  /** Each user's processes, running or starting (`maxProcessesPerUser`). */
  const ofUser = new Map<string, number>()
  const countUser = (user: string, by: 1 | -1) => {
    const n = (ofUser.get(user) ?? 0) + by
    if (n > 0) ofUser.set(user, n)
    else ofUser.delete(user)
  }
  let bridges = 0
  /** Processes counted against `maxProcesses` before they exist (being started). */
  let reserved = 0
  let closing = false
  const callerEnv = config.mode === 'user' ? (deps.callerEnv ?? []) : []
  /**
   * With the caller's credentials in the environment, a process, a session and a waiting call are
   * one sign-in's (grant's): each sign-in's credentials carry what that sign-in consented to.
   */
  const byGrant = callerEnv.length > 0
  const grantOf = (token: AccessToken) => (byGrant ? (token.grantId ?? '') : undefined)
  const modern = new ModernCalls({ waitMs: config.timeoutSeconds * 1000, bindToGrant: byGrant })

  const newBridge = (
    restart: boolean,
    stopWhenEmpty: boolean,
    extraEnv: Record<string, string> = {},
    onGone: () => void = () => undefined,
  ): Bridge => {
    const env = { ...deps.secretEnv, ...extraEnv }
    const bridge = new Bridge(config, deps, { restart, stopWhenEmpty, extraEnv: env }, () => {
      bridges--
      onGone()
    })
    bridges++
    return bridge
  }
  const tooMany = () => {
    deps.log('session refused: maxProcesses reached')
    return rpcError(503, RPC.internalError, 'Too many sessions; try again later', null, {
      'retry-after': '10',
    })
  }

  /**
   * Makes room for one more process of `user` at `maxProcessesPerUser`: stops one of theirs that
   * answers no call, preferring an earlier sign-in of the same client (signed in again, it left
   * that one behind: after a revocation, or to consent to less), else the one used least
   * recently. Its sessions end (their clients start again). `false` when every one is busy.
   */
  const makeRoom = (user: string, clientId: string): boolean => {
    const lastUse = (bridge: Bridge) => {
      let last = owners.get(bridge)?.used ?? 0
      for (const entry of sessions.values()) {
        if (entry.bridge === bridge) last = Math.max(last, entry.lastSeen)
      }
      return last
    }
    const theirs = [...owners]
      .filter(([bridge, owner]) => owner.user === user && !bridge.busy)
      .map(([bridge, owner]) => ({
        bridge,
        sameClient: owner.clientId === clientId,
        last: lastUse(bridge),
      }))
      .sort((a, b) => Number(b.sameClient) - Number(a.sameClient) || a.last - b.last)
    const chosen = theirs[0]
    if (chosen === undefined) return false
    deps.log('a process stopped to make room: maxProcessesPerUser reached')
    for (const [id, entry] of sessions) {
      if (entry.bridge === chosen.bridge) {
        sessions.delete(id)
        void entry.transport.close()
      }
    }
    // Counted off now (its `onGone` comes once it has stopped): the new one may start at once.
    owners.delete(chosen.bridge)
    countUser(user, -1)
    for (const [key, bridge] of perUser) if (bridge === chosen.bridge) perUser.delete(key)
    void chosen.bridge.close()
    return true
  }

  /**
   * The bridge a caller's request goes to: the shared process, the caller's own (started with
   * their credentials when `userTokenEnv` or `credentialEnv` name any) or, in `session` mode, a
   * new one.
   */
  const bridgeFor = async (call: UpstreamCall): Promise<Bridge | Response> => {
    if (config.mode === 'shared') {
      shared ??= newBridge(true, false)
      return shared
    }
    if (config.mode !== 'user') {
      if (bridges + reserved >= config.maxProcesses) return tooMany()
      return newBridge(false, true)
    }
    // The user, whichever client they use (the client is part of the session's owner still);
    // with the caller's credentials in the environment, the user's sign-in (grant): an IdP token
    // carries the scopes that sign-in consented to, which another client's may not have.
    const who = principalOf(call.token)
    const user =
      who.subject === undefined
        ? principalKey(who)
        : JSON.stringify([who.issuer ?? null, who.subject, who.machine === true])
    const key = byGrant ? JSON.stringify([user, grantOf(call.token)]) : user
    const mine = perUser.get(key)
    if (mine) {
      const owner = owners.get(mine)
      if (owner) owner.used = Date.now()
      return mine
    }
    const pending = starting.get(key)
    // Another request of this sign-in is starting it: its process, or (if that failed) an
    // attempt and an answer of this request's own.
    if (pending) return (await pending) ?? bridgeFor(call)
    if (byGrant && (ofUser.get(user) ?? 0) >= config.maxProcessesPerUser) {
      if (!makeRoom(user, call.token.clientId)) {
        deps.log('session refused: maxProcessesPerUser reached')
        return rpcError(
          503,
          RPC.internalError,
          'Too many sessions of this user; try again later',
          null,
          { 'retry-after': '10' },
        )
      }
    }
    if (bridges + reserved >= config.maxProcesses) return tooMany()
    // Counted from now: another request must not start a second one while this one starts.
    reserved++
    let reservation = true
    const release = () => {
      if (reservation) reserved--
      reservation = false
    }
    countUser(user, 1)
    const start = startUserProcess(call, key, user, release)
    starting.set(
      key,
      start.then(
        (started) => (started instanceof Response ? undefined : started),
        () => undefined,
      ),
    )
    try {
      const started = await start
      if (started instanceof Response) countUser(user, -1)
      return started
    } catch (error) {
      countUser(user, -1)
      throw error
    } finally {
      release()
      starting.delete(key)
    }
  }

  /**
   * Starts the `user` process `key` of `user`, with the caller's credentials when configured;
   * `release` hands its place in `maxProcesses` over to the process once it exists.
   */
  const startUserProcess = async (
    call: UpstreamCall,
    key: string,
    user: string,
    release: () => void,
  ): Promise<Bridge | Response> => {
    const extraEnv: Record<string, string> = {}
    if (callerEnv.length > 0) {
      // Throws OAuthError invalid_token when the sign-in at the IdP ended: the guard
      // answers 401 and the client signs in again.
      try {
        const values = await Promise.all(callerEnv.map(([, credential]) => credential(call.token)))
        callerEnv.forEach(([name], i) => {
          extraEnv[name] = values[i] as string
        })
      } catch (error) {
        deps.onCredentialFailure?.(call.token, error)
        // Answered under the request's id, as HTTP routes answer it (JSON-RPC: null only when
        // the id cannot be read).
        // The sign-in ended (401), or the store failed (503: a retry is safe).
        if (error instanceof OAuthError && error.code === 'invalid_token') throw error
        if (error instanceof StoreError) throw error
        const id = call.messages?.find((m) => validID(m.id))?.id
        const refused = credentialRefusal(error, id)
        if (refused) return refused
        // An STS or Entra that refuses or cannot be reached (audited above, with its reason).
        deps.log('no credential for the caller: the process was not started')
        return rpcError(502, RPC.internalError, 'the MCP server cannot be started', id)
      }
      // The gateway closed while the token came: nothing would ever stop a process started now.
      if (closing) return rpcError(503, RPC.internalError, 'The gateway is shutting down')
    }
    release()
    const created = newBridge(true, true, extraEnv, () => {
      if (perUser.get(key) === created) perUser.delete(key)
      // Once per process: one stopped to make room was counted off then.
      if (owners.delete(created)) countUser(user, -1)
    })
    owners.set(created, { user, clientId: call.token.clientId, used: Date.now() })
    perUser.set(key, created)
    return created
  }

  const open = async (call: UpstreamCall): Promise<SessionEntry | Response> => {
    const bridge = await bridgeFor(call)
    if (bridge instanceof Response) return bridge
    const events =
      config.eventBuffer.maxEvents > 0 ? new EventBuffer(config.eventBuffer) : undefined
    const id = randomUUID()
    let closed = false
    const entry: SessionEntry = {
      lastSeen: Date.now(),
      bridge,
      grant: grantOf(call.token),
      rewrites: new Map(),
      transport: new ServedSession({
        id,
        events,
        onMessage: (message, rewrite) => {
          // Policy rewrites the answers of the requests it was given for, once they are sent.
          if (rewrite && validID(message.id) && typeof message.method === 'string') {
            entry.rewrites.set(message.id, { request: message, rewrite })
          }
          bridge.fromClient(entry, message)
        },
        // DELETE, idle, or the process of a `session` route died: the session is gone.
        onClose: async () => {
          if (closed) return
          closed = true
          bridge.detach(entry)
          if (sessions.get(id) === entry) sessions.delete(id)
          await call.ended(id).catch(() => undefined)
        },
      }),
    }
    sessions.set(id, entry)
    bridge.attach(entry)
    // Dropped if its owner cannot be recorded: then no binding is forgotten (recordOwner).
    const abandon = async () => {
      closed = true
      sessions.delete(id)
      bridge.detach(entry)
      await entry.transport.close()
    }
    return (await recordOwner(call, id, abandon)) ?? entry
  }

  // Idle sessions (no request for idleSeconds, none waiting for its answer) are closed (their
  // process too in `session` mode); the timer keeps no one alive.
  const sweep = setInterval(
    () => {
      const now = Date.now()
      const limit = now - config.idleSeconds * 1000
      for (const entry of sessions.values()) {
        if (idle(entry, entry.transport, now, config)) {
          void entry.transport.close()
        }
      }
      modern.sweep(limit)
    },
    Math.max(500, Math.min(60_000, (config.idleSeconds * 1000) / 2)),
  )
  sweep.unref()

  return {
    async handle(call) {
      if (closing) return rpcError(503, RPC.internalError, 'The gateway is shutting down')
      let entry: SessionEntry | Response | undefined
      if (call.sessionId !== undefined) {
        entry = sessions.get(call.sessionId)
        // The owner is right (checked by the route) but the process is not here: another
        // instance, or a session that ended with its process. With the caller's credentials in
        // the environment, a token of another sign-in of the same client (after the grant was
        // revoked, or a re-consent to less) must not drive the process that holds this
        // sign-in's: it starts anew.
        if (!entry || entry.grant !== grantOf(call.token)) {
          return rpcError(404, -32001, 'Session not found')
        }
      } else if (
        isStatelessEra(call.request) &&
        config.modernClients === 'translate' &&
        config.mode !== 'session'
      ) {
        return modern.handle(call, () => bridgeFor(call))
      } else if (call.messages?.some((m) => m.method === 'initialize') === true) {
        const refused = postRefusal(call.request, call.messages)
        if (refused) return refused
        entry = await open(call)
        if (entry instanceof Response) return entry
      } else if (isStatelessEra(call.request)) {
        return rpcError(
          400,
          RPC.invalidRequest,
          'Bad Request: this route serves MCP sessions only (2025-11-25 and earlier); start with initialize',
        )
      } else {
        return rpcError(400, RPC.invalidRequest, 'Bad Request: Mcp-Session-Id header is required')
      }
      entry.bridge.active = entry
      entry.lastSeen = Date.now()
      const response = await entry.transport.handle(
        call.request,
        call.messages,
        call.body,
        call.rewrite,
      )
      // A refused initialize leaves no session behind (nor, in `session` mode, a process).
      if (call.sessionId === undefined && response.status !== 200) await entry.transport.close()
      return response
    },
    ready: () =>
      Promise.resolve(!closing).then(
        (open) =>
          open && commandSpawnable(config.command, config.cwd, config.env.PATH ?? deps.env.PATH),
      ),
    async close() {
      closing = true
      clearInterval(sweep)
      modern.close()
      const all = [...sessions.values()]
      sessions.clear()
      await Promise.allSettled(all.map((s) => s.transport.close()))
      await Promise.allSettled(all.map((s) => s.bridge.stop()))
      await Promise.allSettled([...perUser.values()].map((b) => b.stop()))
      await shared?.stop()
    },
  }
}
