// Package auth authenticates API callers (JWT bearer tokens, API keys, or, on loopback only,
// nobody) and authorises them by role against one table of route permissions.
//
// Authentication runs first and never rejects by itself: it records the caller (a Principal)
// or why its credentials failed, so that the rate limiter can key on the caller; Authorize
// then answers 401 (with WWW-Authenticate) or 403, both problem+json. The caller's subject (a
// token's sub, an API key's owner) becomes the actor of the request, so authorship, history,
// domain events and the approval rules name it.
package auth

import (
	"context"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Role is a named set of permissions.
type Role string

// The roles. A caller may hold several.
const (
	RoleViewer  Role = "viewer"  // reads campaigns, their history, events, metrics; evaluates targeting
	RoleEditor  Role = "editor"  // viewer + create, replace, delete, submit for approval, export
	RoleManager Role = "manager" // viewer + lifecycle actions, submit for approval, approve, reject, export
	RoleAnalyst Role = "analyst" // viewer + export + the customers a campaign reached (personal data)
	RoleTracker Role = "tracker" // sends tracking events, nothing else
	RoleMonitor Role = "monitor" // scrapes /metrics when it is protected, nothing else
	RoleAdmin   Role = "admin"   // everything
)

// Roles lists every role.
func Roles() []Role {
	return []Role{RoleViewer, RoleEditor, RoleManager, RoleAnalyst, RoleTracker, RoleMonitor, RoleAdmin}
}

// ParseRole returns the role named s (case-insensitive).
func ParseRole(s string) (Role, bool) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	return r, slices.Contains(Roles(), r)
}

// Permission is what a route requires.
type Permission string

// The permissions. Public routes need no credentials at all.
const (
	Public             Permission = "public"
	CampaignsRead      Permission = "campaigns:read"
	CampaignsWrite     Permission = "campaigns:write"
	CampaignsLifecycle Permission = "campaigns:lifecycle"
	// CampaignsSubmit submits a campaign for approval: editors (who write campaigns) and
	// managers (who run them) hold it. Approving and rejecting is campaigns:lifecycle.
	CampaignsSubmit Permission = "campaigns:submit"
	// CampaignsExport takes every campaign away in one request (GET /campaigns/export): each
	// one's definition, its author's user id and, on request, its revenue and cost. The
	// broad read-only viewer role does not hold it; editors, managers and analysts do.
	CampaignsExport Permission = "campaigns:export"
	// CustomersRead reads customer-level data, which is personal data: the customer ids a
	// campaign reached and when (GET /campaigns/{id}/audience). Only analysts and admins
	// hold it.
	CustomersRead     Permission = "customers:read"
	TrackingWrite     Permission = "tracking:write"
	TargetingEvaluate Permission = "targeting:evaluate"
	MetricsRead       Permission = "metrics:read"
)

// Permissions lists every permission that needs credentials.
func Permissions() []Permission {
	return []Permission{CampaignsRead, CampaignsWrite, CampaignsLifecycle, CampaignsSubmit, CampaignsExport,
		CustomersRead, TrackingWrite, TargetingEvaluate, MetricsRead}
}

// Grants is the role table: the permissions each role holds.
func Grants(r Role) []Permission {
	switch r {
	case RoleViewer:
		return []Permission{CampaignsRead, TargetingEvaluate}
	case RoleEditor:
		return []Permission{CampaignsRead, TargetingEvaluate, CampaignsWrite, CampaignsSubmit, CampaignsExport}
	case RoleManager:
		return []Permission{CampaignsRead, TargetingEvaluate, CampaignsLifecycle, CampaignsSubmit, CampaignsExport}
	case RoleAnalyst:
		return []Permission{CampaignsRead, TargetingEvaluate, CampaignsExport, CustomersRead}
	case RoleTracker:
		return []Permission{TrackingWrite}
	case RoleMonitor:
		return []Permission{MetricsRead}
	case RoleAdmin:
		return Permissions()
	default:
		return nil
	}
}

// Principal is an authenticated caller.
type Principal struct {
	// Subject is the caller's user id: the JWT's sub, an API key's owner (the user who holds
	// it), or the X-User-ID header in mode none. uuid.Nil for an anonymous caller.
	Subject uuid.UUID
	// Method is how the caller proved it: "jwt", "apikey", "header" or "anonymous".
	Method string
	// Name identifies the caller for rate limits and logs (never a credential): the subject,
	// or the API key's name.
	Name  string
	Roles []Role
}

// Can reports whether one of p's roles grants perm.
func (p *Principal) Can(perm Permission) bool {
	if perm == Public {
		return true
	}
	for _, r := range p.Roles {
		if slices.Contains(Grants(r), perm) {
			return true
		}
	}
	return false
}

type ctxKey int

const (
	principalKey ctxKey = iota
	failureKey
)

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFrom is the authenticated caller of ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey).(*Principal)
	return p
}
