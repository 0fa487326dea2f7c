/**
 * Names of `mcp-gatehouse/testing/entra` (now `mcp-gatehouse/testing/azure`) before issue 12 (one
 * word for Microsoft's IdP in code: `Azure`, not `Entra`), kept for one minor version and then
 * removed with this file (and its re-export block in index.ts). See also src/deprecated-names.ts.
 */
import { startAzureStandIn, type AzureStandIn, type AzureStandInOptions } from './server.js'

/** @deprecated Use `startAzureStandIn`; removed in the next minor version. */
export const startEntraStandIn = startAzureStandIn
/** @deprecated Use `AzureStandIn`; removed in the next minor version. */
export type EntraStandIn = AzureStandIn
/** @deprecated Use `AzureStandInOptions`; removed in the next minor version. */
export type EntraStandInOptions = AzureStandInOptions
