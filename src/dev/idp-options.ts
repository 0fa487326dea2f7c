export * from './oidc-idp/options.js' // moved: re-export kept until the integrator updates importers
