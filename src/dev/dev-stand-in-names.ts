/**
 * The providers `gatehouse dev --provider <name>` can run a local stand-in of, with one line of
 * help each. Kept apart from the stand-ins themselves (`provider-dev.ts`), so the CLI can check
 * the option and print its help without loading them.
 */
export const DEV_STAND_IN_NAMES = {
  github: 'a local GitHub: OAuth app, organization, team mapped to a role',
  google: 'a local Google sign-in: a Workspace user, hosted-domain rule',
  auth0: 'a local Auth0 tenant: trailing-slash issuer, API audience, roles claim',
  keycloak: 'a local Keycloak realm: realm role in the access token',
  okta: 'a local Okta org authorization server: groups claim',
  cognito: 'a local Amazon Cognito user pool: pool issuer, domain endpoints, groups',
  discord: 'a local Discord: OAuth2 app, the user in a server mapped to a role',
  huggingface: 'a local Sign in with Hugging Face: organizations as roles',
  oci: 'a local OCI IAM identity domain: shared issuer, groups claim',
  workos: 'a local WorkOS AuthKit domain: the organization role in the access token',
  descope: 'a local Descope project: project roles in the ID token',
  scalekit: 'a local Scalekit environment: roles in the access token',
  supabase: 'a local Supabase Auth project: a Custom Access Token Hook claim as the role',
  clerk: 'a local Clerk instance: public_metadata.role in the ID token',
  propelauth: 'a local PropelAuth project: OAuth2 API, the organization role from userinfo',
} as const

/** A provider with a stand-in for `gatehouse dev --provider`. */
export type DevStandInName = keyof typeof DEV_STAND_IN_NAMES

export function isDevStandIn(name: string): name is DevStandInName {
  return Object.hasOwn(DEV_STAND_IN_NAMES, name)
}
