export * from '../providers/azure/obo.js' // moved: re-export kept until the integrator updates importers
