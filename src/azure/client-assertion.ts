export * from '../providers/azure/client-assertion.js' // moved: re-export kept until the integrator updates importers
