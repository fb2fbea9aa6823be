// Gatehouse's architecture, enforced: `npm run lint:arch` (part of `npm test`) fails on any
// violation. The layout and the reasons are in docs/ARCHITECTURE.md § Layout of src/.
//
// Arrows point down: http/ → config/ → capability libraries → lib/. Each capability folder
// lists the folders it may import; anything else in src/ is forbidden, so a new top-level folder
// must be added here with its layer before anything may import it. Type-only imports count
// (`tsPreCompilationDeps`): a type is a dependency too.

/** The top-level folders of src/ and what each may import (besides itself). */
const LAYERS = {
  lib: [],
  origin: [], // ships to origins standalone: imports nothing else in src/
  observability: ['lib'],
  keys: ['lib', 'observability'],
  verify: ['lib', 'observability', 'keys'],
  revocation: ['lib', 'observability', 'verify', 'keys'],
  // storage/ places users and sessions in buckets and buckets on D1 shards
  storage: ['lib'],
  accounts: ['lib', 'observability', 'storage'],
  sessions: ['lib', 'observability', 'storage'],
  // factors/ are second factors (TOTP, passkeys, recovery codes) and their single-use challenges
  factors: ['lib', 'observability', 'storage'],
  // origin/ is the standalone verifier; the proxy signs the very canonical string it checks.
  proxy: ['lib', 'observability', 'revocation', 'verify', 'keys', 'origin'],
  // config/ may use the capability libraries (their types, their defaults), never http/
  config: [
    'lib',
    'origin',
    'observability',
    'keys',
    'verify',
    'revocation',
    'storage',
    'accounts',
    'sessions',
    'factors',
    'proxy',
  ],
  // http/ is the edge: anything but the entry (see no-import-of-entry)
  http: [
    'lib',
    'origin',
    'observability',
    'keys',
    'verify',
    'revocation',
    'storage',
    'accounts',
    'sessions',
    'factors',
    'proxy',
    'config',
  ],
}

const KNOWN_FOLDERS = Object.keys(LAYERS).join('|')

const layerRules = Object.entries(LAYERS).map(([folder, allowed]) => ({
  name: `layer-${folder}`,
  severity: 'error',
  comment:
    `src/${folder}/ may import only ` +
    (allowed.length ? allowed.map((f) => `src/${f}/`).join(', ') + ' and itself' : 'itself') +
    ' (arrows point down; docs/ARCHITECTURE.md).',
  from: { path: `^src/${folder}/` },
  to: {
    path: '^src/',
    pathNot: [`^src/(${[folder, ...allowed].join('|')})/`, '^src/[^/]+\\.d\\.ts$'],
  },
}))

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No circular dependency between files (type-only imports included).',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      severity: 'error',
      comment:
        'No cycle between the top-level folders of src/ (the layer rules make one impossible; ' +
        'this names it when one appears).',
      scope: 'folder',
      from: { path: '^src/[^/]+$' },
      to: { path: '^src/', circular: true },
    },
    ...layerRules,
    {
      name: 'no-import-of-entry',
      severity: 'error',
      comment: 'src/index.ts is the Worker entry: nothing imports it.',
      from: {},
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'known-folders-only',
      severity: 'error',
      comment:
        'Every module in src/ lives in a declared top-level folder; add a new folder to LAYERS ' +
        'in .dependency-cruiser.cjs (and docs/ARCHITECTURE.md) before using it.',
      from: {},
      to: {
        path: '^src/',
        pathNot: [`^src/(${KNOWN_FOLDERS})/`, '^src/index\\.ts$', '^src/[^/]+\\.d\\.ts$'],
      },
    },
    {
      name: 'hono-only-in-http',
      severity: 'error',
      comment:
        'Only src/http/ knows HTTP routing and Hono; capability libraries stay framework-free.',
      from: { path: '^src/', pathNot: '^src/http/' },
      to: { path: '(^|/)node_modules/hono/' },
    },
    {
      name: 'env-only-at-the-edge',
      severity: 'error',
      comment:
        "The Worker's Env type (src/config/env.ts) is seen only by src/http/, src/config/ and " +
        'src/index.ts: capability libraries take a config slice, a binding and `now`.',
      from: { path: '^src/', pathNot: ['^src/http/', '^src/config/', '^src/index\\.ts$'] },
      to: { path: '^src/config/env\\.ts$' },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'A module in src/ that nothing imports and that imports nothing is dead code.',
      from: { orphan: true, path: '^src/', pathNot: '\\.d\\.ts$' },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve to a file or a package is a broken import.',
      from: { path: '^src/' },
      to: { couldNotResolve: true, pathNot: ['^cloudflare:', '\\.wasm$'] },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment:
        'src/ may import only packages listed in package.json (not ones that happen to be ' +
        'installed as a dependency of a dependency).',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-dev-dep',
      severity: 'error',
      comment:
        'src/ is bundled into the Worker: it may not import a devDependency (type-only imports ' +
        'of @cloudflare/workers-types excepted).',
      from: { path: '^src/' },
      to: {
        dependencyTypes: ['npm-dev'],
        dependencyTypesNot: ['type-only'],
        pathNot: '(^|/)node_modules/@cloudflare/workers-types/',
      },
    },
  ],
  options: {
    // Type-only imports are dependencies too: an `import type` across layers still couples them.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: '(^|/)node_modules/' },
    // Provided by workerd at run time: a core module, not a package.
    builtInModules: { add: ['cloudflare:workers', 'cloudflare:test', 'cloudflare:sockets'] },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['workerd', 'worker', 'import', 'types', 'default'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.d.ts', '.mts', '.js', '.mjs', '.json', '.wasm'],
    },
    // *.wasm imports are bundled by wrangler as WebAssembly modules; count them as files.
    extraExtensionsToScan: ['.wasm'],
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
}
