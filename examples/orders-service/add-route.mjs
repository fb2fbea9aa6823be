// Writes a copy of a Gatehouse configuration file with the orders route (route.json, README
// § Add your own service) added to its routes; the route's origin port is ORDERS_PORT (default
// 9001), the port server.mjs listens on.
//   node examples/orders-service/add-route.mjs <config in> <config out>

import { readFileSync, writeFileSync } from 'node:fs'

const [from, to] = process.argv.slice(2)
if (!from || !to) {
  console.error('usage: node examples/orders-service/add-route.mjs <config in> <config out>')
  process.exit(2)
}
const config = JSON.parse(readFileSync(from, 'utf8'))
const route = JSON.parse(readFileSync(new URL('route.json', import.meta.url), 'utf8'))
route.origin = `http://127.0.0.1:${process.env.ORDERS_PORT ?? 9001}`
config.routes = [...config.routes.filter((r) => r.prefix !== route.prefix), route]
// The copy sits in the checkout's root: editors find the schema from there.
if (config.$schema) config.$schema = './docs/config.schema.json'
writeFileSync(to, `${JSON.stringify(config, null, 2)}\n`)
console.log(`${to}: ${route.prefix} → ${route.origin}`)
