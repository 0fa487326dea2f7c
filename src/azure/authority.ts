export * from '../providers/azure/authority.js' // moved: re-export kept until the integrator updates importers
