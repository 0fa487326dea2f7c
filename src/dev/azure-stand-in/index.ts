/**
 * The local Microsoft Entra ID stand-in (development and tests only; Node). Exported as
 * `mcp-gatehouse/testing/azure` (and, until the next minor version, under its former name
 * `mcp-gatehouse/testing/entra`).
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
// Deprecated names (issue 12), removed in the next minor version with deprecated-names.ts.
/* eslint-disable @typescript-eslint/no-deprecated -- re-exporting them is their purpose */
export { startEntraStandIn } from './deprecated-names.js'
export type { EntraStandIn, EntraStandInOptions } from './deprecated-names.js'
/* eslint-enable @typescript-eslint/no-deprecated */
