/**
 * The operations sections of the configuration: log level, where audit events go, metrics.
 * (docs/operations.md describes what each produces.)
 */
import * as z from 'zod'

/** pino's levels; `silent` writes nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export const opsFields = {
  /**
   * Logging. The level applies to the logger Gatehouse creates (the CLI); a logger passed to
   * `createGatehouse` keeps its own. `GATEHOUSE_LOG_LEVEL` sets it too.
   */
  log: z
    .strictObject({
      level: z.enum(LOG_LEVELS).default('info'),
      /** How the CLI writes lines: JSON (default) or human-readable (`gatehouse dev`'s default). */
      format: z.enum(['json', 'pretty']).optional(),
    })
    .prefault({}),
  /**
   * Audit events (security events, docs/operations.md): `log` writes them to the log stream as
   * lines with `audit: true`, `file` appends JSON lines to `file` (Node only), `none` drops them.
   * A callback passed as the `audit` option receives them in every case.
   */
  audit: z
    .strictObject({
      sink: z.enum(['log', 'file', 'none']).default('log'),
      file: z.string().min(1).optional(),
    })
    .superRefine((a, ctx) => {
      if (a.sink === 'file' && a.file === undefined) {
        ctx.addIssue({ code: 'custom', path: ['file'], message: 'is required when sink is file' })
      }
    })
    .prefault({}),
  /**
   * Prometheus metrics at `/metrics` (off by default in the library; the CLI turns them on). Who
   * may read them (src/ops/metrics-access.ts): with `token`, whoever presents it as a bearer
   * token (`GATEHOUSE_METRICS_TOKEN`); with `listen`, only a separate listener at that address
   * (the main handler serves no `/metrics`); otherwise only loopback peers.
   */
  metrics: z
    .strictObject({
      enabled: z.boolean().default(false),
      token: z.string().min(32, 'must be at least 32 characters').optional(),
      listen: z
        .string()
        .regex(/^(?:\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+):\d{1,5}$/, 'must be host:port')
        .optional(),
      /** How long the active-grants gauge reuses its last count of the store (0: never counted). */
      activeGrantsRefreshSeconds: z.number().int().min(0).max(86_400).default(60),
    })
    .prefault({}),
  /**
   * The operator page at `{basePath}/admin` (src/admin/admin-page.ts), off by default: grants,
   * clients, keys, recent audit events, revoke/delete/rotate buttons. Operators sign in through
   * Gatehouse's own sign-in (the upstream IdP, or the `authenticate` hook) and are admitted when
   * their subject is in `subjects` or one of their roles in `roles`; or, for headless use, with
   * `token` (`GATEHOUSE_ADMIN_TOKEN`, 32+ characters). A session lasts `sessionMinutes`.
   */
  admin: z
    .strictObject({
      enabled: z.boolean().default(false),
      token: z.string().min(32, 'must be at least 32 characters').optional(),
      /** Gatehouse subjects (the `sub` of its tokens) admitted to the page. */
      subjects: z.array(z.string().min(1)).max(1000).default([]),
      /** Roles (the `roles` claim of Gatehouse's tokens, from the IdP) admitted to the page. */
      roles: z.array(z.string().min(1)).max(1000).default([]),
      sessionMinutes: z.number().int().min(1).max(1440).default(30),
    })
    .superRefine((a, ctx) => {
      if (a.enabled && a.token === undefined && a.subjects.length === 0 && a.roles.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['subjects'],
          message: 'name who may sign in (subjects or roles), or set token, when enabled',
        })
      }
    })
    .prefault({}),
}
