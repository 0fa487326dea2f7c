export * from '../presets/oidc.js' // moved: re-export kept until the integrator updates importers
export * from '../presets/oauth.js' // moved: re-export kept until the integrator updates importers
