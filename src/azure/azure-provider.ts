export { AzureProvider, type AzureProviderOptions } from '../providers/azure/preset.js' // moved: re-export kept until the integrator updates importers
