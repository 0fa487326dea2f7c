export * from './oidc-idp/config.js' // moved: re-export kept until the integrator updates importers
