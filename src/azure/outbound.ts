export * from '../providers/azure/outbound.js' // moved: re-export kept until the integrator updates importers
