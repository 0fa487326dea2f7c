/**
 * Real throwaway Redis deployments for tests: a 3-primary Redis Cluster and a primary watched by
 * one Sentinel, each in its own temporary directory on free loopback ports, stopped afterwards.
 * Needs `redis-server` and `redis-cli` on the PATH.
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

const START_TIMEOUT_MS = 20_000

/** Whether `redis-server` can be run here. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
}

export interface RedisDeployment {
  /** `host`/`port` pairs: the cluster's seed nodes, or the sentinels. */
  nodes: { host: string; port: number }[]
  /** Stops every process and removes the directory; bounded in time. */
  stop(): Promise<void>
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => {
      resolve(false)
    })
    server.listen(port, '127.0.0.1', () => {
      server.close(() => {
        resolve(true)
      })
    })
  })
}

/**
 * A free port whose cluster-bus twin (port + 10000) is free too. Random picks in a range below
 * the kernel's ephemeral ports keep parallel runs from picking the same ones.
 */
async function freePort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 10_000)
    if (taken.has(port) || taken.has(port + 10_000)) continue
    if ((await canListen(port)) && (await canListen(port + 10_000))) {
      taken.add(port)
      taken.add(port + 10_000)
      return port
    }
  }
  throw new Error('no free port pair found for redis-server')
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function ask<T>(port: number, command: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 })
  client.on('error', () => undefined)
  try {
    await client.connect()
    return await command(client)
  } finally {
    client.disconnect()
  }
}

function startServer(args: string[], dir: string): ChildProcess {
  const child = spawn('redis-server', args, { cwd: dir, stdio: 'ignore' })
  child.on('error', () => undefined)
  return child
}

async function stopAll(children: ChildProcess[], dir: string): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve()
            return
          }
          const timer = setTimeout(() => {
            child.kill('SIGKILL')
          }, 3000)
          child.once('exit', () => {
            clearTimeout(timer)
            resolve()
          })
          child.kill('SIGTERM')
        }),
    ),
  )
  await rm(dir, { recursive: true, force: true })
}

const EPHEMERAL = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']

/** Starts three primaries with cluster mode on, joins them with `redis-cli --cluster create`. */
/** Three free loopback ports for cluster nodes (each with its bus port, +10,000, free too). */
export async function freeClusterPorts(): Promise<number[]> {
  const taken = new Set<number>()
  return [await freePort(taken), await freePort(taken), await freePort(taken)]
}

export async function startRedisCluster(chosen?: readonly number[]): Promise<RedisDeployment> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-redis-cluster-'))
  const ports = chosen ?? (await freeClusterPorts())
  const children = ports.map((port) =>
    startServer(
      [
        '--port',
        String(port),
        ...EPHEMERAL,
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '2000',
      ],
      dir,
    ),
  )
  try {
    for (const port of ports) {
      await waitFor(`redis-server on ${port}`, () =>
        ask(port, async (client) => (await client.call('PING')) === 'PONG'),
      )
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-yes'],
      { encoding: 'utf8', timeout: START_TIMEOUT_MS },
    )
    if (create.status !== 0) {
      throw new Error(`redis-cli --cluster create failed: ${create.stdout} ${create.stderr}`)
    }
    for (const port of ports) {
      await waitFor(`cluster_state:ok on ${port}`, () =>
        ask(port, async (client) => (await client.cluster('INFO')).includes('cluster_state:ok')),
      )
    }
  } catch (error) {
    await stopAll(children, dir)
    throw error
  }
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    stop: () => stopAll(children, dir),
  }
}

export interface SentinelDeployment extends RedisDeployment {
  /** The port of the primary the deployment started with. */
  primaryPort: number
  /**
   * Kills the primary (SIGKILL), as a crashed host would, and keeps its port: connections to it
   * are accepted and closed at once, so no other test's server (files run in parallel) can take
   * the port while the sentinel still names it, and the client sees a dead primary, never a
   * stranger answering in its place.
   */
  killPrimary(): Promise<void>
  /** The primary's port the sentinel names now. */
  currentPrimaryPort(): Promise<number | undefined>
  /**
   * What each Redis of the deployment says of itself now (port, role, keys, replication link),
   * for a failure message: a flaky failover is explained by it.
   */
  describe(): Promise<string>
}

/**
 * Starts one primary and one Sentinel monitoring it under `name`; with `replica`, also a replica
 * the sentinel can promote (it waits until the sentinel knows it), so a failover can be tested.
 */
export async function startRedisSentinel(
  name: string,
  options: { replica?: boolean } = {},
): Promise<SentinelDeployment> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-redis-sentinel-'))
  const taken = new Set<number>()
  const primary = await freePort(taken)
  const replica = await freePort(taken)
  const sentinel = await freePort(taken)
  const primaryProcess = startServer(['--port', String(primary), ...EPHEMERAL, '--dir', dir], dir)
  const children = [primaryProcess]
  const masterAddress = () =>
    ask(sentinel, async (client) => {
      const address = (await client.call('SENTINEL', 'get-master-addr-by-name', name)) as
        string[] | null
      return address?.[1] === undefined ? undefined : Number(address[1])
    })
  try {
    await waitFor(`redis-server on ${primary}`, () =>
      ask(primary, async (client) => (await client.call('PING')) === 'PONG'),
    )
    if (options.replica === true) {
      children.push(
        startServer(
          [
            '--port',
            String(replica),
            ...EPHEMERAL,
            '--dir',
            dir,
            '--replicaof',
            '127.0.0.1',
            String(primary),
          ],
          dir,
        ),
      )
      await waitFor(`replica on ${replica} in sync`, () =>
        ask(replica, async (client) =>
          (await client.info('replication')).includes('master_link_status:up'),
        ),
      )
    }
    // Sentinel rewrites its configuration file, so it gets one of its own.
    const conf = join(dir, 'sentinel.conf')
    await writeFile(
      conf,
      [
        `port ${sentinel}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primary} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        '',
      ].join('\n'),
    )
    children.push(startServer([conf, '--sentinel'], dir))
    await waitFor(`sentinel on ${sentinel}`, async () => (await masterAddress()) === primary)
    if (options.replica === true) {
      await waitFor('the sentinel to know the replica', () =>
        ask(sentinel, async (client) => {
          const replicas = (await client.call('SENTINEL', 'replicas', name)) as string[][]
          return replicas.some((fields) => fields.includes(String(replica)))
        }),
      )
    }
  } catch (error) {
    await stopAll(children, dir)
    throw error
  }
  const portHolder = createServer((socket) => socket.destroy())
  return {
    nodes: [{ host: '127.0.0.1', port: sentinel }],
    primaryPort: primary,
    killPrimary: async () => {
      const exited = new Promise((resolve) => primaryProcess.once('exit', resolve))
      primaryProcess.kill('SIGKILL')
      await exited
      await new Promise<void>((resolve, reject) => {
        portHolder.once('error', reject)
        portHolder.listen(primary, '127.0.0.1', () => {
          resolve()
        })
      })
    },
    currentPrimaryPort: () => masterAddress().catch(() => undefined),
    describe: async () => {
      const named = await masterAddress().catch(() => undefined)
      const nodes = await Promise.all(
        [primary, ...(options.replica === true ? [replica] : [])].map(async (port) => {
          const about = await ask(port, async (client) => {
            const info = await client.info('replication')
            const field = (name: string) =>
              new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim()
            const keys = await client.dbsize()
            return `role ${field('role') ?? '?'}, ${String(keys)} keys, master ${field('master_port') ?? '-'} link ${field('master_link_status') ?? '-'}`
          }).catch(
            (error: unknown) => `unreachable (${error instanceof Error ? error.message : 'error'})`,
          )
          return `${String(port)}: ${about}`
        }),
      )
      return `the sentinel names ${String(named)}; started with primary ${String(primary)}; ${nodes.join('; ')}`
    },
    stop: async () => {
      await new Promise<void>((resolve) => {
        if (portHolder.listening) {
          portHolder.close(() => {
            resolve()
          })
        } else resolve()
      })
      await stopAll(children, dir)
    },
  }
}
