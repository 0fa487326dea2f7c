export * from '../providers/azure/discovery.js' // moved: re-export kept until the integrator updates importers
