/**
 * Real headless Chromium for end-to-end tests, through `playwright-core` (which never downloads a
 * browser): the system Chromium at `CHROMIUM_PATH` (default `/usr/bin/chromium`, Debian's package).
 *
 * Without Chromium the tests skip locally, with the reason in their title; in CI (`CI` set) a
 * missing Chromium is an error, since `.ci/run` installs it.
 */
import { existsSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

/** No GPU, no sandbox (containers run as root), no background traffic, no QUIC. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

const inCi = (process.env.CI ?? '') !== ''

/**
 * Why the browser tests cannot run here, or `undefined` when they can. In CI it is always
 * `undefined`: a missing Chromium must fail there (see {@link launchChromium}), not skip.
 */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH) || inCi) return undefined
  return `skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`
}

/** Launches headless Chromium; throws with the fix when the executable is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}${inCi ? ' and CI is set' : ''}: install it ` +
        '(`apt-get install -y chromium`, as .ci/run does) or point CHROMIUM_PATH at it',
    )
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 15_000 })
}

/**
 * Records what the browser says about a page (console, page errors, failed requests, responses)
 * so a failing test can show why Chromium refused a step.
 */
export function watchPage(page: Page): string[] {
  const log: string[] = []
  page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`))
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`))
  page.on('requestfailed', (r) =>
    log.push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`),
  )
  page.on('response', (r) => log.push(`response: ${r.status()} ${r.request().method()} ${r.url()}`))
  return log
}

/** Listens on 127.0.0.1, on a free port, and returns the server's origin. */
export async function listenLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Closes a server, dropping the keep-alive connections a browser may still hold. */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server?.listening) return
  const closed = new Promise<void>((resolve) => {
    server.close(() => {
      resolve()
    })
  })
  server.closeAllConnections()
  await closed
}

/**
 * Runs `action` (a click, a submit) and waits until the page is at a URL accepted by `to`. When
 * it fails, the error says what Chromium reported (console errors such as CSP violations, failed
 * requests), which is usually why a step of a flow was refused.
 */
export async function navigateBy(
  page: Page,
  log: readonly string[],
  what: string,
  to: (url: URL) => boolean,
  action: () => Promise<void>,
): Promise<void> {
  try {
    await Promise.all([page.waitForURL(to), action()])
  } catch (error) {
    // The console message explaining a refusal may arrive just after the navigation failed.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const reported = log.filter((l) => /^(console\.error|requestfailed|pageerror):/.test(l))
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error)
    throw new Error(
      `${what}: ${message ?? ''} (the page is at ${page.url()})\nChromium reported:\n` +
        reported.join('\n'),
      { cause: error },
    )
  }
}
