export * from './oidc-idp/login-page.js' // moved: re-export kept until the integrator updates importers
