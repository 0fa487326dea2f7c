import type { GatewayRoute } from '../config/gateway-schema.js'
import type { Upstream } from './upstream.js'

type StdioConfig = Extract<GatewayRoute['upstream'], { kind: 'stdio' }>

export function createStdioUpstream(
  _config: StdioConfig,
  _deps: { env: NodeJS.ProcessEnv; log: (m: string) => void },
): Upstream {
  throw new Error('stdio upstreams are not built yet')
}
