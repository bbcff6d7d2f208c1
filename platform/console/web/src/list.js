// The campaign list: filters (kept in the URL, so a view can be bookmarked), a table, and
// keyset paging (the API's nextCursor; the cursors of earlier pages are remembered for
// "Previous").
import { h, fill, field, select } from './dom.js'
import { money, when, badge } from './format.js'

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
  async function load(cursor) {
    fill(results, h('h2', { id: 'results-title', class: 'visually-hidden' }, 'Results'), h('p', { 'aria-busy': 'true' }, 'Loading…'))
    const query = {}
    for (const n of filterNames) if (filters[n]) query[n] = filters[n]
    if (cursor) query.cursor = cursor
    let page
    try {
      page = (await ctx.api.listCampaigns(query)).data
    } catch (err) {
      fill(results, h('h2', { id: 'results-title', class: 'visually-hidden' }, 'Results'), h('p', { class: 'error', role: 'alert' }, err.message))
      return
    }
    const pageNo = cursors.length + 1
    const rows = page.campaigns.map((c) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, h('a', { href: `/console/campaigns/${c.id}`, 'data-link': '' }, c.name)),
        h('td', {}, badge('status', c.status)),
        h('td', {}, badge('serving', c.servingStatus)),
        h('td', {}, c.type),
        h('td', {}, c.settings.channels.join(', ')),
        h('td', {}, when(c.startDate)),
        h('td', {}, c.endDate ? when(c.endDate) : '—'),
        h('td', { class: 'num' }, money(c.budget)),
      ),
    )
    const table =
      rows.length === 0
        ? h('p', { class: 'empty' }, 'No campaign matches these filters.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { id: 'campaign-table' },
              h('caption', {}, `Page ${pageNo}: ${rows.length} campaign${rows.length === 1 ? '' : 's'}`),
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Name', 'Status', 'Serving', 'Type', 'Channels', 'Start', 'End', 'Budget'].map((t) =>
                    h('th', { scope: 'col', class: t === 'Budget' ? 'num' : null }, t),
                  ),
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
    fill(
      results,
      h('h2', { id: 'results-title', class: 'visually-hidden' }, 'Results'),
      table,
      h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, h('span', {}, `Page ${pageNo}`), next),
    )
  }
  await load('')
}
