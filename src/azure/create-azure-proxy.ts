export { buildAzureProfile, type WarningHook } from '../providers/azure/profile.js' // moved: re-export kept until the integrator updates importers
