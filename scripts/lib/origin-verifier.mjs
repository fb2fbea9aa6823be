// Loads src/origin/verify-identity.ts into Node: esbuild bundles the dependency-free verifier
// into .wrangler/tmp once, and this returns a ready verifier for one secret.

import { build } from 'esbuild'
import { mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export async function loadOriginVerifier(secret) {
  const outfile = join(root, '.wrangler', 'tmp', 'origin-verifier.mjs')
  await mkdir(dirname(outfile), { recursive: true })
  await build({
    entryPoints: [join(root, 'src', 'origin', 'verify-identity.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    outfile,
    logLevel: 'error',
  })
  const { createIdentityVerifier } = await import(pathToFileURL(outfile).href)
  return createIdentityVerifier({ secrets: [secret] })
}
