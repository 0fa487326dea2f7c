/**
 * Names of `mcp-gatehouse` before issue 12 (one casing for acronyms: `JWKSCache`, not
 * `JwksCache`; one word for Microsoft's IdP in code: `Azure`, not `Entra`). Each old name is the
 * new one under its former spelling, kept for one minor version and then removed with this file
 * (and its re-export block in index.ts). The same files exist for the other entry points:
 * mcp/deprecated-names.ts and dev/azure-stand-in/deprecated-names.ts.
 */
import { JWKSCache, type JWKSCacheOptions } from './jwt/jwks-cache.js'
import { AzureOBOError, type AzureOBOErrorCode } from './obo-error.js'
import { GitHubAPI } from './providers/github/api.js'

/** @deprecated Use `JWKSCache`; removed in the next minor version. */
export const JwksCache = JWKSCache
/** @deprecated Use `JWKSCache`; removed in the next minor version. */
export type JwksCache = JWKSCache
/** @deprecated Use `JWKSCacheOptions`; removed in the next minor version. */
export type JwksCacheOptions = JWKSCacheOptions

/** @deprecated Use `GitHubAPI`; removed in the next minor version. */
export const GitHubApi = GitHubAPI
/** @deprecated Use `GitHubAPI`; removed in the next minor version. */
export type GitHubApi = GitHubAPI

/** @deprecated Use `AzureOBOError`; removed in the next minor version. */
export const EntraOboError = AzureOBOError
/** @deprecated Use `AzureOBOError`; removed in the next minor version. */
export type EntraOboError = AzureOBOError
/** @deprecated Use `AzureOBOErrorCode`; removed in the next minor version. */
export type EntraOboErrorCode = AzureOBOErrorCode
