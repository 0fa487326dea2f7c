#!/usr/bin/env node
// The `gatehouse` executable: runs the CLI and sets the exit code.
import { main } from './main.js'

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`gatehouse: ${error instanceof Error ? error.message : 'failed'}\n`)
    process.exitCode = 1
  },
)
