// The public API, called with the credentials the user entered once (see access.js).

const base = '/api/v1'

// ApiError is a non-2xx answer: an RFC 9457 problem when the API sent one.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(status, problem))
    this.status = status
    this.problem = problem || {}
  }
}

function problemText(status, p) {
  if (!p) return `HTTP ${status}`
  let text = p.detail || p.title || `HTTP ${status}`
  if (Array.isArray(p.errors) && p.errors.length > 0) {
    text += ': ' + p.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ')
  }
  return text
}

// Client sends requests with the current credentials; onUnauthorized runs on a 401.
export class Client {
  constructor(access, onUnauthorized) {
    this.access = access
    this.onUnauthorized = onUnauthorized
  }

  async request(method, path, { body, raw, query, headers } = {}) {
    const url = new URL(base + path, window.location.origin)
    if (query) {
      for (const [k, v] of Object.entries(query)) {
        if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v))
      }
    }
    const accept = raw && raw.download ? 'application/x-ndjson, text/csv, application/problem+json' : 'application/json'
    const h = { Accept: accept, ...this.access.headers(), ...(headers || {}) }
    const init = { method, headers: h, credentials: 'omit', cache: 'no-store' }
    if (body !== undefined) {
      h['Content-Type'] = 'application/json'
      init.body = JSON.stringify(body)
    } else if (raw && raw.data !== undefined) {
      h['Content-Type'] = raw.type
      init.body = raw.data
    }
    const resp = await fetch(url, init)
    if (raw && raw.download && resp.ok) {
      return { blob: await resp.blob(), disposition: resp.headers.get('Content-Disposition') || '' }
    }
    const text = await resp.text()
    let data = null
    if (text) {
      try {
        data = JSON.parse(text)
      } catch {
        data = null
      }
    }
    if (!resp.ok) {
      if (resp.status === 401 && this.onUnauthorized) this.onUnauthorized(data)
      throw new ApiError(resp.status, data)
    }
    return { data, etag: resp.headers.get('ETag') }
  }

  get(path, query) {
    return this.request('GET', path, { query })
  }

  // ruleNames maps the rule ids the Rules Engine knows among ids to their names (GET
  // /targeting/rules, one request); an id it cannot name (no Rules Engine, an unknown rule, the
  // engine down) is left out, and shown as an id.
  async ruleNames(ids) {
    const names = new Map()
    if (!ids.length) return names
    try {
      const { data } = await this.request('GET', '/targeting/rules?' + ids.map((id) => 'id=' + encodeURIComponent(id)).join('&'))
      for (const r of data.rules) names.set(r.id, r.name)
    } catch {
      // labels are a convenience: the ids stay
    }
    return names
  }

  listCampaigns(query) {
    return this.get('/campaigns', query)
  }

  campaign(id) {
    return this.get(`/campaigns/${encodeURIComponent(id)}`)
  }

  createCampaign(body, idempotencyKey) {
    return this.request('POST', '/campaigns', { body, headers: { 'Idempotency-Key': idempotencyKey } })
  }

  // transition runs a lifecycle action; dryRun only judges it. etag pins the version read.
  transition(id, action, { dryRun, reason, etag }) {
    const headers = {}
    if (etag) headers['If-Match'] = etag
    const body = reason ? { reason } : undefined
    return this.request('POST', `/campaigns/${encodeURIComponent(id)}/${action}`, {
      body,
      headers,
      query: dryRun ? { dryRun: 'true' } : undefined,
    })
  }

  transitions(id, cursor) {
    return this.get(`/campaigns/${encodeURIComponent(id)}/transitions`, { limit: 100, cursor })
  }

  events(id, cursor) {
    return this.get(`/campaigns/${encodeURIComponent(id)}/events`, { limit: 100, cursor })
  }

  // metrics is GET .../metrics: the all-time KPIs and, for a campaign with pacing settings,
  // pacing with its hourly (or daily) series of spend against the plan.
  metrics(id) {
    return this.get(`/campaigns/${encodeURIComponent(id)}/metrics`)
  }

  performance(id, query) {
    return this.get(`/campaigns/${encodeURIComponent(id)}/performance`, query)
  }

  experiment(id) {
    return this.get(`/campaigns/${encodeURIComponent(id)}/experiment`)
  }

  experimentPlan(id, { mde, power }) {
    return this.get(`/campaigns/${encodeURIComponent(id)}/experiment`, { mde, power })
  }

  // duplicate copies a campaign; body may carry name and shift (an ISO 8601 duration).
  duplicate(id, body, idempotencyKey) {
    return this.request('POST', `/campaigns/${encodeURIComponent(id)}/duplicate`, { body, headers: { 'Idempotency-Key': idempotencyKey } })
  }

  // bulk runs a lifecycle action (or delete) on every id; dryRun only judges each.
  bulk(action, ids, { reason, dryRun }) {
    const body = { ids }
    if (reason && action !== 'delete') body.reason = reason
    return this.request('POST', `/campaigns/bulk/${action}`, { body, query: dryRun ? { dryRun: 'true' } : undefined })
  }

  // submitForApproval asks for the approval of the version read (etag).
  submitForApproval(id, etag) {
    return this.request('POST', `/campaigns/${encodeURIComponent(id)}/submit-for-approval`, { headers: etag ? { 'If-Match': etag } : {} })
  }

  // decide approves or rejects a pending campaign, pinned to the version read (If-Match).
  decide(id, decision, { etag, reason }) {
    return this.request('POST', `/campaigns/${encodeURIComponent(id)}/${decision}`, {
      body: decision === 'reject' ? { reason } : undefined,
      headers: { 'If-Match': etag },
    })
  }

  // importFile sends a JSON Lines or CSV file; the report says what each line gives.
  importFile(file, type, query) {
    return this.request('POST', '/campaigns/import', { raw: { type, data: file }, query })
  }

  // exportFile downloads the export as a Blob (JSON Lines or CSV).
  exportFile(query) {
    return this.request('GET', '/campaigns/export', { raw: { download: true }, query })
  }
}
