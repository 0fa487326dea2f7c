export * from './oidc-idp/interactions.js' // moved: re-export kept until the integrator updates importers
