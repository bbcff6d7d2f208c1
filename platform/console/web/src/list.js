// The campaign list: filters (kept in the URL, so a view can be bookmarked), a table with each
// campaign's performance (the list's includeMetrics totals), keyset paging (the API's
// nextCursor; the cursors of earlier pages are remembered for "Previous"), and a selection
// that the bulk actions act on.
import { h, fill, field, select } from './dom.js'
import { money, count, percent, when, badge } from './format.js'
import { openBulk } from './bulk.js'

export const statuses = ['DRAFT', 'ACTIVE', 'PAUSED', 'COMPLETED', 'CANCELLED']
export const servingStatuses = ['NONE', 'PENDING', 'SERVING', 'PAUSED', 'BUDGET_EXHAUSTED', 'ENDED', 'CANCELLED']
export const types = ['PROMOTION', 'LOYALTY', 'COUPON', 'SEGMENTATION', 'RETARGETING']
export const channels = ['EMAIL', 'SMS', 'PUSH', 'WEB', 'SOCIAL', 'DISPLAY']
const sorts = [
  ['-createdAt', 'Newest first'],
  ['createdAt', 'Oldest first'],
  ['name', 'Name A–Z'],
  ['-name', 'Name Z–A'],
  ['startDate', 'Start date, earliest first'],
  ['-startDate', 'Start date, latest first'],
]
const filterNames = ['q', 'status', 'servingStatus', 'type', 'channel', 'sort', 'limit']

function any(values, label) {
  return [['', label], ...values.map((v) => [v, v.charAt(0) + v.slice(1).toLowerCase().replaceAll('_', ' ')])]
}

export async function renderList(ctx) {
  const params = new URLSearchParams(window.location.search)
  const filters = {}
  for (const n of filterNames) filters[n] = params.get(n) || ''
  if (!filters.sort) filters.sort = '-createdAt'
  if (!filters.limit) filters.limit = '20'

  const form = h(
    'form',
    { role: 'search', class: 'filters', 'aria-label': 'Filter campaigns' },
    field('Search by name', h('input', { type: 'search', name: 'q', value: filters.q, maxlength: '255' })),
    field('Status', select('status', any(statuses, 'Any status'), filters.status)),
    field('Serving status', select('servingStatus', any(servingStatuses, 'Any serving status'), filters.servingStatus)),
    field('Type', select('type', any(types, 'Any type'), filters.type)),
    field('Channel', select('channel', any(channels, 'Any channel'), filters.channel)),
    field('Sort', select('sort', sorts, filters.sort)),
    field('Per page', select('limit', [...new Set(['10', '20', '50', '100', filters.limit])].map((v) => [v, v]), filters.limit)),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Apply')),
  )
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const q = new URLSearchParams()
    for (const [k, v] of new FormData(form)) {
      const s = String(v).trim()
      if (s && !(k === 'sort' && s === '-createdAt') && !(k === 'limit' && s === '20')) q.set(k, s)
    }
    const qs = q.toString()
    ctx.navigate('/console/' + (qs ? '?' + qs : ''))
  })

  const results = h('section', { 'aria-labelledby': 'results-title', class: 'results' })
  fill(
    ctx.main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Campaigns'),
      h('a', { href: '/console/new', class: 'button', 'data-link': '' }, 'New campaign'),
    ),
    form,
    results,
  )

  const cursors = [] // the cursors of the pages before the current one ('' for the first)
  const selected = new Map() // id -> name, across pages
  const bulkBar = h('div', { class: 'bulk-bar', role: 'group', 'aria-label': 'Bulk actions', id: 'bulk-bar' })
  let pageSort = null // {key, desc}: the current page sorted in the browser by a performance column
  let current = null // the page shown, for re-sorting and reloading
  let currentCursor = ''

  function renderBulkBar() {
    const n = selected.size
    fill(
      bulkBar,
      h('span', { id: 'selected-count', 'aria-live': 'polite' }, n === 0 ? 'Select campaigns to act on several at once.' : `${n} selected`),
      bulkActions.map(([action, label]) =>
        h('button', { type: 'button', class: action === 'cancel' || action === 'delete' ? 'danger small' : 'secondary small', 'data-bulk': action, disabled: n === 0,
          onclick: () => openBulk(ctx, action, label, [...selected.entries()], () => { selected.clear(); load(currentCursor) }) }, label),
      ),
      n > 0 ? h('button', { type: 'button', class: 'secondary small', onclick: () => { selected.clear(); renderPage() } }, 'Clear selection') : null,
    )
  }

  async function load(cursor) {
    currentCursor = cursor
    fill(results, h('h2', { id: 'results-title', class: 'visually-hidden' }, 'Results'), h('p', { 'aria-busy': 'true' }, 'Loading…'))
    const query = { includeMetrics: 'true' }
    for (const n of filterNames) if (filters[n]) query[n] = filters[n]
    if (cursor) query.cursor = cursor
    try {
      try {
        current = (await ctx.api.listCampaigns(query)).data
      } catch (err) {
        // A service without metrics refuses includeMetrics: list without the figures.
        if (err.status !== 400 || !(err.problem.errors || []).some((e) => e.field === 'includeMetrics')) throw err
        delete query.includeMetrics
        current = (await ctx.api.listCampaigns(query)).data
      }
    } catch (err) {
      fill(results, h('h2', { id: 'results-title', class: 'visually-hidden' }, 'Results'), h('p', { class: 'error', role: 'alert' }, err.message))
      return
    }
    renderPage()
  }

  function renderPage() {
    const page = current
    const cursor = currentCursor
    const pageNo = cursors.length + 1
    const camps = page.campaigns.slice()
    if (pageSort) {
      const col = perfColumns.find((c) => c.key === pageSort.key)
      camps.sort((a, b) => {
        const x = col.value(a), y = col.value(b)
        if (x === null && y === null) return 0
        if (x === null) return 1 // no value last, whichever the direction
        if (y === null) return -1
        return pageSort.desc ? y - x : x - y
      })
    }
    const all = h('input', { type: 'checkbox', id: 'select-page', 'aria-label': 'Select every campaign of this page',
      checked: camps.length > 0 && camps.every((c) => selected.has(c.id)) })
    all.addEventListener('change', () => {
      for (const c of camps) {
        if (all.checked) selected.set(c.id, c.name)
        else selected.delete(c.id)
      }
      renderPage()
    })
    const rows = camps.map((c) => {
      const box = h('input', { type: 'checkbox', name: 'select', value: c.id, 'aria-label': `Select ${c.name}`, checked: selected.has(c.id) })
      box.addEventListener('change', () => {
        if (box.checked) selected.set(c.id, c.name)
        else selected.delete(c.id)
        all.checked = camps.every((x) => selected.has(x.id))
        renderBulkBar()
      })
      return h(
        'tr',
        { 'data-id': c.id },
        h('td', { class: 'select' }, box),
        h('th', { scope: 'row' }, h('a', { href: `/console/campaigns/${c.id}`, 'data-link': '' }, c.name)),
        h('td', {}, badge('status', c.status)),
        h('td', {}, badge('serving', c.servingStatus)),
        h('td', {}, c.type),
        h('td', {}, c.settings.channels.join(', ')),
        h('td', { class: 'date' }, when(c.startDate)),
        h('td', { class: 'num' }, money(c.budget)),
        // data-col marks the all-time figures; data-period the current period's (pacing).
        perfColumns.map((col) => h('td', { class: 'num', [col.period ? 'data-period' : 'data-col']: col.key }, col.show(c))),
      )
    })
    const sortButton = (col) => {
      const active = pageSort && pageSort.key === col.key
      const next = active && !pageSort.desc ? 'descending' : 'ascending'
      return h(
        'th',
        { scope: 'col', class: 'num', 'aria-sort': active ? (pageSort.desc ? 'descending' : 'ascending') : null },
        h('button', { type: 'button', class: 'sort', 'data-sort': col.key, title: `Sort this page by ${columnName(col)}, ${next}`,
          onclick: () => { pageSort = { key: col.key, desc: active ? !pageSort.desc : true }; renderPage() } },
          col.label, h('span', { 'aria-hidden': 'true' }, active ? (pageSort.desc ? ' ▼' : ' ▲') : ' ↕')),
      )
    }
    const table =
      rows.length === 0
        ? h('p', { class: 'empty' }, 'No campaign matches these filters.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { id: 'campaign-table' },
              h('caption', {}, `Page ${pageNo}: ${rows.length} campaign${rows.length === 1 ? '' : 's'}` +
                (pageSort ? `, this page sorted by ${columnName(perfColumns.find((c) => c.key === pageSort.key))}` : '')),
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  h('td', { class: 'select' }, all),
                  ['Name', 'Status', 'Serving', 'Type', 'Channels', 'Start'].map((t) => h('th', { scope: 'col' }, t)),
                  h('th', { scope: 'col', class: 'num' }, 'Budget'),
                  perfColumns.map(sortButton),
                ),
              ),
              h('tbody', {}, rows),
            ),
          )
    const prev = h('button', { type: 'button', class: 'secondary', disabled: cursors.length === 0 }, 'Previous page')
    const next = h('button', { type: 'button', class: 'secondary', disabled: !page.nextCursor }, 'Next page')
    prev.addEventListener('click', () => load(cursors.pop() || ''))
    next.addEventListener('click', () => {
      cursors.push(cursor || '')
      load(page.nextCursor)
    })
    renderBulkBar()
    fill(
      results,
      h('h2', { id: 'results-title', class: 'visually-hidden' }, 'Results'),
      bulkBar,
      rows.length > 0
        ? h('p', { class: 'muted small', id: 'page-sort-note' },
            'Impressions, CTR, spend and budget used are all-time figures; Pacing is the pacing index (1 on plan, above 1 ahead) of the current pacing period, ' +
            'for campaigns paced evenly or front-loaded. Their column buttons sort this page only, in the browser; ' +
            'the pages follow the Sort chosen above.')
        : null,
      table,
      h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, h('span', {}, `Page ${pageNo}`), next),
    )
  }
  await load('')
}

const bulkActions = [
  ['activate', 'Activate'],
  ['pause', 'Pause'],
  ['resume', 'Resume'],
  ['complete', 'Complete'],
  ['cancel', 'Cancel'],
  ['delete', 'Delete'],
]

// columnName is a performance column's name in a sentence.
function columnName(col) {
  return (col.long || col.label).toLowerCase()
}

// ratioOf is a/b as a number, null when b is zero (the API's rule for KPIs).
function ratioOf(a, b) {
  return b > 0 ? a / b : null
}

// perfColumns are the performance columns, from the list's totals (includeMetrics=true).
const perfColumns = [
  { key: 'impressions', label: 'Impressions', value: (c) => (c.totals ? c.totals.impressions : null), show: (c) => (c.totals ? count(c.totals.impressions) : '—') },
  { key: 'ctr', label: 'CTR', value: (c) => (c.totals ? ratioOf(c.totals.clicks * 100, c.totals.impressions) : null), show: (c) => percent(c.totals ? ratioOf(c.totals.clicks * 100, c.totals.impressions) : null) },
  { key: 'spend', label: 'Spend', value: (c) => (c.totals ? Number(c.totals.cost.amount) : null), show: (c) => (c.totals ? money(c.totals.cost) : '—') },
  { key: 'budgetUsed', label: 'Budget used', value: (c) => (c.totals ? ratioOf(Number(c.totals.cost.amount) * 100, Number(c.budget.amount)) : null),
    show: (c) => percent(c.totals ? ratioOf(Number(c.totals.cost.amount) * 100, Number(c.budget.amount)) : null) },
  { key: 'pacing', label: 'Pacing', long: 'Pacing index', period: true, value: pacingIndex, show: showPacing },
]

// pacingIndex is a paced campaign's pacing index (totals.pacing, for EVEN and FRONT_LOADED
// campaigns only), null otherwise or when the API gives none (outside its period).
function pacingIndex(c) {
  const p = c.totals && c.totals.pacing
  return p && p.pacingIndex !== null && p.pacingIndex !== undefined ? p.pacingIndex : null
}

// showPacing is the index with its mode; an index 10 % off the plan is flagged in words too.
function showPacing(c) {
  const p = c.totals && c.totals.pacing
  if (!p) return '—'
  const mode = p.mode === 'FRONT_LOADED' ? 'front-loaded' : p.mode.toLowerCase()
  const i = pacingIndex(c)
  const where = i === null ? 'no index outside its period' : i > 1.1 ? 'ahead of plan' : i < 0.9 ? 'behind plan' : 'on plan'
  return h('span', { class: 'pacing', title: `${p.mode} pacing, ${p.period === 'DAILY' ? 'daily budget' : 'over the flight'}: ${where}` },
    i === null ? '—' : i.toFixed(2), h('br'), h('span', { class: 'muted small' }, mode))
}
