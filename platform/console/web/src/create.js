// The new-campaign form: the common fields of POST /api/v1/campaigns. Scheduling rules and
// personalization stay empty here (the API takes them). Every rule is the API's: its 422
// lists every violation, shown next to the form.
import { h, fill, field, select, uid } from './dom.js'
import { types, channels } from './list.js'

const frequencies = ['ONCE', 'DAILY', 'WEEKLY', 'MONTHLY']

function localInput(d) {
  const pad = (n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
}

function toISO(local) {
  if (!local) return null
  const d = new Date(local)
  return Number.isNaN(d.getTime()) ? local : d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function variantRow(key, name, weight, onRemove) {
  const row = h(
    'fieldset',
    { class: 'variant' },
    h('legend', {}, `Variant ${key}`),
    field('Key', h('input', { type: 'text', name: 'variantKey', value: key, required: true, maxlength: '50' })),
    field('Name', h('input', { type: 'text', name: 'variantName', value: name, required: true, maxlength: '100' })),
    field('Weight (%)', h('input', { type: 'number', name: 'variantWeight', value: String(weight), min: '0', max: '100', required: true })),
    h('button', { type: 'button', class: 'secondary small', onclick: () => onRemove(row) }, `Remove variant ${key}`),
  )
  return row
}

export function renderCreate(ctx) {
  // One key per attempt: a double submit replays the first answer; a corrected form is a new
  // request (the same key with another body would be refused).
  const newKey = () => `${uid('console-create')}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
  let idempotencyKey = newKey()
  const errors = h('div', { id: 'create-errors', 'aria-live': 'assertive' })
  const abEnabled = h('input', { type: 'checkbox', name: 'abEnabled', id: 'ab-enabled' })
  const variants = h('div', { class: 'variants', hidden: true })
  const remove = (row) => {
    row.remove()
  }
  variants.append(variantRow('A', 'Control', 50, remove), variantRow('B', 'Variant B', 50, remove))
  const addVariant = h('button', { type: 'button', class: 'secondary small', hidden: true }, 'Add a variant')
  addVariant.addEventListener('click', () => {
    const n = variants.querySelectorAll('fieldset.variant').length
    const key = String.fromCharCode(65 + n)
    variants.append(variantRow(key, `Variant ${key}`, 0, remove))
  })
  abEnabled.addEventListener('change', () => {
    variants.hidden = !abEnabled.checked
    addVariant.hidden = !abEnabled.checked
  })
  const start = new Date()
  start.setSeconds(0, 0)

  const channelBoxes = channels.map((c) => {
    const id = `channel-${c.toLowerCase()}`
    return h('div', { class: 'choice' }, h('input', { type: 'checkbox', name: 'channels', value: c, id, checked: c === 'EMAIL' }), h('label', { for: id }, c))
  })

  const form = h(
    'form',
    { class: 'create', novalidate: true },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Campaign'),
      field('Name', h('input', { type: 'text', name: 'name', required: true, minlength: '3', maxlength: '255', autocomplete: 'off' })),
      field('Description', h('textarea', { name: 'description', rows: '2', maxlength: '1000' })),
      field('Type', select('type', types.map((t) => [t, t]), 'PROMOTION')),
      field('Start', h('input', { type: 'datetime-local', name: 'startDate', required: true, value: localInput(start) }), 'Your local time; not in the past.'),
      field('End (optional)', h('input', { type: 'datetime-local', name: 'endDate' })),
      h(
        'div',
        { class: 'row' },
        field('Budget', h('input', { type: 'text', name: 'budgetAmount', required: true, inputmode: 'decimal', value: '1000.00', pattern: '[0-9]+(\\.[0-9]+)?' })),
        field('Currency', h('input', { type: 'text', name: 'currency', required: true, value: 'EUR', pattern: '[A-Z]{3}', maxlength: '3', size: '4' })),
      ),
      field('Targeting rules (optional)', h('textarea', { name: 'targetingRules', rows: '2', spellcheck: 'false' }), 'Rules Engine rule ids (UUIDs), one per line.'),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Delivery'),
      h('fieldset', { class: 'inline' }, h('legend', {}, 'Channels'), channelBoxes),
      field('Frequency per customer', select('frequency', frequencies.map((f) => [f, f.charAt(0) + f.slice(1).toLowerCase()]), 'ONCE')),
      field('Maximum impressions (optional)', h('input', { type: 'number', name: 'maxImpressions', min: '1' })),
      field('Budget limit (optional)', h('input', { type: 'text', name: 'budgetLimit', inputmode: 'decimal', pattern: '[0-9]+(\\.[0-9]+)?' }), 'A cap on spending, in the budget currency.'),
      field('Target audience (optional)', h('input', { type: 'text', name: 'targetAudience' }), 'Segments, separated by commas.'),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Pacing'),
      field('Pacing', select('pacingMode', [['ASAP', 'As fast as possible'], ['EVEN', 'Even'], ['FRONT_LOADED', 'Front-loaded']], 'ASAP'),
        'Even spreads the spend over the period; front-loaded spends more at its start.'),
      field('Pacing period', select('pacingPeriod', [['FLIGHT', 'The flight (needs an end date)'], ['DAILY', 'Each day (a daily budget)']], 'FLIGHT')),
      field('Daily budget (for a daily period)', h('input', { type: 'text', name: 'dailyBudget', inputmode: 'decimal', pattern: '[0-9]+(\\.[0-9]+)?' }), 'In the budget currency; days are judged in the time zone below.'),
      field('Time zone (optional)', h('input', { type: 'text', name: 'pacingTimezone', placeholder: 'Europe/Paris', spellcheck: 'false' }), 'An IANA time zone; default UTC.'),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'A/B test'),
      h('div', { class: 'choice' }, abEnabled, h('label', { for: 'ab-enabled' }, 'Split the audience between variants')),
      variants,
      addVariant,
    ),
    errors,
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Create campaign'), h('a', { href: '/console/', 'data-link': '', class: 'button secondary' }, 'Cancel')),
  )

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    if (!form.reportValidity()) return
    const fd = new FormData(form)
    const str = (k) => String(fd.get(k) || '').trim()
    const currency = str('currency')
    const body = {
      name: str('name'),
      description: str('description'),
      type: str('type'),
      targetingRules: str('targetingRules').split(/\s+/).filter(Boolean),
      startDate: toISO(str('startDate')),
      budget: { amount: str('budgetAmount'), currency },
      settings: {
        channels: fd.getAll('channels').map(String),
        frequency: str('frequency'),
        targetAudience: str('targetAudience').split(',').map((s) => s.trim()).filter(Boolean),
      },
    }
    if (str('endDate')) body.endDate = toISO(str('endDate'))
    if (str('maxImpressions')) body.settings.maxImpressions = Number(str('maxImpressions'))
    if (str('budgetLimit')) body.settings.budgetLimit = { amount: str('budgetLimit'), currency }
    // ASAP over the flight is what a campaign without pacing settings does: send none.
    if (str('pacingMode') !== 'ASAP' || str('pacingPeriod') === 'DAILY') {
      body.settings.pacing = { mode: str('pacingMode'), period: str('pacingPeriod') }
      if (str('dailyBudget')) body.settings.pacing.dailyBudget = { amount: str('dailyBudget'), currency }
      if (str('pacingTimezone')) body.settings.pacing.timezone = str('pacingTimezone')
    }
    if (abEnabled.checked) {
      const keys = fd.getAll('variantKey').map(String)
      const names = fd.getAll('variantName').map(String)
      const weights = fd.getAll('variantWeight').map(Number)
      body.settings.abTestSettings = {
        enabled: true,
        variants: keys.map((key, i) => ({ key: key.trim(), name: names[i].trim(), weight: weights[i] })),
      }
    }
    const submit = form.querySelector('button[type=submit]')
    submit.disabled = true
    fill(errors)
    try {
      const { data } = await ctx.api.createCampaign(body, idempotencyKey)
      ctx.flash(`Campaign “${data.name}” created.`)
      ctx.navigate(`/console/campaigns/${data.id}`)
    } catch (err) {
      const list = Array.isArray(err.problem?.errors) ? err.problem.errors : []
      fill(
        errors,
        h(
          'div',
          { class: 'error', role: 'alert' },
          h('p', {}, err.problem?.detail || err.problem?.title || err.message),
          list.length ? h('ul', {}, list.map((e) => h('li', {}, e.field ? `${e.field}: ${e.message}` : e.message))) : null,
        ),
      )
      idempotencyKey = newKey()
      submit.disabled = false
    }
  })

  fill(ctx.main, h('div', { class: 'page-head' }, h('h1', {}, 'New campaign')), form)
  form.querySelector('input[name=name]').focus()
}
