/** The local Discord stand-in (development and tests only). */
export {
  startDiscordStandIn,
  type DiscordStandIn,
  type DiscordStandInApp,
  type DiscordStandInOptions,
  type DiscordStandInUser,
} from './server.js'
