export * from '../providers/azure/azure-jwt-verifier.js' // moved: re-export kept until the integrator updates importers
