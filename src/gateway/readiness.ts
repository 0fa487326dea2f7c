/**
 * Readiness of the MCP servers behind the routes, for `/readyz`: an HTTP upstream answers at all
 * (any status below 500: a 400 or 405 to a bare GET still proves it is up), a stdio program can be
 * started (the command resolves to an executable file, through `PATH` as the child will see it).
 */
import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { delimiter, isAbsolute, join, resolve } from 'node:path'

/** Whether the server at `url` answers within `timeoutMs`. Nothing of the answer is read. */
export async function httpReachable(
  url: string,
  timeoutMs: number,
  doFetch: typeof fetch = fetch,
): Promise<boolean> {
  try {
    const res = await doFetch(url, {
      method: 'GET',
      headers: { accept: 'text/event-stream' },
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    })
    await res.body?.cancel().catch(() => undefined)
    return res.status < 500
  } catch {
    return false
  }
}

/** Whether `command` names an executable file (as `spawn` would find it with this `PATH`). */
export async function commandSpawnable(
  command: string,
  cwd: string | undefined,
  path: string | undefined,
): Promise<boolean> {
  const base = cwd ?? process.cwd()
  const candidates =
    command.includes('/') || isAbsolute(command)
      ? [resolve(base, command)]
      : (path ?? '')
          .split(delimiter)
          .filter((dir) => dir !== '')
          .map((dir) => join(resolve(base, dir), command))
  for (const file of candidates) {
    try {
      if (!(await stat(file)).isFile()) continue
      await access(file, constants.X_OK)
      return true
    } catch {
      // not this one
    }
  }
  return false
}
