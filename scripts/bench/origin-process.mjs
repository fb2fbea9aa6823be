// Child process of the benchmark: runs the demo origin (scripts/demo-origin.mjs) on a free port,
// in its own event loop so the bench client never delays it. Prints {"port":N} once listening.
// No origin secret: the origin does the same (no) signature work for every variant.

import { startDemoOrigin } from '../demo-origin.mjs'

const server = await startDemoOrigin({ port: 0, host: '127.0.0.1' })
process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`)
process.on('disconnect', () => process.exit(0))
