export * from '../providers/azure/errors.js' // moved: re-export kept until the integrator updates importers
