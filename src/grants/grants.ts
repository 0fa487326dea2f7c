// moved: re-export kept until the integrator updates importers
export * from './grant-store.js'
