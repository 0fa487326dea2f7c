/**
 * Liveness and readiness for load balancers and Kubernetes.
 * - `/healthz`: the process answers (200 `{"status":"ok"}`), nothing else is checked, so a slow
 *   store never gets the process restarted.
 * - `/readyz`: every check passes within its deadline (200), else 503 naming the checks that
 *   failed (`"failed"` or `"timeout"`) and nothing more: no error text, no addresses, no secrets.
 */

/** A readiness check: resolves when ready, throws (or returns `false`) when not. */
export interface ReadinessCheck {
  name: string
  check: () => Promise<boolean | undefined> | boolean | undefined
}

const HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' }

/** 200 `{"status":"ok"}`. */
export function livenessResponse(): Response {
  return new Response(JSON.stringify({ status: 'ok' }), { status: 200, headers: HEADERS })
}

/** Runs every check in parallel, each within `timeoutMs`; 200 when all pass, else 503. */
export async function readinessResponse(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
): Promise<Response> {
  const results = await Promise.all(
    checks.map(async (c) => [c.name, await runCheck(c, timeoutMs)] as const),
  )
  const ready = results.every(([, r]) => r === 'ok')
  return new Response(
    JSON.stringify({ status: ready ? 'ok' : 'unavailable', checks: Object.fromEntries(results) }),
    { status: ready ? 200 : 503, headers: HEADERS },
  )
}

async function runCheck(
  c: ReadinessCheck,
  timeoutMs: number,
): Promise<'ok' | 'failed' | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<'timeout'>((done) => {
    timer = setTimeout(() => {
      done('timeout')
    }, timeoutMs)
  })
  try {
    const outcome = await Promise.race([
      (async () => ((await c.check()) === false ? 'failed' : 'ok'))(),
      deadline,
    ])
    return outcome
  } catch {
    return 'failed'
  } finally {
    clearTimeout(timer)
  }
}
