// The assertion section's rows for the bench table (issue 15): the per-attempt identity work
// (legacy headers vs the HS256 and EdDSA assertion, with the A/A control), where it goes and what
// cheaper variants would cost, the whole low-route request per identity mode, and the body digest.

import { round } from './stats.mjs'

const x = (v) => (Number.isFinite(v) ? `${round(v, 2)}×` : 'n/a')
const n = (v, digits = 1) => (Number.isFinite(v) ? String(round(v, digits)) : 'n/a')
const signed = (v, digits = 1) =>
  Number.isFinite(v) ? `${v < 0 ? '−' : '+'}${n(Math.abs(v), digits)}` : 'n/a'

/** The assertion section as [what, measured, relation] rows. */
export function assertionRows(a) {
  const i = a.identity
  const q = a.requests
  const rows = [
    [
      'assertion: identity per attempt, legacy / HS256 / EdDSA',
      `${n(i.legacyUs)} / ${n(i.hs256Us)} / ${n(i.eddsaUs)} µs`,
      `HS256 ${x(i.hs256OverLegacy)} legacy (${signed(i.hs256MinusLegacyUs)} µs; rounds' IQR ${i.hs256RatioIqr.map((v) => x(v)).join('–')}), EdDSA ${x(i.eddsaOverLegacy)}; A/A control ${x(i.controlRatio)}`,
    ],
    ...i.parts.map((p) => [
      `assertion step: ${p.label}`,
      `${n(p.us, 2)} µs`,
      `${x(p.overLegacy)} legacy`,
    ]),
    [
      'assertion: low route in-isolate, headers / HS256 / EdDSA / both',
      `${n(q.headers.us)} / ${n(q.hs256.us)} / ${n(q.eddsa.us)} / ${n(q.both.us)} µs`,
      `HS256 ${x(q.hs256.ratio)} (${signed(q.hs256.addedUs)} µs), EdDSA ${x(q.eddsa.ratio)} (${signed(q.eddsa.addedUs)}), both ${x(q.both.ratio)} (${signed(q.both.addedUs)}); A/A control ${x(q.controlRatio)}`,
    ],
    [
      'assertion: headers forwarded, headers / HS256 / EdDSA / both',
      ['headers', 'hs256', 'eddsa', 'both']
        .map((v) => `${q[v].forwardedHeaders} (${q[v].forwardedHeaderBytes} B)`)
        .join(' / '),
      '',
    ],
  ]
  const b = a.body
  for (const s of b.sizes) {
    rows.push([
      `assertion: POST ${s.kib} KiB, prepareBody / digest alone`,
      `${n(s.prepareUs)} / ${n(s.digestUs)} µs (${n(s.prepareUsPerKiB, 2)} / ${n(s.digestUsPerKiB, 2)} µs per KiB)`,
      `whole request bound vs off ${signed(s.addedUs)} µs (${x(s.ratio)}); native read + digest ${n(s.nativeReadDigestUs)} µs`,
    ])
  }
  const m = b.marginalUsPerKiB
  rows.push([
    'assertion: one more KiB of bound body (16→256 KiB)',
    `prepareBody ${n(m.prepare, 2)}, digest ${n(m.digest, 2)}, whole request ${n(m.wholeRequest, 2)} µs`,
    `native read + digest ${n(m.nativeReadDigest, 2)} µs; reader chunks ${JSON.stringify(b.chunksRead)}`,
  ])
  return rows
}
