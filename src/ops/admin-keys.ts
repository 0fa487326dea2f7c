export * from '../storage/keys.js' // moved: re-export kept until the integrator updates importers
