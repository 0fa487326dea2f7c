export * from './oidc-idp/store.js' // moved: re-export kept until the integrator updates importers
