// h builds an element: h('a', {href: '/x', class: 'y'}, 'text', child...). Text is always set
// as text, never parsed as HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v)
    } else if (k === 'value') {
      el.value = v
    } else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'required' || k === 'multiple') {
      el[k] = Boolean(v)
    } else {
      el.setAttribute(k, v === true ? '' : String(v))
    }
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else if (c instanceof Node) el.appendChild(c)
    else el.appendChild(document.createTextNode(String(c)))
  }
}

// clear empties el and appends children.
export function fill(el, ...children) {
  el.replaceChildren()
  append(el, children)
  return el
}

let seq = 0

// uid is a fresh element id, for label/for and aria references.
export function uid(prefix) {
  seq += 1
  return `${prefix}-${seq}`
}

// field is a labelled form control.
export function field(label, control, hint) {
  const id = control.id || uid('f')
  control.id = id
  const hintEl = hint ? h('small', { id: id + '-hint', class: 'hint' }, hint) : null
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id)
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl)
}

// select builds a <select> of [value, label] pairs.
export function select(name, options, value) {
  return h(
    'select',
    { name },
    options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)),
  )
}
