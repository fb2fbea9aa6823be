// gatehouse/client outside the browser, against the real `npm start` stack: the README's Node
// snippet (README § DPoP), run verbatim as a user would, and the demo page's copy of the library
// (GET /demo/client/<file>) byte for byte the files the package exports.

import { execFile } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { GATEWAY } from '../helpers/stack/stack'

const ROOT = process.cwd()
const run = promisify(execFile)

/** The fenced block of README.md that starts with `// <name>`. */
async function readmeBlock(name: string): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf(`\`\`\`js\n// ${name}\n`)
  if (start < 0) throw new Error(`README.md has no js block starting with // ${name}`)
  const body = readme.slice(start + '```js\n'.length)
  return body.slice(0, body.indexOf('```'))
}

describe('gatehouse/client from Node', () => {
  it('runs the README’s Node snippet: a DPoP-bound call, and the token alone refused', async () => {
    const code = await readmeBlock('dpop-demo.mjs')
    // As `node dpop-demo.mjs` inside the checkout: `gatehouse/client` resolves from there.
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], {
      cwd: ROOT,
      env: { ...process.env, GATEHOUSE_URL: GATEWAY },
      timeout: 30_000,
    })
    const [bound, called, stolen] = stdout.trim().split('\n')
    const jkt = /^DPoP bound to ([A-Za-z0-9_-]{43})$/.exec(bound ?? '')?.[1]
    expect(jkt, stdout).toBeDefined()
    expect(called).toBe(`200 usr_3e3_demo_alice ${jkt}`)
    expect(stolen).toBe('401 as Bearer')
  })

  it('serves the demo page exactly the library modules the package exports', async () => {
    const files = (await readdir(join(ROOT, 'client'))).filter((f) => f.endsWith('.js'))
    expect(files).toContain('index.js')
    for (const file of files) {
      const served = await fetch(`${GATEWAY}/demo/client/${file}`)
      expect(served.status, file).toBe(200)
      expect(await served.text(), `${file}: run node scripts/embed-client.mjs`).toBe(
        await readFile(join(ROOT, 'client', file), 'utf8'),
      )
    }
    expect((await fetch(`${GATEWAY}/demo/client/index.d.ts`)).status).toBe(404)
  })
})
