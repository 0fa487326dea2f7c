export * from '../providers/azure/preset.js' // moved: re-export kept until the integrator updates importers
