/**
 * The module table of docs/architecture.md as dependency-cruiser rules: which folder of src/ may
 * import which, no import cycles, no Node built-in in the runtime-neutral core, no dynamic import of
 * our own modules outside the places that load optional backends lazily.
 *
 * Run: `npx depcruise src --config .dependency-cruiser.cjs --ignore-known` (part of `npm run lint`).
 * Known violations (code not yet moved to the table) would be listed in
 * .dependency-cruiser-known-violations.json, which is empty: fix a new violation, never list it.
 * Regenerate the file with `npm run arch:baseline` only when a violation is removed.
 */

/**
 * "may import", read as layers: a folder may import the folders in its row and, through them,
 * everything those may import (tokens may import jwt, jwt may import http, so tokens may import
 * http). `errors.ts`, its neighbours `audit-event.ts` (the audit event type: types only, emitted by
 * every layer) and `obo-error.ts` (`AzureOBOError`, thrown by providers/azure and mcp) and `config/`
 * are importable by all and import nothing else.
 */
const MAY_IMPORT = {
  errors: [],
  config: [],
  storage: [],
  http: [],
  jwt: ['http'],
  tokens: ['storage', 'jwt'],
  contract: ['jwt'],
  grants: ['contract', 'tokens', 'jwt', 'storage'],
  oauth: ['grants', 'tokens', 'storage', 'http'],
  upstream: ['oauth', 'jwt', 'http'],
  providers: ['upstream', 'jwt', 'http'],
  resource: ['tokens', 'jwt'],
  mcp: ['resource'],
  gateway: ['mcp', 'resource', 'upstream', 'ops'],
  ops: ['storage', 'http'],
  admin: ['grants', 'ops'],
  adapters: ['http', 'jwt', 'ops'],
}

/** Where each table row lives in src/. */
const FOLDER_PATH = {
  errors: 'src/(errors|audit-event|obo-error)\\.ts$',
  config: 'src/config/',
  storage: 'src/storage/',
  http: 'src/http/',
  jwt: 'src/jwt/',
  tokens: 'src/tokens/',
  contract: 'src/contract/',
  grants: 'src/grants/',
  oauth: 'src/oauth/',
  upstream: 'src/upstream/',
  providers: 'src/providers/',
  resource: 'src/resource/',
  mcp: 'src/mcp/',
  gateway: 'src/gateway/',
  ops: 'src/ops/',
  admin: 'src/admin/',
  adapters: 'src/adapters/',
}

/** The folder itself, errors.ts, config/ and the transitive closure of its "may import" row. */
function allowed(folder) {
  const seen = new Set([folder, 'errors', 'config'])
  const visit = (name) => {
    for (const next of MAY_IMPORT[name]) {
      if (!seen.has(next)) {
        seen.add(next)
        visit(next)
      }
    }
  }
  visit(folder)
  return [...seen]
}

const anyOf = (names) => `^(${names.map((name) => FOLDER_PATH[name]).join('|')})`

const tableRules = Object.keys(MAY_IMPORT).map((folder) => ({
  name: `table-${folder}`,
  comment: `${folder} may import only ${allowed(folder).join(', ')} (docs/architecture.md, module table)`,
  severity: 'error',
  from: { path: `^${FOLDER_PATH[folder]}` },
  to: { path: '^src/', pathNot: anyOf(allowed(folder)) },
}))

/** The runtime-neutral core (tsconfig.core.json, test/unit/runtime-neutral.test.ts, eslint.config.js). */
const RUNTIME_NEUTRAL = [
  'src/index\\.ts$',
  'src/(errors|audit-event|obo-error)\\.ts$',
  'src/config/',
  'src/http/',
  'src/jwt/',
  'src/tokens/',
  'src/contract/',
  'src/grants/',
  'src/oauth/',
  'src/resource/',
  'src/providers/',
  'src/storage/(store|memory|encrypted|value-cipher|keys)\\.ts$',
]

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no import cycles (type-only imports count: a cycle of types is still a knot)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...tableRules,
    {
      name: 'table-presets',
      comment:
        'presets (gatehouse.ts, index.ts, presets/) import everything below, never cli/ or dev/',
      severity: 'error',
      from: {
        path: '^src/([^/]+\\.ts$|presets/)',
        pathNot: '^src/(errors|audit-event|obo-error)\\.ts$',
      },
      to: { path: '^src/(cli|dev)/' },
    },
    {
      name: 'table-dev',
      comment:
        'dev/ (stand-in IdPs, demo server) shares no code with the server it tests: errors, config, and mcp for the demo only',
      severity: 'error',
      from: { path: '^src/dev/' },
      to: {
        path: '^src/',
        pathNot: '^src/(dev/|mcp/|(errors|audit-event|obo-error)\\.ts$|config/)',
      },
    },
    {
      name: 'table-dev-demo',
      comment: 'only the demo MCP server in dev/ may import mcp',
      severity: 'error',
      from: { path: '^src/dev/', pathNot: '^src/dev/demo-server\\.ts$' },
      to: { path: '^src/mcp/' },
    },
    {
      name: 'nothing-imports-cli',
      comment: 'cli/ is the top: no folder imports it',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'runtime-neutral-core',
      comment: 'the core speaks Web standards: no Node built-in (node:*) there',
      severity: 'error',
      from: { path: `^(${RUNTIME_NEUTRAL.join('|')})` },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'no-dynamic-import-of-own-modules',
      comment:
        'a dynamic import() of our own code hides a dependency (and cycles) from the type checker; only cli/ and ops/observability load optional backends lazily',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli/|ops/observability\\.ts$)' },
      to: { path: '^src/', dependencyTypes: ['dynamic-import'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
    // `--output-type archi`: the folder-level picture of docs/architecture.md.
    reporterOptions: { archi: { collapsePattern: '^src/([^/]+/|[^/]+\\.ts$)' } },
  },
}
