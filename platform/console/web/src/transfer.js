// Import and export. An export downloads every campaign the filters select, as JSON Lines or
// CSV. An import is checked first (the API's dry run: each line's problems, nothing written);
// the real import is offered once the check has passed, for that same file and options.
import { h, fill, field, select } from './dom.js'
import { statuses } from './list.js'

function any(values, label) {
  return [['', label], ...values.map((v) => [v, v.charAt(0) + v.slice(1).toLowerCase()])]
}

// namesOf maps each line of a JSON Lines file to the name it holds, so that the report can
// name the lines the API reports by number (a CSV's lines are named by the API's answer only).
async function namesOf(file, type) {
  const names = new Map()
  if (type !== 'application/x-ndjson' || file.size > 8 << 20) return names
  const lines = (await file.text()).split('\n')
  lines.forEach((line, i) => {
    try {
      const v = JSON.parse(line)
      if (v && typeof v.name === 'string') names.set(i + 1, v.name)
    } catch {
      // not JSON: the API's report says what is wrong with it
    }
  })
  return names
}

// typeOf is the file's content type for the API, from its name (CSV, else JSON Lines).
function typeOf(file) {
  return /\.csv$/i.test(file.name) || file.type === 'text/csv' ? 'text/csv' : 'application/x-ndjson'
}

export function renderTransfer(ctx) {
  // Export.
  const format = select('format', [['jsonl', 'JSON Lines (.jsonl)'], ['csv', 'CSV (.csv)']], 'jsonl')
  const status = select('status', any(statuses, 'Every status'), '')
  const withMetrics = h('input', { type: 'checkbox', name: 'includeMetrics', id: 'export-metrics' })
  const exportResult = h('div', { id: 'export-result', 'aria-live': 'polite' })
  const exportForm = h(
    'form',
    { class: 'filters', id: 'export-form', 'aria-label': 'Export' },
    field('Format', format),
    field('Status', status),
    h('div', { class: 'choice' }, withMetrics, h('label', { for: 'export-metrics' }, 'With all-time figures')),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Download export')),
  )
  exportForm.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    fill(exportResult, h('p', { 'aria-busy': 'true' }, 'Exporting…'))
    try {
      const { blob, disposition } = await ctx.api.exportFile({ format: format.value, status: status.value, includeMetrics: withMetrics.checked ? 'true' : '' })
      const m = disposition.match(/filename="([^"]+)"/)
      const name = m ? m[1] : `campaigns.${format.value}`
      const url = URL.createObjectURL(blob)
      const link = h('a', { href: url, download: name, id: 'export-link' }, `Save ${name} again`)
      fill(exportResult, h('p', { class: 'ok' }, `${name}: ${blob.size.toLocaleString('en')} bytes. `, link))
      link.click()
      ctx.onLeave(() => URL.revokeObjectURL(url))
    } catch (err) {
      fill(exportResult, h('p', { class: 'error', role: 'alert' }, err.message))
    }
  })

  // Import.
  const file = h('input', { type: 'file', name: 'file', accept: '.jsonl,.ndjson,.json,.csv,application/x-ndjson,text/csv', required: true })
  const mode = select('mode', [['all-or-nothing', 'All or nothing: one bad line stops it'], ['best-effort', 'Best effort: import the good lines']], 'all-or-nothing')
  const onConflict = select('onConflict', [['fail', 'Fail the line'], ['rename', 'Rename: “<name> (import)”']], 'fail')
  const check = h('button', { type: 'submit' }, 'Check the file')
  const run = h('button', { type: 'button', id: 'import-run', disabled: true }, 'Import')
  const report = h('div', { id: 'import-report', 'aria-live': 'polite' })
  let checked = null // the file and options of the last dry run that could be imported
  const options = () => ({ mode: mode.value, onConflict: onConflict.value })
  const sameAsChecked = () =>
    checked && checked.file === file.files[0] && checked.mode === mode.value && checked.onConflict === onConflict.value
  for (const el of [file, mode, onConflict]) {
    el.addEventListener('change', () => {
      run.disabled = !sameAsChecked()
    })
  }
  const importForm = h(
    'form',
    { class: 'filters', id: 'import-form', 'aria-label': 'Import' },
    field('File (JSON Lines or CSV, as the export writes them)', file),
    field('Lines with problems', mode),
    field('A name already taken', onConflict),
    h('div', { class: 'buttons' }, check, run),
  )
  importForm.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    if (!importForm.reportValidity()) return
    const f = file.files[0]
    const opts = options()
    checked = null
    run.disabled = true
    fill(report, h('p', { 'aria-busy': 'true' }, 'Checking every line…'))
    try {
      const { data } = await ctx.api.importFile(f, typeOf(f), { ...opts, dryRun: 'true' })
      const names = await namesOf(f, typeOf(f))
      const s = data.summary
      const importable = opts.mode === 'best-effort' ? s.valid > 0 : s.failed === 0 && s.valid > 0
      if (importable) checked = { file: f, ...opts }
      run.disabled = !importable
      run.textContent = `Import ${s.valid} campaign${s.valid === 1 ? '' : 's'}`
      fill(report, showReport(data, importable
        ? `Checked: ${s.valid} of ${s.lines} line${s.lines === 1 ? '' : 's'} can be imported${s.failed ? `, ${s.failed} cannot (best effort leaves them out)` : ''}. Nothing is written yet.`
        : `Checked: ${s.failed} of ${s.lines} line${s.lines === 1 ? '' : 's'} ${s.failed === 1 ? 'has' : 'have'} problems. ${opts.mode === 'all-or-nothing' ? 'Fix them (or import the good lines with best effort) before importing.' : ''}`, !importable, names))
    } catch (err) {
      fill(report, h('p', { class: 'error', role: 'alert' }, err.message))
    }
  })
  run.addEventListener('click', async () => {
    if (!sameAsChecked()) return
    const f = checked.file
    run.disabled = true
    fill(report, h('p', { 'aria-busy': 'true' }, 'Importing…'))
    try {
      const { data } = await ctx.api.importFile(f, typeOf(f), { mode: checked.mode, onConflict: checked.onConflict })
      checked = null
      run.textContent = 'Import' // a file is imported once: check it (or another) again first
      const names = await namesOf(f, typeOf(f))
      fill(report, showReport(data, `Imported: ${data.summary.created} campaign${data.summary.created === 1 ? '' : 's'} created as drafts${data.summary.failed ? `, ${data.summary.failed} line${data.summary.failed === 1 ? '' : 's'} failed` : ''}.`, false, names))
    } catch (err) {
      // An all-or-nothing import that failed while writing created nothing; its answer
      // still lists every line.
      checked = null
      fill(report, err.problem && err.problem.results ? showReport(err.problem, `Nothing was imported: ${err.message}`, true) : h('p', { class: 'error', role: 'alert' }, err.message))
    }
  })

  fill(
    ctx.main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Import and export')),
    h('section', { 'aria-labelledby': 'export-title' }, h('h2', { id: 'export-title' }, 'Export'),
      h('p', { class: 'muted' }, 'Every live campaign with the chosen status, settings included. An export imports as it is.'), exportForm, exportResult),
    h('section', { 'aria-labelledby': 'import-title' }, h('h2', { id: 'import-title' }, 'Import'),
      h('p', { class: 'muted' }, 'Each line becomes a new draft campaign authored by you. The file is checked first; nothing is written until you import it.'), importForm, report),
  )
}

// showReport is the import's summary and a table of its lines (problems first, as the API
// orders them by line).
function showReport(data, text, isError, names = new Map()) {
  const problemText = (p) => {
    if (!p) return ''
    let t = p.detail || p.title || ''
    if (Array.isArray(p.errors) && p.errors.length) t += (t ? ': ' : '') + p.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ')
    return t
  }
  const label = { created: 'Created', valid: 'Can be imported', failed: 'Problem' }
  return [
    h('p', { class: isError ? 'error' : 'ok', id: 'import-summary', 'data-created': String(data.summary.created), 'data-failed': String(data.summary.failed), 'data-dry-run': String(data.summary.dryRun) }, text),
    data.summary.problemsOmitted ? h('p', { class: 'muted' }, `${data.summary.problemsOmitted} more failed lines are not detailed.`) : null,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'compact', id: 'import-lines' },
        h('caption', {}, 'Each line'),
        h('thead', {}, h('tr', {}, ['Line', 'Name', 'Result', 'Problems'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, data.results.map((r) =>
          h('tr', { 'data-line': String(r.line), 'data-status': r.status },
            h('th', { scope: 'row', class: 'num' }, String(r.line)),
            h('td', {}, r.status === 'created' && r.id
              ? h('a', { href: `/console/campaigns/${r.id}`, 'data-link': '' }, r.name || names.get(r.line) || r.id)
              : r.name || names.get(r.line) || '—'),
            h('td', { class: r.status === 'failed' ? 'error' : 'ok' }, label[r.status] || r.status),
            h('td', {}, problemText(r.problem)),
          ))))),
  ]
}
