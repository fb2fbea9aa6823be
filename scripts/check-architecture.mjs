// npm run lint:arch — is src/ still shaped the way docs/ARCHITECTURE.md says? Two passes, one
// report, one line per violation (`path:line: rule (detail)`), exit code 1 if there is any:
//   1. dependency-cruiser with .dependency-cruiser.cjs: the import graph (layers, cycles, Hono
//      and Env only at the edge, orphans). Run through its API, not its CLI: the CLI refuses
//      Node 20, which this project supports, while the cruise itself runs fine on it.
//   2. what an import graph cannot see, read from each file's TypeScript syntax tree: file
//      length, and who reads the wall clock (`Date.now`).
//
// `--root <dir>` checks another copy of the tree (a directory with src/ and tsconfig.json,
// node_modules reachable from it), e.g. a scratch copy with a deliberately forbidden import.

import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cruise } from 'dependency-cruiser'
import extractDepcruiseConfig from 'dependency-cruiser/config-utl/extract-depcruise-config'
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config'
import ts from 'typescript'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const DEPCRUISE_CONFIG = join(REPO, '.dependency-cruiser.cjs')

/** STYLE.md: files under ~300 lines; past this a file has two jobs and should be split. */
const MAX_FILE_LINES = 300

/**
 * The only files that may read the wall clock. Everything else is handed `now` (or a clock) by
 * the wiring, so tests and the hot path control time and a request sees one consistent instant.
 */
const CLOCK_READERS = new Map([
  ['src/http/services.ts', 'the per-isolate wiring: where `now` is made'],
  ['src/keys/key-manager.ts', 'Durable Object: its own clock for alarms and rotation'],
  ['src/revocation/revocation-shard.ts', 'Durable Object: its own clock for expiry'],
  ['src/observability/metrics-aggregator.ts', 'Durable Object: its own clock for windows'],
  ['src/origin/verify-identity.ts', 'ships to origins standalone: its default clock'],
  // src/http/demo-page.ts needs no entry: its Date.now() calls sit inside a template literal,
  // the browser script the page serves, and template text is not code to the syntax tree.
])

const RULE_TEXT = {
  'max-file-lines': `a file in src/ has at most ${MAX_FILE_LINES} lines (STYLE.md: split by responsibility)`,
  'clock-only-in-wiring':
    'Date.now is read only in src/http/services.ts, the Durable Objects and ' +
    "src/origin/verify-identity.ts's default clock; everything else takes `now` as a parameter",
  'no-barrel-index':
    'no barrel index.ts inside a folder of src/ (STYLE.md): import the module itself',
  'kebab-case-file-name': 'file names in src/ are kebab-case (STYLE.md: refresh-store.ts)',
}

function parseArgs(argv) {
  const at = argv.indexOf('--root')
  return { root: at === -1 ? REPO : argv[at + 1] }
}

async function listFiles(dir) {
  const out = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await listFiles(path)))
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name)) out.push(path)
  }
  return out
}

const toPosix = (path) => path.split(sep).join('/')

/** Line (1-based) of the first import/export/import() of `specifier` in the file, else 1. */
function importLine(sourceFile, specifier) {
  let line = 1
  const visit = (node) => {
    if (line !== 1) return
    const moduleSpecifier =
      ts.isImportDeclaration(node) || ts.isExportDeclaration(node)
        ? node.moduleSpecifier
        : ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword
          ? node.arguments[0]
          : ts.isImportTypeNode(node)
            ? node.argument?.literal
            : undefined
    if (
      moduleSpecifier &&
      ts.isStringLiteral(moduleSpecifier) &&
      moduleSpecifier.text === specifier
    ) {
      line = sourceFile.getLineAndCharacterOfPosition(moduleSpecifier.getStart(sourceFile)).line + 1
      return
    }
    ts.forEachChild(node, visit)
  }
  visit(sourceFile)
  return line
}

/** Every `Date.now` (called or passed as a clock) in code; comments and strings are not code. */
function clockReads(sourceFile) {
  const lines = []
  const visit = (node) => {
    if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'Date' &&
      node.name.text === 'now'
    ) {
      lines.push(sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile)).line + 1)
    }
    ts.forEachChild(node, visit)
  }
  visit(sourceFile)
  return lines
}

async function checkSources(root) {
  const violations = []
  const files = await listFiles(join(root, 'src'))
  const sources = new Map()
  for (const file of files.sort()) {
    const path = toPosix(relative(root, file))
    const text = await readFile(file, 'utf8')
    const sourceFile = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true)
    sources.set(path, sourceFile)

    const lineCount = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length
    if (lineCount > MAX_FILE_LINES) {
      violations.push({
        path,
        line: MAX_FILE_LINES + 1,
        rule: 'max-file-lines',
        detail: `${lineCount} lines`,
      })
    }
    if (!CLOCK_READERS.has(path)) {
      for (const line of clockReads(sourceFile))
        violations.push({ path, line, rule: 'clock-only-in-wiring' })
    }
    const name = path.split('/').at(-1)
    if (/^src\/.+\/index\.[mc]?[jt]s$/.test(path))
      violations.push({ path, line: 1, rule: 'no-barrel-index' })
    if (!/^[a-z0-9]+(-[a-z0-9]+)*(\.d)?\.[mc]?[jt]s$/.test(name)) {
      violations.push({ path, line: 1, rule: 'kebab-case-file-name' })
    }
  }
  return { violations, sources }
}

async function checkImports(root, sources) {
  const ruleSet = await extractDepcruiseConfig(DEPCRUISE_CONFIG)
  const tsConfig = extractTSConfig(join(root, 'tsconfig.json'))
  const previous = process.cwd()
  process.chdir(root) // dependency-cruiser names modules relative to the working directory
  let result
  try {
    result = await cruise(
      ['src'],
      { validate: true, ruleSet, outputType: 'json' },
      {},
      { tsConfig },
    )
  } finally {
    process.chdir(previous)
  }
  const { summary, modules } = JSON.parse(result.output)
  const byName = new Map(modules.map((m) => [m.source, m]))
  /** The specifier as written in `from` for the dependency that resolved to `to`. */
  const specifierOf = (from, to) =>
    byName.get(from)?.dependencies.find((d) => d.resolved === to)?.module
  const comments = new Map(ruleSet.forbidden.map((rule) => [rule.name, rule.comment]))
  const folderRules = new Set(
    ruleSet.forbidden.filter((r) => r.scope === 'folder').map((r) => r.name),
  )
  const violations = []
  const seenFolderCycles = new Set()
  for (const v of summary.violations) {
    const rule = v.rule.name
    const cycle = v.cycle?.map((step) => (typeof step === 'string' ? step : step.name))
    if (folderRules.has(rule)) {
      // Reported once per folder on the cycle; name each cycle once, from its smallest folder.
      const ring = [v.from, ...(cycle ?? [v.to])].slice(0, -1)
      const start = ring.indexOf([...ring].sort()[0])
      const canonical = [...ring.slice(start), ...ring.slice(0, start)]
      const key = `${rule}:${canonical.join('>')}`
      if (seenFolderCycles.has(key)) continue
      seenFolderCycles.add(key)
      violations.push({
        path: `${canonical[0]}/`,
        line: null,
        rule,
        detail: [...canonical, canonical[0]].join(' → '),
      })
      continue
    }
    const sourceFile = sources.get(v.from)
    const specifier = specifierOf(v.from, cycle?.[0] ?? v.to)
    const line = sourceFile && specifier ? importLine(sourceFile, specifier) : 1
    const detail = cycle
      ? [v.from, ...cycle].join(' → ')
      : v.from === v.to
        ? undefined
        : `→ ${v.to}`
    violations.push({ path: v.from, line, rule, detail })
  }
  return { violations, comments }
}

const { root } = parseArgs(process.argv.slice(2))
if (!existsSync(join(root, 'src'))) {
  console.error(`check-architecture: no src/ under ${root}`)
  process.exit(2)
}

const sourceCheck = await checkSources(root)
const importCheck = await checkImports(root, sourceCheck.sources)
const all = [...importCheck.violations, ...sourceCheck.violations].sort(
  (a, b) =>
    a.path.localeCompare(b.path) || (a.line ?? 0) - (b.line ?? 0) || a.rule.localeCompare(b.rule),
)
const seen = new Set()
const unique = all.filter((v) => {
  const key = `${v.path}:${v.line}:${v.rule}:${v.detail}`
  return seen.has(key) ? false : seen.add(key)
})

for (const v of unique) {
  const where = v.line === null ? v.path : `${v.path}:${v.line}`
  console.log(`${where}: ${v.rule}${v.detail ? ` (${v.detail})` : ''}`)
}

if (unique.length === 0) {
  console.log(
    `check-architecture: src/ follows docs/ARCHITECTURE.md (${sourceCheck.sources.size} files)`,
  )
  process.exit(0)
}

const counts = new Map()
for (const v of unique) counts.set(v.rule, (counts.get(v.rule) ?? 0) + 1)
console.log(`\n${unique.length} architecture violation(s):`)
for (const [rule, count] of [...counts].sort()) {
  const why = importCheck.comments.get(rule) ?? RULE_TEXT[rule] ?? ''
  console.log(`  ${String(count).padStart(3)}  ${rule}: ${why}`)
}
console.log(
  'Rules and reasons: docs/ARCHITECTURE.md § Layout of src/; the import rules live in .dependency-cruiser.cjs.',
)
process.exit(1)
