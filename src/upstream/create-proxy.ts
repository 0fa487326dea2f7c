export { createProxy } from '../providers/registry.js' // moved: re-export kept until the integrator updates importers
export type { ProviderDeps as ProxyDeps } from './profile.js' // moved: re-export kept until the integrator updates importers
