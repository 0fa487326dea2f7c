export { AzureProvider, type AzureProviderOptions } from '../presets/azure.js' // moved: re-export kept until the integrator updates importers
