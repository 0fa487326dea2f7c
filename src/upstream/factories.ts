export * from '../providers/oidc/preset.js' // moved: re-export kept until the integrator updates importers
export * from '../providers/oauth/preset.js' // moved: re-export kept until the integrator updates importers
