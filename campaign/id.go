package campaign

import (
	"fmt"

	"github.com/google/uuid"
)

// ID identifies a campaign.
type ID uuid.UUID

// UserID identifies the person or system acting on a campaign.
type UserID uuid.UUID

// RuleID identifies a rule held by the external Rules Engine.
type RuleID uuid.UUID

// NewID returns a fresh, time-ordered campaign id (UUIDv7), which keeps index inserts local.
func NewID() ID { return ID(uuid.Must(uuid.NewV7())) }

// ParseID parses the canonical form of a campaign id.
func ParseID(s string) (ID, error) {
	u, err := parseCanonical(s)
	return ID(u), err
}

// ParseUserID parses the canonical form of a user id.
func ParseUserID(s string) (UserID, error) {
	u, err := parseCanonical(s)
	return UserID(u), err
}

// ParseRuleID parses the canonical form of a rule id.
func ParseRuleID(s string) (RuleID, error) {
	u, err := parseCanonical(s)
	return RuleID(u), err
}

// parseCanonical accepts only the 36-character xxxxxxxx-xxxx-... form, not the braced, URN
// or unhyphenated forms uuid.Parse also takes: one id, one spelling.
func parseCanonical(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, fmt.Errorf("invalid UUID %q: want the 36-character form", s)
	}
	return uuid.Parse(s)
}

func (id ID) String() string     { return uuid.UUID(id).String() }
func (id UserID) String() string { return uuid.UUID(id).String() }
func (id RuleID) String() string { return uuid.UUID(id).String() }

// IsZero reports whether the id is the nil UUID.
func (id UserID) IsZero() bool { return uuid.UUID(id) == uuid.Nil }

func (id ID) MarshalText() ([]byte, error)     { return uuid.UUID(id).MarshalText() }
func (id UserID) MarshalText() ([]byte, error) { return uuid.UUID(id).MarshalText() }
func (id RuleID) MarshalText() ([]byte, error) { return uuid.UUID(id).MarshalText() }

func (id *ID) UnmarshalText(b []byte) error     { return (*uuid.UUID)(id).UnmarshalText(b) }
func (id *UserID) UnmarshalText(b []byte) error { return (*uuid.UUID)(id).UnmarshalText(b) }
func (id *RuleID) UnmarshalText(b []byte) error { return (*uuid.UUID)(id).UnmarshalText(b) }
