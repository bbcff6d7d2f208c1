import { h } from './dom.js'

// money shows {amount, currency} exactly as the API gives it, with thousands separators.
export function money(m) {
  if (!m) return '—'
  const [int, frac] = String(m.amount).split('.')
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `${frac !== undefined ? grouped + '.' + frac : grouped} ${m.currency}`
}

export function count(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString('en')
}

export function percent(n) {
  return n === null || n === undefined ? '—' : `${Number(n).toFixed(2)} %`
}

export function ratio(n) {
  return n === null || n === undefined ? '—' : Number(n).toFixed(2)
}

// when is a <time> element: local time shown, the UTC instant in datetime and title.
export function when(iso) {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const text = d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })
  return h('time', { datetime: iso, title: iso }, text)
}

const labels = {
  DRAFT: 'Draft',
  ACTIVE: 'Active',
  PAUSED: 'Paused',
  COMPLETED: 'Completed',
  CANCELLED: 'Cancelled',
  NONE: 'Not started',
  PENDING: 'Pending start',
  SERVING: 'Serving',
  BUDGET_EXHAUSTED: 'Budget exhausted',
  ENDED: 'Ended',
}

const approvalLabels = { REQUIRED: 'Required', PENDING: 'Pending', APPROVED: 'Approved', REJECTED: 'Rejected', NOT_REQUIRED: 'Not required' }

// badge shows a status or serving status; the text carries the meaning, the colour helps.
export function badge(kind, value) {
  const text = (kind === 'approval' ? approvalLabels : labels)[value] || value
  return h('span', { class: `badge ${kind}-${String(value).toLowerCase()}` }, text)
}

export function statusLabel(value) {
  return labels[value] || value
}

// shortId shows an id by its first 8 characters, the whole id on hover (title) and to screen
// readers; label, when known, replaces the short form.
export function shortId(id, label) {
  if (!id) return '—'
  return h('abbr', { class: 'id', title: id, 'data-id': id }, label || String(id).slice(0, 8) + '…')
}

// user shows a user id: "You" for the caller (me), else the shortened id.
export function user(id, me) {
  if (!id) return '—'
  return shortId(id, me && String(id).toLowerCase() === String(me).toLowerCase() ? 'You' : null)
}
