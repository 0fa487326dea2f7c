export * from '../jwt/access-token.js' // moved: re-export kept until the integrator updates importers
