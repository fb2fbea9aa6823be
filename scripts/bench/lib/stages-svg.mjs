// Writes bench/stages.svg: each route's in-isolate CPU per request as a stacked bar of its stages
// (measured in place by the profile section: the harness's client request and answer reading,
// the stub origin, and the proxy path's own stages), the unattributed rest last, so README §
// Performance shows where the microseconds go. Plain SVG, no dependencies.

const BAR_HEIGHT_PX = 26
const ROW_GAP_PX = 18
const LABEL_WIDTH_PX = 150
const CHART_WIDTH_PX = 620
const LEGEND_ROW_PX = 18
const PALETTE = [
  '#9e9e9e',
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
  '#2f4b7c',
]
const REST_COLOR = '#ffffff'
const ROUTE_NAMES = {
  bare: 'bare forward',
  'app-public': 'public route',
  'app-low': 'low route (warm)',
  'app-critical': 'critical route',
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const fmt = (v) => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1))

/** The SVG text for `stages` (profile.stages) measured at `commit` on `date`. */
export function stagesSvg(stages, { commit, date }) {
  const steps = []
  for (const r of stages) for (const s of r.stages) if (!steps.includes(s.step)) steps.push(s.step)
  const color = (step) => PALETTE[steps.indexOf(step) % PALETTE.length]
  const maxUs = Math.max(...stages.map((r) => Math.max(r.totalUs, r.totalUs - r.restUs)))
  const scale = CHART_WIDTH_PX / maxUs
  const top = 40
  const parts = []
  stages.forEach((r, i) => {
    const y = top + i * (BAR_HEIGHT_PX + ROW_GAP_PX)
    let x = LABEL_WIDTH_PX
    parts.push(
      `<text x="${LABEL_WIDTH_PX - 8}" y="${y + BAR_HEIGHT_PX / 2 + 4}" text-anchor="end">${esc(ROUTE_NAMES[r.route] ?? r.route)}</text>`,
    )
    for (const s of r.stages) {
      const w = s.us * scale
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${BAR_HEIGHT_PX}" fill="${color(s.step)}"><title>${esc(s.step)}: ${fmt(s.us)} µs</title></rect>`,
      )
      x += w
    }
    if (r.restUs > 0) {
      const w = r.restUs * scale
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${BAR_HEIGHT_PX}" fill="${REST_COLOR}" stroke="#555" stroke-dasharray="3 2"><title>rest (outside the marks: the loop, garbage collection): ${fmt(r.restUs)} µs</title></rect>`,
      )
      x += w
    }
    const rest = r.restUs < 0 ? ` (stages sum ${fmt(-r.restUs)} µs more than the CPU)` : ''
    parts.push(
      `<text x="${(x + 6).toFixed(1)}" y="${y + BAR_HEIGHT_PX / 2 + 4}">${fmt(r.totalUs)} µs${esc(rest)}</text>`,
    )
  })
  const legendTop = top + stages.length * (BAR_HEIGHT_PX + ROW_GAP_PX) + 6
  const legend = [
    ...steps.map((s) => [s, color(s)]),
    ['rest (outside the marks: the loop, garbage collection)', REST_COLOR],
  ]
  const columns = 3
  const columnWidth = (LABEL_WIDTH_PX + CHART_WIDTH_PX) / columns
  legend.forEach(([name, c], i) => {
    const x = 10 + (i % columns) * columnWidth
    const y = legendTop + Math.floor(i / columns) * LEGEND_ROW_PX
    parts.push(
      `<rect x="${x}" y="${y}" width="12" height="12" fill="${c}" stroke="#555" stroke-width="0.5"/>`,
      `<text x="${x + 18}" y="${y + 10}">${esc(name)}</text>`,
    )
  })
  const height = legendTop + Math.ceil(legend.length / columns) * LEGEND_ROW_PX + 10
  const width = LABEL_WIDTH_PX + CHART_WIDTH_PX + 120
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="20" font-size="14" font-weight="bold">In-isolate CPU per request by stage (µs, warm cache; ${esc(commit)}, ${esc(date.slice(0, 10))})</text>
${parts.join('\n')}
</svg>
`
}
