// README.md as tests read it: its fenced code blocks with the marker each carries (an HTML comment
// on the line before the fence, invisible once rendered), and the two places a README command runs
// the way a reader would run it: a copy of the checkout as a fresh clone would have it, and a
// project of a user's own that has the package installed (node_modules/gatehouse) and nothing else.
//
// Markers, the comment just above a fence: `<!-- snippet: <file> -->` the block is that file,
// byte for byte, and a test runs the file; `<!-- runs-in: <test> -->` that test runs the block as
// written (`, keeps running` when it does not end by itself); `<!-- mirrors: <test> -->` the block
// needs values pasted from earlier answers, and that test makes the same requests;
// `<!-- illustrative -->` an excerpt, a fragment or an output, not meant to run as it is;
// `<!-- manual: <why> -->` commands for a person that no test runs, and why.

import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

export const ROOT = process.cwd()

export type BlockMarker =
  | { readonly kind: 'snippet'; readonly file: string }
  | { readonly kind: 'runs-in'; readonly test: string; readonly keepsRunning: boolean }
  | { readonly kind: 'mirrors'; readonly test: string }
  | { readonly kind: 'illustrative' }
  | { readonly kind: 'manual'; readonly reason: string }

export interface ReadmeBlock {
  /** 1-based line of the opening fence. */
  readonly line: number
  /** The fence's info string: sh, js, json, … ('' for none). */
  readonly lang: string
  /** The block's text without its fences, ending in a newline. */
  readonly code: string
  /** The nearest `## ` heading above the block. */
  readonly section: string
  /** null when the block has no marker, or when its comment is not one of the markers. */
  readonly marker: BlockMarker | null
  readonly rawMarker: string | null
}

const MARKER = /^<!-- (.*) -->$/

function parseMarker(text: string): BlockMarker | null {
  if (text === 'illustrative') return { kind: 'illustrative' }
  const snippet = /^snippet: (\S+)$/.exec(text)
  if (snippet) return { kind: 'snippet', file: snippet[1] as string }
  const runs = /^runs-in: (\S+?)(, keeps running)?$/.exec(text)
  if (runs) return { kind: 'runs-in', test: runs[1] as string, keepsRunning: runs[2] !== undefined }
  const manual = /^manual: (.+)$/.exec(text)
  if (manual) return { kind: 'manual', reason: manual[1] as string }
  const mirrors = /^mirrors: (\S+)$/.exec(text)
  if (mirrors) return { kind: 'mirrors', test: mirrors[1] as string }
  return null
}

/** Every fenced code block of `readme`, in order. */
export function readmeBlocks(readme: string): ReadmeBlock[] {
  const lines = readme.split('\n')
  const blocks: ReadmeBlock[] = []
  let section = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    if (line.startsWith('## ')) section = line.slice(3).trim()
    const fence = /^```(\S*)\s*$/.exec(line)
    if (!fence) continue
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l))
    if (end < 0) throw new Error(`README.md:${i + 1}: a code block that never closes`)
    // Prettier keeps one blank line between the comment and the fence.
    const above = lines[i - 1] === '' ? lines[i - 2] : lines[i - 1]
    const comment = MARKER.exec(above ?? '')?.[1] ?? null
    blocks.push({
      line: i + 1,
      lang: fence[1] ?? '',
      code: lines.slice(i + 1, end).join('\n') + '\n',
      section,
      marker: comment === null ? null : parseMarker(comment),
      rawMarker: comment,
    })
    i = end
  }
  return blocks
}

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
}

/**
 * A copy of the checkout as a clone of it would be, working-tree edits included: the files git
 * tracks or would track (nothing it ignores: no .dev.vars, .wrangler state or .demo-idp.json),
 * with node_modules linked to this checkout's. Returns the directory; the caller removes it.
 */
export function copyCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-clone-'))
  const files = git(['ls-files', '-z', '--cached', '--others', '--exclude-standard'])
    .split('\0')
    .filter((file) => file !== '' && existsSync(join(ROOT, file)))
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true })
    cpSync(join(ROOT, file), join(dir, file))
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  return dir
}

/**
 * A project of a user's own outside the checkout, with this package installed as
 * node_modules/gatehouse (a link to the checkout, as `npm install <path>` makes it) and nothing
 * else: what it imports resolves the way it would for a user. Returns the directory.
 */
export function packageUserProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-user-'))
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(ROOT, join(dir, 'node_modules', 'gatehouse'))
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "module" }\n')
  return dir
}
