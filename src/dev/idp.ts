export * from './oidc-idp/server.js' // moved: re-export kept until the integrator updates importers
