// The approvals queue: campaigns waiting for a decision (approval status PENDING). "Mine to
// decide" leaves out what the API would refuse the caller anyway: campaigns they wrote or
// submitted. Approve and reject carry If-Match with the version shown, so a campaign edited
// (or submitted again) since it was read is never decided blind: the API answers 412.
import { h, fill, field } from './dom.js'
import { money, when, user } from './format.js'

export async function renderApprovals(ctx) {
  const params = new URLSearchParams(window.location.search)
  let scope = params.get('scope') === 'all' ? 'all' : 'mine'
  const me = ctx.me() ? ctx.me().toLowerCase() : null
  const results = h('section', { 'aria-labelledby': 'queue-title', id: 'approval-queue' })
  const radios = [
    ['mine', 'Mine to decide'],
    ['all', 'Every pending campaign'],
  ].map(([v, label]) =>
    h('div', { class: 'choice' },
      h('input', { type: 'radio', name: 'scope', id: `scope-${v}`, value: v, checked: v === scope,
        onchange: () => { scope = v; ctx.navigate('/console/approvals' + (v === 'all' ? '?scope=all' : '')) } }),
      h('label', { for: `scope-${v}` }, label)),
  )
  fill(
    ctx.main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Approvals')),
    h('p', { class: 'muted' }, 'Campaigns above their currency’s approval threshold wait here once submitted. Nobody decides on a campaign they wrote or submitted.'),
    h('fieldset', { class: 'inline' }, h('legend', {}, 'Show'), radios),
    me ? null : h('p', { class: 'muted', id: 'identity-unknown' }, 'With an API key the console cannot tell who you are: every pending campaign is shown, and the API refuses the ones you may not decide.'),
    results,
  )

  const cursors = []
  async function load(cursor) {
    fill(results, h('h2', { id: 'queue-title' }, 'Pending'), h('p', { 'aria-busy': 'true' }, 'Loading…'))
    let page
    try {
      page = (await ctx.api.listCampaigns({ approvalStatus: 'PENDING', sort: 'startDate', limit: 100, cursor })).data
    } catch (err) {
      fill(results, h('h2', { id: 'queue-title' }, 'Pending'), h('p', { class: 'error', role: 'alert' }, err.message))
      return
    }
    const mine = (c) => !me || (c.createdBy !== me && c.approval.submittedBy !== me)
    const shown = scope === 'mine' ? page.campaigns.filter(mine) : page.campaigns
    const rows = shown.map((c) =>
      h(
        'tr',
        { 'data-id': c.id, 'data-version': String(c.version) },
        h('th', { scope: 'row' }, h('a', { href: `/console/campaigns/${c.id}`, 'data-link': '' }, c.name)),
        h('td', { class: 'num' }, money(c.budget)),
        h('td', { class: 'num' }, c.approval.threshold ? money(c.approval.threshold) : '—'),
        h('td', { class: 'date' }, when(c.startDate)),
        h('td', {}, user(c.createdBy, me)),
        h('td', {}, user(c.approval.submittedBy, me), ' ', when(c.approval.submittedAt)),
        h('td', { class: 'decide' },
          mine(c)
            ? [
                h('button', { type: 'button', class: 'small', 'data-decide': 'approve', onclick: () => decide(c, 'approve') }, 'Approve'),
                ' ',
                h('button', { type: 'button', class: 'danger small', 'data-decide': 'reject', onclick: () => decide(c, 'reject') }, 'Reject…'),
              ]
            : h('span', { class: 'muted' }, c.createdBy === me ? 'You wrote it' : 'You submitted it')),
      ),
    )
    const prev = h('button', { type: 'button', class: 'secondary', disabled: cursors.length === 0, onclick: () => load(cursors.pop() || '') }, 'Previous page')
    const next = h('button', { type: 'button', class: 'secondary', disabled: !page.nextCursor, onclick: () => { cursors.push(cursor || ''); load(page.nextCursor) } }, 'Next page')
    fill(
      results,
      h('h2', { id: 'queue-title' }, scope === 'mine' ? 'Pending, mine to decide' : 'Pending'),
      rows.length === 0
        ? h('p', { class: 'empty' }, scope === 'mine' ? 'Nothing waits for your decision.' : 'No campaign waits for approval.')
        : h('div', { class: 'table-wrap' },
            h('table', { id: 'approval-table' },
              h('caption', {}, `${rows.length} campaign${rows.length === 1 ? '' : 's'}, earliest start first`),
              h('thead', {}, h('tr', {}, ['Campaign', 'Budget', 'Threshold', 'Start', 'Author', 'Submitted', 'Decision'].map((t) =>
                h('th', { scope: 'col', class: t === 'Budget' || t === 'Threshold' ? 'num' : null }, t)))),
              h('tbody', {}, rows))),
      page.nextCursor || cursors.length ? h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, next) : null,
    )
  }

  // decide asks for confirmation (and a reason to reject), then sends the decision pinned to
  // the version the queue showed.
  function decide(c, decision) {
    const dialog = ctx.actionDialog
    const reason = decision === 'reject' ? h('textarea', { name: 'reason', rows: '3', maxlength: '500', required: true, minlength: '3' }) : null
    const result = h('div', { 'aria-live': 'assertive', id: 'decision-result' })
    const confirm = h('button', { type: 'submit', class: decision === 'reject' ? 'danger' : '' }, decision === 'reject' ? 'Reject' : 'Approve')
    const form = h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (ev) => {
          ev.preventDefault()
          if (!form.reportValidity()) return
          confirm.disabled = true
          try {
            await ctx.api.decide(c.id, decision, { etag: `"${c.version}"`, reason: reason ? reason.value.trim() : undefined })
            dialog.close()
            ctx.flash(`“${c.name}” ${decision === 'reject' ? 'rejected' : 'approved'}.`)
            await load('')
          } catch (err) {
            confirm.disabled = false
            if (err.status === 412) {
              confirm.disabled = true
              fill(result, h('p', { class: 'error', role: 'alert' }, 'The campaign changed since the queue was read: nothing was decided. Close this and read it again.'))
              load('')
            } else {
              fill(result, h('p', { class: 'error', role: 'alert' }, err.message))
            }
          }
        },
      },
      h('h2', { id: 'action-title' }, `${decision === 'reject' ? 'Reject' : 'Approve'} “${c.name}”?`),
      h('p', {}, `Budget ${money(c.budget)}, version ${c.version} as read. `, decision === 'approve' ? 'Once approved it may be activated.' : 'Its author may edit it and submit it again.'),
      reason ? field('Why (3 to 500 characters, shown to the author)', reason) : null,
      result,
      h('div', { class: 'buttons' }, confirm, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Back')),
    )
    fill(dialog, form)
    dialog.showModal()
    ;(reason || confirm).focus()
  }

  await load('')
}
