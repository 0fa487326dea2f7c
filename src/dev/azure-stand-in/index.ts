/**
 * The local Microsoft Entra ID stand-in (development and tests only; Node). Exported as
 * `mcp-gatehouse/testing/entra`.
 */
export { startAzureStandIn } from './server.js'
export type { AzureStandIn, AzureStandInOptions } from './server.js'
export type { RecordedRequest } from './state.js'
export {
  GRAPH_APP_ID,
  GRAPH_RESOURCE,
  MSA_TENANT,
  type StandInApp,
  type StandInTenant,
  type StandInUser,
} from './directory.js'
