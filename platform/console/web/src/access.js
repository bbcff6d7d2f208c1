// Access: how the console authenticates to the API, entered once. A bearer token (JWT) or an
// API key is kept for the browser tab (sessionStorage), or on this browser when the user asks
// (localStorage). With auth mode `none` (the embedded default on loopback) no credentials are
// needed; the API then names the caller by X-User-ID, a UUID the console makes up once.
import { h, fill, field } from './dom.js'

const secretKey = 'campaigns-console.access'
const userKey = 'campaigns-console.user'

function randomUUID() {
  const b = new Uint8Array(16)
  crypto.getRandomValues(b)
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export class Access {
  constructor() {
    const saved = readJSON(sessionStorage, secretKey) || readJSON(localStorage, secretKey) || {}
    this.mode = ['bearer', 'apikey'].includes(saved.mode) ? saved.mode : 'none'
    this.secret = typeof saved.secret === 'string' ? saved.secret : ''
    this.remember = Boolean(readJSON(localStorage, secretKey))
    let user = localStorage.getItem(userKey)
    if (!user || !uuidPattern.test(user)) {
      user = randomUUID()
      localStorage.setItem(userKey, user)
    }
    this.userId = user
  }

  headers() {
    if (this.mode === 'bearer' && this.secret) return { Authorization: `Bearer ${this.secret}` }
    if (this.mode === 'apikey' && this.secret) return { 'X-API-Key': this.secret }
    return { 'X-User-ID': this.userId }
  }

  // me is the caller's user id as the API will see it, when the console can tell: the
  // X-User-ID it sends, or the subject of a bearer token (read, not verified: only for
  // display and for the approval queue's "mine to decide"). An API key's owner is unknown.
  me() {
    if (this.mode === 'none' || !this.secret) return this.userId
    if (this.mode === 'bearer') {
      try {
        const part = this.secret.split('.')[1].replaceAll('-', '+').replaceAll('_', '/')
        const sub = JSON.parse(atob(part)).sub
        return typeof sub === 'string' ? sub.toLowerCase() : null
      } catch {
        return null
      }
    }
    return null
  }

  describe() {
    if (this.mode === 'bearer' && this.secret) return 'Bearer token'
    if (this.mode === 'apikey' && this.secret) return 'API key'
    return 'No credentials'
  }

  save({ mode, secret, userId, remember }) {
    this.mode = mode
    this.secret = mode === 'none' ? '' : secret
    this.remember = remember
    if (uuidPattern.test(userId)) {
      this.userId = userId.toLowerCase()
      localStorage.setItem(userKey, this.userId)
    }
    sessionStorage.removeItem(secretKey)
    localStorage.removeItem(secretKey)
    if (this.mode !== 'none') {
      const store = remember ? localStorage : sessionStorage
      store.setItem(secretKey, JSON.stringify({ mode: this.mode, secret: this.secret }))
    }
  }
}

function readJSON(store, key) {
  try {
    const v = JSON.parse(store.getItem(key) || 'null')
    return v && typeof v === 'object' ? v : null
  } catch {
    return null
  }
}

// openAccessDialog asks for credentials; why (optional) says what the API answered. onSaved
// runs after the user saved them.
export function openAccessDialog(dialog, access, why, onSaved) {
  const modes = [
    ['none', 'No credentials (auth mode none, on loopback)'],
    ['bearer', 'Bearer token (JWT)'],
    ['apikey', 'API key'],
  ]
  const secret = h('input', {
    type: 'password',
    name: 'secret',
    autocomplete: 'off',
    spellcheck: 'false',
    value: access.secret,
  })
  const secretField = field('Token or key', secret, 'Sent as Authorization: Bearer … or X-API-Key with every request.')
  const user = h('input', { type: 'text', name: 'userId', value: access.userId, pattern: uuidPattern.source, spellcheck: 'false' })
  const userField = field('Your user id (X-User-ID)', user, 'A UUID naming you as the author of your changes.')
  const remember = h('input', { type: 'checkbox', name: 'remember', id: 'access-remember', checked: access.remember })
  const radios = modes.map(([v, label]) => {
    const id = `access-mode-${v}`
    return h(
      'div',
      { class: 'choice' },
      h('input', { type: 'radio', name: 'mode', id, value: v, checked: v === access.mode, onchange: sync }),
      h('label', { for: id }, label),
    )
  })
  function current() {
    return dialog.querySelector('input[name=mode]:checked')?.value || 'none'
  }
  function sync() {
    const m = current()
    secretField.hidden = m === 'none'
    secret.required = m !== 'none'
    userField.hidden = m !== 'none'
    remember.parentElement.hidden = m === 'none'
  }
  const form = h(
    'form',
    {
      method: 'dialog',
      onsubmit: (ev) => {
        ev.preventDefault()
        if (!form.reportValidity()) return
        access.save({ mode: current(), secret: secret.value.trim(), userId: user.value.trim(), remember: remember.checked })
        dialog.close()
        onSaved()
      },
    },
    h('h2', { id: 'access-title' }, 'Access to the API'),
    why ? h('p', { class: 'error', role: 'alert' }, why) : null,
    h('fieldset', {}, h('legend', {}, 'How the API knows you'), radios),
    secretField,
    userField,
    h('div', { class: 'choice' }, remember, h('label', { for: 'access-remember' }, 'Remember on this browser')),
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'submit' }, 'Save'),
      h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel'),
    ),
  )
  fill(dialog, form)
  sync()
  if (!dialog.open) dialog.showModal()
  ;(current() === 'none' ? user : secret).focus()
}
