export * from '../providers/azure/scopes.js' // moved: re-export kept until the integrator updates importers
