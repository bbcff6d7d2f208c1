package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// writeFixtures is the number of campaigns kept for updates, and as many for pause/resume.
const writeFixtures = 4

// setup makes the run's fixtures: Campaigns for reads and tracking, writeFixtures DRAFTs for
// updates and writeFixtures for lifecycle actions, then activates the first and, when the
// deployment allows it, the others. It returns a note when activation was refused.
func (p *plan) setup(ctx context.Context, c *client, cfg Config) (string, error) {
	now := time.Now().UTC().Truncate(time.Second)
	start, end := now.Format(time.RFC3339), now.AddDate(0, 0, 30).Format(time.RFC3339)
	mk := func(kind string, i int) (*fixture, error) {
		f := &fixture{name: fmt.Sprintf("%s-%s-%02d", p.run, kind, i), rule: cfg.RuleID, start: start, end: end}
		resp, err := c.do(ctx, http.MethodPost, "/api/v1/campaigns", fixtureBody(f, p.run, "fixture", 1_000_000))
		if err != nil {
			return nil, fmt.Errorf("create fixture campaign: %w", err)
		}
		var body struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(resp.Body, &body); err != nil || body.ID == "" {
			return nil, fmt.Errorf("create fixture campaign: no id in the answer %.200q", resp.Body)
		}
		f.id, f.status, f.version = body.ID, body.Status, etagVersion(resp.Header)
		p.add(f)
		return f, nil
	}
	for i := range cfg.Campaigns {
		f, err := mk("read", i+1)
		if err != nil {
			return "", err
		}
		p.reads = append(p.reads, f)
	}
	for i := range writeFixtures {
		f, err := mk("edit", i+1)
		if err != nil {
			return "", err
		}
		p.updates = append(p.updates, f)
		if f, err = mk("life", i+1); err != nil {
			return "", err
		}
		p.lifecycles = append(p.lifecycles, f)
	}

	toActivate := append(slices.Clone(p.reads), p.lifecycles...)
	for i, f := range toActivate {
		resp, err := c.do(ctx, http.MethodPost, "/api/v1/campaigns/"+f.id+"/activate", nil,
			"If-Match", fmt.Sprintf("%q", fmt.Sprint(f.version)))
		var ae *apiError
		if i == 0 && errors.As(err, &ae) && ae.Status >= 400 && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusForbidden {
			// The deployment's guards refuse it (a Rules Engine that does not know the rule, an
			// ended date...): the run goes on with DRAFT campaigns, which accept tracking too.
			return fmt.Sprintf("fixtures stay DRAFT: activation was refused (%v); tracking goes to DRAFT campaigns "+
				"(the API accepts their events) and lifecycle requests are activation dry runs; "+
				"give -rule an ACTIVE targeting rule of the Rules Engine to activate them", err), nil
		}
		if err != nil {
			return "", fmt.Errorf("activate fixture campaign: %w", err)
		}
		f.status, f.version = "ACTIVE", etagVersion(resp.Header)
	}
	p.activated = true
	return "", nil
}

// cleanup deletes every campaign of the run: the fixtures, the ones create answered and any
// other whose name carries the run id (a create whose answer was lost). ACTIVE and PAUSED
// ones are cancelled first, since only DRAFT, COMPLETED and CANCELLED campaigns can be
// deleted. It returns how many it deleted.
func (p *plan) cleanup(ctx context.Context, c *client) (int, error) {
	status := map[string]string{}
	p.mu.Lock()
	for _, f := range p.all {
		status[f.id] = f.status
	}
	for _, id := range p.created {
		status[id] = "DRAFT"
	}
	p.mu.Unlock()
	var errs []error
	cursor := ""
	for {
		q := url.Values{"q": {p.run}, "limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		resp, err := c.do(ctx, http.MethodGet, "/api/v1/campaigns?"+q.Encode(), nil)
		if err != nil {
			errs = append(errs, err)
			break
		}
		var page struct {
			Campaigns []struct {
				ID     string `json:"id"`
				Name   string `json:"name"`
				Status string `json:"status"`
			} `json:"campaigns"`
			NextCursor *string `json:"nextCursor"`
		}
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			errs = append(errs, fmt.Errorf("list the run's campaigns: %w", err))
			break
		}
		for _, cp := range page.Campaigns {
			if strings.HasPrefix(cp.Name, p.run+"-") {
				status[cp.ID] = cp.Status
			}
		}
		if page.NextCursor == nil || *page.NextCursor == "" {
			break
		}
		cursor = *page.NextCursor
	}
	deleted := 0
	for id, st := range status {
		if st == "ACTIVE" || st == "PAUSED" {
			if _, err := c.do(ctx, http.MethodPost, "/api/v1/campaigns/"+id+"/cancel",
				map[string]string{"reason": "load test cleanup"}); err != nil {
				var ae *apiError
				// 409: it changed status since (already final); the delete below says.
				if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
					errs = append(errs, err)
					continue
				}
			}
		}
		_, err := c.do(ctx, http.MethodDelete, "/api/v1/campaigns/"+id, nil)
		var ae *apiError
		switch {
		case err == nil:
			deleted++
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		default:
			errs = append(errs, err)
		}
	}
	return deleted, errors.Join(errs...)
}
