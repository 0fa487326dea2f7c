import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// The examples import `mcp-gatehouse/...` as users do; tests run them against the sources
// (the same map as `paths` in tsconfig.json), so no build is needed first.
const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))
const packageEntries: Record<string, string> = {
  'mcp-gatehouse': 'index.ts',
  'mcp-gatehouse/express': 'adapters/express.ts',
  'mcp-gatehouse/node': 'adapters/node.ts',
  'mcp-gatehouse/hono': 'adapters/hono.ts',
  'mcp-gatehouse/mcp': 'mcp/index.ts',
  'mcp-gatehouse/testing/azure': 'dev/azure-stand-in/index.ts',
  'mcp-gatehouse/testing/entra': 'dev/azure-stand-in/index.ts', // deprecated name (issue 12)
  'mcp-gatehouse/storage/sqlite': 'storage/sqlite.ts',
  'mcp-gatehouse/storage/redis': 'storage/redis.ts',
}

export default defineConfig({
  resolve: {
    alias: Object.entries(packageEntries).map(([name, file]) => ({
      find: new RegExp(`^${name.replace(/[/-]/g, '\\$&')}$`),
      replacement: src(file),
    })),
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
})
