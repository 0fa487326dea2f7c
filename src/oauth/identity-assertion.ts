// moved: re-export kept until the integrator updates importers
export * from '../grants/identity-assertion-verifier.js'
