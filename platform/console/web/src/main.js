// The campaigns console: a small single-page app over the public API, served by the API
// binary under /console/.
import './style.css'
import { h, fill } from './dom.js'
import { Access, openAccessDialog } from './access.js'
import { Client } from './api.js'
import { renderList } from './list.js'
import { renderCreate } from './create.js'
import { renderCampaign } from './campaign.js'
import { renderApprovals } from './approvals.js'
import { renderTransfer } from './transfer.js'

const main = document.getElementById('main')
const flashEl = document.getElementById('flash')
const accessDialog = document.getElementById('access-dialog')
const actionDialog = document.getElementById('action-dialog')
const accessButton = document.getElementById('access-button')
const access = new Access()

function showAccess() {
  accessButton.textContent = `Access: ${access.describe()}`
}

const api = new Client(access, (problem) => {
  if (!accessDialog.open) {
    openAccessDialog(accessDialog, access, (problem && problem.detail) || 'The API needs credentials.', () => {
      showAccess()
      render()
    })
  }
})

let leaving = []
let flashTimer = null

const ctx = {
  main,
  api,
  actionDialog,
  me: () => access.me(),
  navigate(path) {
    window.history.pushState(null, '', path)
    render()
  },
  onLeave(fn) {
    leaving.push(fn)
  },
  flash(text, isError) {
    fill(flashEl, h('p', { class: isError ? 'error' : 'ok' }, text))
    clearTimeout(flashTimer)
    flashTimer = setTimeout(() => fill(flashEl), 8000)
  },
}

async function render() {
  for (const fn of leaving) fn()
  leaving = []
  if (actionDialog.open) actionDialog.close()
  const path = window.location.pathname.replace(/\/+$/, '') || '/console'
  let focusHeading = true
  const m = path.match(/^\/console\/campaigns\/([^/]+)$/)
  if (path === '/console') {
    document.title = 'Campaigns · Campaigns console'
    await renderList(ctx)
  } else if (path === '/console/new') {
    document.title = 'New campaign · Campaigns console'
    await renderCreate(ctx)
    focusHeading = false // the form focuses its first field
  } else if (path === '/console/approvals') {
    document.title = 'Approvals · Campaigns console'
    await renderApprovals(ctx)
  } else if (path === '/console/transfer') {
    document.title = 'Import and export · Campaigns console'
    await renderTransfer(ctx)
  } else if (m) {
    document.title = 'Campaign · Campaigns console'
    await renderCampaign(ctx, decodeURIComponent(m[1]))
  } else {
    document.title = 'Not found · Campaigns console'
    fill(main, h('h1', { tabindex: '-1' }, 'Page not found'), h('p', {}, h('a', { href: '/console/', 'data-link': '' }, 'Back to the campaigns')))
  }
  for (const a of document.querySelectorAll('header nav a')) {
    const here = new URL(a.href).pathname.replace(/\/+$/, '') === path
    if (here) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  if (focusHeading && document.activeElement === document.body) {
    const h1 = main.querySelector('h1')
    if (h1) {
      h1.setAttribute('tabindex', '-1')
      h1.focus({ preventScroll: true })
    }
  }
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-link]')
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return
  ev.preventDefault()
  ctx.navigate(a.getAttribute('href'))
})
window.addEventListener('popstate', render)
accessButton.addEventListener('click', () =>
  openAccessDialog(accessDialog, access, null, () => {
    showAccess()
    render()
  }),
)

showAccess()
render()
