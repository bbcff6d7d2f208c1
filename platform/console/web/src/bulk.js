// Bulk actions on the list's selection: the API's dry run judges every campaign first, the
// user confirms, and each campaign's own answer is shown (one may fail while the others
// succeed: each is acted on in its own transaction).
import { h, fill, field } from './dom.js'
import { statusLabel } from './format.js'

const outcome = { 200: 'Done', 204: 'Deleted', 404: 'Not found', 409: 'Not possible', 422: 'Refused', 500: 'Server error', 503: 'Unavailable' }

// resultsTable shows each campaign's result; names are the ones the user selected.
function resultsTable(names, data, caption) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'compact', id: 'bulk-results', 'data-dry-run': String(data.dryRun) },
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, ['Campaign', 'Result', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
      h(
        'tbody',
        {},
        data.results.map((r) => {
          const ok = r.status < 300
          let detail = ''
          if (!ok && r.problem) {
            detail = r.problem.detail || r.problem.title || ''
            if (Array.isArray(r.problem.errors) && r.problem.errors.length) {
              detail += (detail ? ': ' : '') + r.problem.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ')
            }
          } else if (ok && r.campaign) {
            detail = `${data.dryRun ? 'Would be' : 'Now'} ${statusLabel(r.campaign.status)}`
          }
          return h(
            'tr',
            { 'data-id': r.id, 'data-status': String(r.status) },
            h('th', { scope: 'row' }, names.get(r.id) || r.id),
            h('td', { class: ok ? 'ok' : 'error' }, `${ok ? (data.dryRun ? 'Possible' : outcome[r.status] || 'Done') : outcome[r.status] || 'Failed'} (${r.status})`),
            h('td', {}, detail),
          )
        }),
      ),
    ),
  )
}

// openBulk opens the bulk dialog for action on entries ([id, name] pairs); onDone runs after
// a real run once the dialog is closed.
export function openBulk(ctx, action, label, entries, onDone) {
  const dialog = ctx.actionDialog
  const names = new Map(entries)
  const ids = entries.map(([id]) => id)
  const verdict = h('div', { id: 'bulk-verdict', 'aria-live': 'polite' })
  const reason = action === 'delete' ? null : h('textarea', { name: 'reason', rows: '2', maxlength: '500' })
  const confirm = h('button', { type: 'submit', disabled: true, class: action === 'cancel' || action === 'delete' ? 'danger' : '' }, `${label} ${ids.length} campaign${ids.length === 1 ? '' : 's'}`)
  const back = h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Back')
  let ran = false
  let seq = 0
  async function judge() {
    seq += 1
    const mine = seq
    confirm.disabled = true
    fill(verdict, h('p', { 'aria-busy': 'true' }, 'Checking each campaign…'))
    try {
      const { data } = await ctx.api.bulk(action, ids, { dryRun: true, reason: reason ? reason.value.trim() : '' })
      if (mine !== seq) return
      confirm.disabled = data.summary.succeeded === 0
      fill(verdict, h('p', { 'data-possible': String(data.summary.succeeded) }, `Dry run: possible for ${data.summary.succeeded} of ${data.summary.total}.` +
        (data.summary.failed ? ' Confirming acts on those and leaves the others as they are.' : '')),
        resultsTable(names, data, 'What the action would do to each campaign'))
    } catch (err) {
      if (mine !== seq) return
      fill(verdict, h('p', { class: 'error', role: 'alert' }, err.message))
    }
  }
  let timer = null
  if (reason) {
    reason.addEventListener('input', () => {
      clearTimeout(timer)
      timer = setTimeout(judge, 300)
    })
  }
  const form = h(
    'form',
    {
      method: 'dialog',
      onsubmit: async (ev) => {
        ev.preventDefault()
        if (ran) return
        confirm.disabled = true
        try {
          const { data } = await ctx.api.bulk(action, ids, { reason: reason ? reason.value.trim() : '' })
          ran = true
          confirm.hidden = true
          if (reason) reason.disabled = true
          back.textContent = 'Close'
          fill(verdict, h('p', { class: data.summary.failed ? 'error' : 'ok', 'data-succeeded': String(data.summary.succeeded) },
            `${label}: ${data.summary.succeeded} of ${data.summary.total} done${data.summary.failed ? `, ${data.summary.failed} failed` : ''}.`),
            resultsTable(names, data, 'What the action did to each campaign'))
          back.focus()
        } catch (err) {
          fill(verdict, h('p', { class: 'error', role: 'alert' }, err.message))
          judge()
        }
      },
    },
    h('h2', { id: 'action-title' }, `${label} ${ids.length} campaign${ids.length === 1 ? '' : 's'}?`),
    reason ? field(action === 'cancel' ? 'Reason (required, 3 to 500 characters)' : 'Reason (optional)', reason) : null,
    verdict,
    h('div', { class: 'buttons' }, confirm, back),
  )
  fill(dialog, form)
  dialog.addEventListener('close', () => {
    clearTimeout(timer)
    if (ran) onDone()
  }, { once: true })
  dialog.showModal()
  ;(reason || back).focus()
  judge()
}
