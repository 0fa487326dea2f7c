/**
 * `AzureOBOError`: why an On-Behalf-Of token could not be had. Messages name no token, assertion
 * or secret; Entra's refusal keeps its OAuth `error` and its AADSTS numbers (not its text).
 * It sits beside errors.ts, at the bottom of the module table, because two layers throw it: the
 * Azure profile (providers/azure/obo.ts) and the MCP helper `azureOBOToken` (mcp/azure.ts).
 */

/**
 * - `ERR_OBO_NO_TOKEN`: the request has no signed-in user with an Entra token;
 * - `ERR_OBO_NOT_AZURE`: the provider offers no On-Behalf-Of (not the Azure provider);
 * - `ERR_OBO_NOT_SUPPORTED`: Azure AD B2C (no On-Behalf-Of there);
 * - `ERR_OBO_REFUSED`: Entra refused (`upstreamCode` `invalid_grant`, `interaction_required` …);
 * - `ERR_OBO_UNAVAILABLE`: Entra did not answer usefully (network, timeout, bad response).
 */
export type AzureOBOErrorCode =
  | 'ERR_OBO_NO_TOKEN'
  | 'ERR_OBO_NOT_AZURE'
  | 'ERR_OBO_NOT_SUPPORTED'
  | 'ERR_OBO_REFUSED'
  | 'ERR_OBO_UNAVAILABLE'

export class AzureOBOError extends Error {
  override name = 'AzureOBOError'
  readonly code: AzureOBOErrorCode
  /** Entra's OAuth `error` (`invalid_grant`, `interaction_required`, `consent_required` …). */
  readonly upstreamCode: string | undefined
  /** Entra's `suberror` (`consent_required`, `basic_action` …), when it sent one. */
  readonly suberror: string | undefined
  /** Entra's `error_codes` (e.g. `[65001]`: consent missing; `[50076]`: MFA required). */
  readonly entraCodes: readonly number[]
  /** Entra's claims challenge for `interaction_required`, to pass back to the client. */
  readonly claims: string | undefined

  constructor(
    code: AzureOBOErrorCode,
    message: string,
    details: {
      upstreamCode?: string
      suberror?: string
      entraCodes?: readonly number[]
      claims?: string
      cause?: unknown
    } = {},
  ) {
    super(message, { cause: details.cause })
    this.code = code
    this.upstreamCode = details.upstreamCode
    this.suberror = details.suberror
    this.entraCodes = Object.freeze([...(details.entraCodes ?? [])])
    this.claims = details.claims
  }

  /** Whether the user must act (consent, MFA): sign in again or ask an admin. */
  get interactionRequired(): boolean {
    return (
      this.upstreamCode === 'interaction_required' ||
      this.upstreamCode === 'consent_required' ||
      this.suberror === 'consent_required' ||
      this.entraCodes.includes(65001)
    )
  }
}
