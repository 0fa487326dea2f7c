// Everything exported here is public API.
export { createGatehouse } from './gatehouse.js'
export type { Gatehouse, GatehouseOptions, ProtectOptions, ProtectedHandler } from './gatehouse.js'
export {
  ConfigSchema,
  RemoteAuthConfigSchema,
  ResourceSchema,
  resolveConfig,
  resolveRemoteAuthConfig,
} from './config/schema.js'
export type {
  ConfigInput,
  ResolvedConfig,
  ResolvedRemoteAuthConfig,
  ResolvedResource,
} from './config/schema.js'
export {
  OAuthError,
  ConfigError,
  StoreError,
  UpstreamError,
  toErrorResponse,
  toOAuthError,
} from './errors.js'
export type { OAuthErrorCode, OAuthErrorOptions, ErrorHook } from './errors.js'
export type { Store, SetOptions } from './storage/store.js'
export { createMemoryStore } from './storage/memory.js'
export { createEncryptedStore } from './storage/encrypted.js'
export type { EncryptedStoreOptions } from './storage/encrypted.js'
export { webCryptoValueCipher } from './storage/value-cipher.js'
export type { Envelope, ValueCipher, ValueCipherFactory } from './storage/value-cipher.js'
export type { OAuthServerProvider } from './contract/provider.js'
export { ProviderTokenVerifier, exchangeIdentityAssertionUnsupported } from './contract/provider.js'
export { GatehouseProvider } from './oauth/gatehouse-provider.js'
export type { Authenticate, UserIdentity } from './oauth/gatehouse-provider.js'
export type {
  AuthorizationCode,
  AuthorizationParams,
  IdentityAssertionParams,
  OAuthClientInformation,
  RefreshToken,
  TokenEndpointAuthMethod,
  TokenResponse,
} from './contract/types.js'
export { checkAccessToken, principalOf, principalKey, samePrincipal } from './jwt/access-token.js'
export type {
  AccessToken,
  Principal,
  TokenCheck,
  TokenVerifier,
  UpstreamIdentity,
} from './jwt/access-token.js'
export { verifyBearer, bearerChallenge, InsufficientScopeError } from './resource/bearer.js'
export { createGuard } from './resource/guard.js'
export type { Guard, GuardOptions } from './resource/guard.js'
export { createRemoteAuthProvider } from './resource/remote-auth.js'
export type { RemoteAuthOptions, RemoteAuthProvider } from './resource/remote-auth.js'
export type { BearerOptions, ChallengeOptions } from './resource/bearer.js'
export { requireScopes, requireRole, requireRoles, missingScopes } from './resource/scopes.js'
export type { ScopeHierarchy } from './resource/scopes.js'
export { SigningKeys } from './tokens/keys.js'
export { JWTVerifier } from './jwt/verifier.js'
export type { JWTVerifierOptions } from './jwt/verifier.js'
export { JWKSCache } from './jwt/jwks-cache.js'
export type { JWKSCacheOptions } from './jwt/jwks-cache.js'
export { IntrospectionTokenVerifier } from './jwt/introspection.js'
export { StaticTokenVerifier } from './jwt/static.js'
export { ChainTokenVerifier } from './jwt/chain.js'
export { webCryptoSignatureVerifier } from './jwt/signature.js'
export type { SignatureVerifierFactory } from './jwt/signature.js'
export { webCryptoSignatureSigner } from './jwt/signer.js'
export type { SignatureSignerFactory, SignFunction, SignerAlgorithm } from './jwt/signer.js'
export { classifyAddress, classifyHost, createGuardedFetch } from './http/guarded-fetch.js'
export type {
  GuardedFetch,
  GuardedFetchOptions,
  GuardedTransport,
  TransportRequest,
} from './http/guarded-fetch.js'
export { ClientMetadataResolver } from './oauth/client-metadata-resolver.js'
export { OAuthProxy } from './upstream/oauth-proxy.js'
export type {
  IdentityProviderEntry,
  OAuthProxyOptions,
  ProxyCapabilities,
  ResolveIdentity,
} from './upstream/oauth-proxy.js'
export { genericProfile, verifiedIdentity } from './upstream/profile.js'
export type {
  GenericProfileOptions,
  OnBehalfOf,
  ProviderCapabilities,
  ProviderProfile,
  ScopeMapping,
  UpstreamResult,
} from './upstream/profile.js'
export { createOIDCProxy } from './presets/oidc.js'
export { keycloakRoles } from './providers/keycloak/profile.js'
export { GitHubAPI } from './providers/github/api.js'
export { GitHubTokenVerifier } from './providers/github/token-verifier.js'
export type { GitHubTokenVerifierOptions } from './providers/github/token-verifier.js'
export { workosRoles, workosVerifier } from './providers/workos/profile.js'
export { descopeRoles, descopeVerifier } from './providers/descope/profile.js'
export {
  scalekitAuthorizationServer,
  scalekitRoles,
  scalekitVerifier,
} from './providers/scalekit/profile.js'
export { supabaseRoles, supabaseVerifier } from './providers/supabase/profile.js'
export { clerkRoles, clerkVerifier } from './providers/clerk/profile.js'
export { propelauthRoles, propelauthVerifier } from './providers/propelauth/profile.js'
export { keycloakVerifier } from './providers/keycloak/verifier.js'
export type { KeycloakVerifierOptions } from './providers/keycloak/verifier.js'
export { cognitoVerifier } from './providers/cognito/verifier.js'
export type { CognitoVerifierOptions } from './providers/cognito/verifier.js'
export { auth0Verifier } from './providers/auth0/verifier.js'
export type { Auth0VerifierOptions } from './providers/auth0/verifier.js'
export { oktaVerifier } from './providers/okta/verifier.js'
export type { OktaVerifierOptions } from './providers/okta/verifier.js'
export type { ProviderVerifierOptions } from './providers/verifier-options.js'
export type { OIDCProxyOptions } from './presets/oidc.js'
export { createOAuthProxy } from './presets/oauth.js'
export type { OAuthProxyFactoryOptions } from './presets/oauth.js'
export { AzureProvider, createAzureB2CProxy, createAzureProxy } from './presets/azure.js'
export type {
  AzureB2CProxyOptions,
  AzureProviderOptions,
  AzureProxyOptions,
} from './presets/azure.js'
export { AzureJWTVerifier } from './providers/azure/azure-jwt-verifier.js'
export type { AzureJWTVerifierOptions } from './providers/azure/azure-jwt-verifier.js'
export { AzureScopeRules, OIDC_SCOPES } from './providers/azure/scopes.js'
export { AzureOBOError } from './obo-error.js'
export type { AzureOBOErrorCode } from './obo-error.js'
// Deprecated names (issue 12), removed in the next minor version with deprecated-names.ts.
/* eslint-disable @typescript-eslint/no-deprecated -- re-exporting them is their purpose */
export { EntraOboError, GitHubApi, JwksCache } from './deprecated-names.js'
export type { EntraOboErrorCode, JwksCacheOptions } from './deprecated-names.js'
/* eslint-enable @typescript-eslint/no-deprecated */
export { UpstreamSchema } from './config/schema.js'
export { configFromEnv, mergeConfig, overlayEnv, resolveConfigWithEnv } from './config/env.js'
export type { EnvOverlay, EnvSource } from './config/env.js'
export { AdminError, createAdmin } from './admin/admin.js'
export type {
  Admin,
  AdminAuditEvent,
  AdminClient,
  AdminGrant,
  AdminKey,
  AdminOptions,
  StoreCheckResult,
} from './admin/admin.js'
