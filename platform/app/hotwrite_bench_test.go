package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/engine-rules-sp/campaigns/metrics"
	"github.com/engine-rules-sp/campaigns/platform/app/apptest"
	"github.com/engine-rules-sp/campaigns/platform/config"
	"github.com/engine-rules-sp/campaigns/platform/database/dbtest"
	"github.com/engine-rules-sp/campaigns/platform/natsx/natstest"
)

// The write-path benchmarks time the product's create and single-event /track against the
// simplest hand-written net/http handler doing the same work, both driven by the same
// concurrent keep-alive HTTP clients on loopback, in alternating rounds of one run (so that
// both sides see the same machine). The product runs with its production middleware and
// authenticates every request with an API key, as a real caller would.
//
//	go test ./platform/app -run '^$' -bench 'HotCreate|HotTrack' -benchtime 6000x
//
// Each b.N is the number of requests per side. Reported: req/s, p50 and p99 per side, and
// the ratio product/raw of the rates (of-raw).

const (
	hotRounds      = 6  // alternating rounds per side
	hotCreateConns = 16 // the create benchmark's clients
	hotAPIKey      = "bench-key-0123456789abcdef0123456789abcdef"
)

// hotConfigure turns API-key authentication on (an editor and tracker key) and rate limiting
// off: one benchmark caller would exhaust its bucket at once.
func hotConfigure(natsURL string) func(*config.Config) {
	return func(cfg *config.Config) {
		cfg.Auth.Mode = config.AuthAPIKey
		cfg.Auth.APIKeys = []config.APIKey{{Name: "bench", SHA256: secSHA(hotAPIKey), Roles: []string{"editor", "tracker"},
			Owner: "3f1c2b4a-5d6e-4f70-8a91-b2c3d4e5f607"}}
		cfg.RateLimit.Enabled = false
		if natsURL != "" {
			cfg.NATS = config.NATS{URL: natsURL}
		}
	}
}

// hotClient is a keep-alive client with room for every connection.
func hotClient(b *testing.B, conns int) *http.Client {
	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConns: 2 * conns, MaxIdleConnsPerHost: 2 * conns}}
	b.Cleanup(c.CloseIdleConnections)
	return c
}

// hotPost sends one POST with the benchmark's API key and checks the status.
func hotPost(client *http.Client, url string, body []byte, header map[string]string, want int) error {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", hotAPIKey)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: status %d: %s", url, resp.StatusCode, out)
	}
	return nil
}

// side is one contender of a duel.
type side struct {
	name string
	do   func(i int64) error
	lat  []time.Duration
	took time.Duration
	n    int64
}

// duel runs b.N requests per side over conns clients, the sides alternating in hotRounds
// rounds each, and reports each side's rate and latencies and the ratio of the second (the
// product) to the first (raw).
func duel(b *testing.B, conns int, raw, product *side) {
	b.Helper()
	var next atomic.Int64 // request numbers stay unique over both sides and every round
	per := max(int64(b.N)/hotRounds, 1)
	b.ResetTimer()
	for range hotRounds {
		for _, s := range []*side{raw, product} {
			lat, took, err := burst(conns, per, &next, s.do)
			if err != nil {
				b.Fatalf("%s: %v", s.name, err)
			}
			s.lat, s.took, s.n = append(s.lat, lat...), s.took+took, s.n+per
		}
	}
	b.StopTimer()
	rate := func(s *side) float64 { return float64(s.n) / s.took.Seconds() }
	for _, s := range []*side{raw, product} {
		slices.Sort(s.lat)
		b.ReportMetric(rate(s), s.name+"-req/s")
		b.ReportMetric(float64(s.lat[len(s.lat)/2].Microseconds()), s.name+"-p50-µs")
		b.ReportMetric(float64(s.lat[len(s.lat)*99/100].Microseconds()), s.name+"-p99-µs")
	}
	b.ReportMetric(rate(product)/rate(raw), "of-raw")
}

// burst runs n calls of do over conns goroutines and returns their latencies and the wall time.
func burst(conns int, n int64, next *atomic.Int64, do func(i int64) error) ([]time.Duration, time.Duration, error) {
	var (
		left   atomic.Int64
		mu     sync.Mutex
		lat    = make([]time.Duration, 0, n)
		first  error
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	left.Store(n)
	start := time.Now()
	for range conns {
		wg.Go(func() {
			mine := make([]time.Duration, 0, n/int64(conns)+1)
			for left.Add(-1) >= 0 && !failed.Load() {
				t := time.Now()
				if err := do(next.Add(1)); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					failed.Store(true)
					break
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return lat, time.Since(start), first
}

// rebind turns ? placeholders into PostgreSQL's $n.
func rebind(driver, q string) string {
	if driver != config.DriverPostgres {
		return q
	}
	var sb strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			sb.WriteString("$" + strconv.Itoa(n))
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// rawCreateRequest is what the raw create handler decodes.
type rawCreateRequest struct {
	Name           string          `json:"name"`
	Description    string          `json:"description"`
	Type           string          `json:"type"`
	TargetingRules json.RawMessage `json:"targetingRules"`
	StartDate      time.Time       `json:"startDate"`
	EndDate        *time.Time      `json:"endDate"`
	Budget         struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	} `json:"budget"`
	Settings json.RawMessage `json:"settings"`
}

// rawCreateHandler is the comparator of create: decode the body, insert the campaign row and
// its outbox row in one transaction, answer 201 with the campaign as JSON.
func rawCreateHandler(db *sql.DB, driver string) http.Handler {
	insCampaign := rebind(driver, `INSERT INTO campaigns (id, name, description, status, type, targeting_rules,
start_date, end_date, budget_amount, budget_currency, created_by, created_at, updated_at, settings, version)
VALUES (?, ?, ?, 'DRAFT', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`)
	insEvent := rebind(driver, `INSERT INTO outbox_events (id, aggregate_id, type, version, actor, correlation_id,
occurred_at, payload, data_schema) VALUES (?, ?, 'CampaignCreated', 1, ?, ?, ?, ?, '')`)
	actor := uuid.MustParse(userA)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in rawCreateRequest
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, eid := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
		now := time.Now().UTC()
		out := map[string]any{"id": id, "name": in.Name, "description": in.Description, "status": "DRAFT",
			"type": in.Type, "targetingRules": in.TargetingRules, "startDate": in.StartDate, "endDate": in.EndDate,
			"budget": in.Budget, "settings": in.Settings, "createdBy": actor, "createdAt": now, "updatedAt": now, "version": 1}
		payload, err := json.Marshal(map[string]any{"campaign": out})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		err = func() error {
			tx, err := db.BeginTx(r.Context(), nil)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }()
			if _, err := tx.ExecContext(r.Context(), insCampaign, id, in.Name, in.Description, in.Type, string(in.TargetingRules),
				in.StartDate, in.EndDate, in.Budget.Amount, in.Budget.Currency, actor, now, now, string(in.Settings)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(r.Context(), insEvent, eid, id, actor, "", now, string(payload)); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(out)
	})
}

// BenchmarkHotCreate: POST /api/v1/campaigns (the campaign row and its CampaignCreated event
// in one transaction; create writes no history row) against rawCreateHandler, on SQLite and
// on PostgreSQL, 16 clients.
func BenchmarkHotCreate(b *testing.B) {
	for _, tg := range []struct {
		name string
		make func(testing.TB) dbtest.Target
	}{{"sqlite", dbtest.SQLiteTarget}, {"postgres", dbtest.PostgresTarget}} {
		b.Run(tg.name, func(b *testing.B) {
			target := tg.make(b)
			s := apptest.New(b, target, apptest.ServerConfig{Configure: hotConfigure("")})
			db := s.API.DB.DB
			if target.Driver == config.DriverPostgres {
				// Its own pool, as large as the product's.
				var err error
				if db, err = sql.Open("pgx/v5", target.URL); err != nil {
					b.Fatal(err)
				}
				db.SetMaxOpenConns(target.Pool.MaxOpenConns)
				db.SetMaxIdleConns(target.Pool.MaxOpenConns)
				b.Cleanup(func() { _ = db.Close() })
			}
			rawSrv := httptest.NewServer(rawCreateHandler(db, target.Driver))
			b.Cleanup(rawSrv.Close)
			client := hotClient(b, hotCreateConns)
			run := uuid.NewString()[:8]
			body := func(i int64) []byte {
				raw, _ := json.Marshal(validBody(fmt.Sprintf("Hot %s %d", run, i)))
				return raw
			}
			duel(b, hotCreateConns,
				&side{name: "raw", do: func(i int64) error {
					return hotPost(client, rawSrv.URL, body(i), nil, http.StatusCreated)
				}},
				&side{name: "api", do: func(i int64) error {
					return hotPost(client, s.URL+"/api/v1/campaigns", body(i), nil, http.StatusCreated)
				}})
		})
	}
}

// rawTrackHandler is the comparator of /track: publish the body as it came to the campaign's
// partition subject with the event id the client names, wait for JetStream's ack, answer 202.
func rawTrackHandler(js jetstream.JetStream, partitions int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		cid, err := uuid.Parse(r.URL.Query().Get("campaign"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		eid := r.Header.Get("X-Event-ID")
		msg := &nats.Msg{Subject: metrics.PartitionSubject(cid, partitions), Data: body, Header: nats.Header{jetstream.MsgIDHeader: []string{eid}}}
		if _, err := js.PublishMsg(r.Context(), msg); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"accepted":1,"eventIds":["`+eid+`"],"rejected":[]}`)
	})
}

// BenchmarkHotTrack: POST /api/v1/campaigns/{id}/track with one event, 64 clients, against
// rawTrackHandler, on JetStream (embedded server on loopback) and PostgreSQL, then SQLite.
func BenchmarkHotTrack(b *testing.B) {
	for _, tg := range []struct {
		name string
		make func(testing.TB) dbtest.Target
	}{{"postgres", dbtest.PostgresTarget}, {"sqlite", dbtest.SQLiteTarget}} {
		b.Run(tg.name, func(b *testing.B) {
			target := tg.make(b)
			ns := natstest.NewServer(b)
			s := apptest.New(b, target, apptest.ServerConfig{Configure: hotConfigure(ns.URL())})
			ids := hotActiveCampaigns(b, s, 100)
			_, js := connectNATS(b, ns.URL())
			rawSrv := httptest.NewServer(rawTrackHandler(js, s.API.Config.Metrics.Partitions))
			b.Cleanup(rawSrv.Close)
			client := hotClient(b, trackClients)
			event := func(i int64) (string, string, []byte) {
				eid := uuid.NewString()
				return ids[i%int64(len(ids))], eid,
					fmt.Appendf(nil, `{"eventId":%q,"type":"CLICK","variant":"A","channel":"EMAIL"}`, eid)
			}
			duel(b, trackClients,
				&side{name: "raw", do: func(i int64) error {
					cid, eid, body := event(i)
					return hotPost(client, rawSrv.URL+"/?campaign="+cid, body, map[string]string{"X-Event-ID": eid}, http.StatusAccepted)
				}},
				&side{name: "api", do: func(i int64) error {
					cid, _, body := event(i)
					return hotPost(client, s.URL+"/api/v1/campaigns/"+cid+"/track", body, nil, http.StatusAccepted)
				}})
		})
	}
}

// hotActiveCampaigns inserts n ACTIVE campaigns (EMAIL and PUSH, variants A and B) by SQL.
func hotActiveCampaigns(b *testing.B, s *apptest.Server, n int) []string {
	b.Helper()
	db := s.API.DB
	ids := make([]string, n)
	now := time.Now().UTC()
	for i := range ids {
		id := uuid.New()
		ids[i] = id.String()
		_, err := db.ExecContext(context.Background(), `INSERT INTO campaigns (id, name, description, status, type,
targeting_rules, start_date, end_date, budget_amount, budget_currency, created_by, created_at, updated_at, settings, version)
VALUES (?, ?, 'benchmark', 'ACTIVE', 'PROMOTION', '[]', ?, NULL, 1000000000, 'EUR', ?, ?, ?, ?, 1)`,
			id, fmt.Sprintf("Track %s %d", ids[i][:8], i), now.Add(-30*24*time.Hour), uuid.MustParse(userA), now, now, benchCampaignSettings)
		if err != nil {
			b.Fatalf("seed campaign: %v", err)
		}
	}
	return ids
}
