/**
 * One MCP server process spoken to over stdio: newline-delimited JSON-RPC on stdin/stdout, each
 * message capped in size, stderr passed to the log line by line, restarted with backoff when it
 * dies unexpectedly (if asked), stopped with SIGTERM (then SIGKILL) on close.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { GatewayRoute } from '../config/gateway-schema.js'
import type { RPCMessage } from './messages.js'

export type StdioConfig = Extract<GatewayRoute['upstream'], { kind: 'stdio' }>

export interface StdioProcessOptions {
  config: StdioConfig
  env: NodeJS.ProcessEnv
  /** Set in the child's environment after everything else (per-user values). */
  extraEnv?: Record<string, string>
  log: (message: string) => void
  onMessage: (message: RPCMessage) => void
  /**
   * The process ended unexpectedly (before a restart, if any); `restarting` says whether one
   * follows; `reason`: `process_exited`, or `message_too_large` when the gateway killed it.
   */
  onExit: (restarting: boolean, reason: 'process_exited' | 'message_too_large') => void
  /** Start again after an unexpected exit (shared processes); default false. */
  restart?: boolean
  /** Called after every spawn (the first and each restart). */
  onStart?: (generation: number) => void
}

/**
 * `message` as one line of JSON, or `undefined` when JSON cannot write it: `JSON.stringify`
 * recurses, and runs out of stack on a message nested some thousands deep.
 */
export function serialize(message: unknown): string | undefined {
  try {
    return JSON.stringify(message)
  } catch {
    return undefined
  }
}

const KILL_AFTER_MS = 3000
const MAX_BACKOFF_MS = 30_000
const STABLE_MS = 30_000

export class StdioProcess {
  readonly #o: StdioProcessOptions
  #child: ChildProcess | undefined
  #stopping = false
  #failures = 0
  #startedAt = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  /** Bumped on every start, so a new process's readiness is awaited by `ready()`. */
  #generation = 0

  constructor(options: StdioProcessOptions) {
    this.#o = options
  }

  get running(): boolean {
    return this.#child !== undefined && !this.#stopping
  }

  get generation(): number {
    return this.#generation
  }

  start(): void {
    const { config } = this.#o
    const env: NodeJS.ProcessEnv = {}
    for (const name of ['PATH', 'HOME', ...config.inheritEnv]) {
      const value = this.#o.env[name]
      if (value !== undefined) env[name] = value
    }
    Object.assign(env, config.env, this.#o.extraEnv)
    const child = spawn(config.command, config.args, {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
    })
    this.#child = child
    let oversize = false
    this.#generation++
    this.#startedAt = Date.now()
    lines(
      child.stdout,
      config.maxMessageBytes,
      (line) => {
        this.#line(line)
      },
      () => {
        this.#o.log('the MCP server wrote a message larger than maxMessageBytes; restarting it')
        oversize = true
        child.kill('SIGKILL')
      },
    )
    lines(
      child.stderr,
      64 * 1024,
      (line) => {
        this.#o.log(`stderr: ${line.slice(0, 2000)}`)
      },
      () => undefined,
    )
    child.stdin.on('error', () => undefined) // EPIPE when it died; the exit handler reports it
    this.#o.onStart?.(this.#generation)
    child.once('error', (error) => {
      this.#o.log(`cannot start ${config.command}: ${error.message}`)
    })
    child.once('close', (code, signal) => {
      if (this.#child === child) this.#child = undefined
      if (this.#stopping) return
      this.#o.log(`the MCP server exited (${signal ?? `code ${String(code)}`})`)
      const restarting = this.#o.restart === true
      this.#o.onExit(restarting, oversize ? 'message_too_large' : 'process_exited')
      if (!restarting) return
      if (Date.now() - this.#startedAt > STABLE_MS) this.#failures = 0
      const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.#failures++)
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        if (!this.#stopping) this.start()
      }, delay)
    })
  }

  /**
   * Writes one message; `false` when no process is running. Throws when JSON cannot write it
   * (`JSON.stringify` runs out of stack on one nested some thousands deep): a caller that keeps
   * state for the message serializes it first (`serialize`) and sends the line with `sendLine`.
   */
  send(message: unknown): boolean {
    return this.sendLine(JSON.stringify(message))
  }

  /**
   * Writes one message already serialized (one line of JSON, no newline in it); `false` when no
   * process is running. The messages of one turn of the event loop (calls of several clients read
   * in the same poll) leave in one write to the pipe.
   */
  sendLine(line: string): boolean {
    const child = this.#child
    const stdin = child?.stdin
    if (!child || this.#stopping || !stdin?.writable) return false
    if (!stdin.writableCorked) {
      stdin.cork()
      setImmediate(() => {
        stdin.uncork()
      })
    }
    stdin.write(`${line}\n`)
    return true
  }

  /** SIGTERM, then SIGKILL if it is still there after a few seconds. */
  async stop(): Promise<void> {
    this.#stopping = true
    if (this.#timer) clearTimeout(this.#timer)
    const child = this.#child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    await new Promise<void>((done) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS)
      child.once('close', () => {
        clearTimeout(kill)
        done()
      })
      child.stdin?.end()
      child.kill('SIGTERM')
    })
  }

  #line(line: string): void {
    if (line.trim() === '') return
    let message: unknown
    try {
      message = JSON.parse(line)
    } catch {
      this.#o.log('the MCP server wrote a line that is not JSON; ignored')
      return
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.#o.log('the MCP server wrote JSON that is not a JSON-RPC message; ignored')
      return
    }
    this.#o.onMessage(message)
  }
}

/** Splits a stream into lines, calling `tooLong` (once) when a line exceeds `max` bytes. */
function lines(
  stream: NodeJS.ReadableStream | null,
  max: number,
  onLine: (line: string) => void,
  tooLong: () => void,
): void {
  if (!stream) return
  let parts: Buffer[] = []
  let size = 0
  let broken = false
  stream.on('data', (chunk: Buffer) => {
    if (broken) return
    let start = 0
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl)
      if (size + piece.length > max) {
        broken = true
        tooLong()
        return
      }
      parts.push(piece)
      onLine(Buffer.concat(parts).toString('utf8'))
      parts = []
      size = 0
      start = nl + 1
    }
    const rest = chunk.subarray(start)
    size += rest.length
    if (size > max) {
      broken = true
      tooLong()
      return
    }
    if (rest.length > 0) parts.push(rest)
  })
}
