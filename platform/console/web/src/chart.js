// Performance over time as a uPlot line chart, one line per series (variant, channel or all
// events), with the same numbers in a table for screen readers and keyboard users.
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { h, fill } from './dom.js'

export const chartMetrics = [
  ['impressions', 'Impressions', 'count'],
  ['clicks', 'Clicks', 'count'],
  ['conversions', 'Conversions', 'count'],
  ['ctr', 'CTR (%)', 'number'],
  ['conversionRate', 'Conversion rate (%)', 'number'],
  ['revenue', 'Revenue', 'money'],
  ['cost', 'Cost', 'money'],
]

// Colours that keep a 4.5:1 contrast on white and differ in lightness too; lines also
// differ in dash pattern, for readers who do not tell the colours apart.
const palette = ['#1d4ed8', '#b45309', '#047857', '#7e22ce', '#b91c1c', '#0f766e', '#4b5563']
const dashes = [[], [8, 4], [2, 3], [10, 3, 2, 3], [4, 4], [12, 6]]

function periodSeconds(period) {
  const iso = period.length === 10 ? period + 'T00:00:00Z' : period
  return Date.parse(iso) / 1000
}

const periodLength = { hour: 3600, day: 86400, week: 7 * 86400, month: 31 * 86400 }

// range is the x range: the hours asked for (the API gives them), or the periods with half a
// period either side, so that a single point does not collapse the axis.
function range(perf, xs) {
  if (perf.granularity === 'hour' && perf.from && perf.to) {
    return [periodSeconds(perf.from), periodSeconds(perf.to) + 3600]
  }
  const pad = (periodLength[perf.granularity] || 86400) / 2
  return [periodSeconds(xs[0]) - pad, periodSeconds(xs[xs.length - 1]) + pad]
}

function valueOf(kpis, metric, kind) {
  const v = kpis[metric]
  if (v === null || v === undefined) return null
  return kind === 'money' ? Number(v.amount) : Number(v)
}

function groupName(series, groupBy) {
  if (series.group !== null && series.group !== undefined) return series.group
  if (groupBy === 'variant') return 'No variant'
  if (groupBy === 'channel') return 'No channel'
  if (groupBy === 'personalization') return 'No personalization'
  return 'All events'
}

// PlotBox keeps one uPlot instance in el, resized with its container, and the same numbers
// as a table in tableEl.
class PlotBox {
  constructor(el, tableEl, height) {
    this.el = el
    this.tableEl = tableEl
    this.height = height
    this.plot = null
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize(this.size())
    })
    this.resize.observe(el)
  }

  size() {
    return { width: Math.max(300, this.el.clientWidth), height: this.height }
  }

  destroy() {
    this.resize.disconnect()
    if (this.plot) this.plot.destroy()
    this.plot = null
  }
}

// Chart draws a campaign's performance series.
export class Chart extends PlotBox {
  constructor(el, tableEl) {
    super(el, tableEl, 280)
  }

  // show draws perf (a PerformanceResponse) for metric.
  show(perf, metric) {
    const [, label, kind] = chartMetrics.find((m) => m[0] === metric) || chartMetrics[0]
    const xs = [...new Set(perf.series.flatMap((s) => s.points.map((p) => p.period)))].sort()
    const names = perf.series.map((s) => groupName(s, perf.groupBy))
    const columns = perf.series.map((s) => {
      const byPeriod = new Map(s.points.map((p) => [p.period, valueOf(p.values, metric, kind)]))
      return xs.map((x) => (byPeriod.has(x) ? byPeriod.get(x) : kind === 'count' ? 0 : null))
    })
    if (this.plot) this.plot.destroy()
    this.plot = null
    this.el.replaceChildren()
    this.el.setAttribute('data-points', String(xs.length))
    this.el.setAttribute('data-series', String(perf.series.length))
    this.el.setAttribute('data-total', String(columns.flat().reduce((a, v) => a + (v || 0), 0)))
    if (xs.length === 0) {
      this.el.append(h('p', { class: 'empty' }, 'No events in this range yet.'))
    } else {
      const hourly = perf.granularity === 'hour'
      const xRange = range(perf, xs)
      const opts = {
        ...this.size(),
        title: label,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        scales: { x: { time: true, range: () => xRange }, y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
        axes: [
          { stroke: '#1f2937', grid: { stroke: '#e5e7eb' }, values: hourly ? '{HH}:{mm}' : '{YYYY}-{MM}-{DD}' },
          { stroke: '#1f2937', grid: { stroke: '#e5e7eb' } },
        ],
        series: [
          { label: hourly ? 'Hour (UTC)' : 'Period (UTC)', value: (u, v) => (v == null ? '—' : new Date(v * 1000).toISOString().slice(0, hourly ? 16 : 10).replace('T', ' ')) },
          ...names.map((name, i) => ({
            label: name,
            stroke: palette[i % palette.length],
            dash: dashes[i % dashes.length],
            width: 2,
            points: { show: true, size: 7 },
            spanGaps: false,
          })),
        ],
      }
      this.plot = new uPlot(opts, [xs.map(periodSeconds), ...columns], this.el)
      this.plot.root.setAttribute('role', 'img')
      this.plot.root.setAttribute('aria-label', `${label} per ${perf.granularity}, ${names.join(', ')}; the table below has the numbers.`)
    }
    this.table(xs, names, columns, label)
  }

  table(xs, names, columns, label) {
    fill(
      this.tableEl,
      xs.length === 0
        ? null
        : h(
            'table',
            { class: 'compact' },
            h('caption', {}, label),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Period (UTC)'), names.map((n) => h('th', { scope: 'col', class: 'num' }, n)))),
            h(
              'tbody',
              {},
              xs.map((x, row) =>
                h('tr', {}, h('th', { scope: 'row' }, x.replace('T', ' ').replace(':00:00Z', ':00')), columns.map((c) => h('td', { class: 'num' }, c[row] === null ? '—' : String(c[row])))),
              ),
            ),
          ),
    )
  }
}

// PacingChart draws a campaign's spend against its pacing plan over the current period (the
// series of GET .../metrics' pacing): two lines, spent (solid) and planned (dashed), with the
// same numbers in a table.
export class PacingChart extends PlotBox {
  constructor(el, tableEl) {
    super(el, tableEl, 260)
  }

  // show draws pacing (a PacingReport with its series).
  show(pacing) {
    const points = pacing.series || []
    const xs = points.map((p) => Date.parse(p.at) / 1000)
    const spent = points.map((p) => Number(p.spent))
    const planned = points.map((p) => Number(p.planned))
    const cur = pacing.budget.currency
    if (this.plot) this.plot.destroy()
    this.plot = null
    this.el.replaceChildren()
    this.el.setAttribute('data-points', String(points.length))
    this.el.setAttribute('data-series', points.length ? '2' : '0')
    this.el.setAttribute('data-spent', points.length ? String(spent[spent.length - 1]) : '')
    this.el.setAttribute('data-planned', points.length ? String(planned[planned.length - 1]) : '')
    const daily = pacing.period === 'DAILY'
    const fmtAt = (s) => new Date(s * 1000).toISOString().slice(0, daily ? 16 : 10).replace('T', ' ')
    if (points.length === 0) {
      this.el.append(h('p', { class: 'empty' }, 'No pacing period now: the chart starts with the period.'))
    } else {
      // The x axis spans the whole period, so that the plan's end shows how far the day is.
      const from = pacing.from ? Date.parse(pacing.from) / 1000 : xs[0]
      const to = pacing.to ? Date.parse(pacing.to) / 1000 : xs[xs.length - 1]
      const budget = Number(pacing.budget.amount)
      const opts = {
        ...this.size(),
        title: `Spend against the plan (${cur})`,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        scales: { x: { time: true, range: () => [from, Math.max(to, from + 1)] },
          y: { range: (u, min, max) => [0, Math.max(max, budget, 1) * 1.05] } },
        axes: [
          { stroke: '#1f2937', grid: { stroke: '#e5e7eb' }, values: daily ? '{HH}:{mm}' : '{YYYY}-{MM}-{DD}' },
          { stroke: '#1f2937', grid: { stroke: '#e5e7eb' } },
        ],
        series: [
          { label: daily ? 'Time (UTC)' : 'Day (UTC)', value: (u, v) => (v == null ? '—' : fmtAt(v)) },
          { label: 'Spent', stroke: palette[0], width: 2, points: { show: true, size: 6 } },
          { label: 'Planned', stroke: palette[1], dash: dashes[1], width: 2, points: { show: false } },
        ],
      }
      this.plot = new uPlot(opts, [xs, spent, planned], this.el)
      this.plot.root.setAttribute('role', 'img')
      this.plot.root.setAttribute('aria-label', `Cumulative spend and planned spend in ${cur}, ${daily ? 'today' : 'over the flight'}; the table below has the numbers.`)
    }
    fill(
      this.tableEl,
      points.length === 0
        ? null
        : h(
            'table',
            { class: 'compact', id: 'pacing-table' },
            h('caption', {}, `Cumulative spend against the plan, ${cur}`),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, daily ? 'Time (UTC)' : 'Day (UTC)'), h('th', { scope: 'col', class: 'num' }, 'Spent'), h('th', { scope: 'col', class: 'num' }, 'Planned'))),
            h('tbody', {}, points.map((p, i) => h('tr', {}, h('th', { scope: 'row' }, fmtAt(xs[i])), h('td', { class: 'num' }, p.spent), h('td', { class: 'num' }, p.planned)))),
          ),
    )
  }
}
