// The campaign page: status and lifecycle actions (each judged by a dry run before the user
// confirms), KPIs, performance over time, the A/B verdict when the API gives one, settings,
// the status history and the audit trail. KPIs and the chart refresh on their own.
import { h, fill, field, select } from './dom.js'
import { money, count, percent, ratio, when, badge, statusLabel, shortId, user } from './format.js'
import { openDuplicate } from './duplicate.js'
import { Chart, PacingChart, chartMetrics } from './chart.js'

// What each status offers (the API's lifecycle table; the dry run has the last word).
const offered = {
  DRAFT: ['activate', 'cancel'],
  ACTIVE: ['pause', 'complete', 'cancel'],
  PAUSED: ['resume', 'complete', 'cancel'],
  COMPLETED: [],
  CANCELLED: [],
}
const actionLabels = { activate: 'Activate', pause: 'Pause', resume: 'Resume', complete: 'Complete', cancel: 'Cancel campaign' }
const refreshEvery = 5000

export async function renderCampaign(ctx, id) {
  const state = { campaign: null, etag: null, metric: 'impressions', granularity: 'hour', groupBy: 'variant' }
  const head = h('div', { class: 'page-head campaign-head' })
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Lifecycle actions' })
  const kpis = h('dl', { class: 'kpis', id: 'kpis' })
  const updated = h('p', { class: 'muted', id: 'kpis-updated' })
  const auto = h('input', { type: 'checkbox', id: 'auto-refresh', checked: true })
  const refresh = h('button', { type: 'button', class: 'secondary small' }, 'Refresh now')
  const chartEl = h('div', { class: 'chart', id: 'performance-chart' })
  const chartTable = h('div', { class: 'table-wrap' })
  const chartError = h('p', { class: 'error', role: 'alert', hidden: true })
  const experiment = h('section', { id: 'experiment', 'aria-labelledby': 'experiment-title', hidden: true })
  const settings = h('dl', { class: 'settings', id: 'settings' })
  const transitions = h('div', { id: 'transitions' })
  const events = h('div', { id: 'events' })
  const chart = new Chart(chartEl, chartTable)
  const pacingSection = h('section', { id: 'pacing', 'aria-labelledby': 'pacing-title', hidden: true })
  const pacingSummary = h('dl', { class: 'kpis', id: 'pacing-summary', 'data-columns': '4' })
  const pacingNote = h('p', { class: 'muted', id: 'pacing-note' })
  const pacingEl = h('div', { class: 'chart pacing-chart', id: 'pacing-chart' })
  const pacingTable = h('div', { class: 'table-wrap' })
  const pacingError = h('p', { class: 'error', role: 'alert', hidden: true })
  const pacingChart = new PacingChart(pacingEl, pacingTable)
  fill(pacingSection, h('h2', { id: 'pacing-title' }, 'Pacing'), pacingSummary, pacingNote, pacingError, pacingEl,
    h('details', {}, h('summary', {}, 'The pacing chart as a table'), pacingTable))

  const controls = h(
    'form',
    { class: 'filters chart-controls', 'aria-label': 'Chart options', onsubmit: (ev) => ev.preventDefault() },
    field('Measure', select('metric', chartMetrics.map(([v, l]) => [v, l]), state.metric)),
    field('Period', select('granularity', [['hour', 'Hour (last 24 h)'], ['day', 'Day'], ['week', 'Week'], ['month', 'Month']], state.granularity)),
    field('Lines per', select('groupBy', [['variant', 'A/B variant'], ['channel', 'Channel'], ['', 'All events together']], state.groupBy)),
  )
  controls.addEventListener('change', (ev) => {
    state[ev.target.name] = ev.target.value
    loadPerformance()
  })

  fill(
    ctx.main,
    head,
    actions,
    h(
      'section',
      { 'aria-labelledby': 'kpis-title' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', { id: 'kpis-title' }, 'Key figures'),
        h('div', { class: 'choice' }, auto, h('label', { for: 'auto-refresh' }, `Refresh every ${refreshEvery / 1000} s`)),
        refresh,
      ),
      kpis,
      updated,
    ),
    pacingSection,
    h('section', { 'aria-labelledby': 'chart-title' }, h('h2', { id: 'chart-title' }, 'Performance over time'), controls, chartError, chartEl, h('details', {}, h('summary', {}, 'The chart as a table'), chartTable)),
    experiment,
    h('section', { 'aria-labelledby': 'settings-title' }, h('h2', { id: 'settings-title' }, 'Settings'), settings),
    h('section', { 'aria-labelledby': 'transitions-title' }, h('h2', { id: 'transitions-title' }, 'Status history'), transitions),
    h('section', { 'aria-labelledby': 'events-title' }, h('h2', { id: 'events-title' }, 'Audit events'), events),
  )

  function renderHead() {
    const c = state.campaign
    document.title = `${c.name} · Campaigns console`
    fill(
      head,
      h('div', {}, h('p', { class: 'crumbs' }, h('a', { href: '/console/', 'data-link': '' }, 'Campaigns')), h('h1', { tabindex: '-1' }, c.name)),
      h(
        'p',
        { class: 'statuses' },
        h('span', { class: 'muted' }, 'Status '),
        h('span', { id: 'campaign-status', 'data-status': c.status }, badge('status', c.status)),
        h('span', { class: 'muted' }, ' Serving '),
        h('span', { id: 'serving-status', 'data-status': c.servingStatus }, badge('serving', c.servingStatus)),
        h('span', { class: 'muted' }, ` Version ${c.version}`),
        c.approval && c.approval.status !== 'NOT_REQUIRED'
          ? [h('span', { class: 'muted' }, ' Approval '), h('span', { id: 'approval-status', 'data-status': c.approval.status }, badge('approval', c.approval.status))]
          : null,
      ),
    )
    const list = offered[c.status] || []
    fill(
      actions,
      list.length === 0
        ? h('p', { class: 'muted' }, `${statusLabel(c.status)} is final: no lifecycle action is left.`)
        : list.map((a) => h('button', { type: 'button', class: a === 'cancel' ? 'danger' : '', 'data-action': a, onclick: () => openAction(a) }, actionLabels[a])),
      (c.status === 'DRAFT' || c.status === 'PAUSED') && c.approval && (c.approval.status === 'REQUIRED' || c.approval.status === 'REJECTED')
        ? h('button', { type: 'button', class: 'secondary', id: 'submit-approval', onclick: submitForApproval }, 'Submit for approval')
        : null,
      h('button', { type: 'button', class: 'secondary', id: 'duplicate-button', onclick: () => openDuplicate(ctx, state.campaign) }, 'Duplicate…'),
    )
    if (c.approval && c.approval.status === 'REJECTED' && c.approval.reason) {
      actions.append(h('p', { class: 'error', id: 'approval-reason' }, `Rejected: ${c.approval.reason}`))
    }
  }

  function renderKPIs() {
    const m = state.campaign.metrics
    if (!m) {
      fill(kpis, h('p', { class: 'muted' }, 'No figures.'))
      return
    }
    const items = [
      ['impressions', 'Impressions', count(m.impressions)],
      ['clicks', 'Clicks', count(m.clicks)],
      ['conversions', 'Conversions', count(m.conversions)],
      ['ctr', 'CTR', percent(m.ctr)],
      ['conversionRate', 'Conversion rate', percent(m.conversionRate)],
      ['revenue', 'Revenue', money(m.revenue)],
      ['cost', 'Cost', money(m.cost)],
      ['roas', 'ROAS', ratio(m.roas)],
      ['roi', 'ROI', percent(m.roi)],
      ['costPerClick', 'Cost per click', money(m.costPerClick)],
      ['costPerConversion', 'Cost per conversion', money(m.costPerConversion)],
      ['budgetSpentPercent', 'Budget spent', percent(m.budgetSpentPercent)],
      ['budgetRemaining', 'Budget remaining', money(m.budgetRemaining)],
      ['bounces', 'Bounces', count(m.bounces)],
      ['unsubscribes', 'Unsubscribes', count(m.unsubscribes)],
    ]
    fill(kpis, items.map(([key, label, value]) => h('div', { class: 'kpi' }, h('dt', {}, label), h('dd', { 'data-kpi': key }, value))))
    kpis.dataset.columns = String(kpiColumns(items.length))
    fill(updated, m.lastUpdated ? ['Counted up to ', when(m.lastUpdated), '.'] : 'Nothing counted yet.')
  }

  function renderSettings() {
    const c = state.campaign
    const s = c.settings
    const ab = s.abTestSettings
    const rows = [
      ['Description', c.description || '—'],
      ['Type', c.type],
      ['Start', when(c.startDate)],
      ['End', c.endDate ? when(c.endDate) : 'No end date'],
      ['Budget', money(c.budget)],
      ['Budget limit', s.budgetLimit ? money(s.budgetLimit) : 'None'],
      ['Channels', s.channels.join(', ')],
      ['Pacing', s.pacing ? pacingText(s.pacing) : 'As fast as possible (no pacing settings)'],
      ['Frequency per customer', s.frequency],
      ['Maximum impressions', s.maxImpressions ? count(s.maxImpressions) : 'No cap'],
      ['Target audience', s.targetAudience.length ? s.targetAudience.join(', ') : 'Everyone'],
      ['A/B test', ab && ab.enabled ? ab.variants.map((v) => `${v.key} “${v.name}” ${v.weight} %`).join('; ') : 'Off'],
      ['Scheduling', s.schedulingRules.length ? s.schedulingRules.map((r) => `${r.days.join(' ')} ${r.startTime}–${r.endTime} ${r.timezone}`).join('; ') : 'Any time'],
      ['Personalization', s.personalization && s.personalization.enabled ? [`${s.personalization.rules.length} rule(s): `, ruleIds(ctx.api, s.personalization.rules)] : 'Off'],
      ['Targeting rules', c.targetingRules.length ? h('span', { id: 'targeting-rules' }, ruleIds(ctx.api, c.targetingRules)) : 'None'],
      ['Targeting verified', c.targetingVerified ? 'Yes' : 'No'],
      ['Created', [when(c.createdAt), ' by ', h('span', { id: 'created-by' }, user(c.createdBy, ctx.me()))]],
      ['Last changed', when(c.updatedAt)],
      ['Id', h('code', {}, c.id)],
    ]
    fill(settings, rows.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))))
  }

  // renderExperiment shows the A/B verdict the API embeds in the campaign (`experiment`),
  // with the analysis of GET .../experiment; no panel when the API gives no verdict.
  async function renderExperiment() {
    const verdict = state.campaign.experiment
    // The automatic refresh leaves the panel alone while the user is planning in it.
    if (!experiment.hidden && experiment.querySelector('#plan-form')?.contains(document.activeElement)) return
    if (!verdict) {
      experiment.hidden = true
      return
    }
    const metricLabels = { ctr: 'CTR', conversionRate: 'conversion rate', revenuePerExposure: 'revenue per exposure' }
    const verdictText = {
      NOT_ENOUGH_DATA: 'Not enough data yet: keep the test running.',
      NO_SIGNIFICANT_DIFFERENCE: 'No significant difference between the variants.',
      WINNER: `Variant ${verdict.winner} wins.`,
      SRM_DETECTED: 'Sample ratio mismatch: the traffic split is not the one configured, so these results cannot be trusted.',
    }
    const parts = [
      h('h2', { id: 'experiment-title' }, 'A/B test verdict'),
      h('p', { class: verdict.verdict === 'SRM_DETECTED' ? 'error' : 'verdict', id: 'experiment-verdict', 'data-verdict': verdict.verdict }, verdictText[verdict.verdict] || verdict.verdict),
      h(
        'p',
        { class: 'muted', id: 'experiment-mode' },
        `Judged on ${metricLabels[verdict.metric] || verdict.metric}, the metric registered before the test, ` +
          (verdict.mode === 'sequential'
            ? 'by a sequential test: this verdict stays valid however often you look, so you may act on it as soon as it shows a winner.'
            : 'by a fixed-horizon test: read it once the planned sample size is reached.'),
      ),
    ]
    try {
      const a = (await ctx.api.experimentPlan(id, state.planQuery || {})).data
      const pct = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(2)} %`)
      const interval = (e, fmt) => (e && e.value !== null ? `${fmt(e.value)}${e.low !== null && e.high !== null ? ` (${fmt(e.low)} to ${fmt(e.high)})` : ''}` : '—')
      const perExposure = (v) => `${Number(v).toFixed(4)} ${a.currency}`
      const fmt = a.metric === 'revenuePerExposure' ? perExposure : pct
      parts.push(
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'compact', id: 'experiment-table' },
            h('caption', {}, `Per variant, ${metricLabels[a.metric] || a.metric} with its ${Math.round(a.confidenceLevel * 100)} % interval; exposures are ${a.exposureUnit}, ${count(a.minSampleSize)} needed per variant.`),
            h('thead', {}, h('tr', {}, ['Variant', 'Exposures', metricLabels[a.metric] || a.metric, 'Lift vs control', 'Chance to beat control', 'p-value', 'Significant'].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              a.variants.map((v) => {
                const cmp = v.vsControl ? v.vsControl[a.metric] : null
                return h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, `${v.key} “${v.name}”${v.control ? ' (control)' : ''}`),
                  h('td', { class: 'num' }, count(v.exposures)),
                  h('td', { class: 'num' }, interval(v[a.metric], fmt)),
                  h('td', { class: 'num' }, cmp ? interval(cmp.lift, pct) : '—'),
                  h('td', { class: 'num' }, cmp ? pct(cmp.chanceToBeatControl) : '—'),
                  h('td', { class: 'num' }, cmp && cmp.adjustedPValue !== null ? cmp.adjustedPValue.toFixed(4) : '—'),
                  h('td', {}, cmp ? (cmp.significant ? 'Yes' : 'No') : '—'),
                )
              }),
            ),
          ),
        ),
        planner(a, pct),
        a.warnings && a.warnings.length ? h('ul', { class: 'muted' }, a.warnings.map((w) => h('li', {}, w))) : null,
      )
    } catch (err) {
      parts.push(h('p', { class: 'error' }, `The analysis is not available: ${err.message}`))
    }
    fill(experiment, parts)
    experiment.hidden = false
  }

  // planner is plan-the-test: the plan the API computed (default +10 % lift at 80 % power),
  // and a form that asks it again for another minimum detectable effect and power.
  function planner(a, pct) {
    const unit = a.metric === 'conversionRate' ? 'clicks' : 'exposures'
    const out = h('div', { id: 'experiment-plan', 'aria-live': 'polite' })
    const planText = (plan) =>
      plan
        ? h('p', { 'data-per-variant': String(plan.perVariant) },
            `Plan: to detect a ${pct(plan.minimumDetectableEffect)} lift over the control's ${pct(plan.baselineRate)} ` +
            `with ${Math.round(plan.power * 100)} % power, each variant needs `, h('strong', { id: 'plan-per-variant' }, count(plan.perVariant)),
            ` ${unit} (${count(plan.soFar)} so far` +
            (plan.daysAtCurrentTraffic !== null ? `, about ${Math.ceil(plan.daysAtCurrentTraffic)} more days at the current traffic)` : ')') + '.')
        : h('p', { class: 'muted', 'data-per-variant': '' }, a.metric === 'revenuePerExposure'
            ? 'No plan: sample sizes are planned for rates (CTR, conversion rate) only.'
            : "No plan yet: the control needs a rate above 0 (and below 100 %) to plan from.")
    fill(out, planText(a.plan))
    if (a.metric === 'revenuePerExposure') return out
    const mde = h('input', { type: 'number', name: 'mde', min: '0.1', max: '1000', step: '0.1', required: true,
      value: String(+((a.plan ? a.plan.minimumDetectableEffect : state.planQuery ? state.planQuery.mde : 0.1) * 100).toFixed(2)) })
    const power = h('input', { type: 'number', name: 'power', min: '50', max: '99', step: '1', required: true,
      value: String(Math.round((a.plan ? a.plan.power : state.planQuery ? state.planQuery.power : 0.8) * 100)) })
    const form = h(
      'form',
      { class: 'filters plan', id: 'plan-form', 'aria-label': 'Plan the test' },
      field('Minimum detectable lift (%)', mde, 'The smallest relative lift worth finding.'),
      field('Power (%)', power, 'The chance of finding it if it is there.'),
      h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Plan')),
    )
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault()
      if (!form.reportValidity()) return
      try {
        const query = { mde: Number(mde.value) / 100, power: Number(power.value) / 100 }
        const plan = (await ctx.api.experimentPlan(id, query)).data.plan
        state.planQuery = query // later refreshes keep this plan
        fill(out, planText(plan))
      } catch (err) {
        fill(out, h('p', { class: 'error', role: 'alert' }, err.message))
      }
    })
    return h('div', {}, h('h3', {}, 'Plan the test'), form, out)
  }

  async function loadCampaign() {
    const { data, etag } = await ctx.api.campaign(id)
    state.campaign = data
    state.etag = etag
    renderHead()
    renderKPIs()
    renderSettings()
  }

  // loadPacing shows where a paced campaign (EVEN or FRONT_LOADED) stands against its plan:
  // the index, the mode and the chart of spend against the plan (GET .../metrics' pacing).
  async function loadPacing() {
    const p = state.campaign.settings.pacing
    if (!p || p.mode === 'ASAP') {
      pacingSection.hidden = true
      return
    }
    pacingSection.hidden = false
    try {
      const r = (await ctx.api.metrics(id)).data.pacing
      pacingError.hidden = true
      if (!r) return
      const index = r.pacingIndex === null ? '—' : r.pacingIndex.toFixed(2)
      const items = [
        ['pacingIndex', 'Pacing index', index],
        ['mode', 'Mode', modeLabels[r.mode] || r.mode],
        ['spent', r.period === 'DAILY' ? 'Spent today' : 'Spent in the flight', money(r.spent)],
        ['planned', 'Planned by now', money(r.planned)],
        ['budget', r.period === 'DAILY' ? 'Daily budget' : 'Flight budget', money(r.budget)],
        ['period', 'Period', r.period === 'DAILY' ? `Day in ${r.timezone}` : 'Flight'],
        ['servedShare', 'Requests served', percent(r.servedShare * 100)],
        ['status', 'Against the plan', r.pacingIndex === null ? 'No index yet' : r.pacingIndex > 1.1 ? 'Ahead' : r.pacingIndex < 0.9 ? 'Behind' : 'On plan'],
      ]
      fill(pacingSummary, items.map(([key, label, value]) => h('div', { class: 'kpi' }, h('dt', {}, label), h('dd', { 'data-pacing': key }, value))))
      fill(pacingNote, 'The index is (spent / budget) / (planned share): 1 on plan, above 1 ahead. ' +
        (r.servedShare < 1 ? 'Ahead of its plan, the campaign is served to fewer requests until it is back on plan.' : 'It is served to every eligible request.'))
      pacingChart.show(r)
    } catch (err) {
      pacingError.hidden = false
      pacingError.textContent = err.message
    }
  }

  async function loadPerformance() {
    const query = { granularity: state.granularity }
    if (state.groupBy) query.groupBy = state.groupBy
    try {
      const perf = (await ctx.api.performance(id, query)).data
      chartError.hidden = true
      chart.show(perf, state.metric)
    } catch (err) {
      chartError.hidden = false
      chartError.textContent = err.message
    }
  }

  async function loadHistory() {
    try {
      const list = (await ctx.api.transitions(id)).data.transitions
      fill(
        transitions,
        list.length === 0
          ? h('p', { class: 'muted' }, 'No status change yet.')
          : h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                { class: 'compact', id: 'transition-table' },
                h('thead', {}, h('tr', {}, ['When', 'Action', 'From', 'To', 'Reason', 'By', 'Version'].map((t) => h('th', { scope: 'col' }, t)))),
                h(
                  'tbody',
                  {},
                  list.map((t) =>
                    h(
                      'tr',
                      {},
                      h('td', {}, when(t.occurredAt)),
                      h('th', { scope: 'row' }, t.action),
                      h('td', {}, statusLabel(t.from)),
                      h('td', {}, statusLabel(t.to)),
                      h('td', {}, t.reason || '—'),
                      h('td', {}, t.automatic ? 'Automation' : t.actor ? user(t.actor, ctx.me()) : 'Anonymous'),
                      h('td', { class: 'num' }, String(t.version)),
                    ),
                  ),
                ),
              ),
            ),
      )
    } catch (err) {
      fill(transitions, h('p', { class: 'error' }, err.message))
    }
    try {
      const list = (await ctx.api.events(id)).data.events
      fill(
        events,
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'compact', id: 'event-table' },
            h('thead', {}, h('tr', {}, ['When', 'Event', 'Version', 'By', 'Request id', 'Published', 'Payload'].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              {},
              list.map((e) =>
                h(
                  'tr',
                  {},
                  h('td', {}, when(e.occurredAt)),
                  h('th', { scope: 'row' }, e.type),
                  h('td', { class: 'num' }, String(e.version)),
                  h('td', {}, e.actor ? user(e.actor, ctx.me()) : 'Automation or anonymous'),
                  h('td', {}, h('code', {}, e.correlationId || '—')),
                  h('td', {}, e.publishedAt ? when(e.publishedAt) : 'Not yet'),
                  h('td', {}, h('details', {}, h('summary', {}, 'Show'), h('pre', {}, JSON.stringify(e.payload, null, 2)))),
                ),
              ),
            ),
          ),
        ),
      )
    } catch (err) {
      fill(events, h('p', { class: 'error' }, err.message))
    }
  }

  async function refreshAll() {
    try {
      await loadCampaign()
    } catch (err) {
      ctx.flash(err.message, true)
      return
    }
    await Promise.all([loadPerformance(), loadPacing(), renderExperiment()])
  }

  // submitForApproval asks for approval of the version shown (a 412 when it changed since).
  async function submitForApproval() {
    try {
      await ctx.api.submitForApproval(id, state.etag)
      ctx.flash('Submitted for approval: it waits in the approvals queue.')
    } catch (err) {
      ctx.flash(err.status === 412 ? 'The campaign changed meanwhile: read it again before submitting.' : err.message, true)
    }
    await refreshAll()
    await loadHistory()
  }

  // openAction judges the action by a dry run, shows the verdict and every reason it would
  // fail, and applies it only when the user confirms (on the version that was judged).
  function openAction(action) {
    const dialog = ctx.actionDialog
    const verdict = h('div', { id: 'action-verdict', 'aria-live': 'polite' }, h('p', { 'aria-busy': 'true' }, 'Checking…'))
    const reason = h('textarea', { name: 'reason', rows: '2', maxlength: '500' })
    const confirm = h('button', { type: 'submit', disabled: true, class: action === 'cancel' ? 'danger' : '' }, `Confirm: ${actionLabels[action].toLowerCase()}`)
    const result = h('div', { 'aria-live': 'assertive' })
    let judgedEtag = null
    let seq = 0
    async function judge() {
      seq += 1
      const mine = seq
      confirm.disabled = true
      try {
        const { data, etag } = await ctx.api.transition(id, action, { dryRun: true, reason: reason.value.trim() })
        if (mine !== seq) return
        judgedEtag = etag
        confirm.disabled = !data.allowed
        fill(
          verdict,
          data.allowed
            ? h('p', { class: 'ok', 'data-allowed': 'true' }, `Allowed: the campaign goes from ${statusLabel(data.from)} to ${statusLabel(data.to)}.`)
            : [
                h('p', { class: 'error', 'data-allowed': 'false' }, `Not possible now (the campaign is ${statusLabel(data.from)}):`),
                h('ul', { class: 'reasons' }, data.violations.map((v) => h('li', {}, v.field ? `${v.field}: ${v.message}` : v.message))),
              ],
        )
      } catch (err) {
        if (mine !== seq) return
        fill(verdict, h('p', { class: 'error' }, err.message))
      }
    }
    let timer = null
    reason.addEventListener('input', () => {
      clearTimeout(timer)
      timer = setTimeout(judge, 300)
    })
    const form = h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (ev) => {
          ev.preventDefault()
          confirm.disabled = true
          try {
            await ctx.api.transition(id, action, { reason: reason.value.trim(), etag: judgedEtag })
            dialog.close()
            ctx.flash(`${actionLabels[action]}: done.`)
            await refreshAll()
            await loadHistory()
          } catch (err) {
            fill(result, h('p', { class: 'error', role: 'alert' }, err.status === 412 ? 'The campaign changed meanwhile: judged again below.' : err.message))
            judge()
          }
        },
      },
      h('h2', { id: 'action-title' }, `${actionLabels[action]} “${state.campaign.name}”?`),
      verdict,
      field(action === 'cancel' ? 'Reason (required, 3 to 500 characters)' : 'Reason (optional)', reason),
      result,
      h('div', { class: 'buttons' }, confirm, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Back')),
    )
    fill(dialog, form)
    dialog.showModal()
    reason.focus()
    judge()
  }

  refresh.addEventListener('click', async () => {
    await refreshAll()
    await loadHistory()
  })
  const timer = setInterval(() => {
    if (auto.checked && document.visibilityState === 'visible' && !ctx.actionDialog.open) refreshAll()
  }, refreshEvery)
  ctx.onLeave(() => {
    clearInterval(timer)
    chart.destroy()
    pacingChart.destroy()
  })

  try {
    await loadCampaign()
    // Launch-day monitoring by the hour; a campaign that started more than two days ago by the day.
    if (Date.now() - Date.parse(state.campaign.startDate) > 2 * 86400 * 1000) {
      state.granularity = 'day'
      controls.elements.granularity.value = 'day'
    }
  } catch (err) {
    fill(ctx.main, h('h1', { tabindex: '-1' }, 'Campaign'), h('p', { class: 'error', role: 'alert' }, err.status === 404 ? 'There is no such campaign (or it was deleted).' : err.message))
    return
  }
  await Promise.all([loadPerformance(), loadPacing(), renderExperiment(), loadHistory()])
}

const modeLabels = { ASAP: 'As fast as possible', EVEN: 'Even', FRONT_LOADED: 'Front-loaded' }

// pacingText is settings.pacing in words.
function pacingText(p) {
  const mode = modeLabels[p.mode] || p.mode
  const zone = p.timezone ? `, days in ${p.timezone}` : ''
  return p.period === 'DAILY' ? `${mode}, daily budget ${money(p.dailyBudget)}${zone}` : `${mode} over the flight${zone}`
}

// ids shows a list of ids, each shortened with the whole id on hover.
function ids(list) {
  return list.flatMap((id, i) => (i === 0 ? [shortId(id)] : [', ', shortId(id)]))
}

// ruleIds shows rule ids as ids does, then names each rule the Rules Engine knows (the whole
// id stays on hover).
function ruleIds(api, list) {
  const nodes = ids(list)
  api.ruleNames(list).then((names) => {
    for (const node of nodes) {
      if (typeof node !== 'string' && names.has(node.dataset.id)) node.textContent = names.get(node.dataset.id)
    }
  })
  return nodes
}

// kpiColumns is how many figures a row of the KPI grid holds on a wide screen: 5, else 6 or 4,
// whichever leaves the fewest empty places on the last row (no figure alone on a row).
export function kpiColumns(n) {
  let best = 5
  for (const c of [5, 6, 4]) {
    if ((c - (n % c)) % c < (best - (n % best)) % best) best = c
  }
  return best
}
