/** How the CLI's commands word a usage mistake that `node:util`'s `parseArgs` reports. */

/** parseArgs's complaint, without its advice about `--` (ours is the help that follows). */
export function usageProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : 'bad arguments'
  return message.split('. To specify a positional')[0] ?? message
}
