export * from '../audit-event.js' // moved: re-export kept until the integrator updates importers
