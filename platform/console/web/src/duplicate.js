// Duplicate: a new DRAFT copy of the campaign, its dates moved by a shift (an ISO 8601
// duration the API applies to both dates), or kept as they are.
import { h, fill, field, select, uid } from './dom.js'
import { when } from './format.js'

// shiftOf is the ISO 8601 duration of n days or weeks (negative moves earlier); '' for 0.
export function shiftOf(n, unit) {
  if (!Number.isInteger(n) || n === 0) return ''
  return `${n < 0 ? '-' : ''}P${Math.abs(n)}${unit === 'weeks' ? 'W' : 'D'}`
}

export function openDuplicate(ctx, c) {
  const dialog = ctx.actionDialog
  const newKey = () => `${uid('console-duplicate')}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
  let key = newKey() // a retry of the same request replays; a corrected one is new
  const name = h('input', { type: 'text', name: 'name', maxlength: '255', placeholder: `${c.name} (copy)` })
  const amount = h('input', { type: 'number', name: 'shift', step: '1', min: '-5000', max: '5000', value: '7', required: true })
  const unit = select('shiftUnit', [['days', 'days'], ['weeks', 'weeks']], 'days')
  const preview = h('p', { class: 'muted', id: 'duplicate-preview', 'aria-live': 'polite' })
  const result = h('div', { 'aria-live': 'assertive' })
  function days() {
    return Number(amount.value) * (unit.value === 'weeks' ? 7 : 1)
  }
  function showPreview() {
    const n = days()
    if (!Number.isInteger(n)) {
      fill(preview, 'Give a whole number of days or weeks.')
      return
    }
    const move = (iso) => (iso ? when(new Date(Date.parse(iso) + n * 86400000).toISOString()) : 'no end date')
    fill(preview, n === 0 ? 'The copy keeps the dates: ' : 'The copy runs from ', move(c.startDate), ' to ', move(c.endDate), '.')
  }
  amount.addEventListener('input', showPreview)
  unit.addEventListener('change', showPreview)
  const submit = h('button', { type: 'submit' }, 'Duplicate')
  const form = h(
    'form',
    {
      method: 'dialog',
      onsubmit: async (ev) => {
        ev.preventDefault()
        if (!form.reportValidity()) return
        submit.disabled = true
        const body = {}
        if (name.value.trim()) body.name = name.value.trim()
        const shift = shiftOf(Number(amount.value), unit.value)
        if (shift) body.shift = shift
        try {
          const { data } = await ctx.api.duplicate(c.id, body, key)
          dialog.close()
          ctx.flash(`Duplicated as “${data.name}” (a draft).`)
          ctx.navigate(`/console/campaigns/${data.id}`)
        } catch (err) {
          submit.disabled = false
          key = newKey()
          fill(result, h('p', { class: 'error', role: 'alert' }, err.message))
        }
      },
    },
    h('h2', { id: 'action-title' }, `Duplicate “${c.name}”`),
    h('p', {}, 'The copy is a new draft with the same settings, targeting and budget; it has no figures and no history.'),
    field('Name of the copy (optional)', name, `Empty: “${c.name} (copy)”, or the next free “(copy 2)”…`),
    h('fieldset', { class: 'inline' }, h('legend', {}, 'Move the dates by'), field('Amount', amount, 'Negative moves them earlier; 0 keeps them.'), field('Unit', unit)),
    preview,
    result,
    h('div', { class: 'buttons' }, submit, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Back')),
  )
  fill(dialog, form)
  showPreview()
  dialog.showModal()
  name.focus()
}
