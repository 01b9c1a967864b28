// Package dataport holds the shared vocabulary of the dataport data exchange: the
// caller of every service (Actor), roles, identifiers, money, the clock, and the one
// error type every capability returns.
//
// Capabilities live in their own packages (registry, ledger, catalog, …) and depend on
// this package, on store for transactions and on ledger for filings; nothing here
// depends on them.
package dataport

import (
	"crypto/rand"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Role is what a participant may do on the exchange (GLOSSARY: roles).
type Role string

const (
	RoleOperator             Role = "operator"
	RoleSupplier             Role = "supplier"
	RoleAgent                Role = "agent" // domestic agent acting for a foreign supplier (international data broker)
	RoleBuyer                Role = "buyer"
	RoleAssessor             Role = "assessor"
	RoleFinancialInstitution Role = "financial_institution"
	RoleMerchant             Role = "merchant"
	RoleRegulator            Role = "regulator"
)

// Roles lists every role in a stable order.
var Roles = []Role{
	RoleOperator, RoleSupplier, RoleAgent, RoleBuyer,
	RoleAssessor, RoleFinancialInstitution, RoleMerchant, RoleRegulator,
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// SystemActorID names the exchange itself as the actor of changes no participant made
// (first-start bootstrap, scheduled jobs).
const SystemActorID = "system"

// Actor is the authenticated caller of a service method. HTTP handlers and commands
// build it; services check it next to the data they guard (ARCHITECTURE principle 3).
type Actor struct {
	ParticipantID string // empty for an anonymous caller
	KeyID         string // the API key used, empty for the system
	Roles         []Role // the key's roles: a subset of the participant's
}

// System is the actor of changes made by the exchange software itself.
var System = Actor{ParticipantID: SystemActorID, Roles: []Role{RoleOperator}}

// Anonymous reports whether no one authenticated.
func (a Actor) Anonymous() bool { return a.ParticipantID == "" }

// IsSystem reports whether a is the exchange software itself.
func (a Actor) IsSystem() bool { return a.ParticipantID == SystemActorID }

// Has reports whether the actor holds any of roles.
func (a Actor) Has(roles ...Role) bool {
	for _, have := range a.Roles {
		for _, want := range roles {
			if have == want {
				return true
			}
		}
	}
	return false
}

// China is the exchange's calendar: registration years, the rules' days and
// calendar years (R14), contract terms are counted in China Standard Time.
var China = time.FixedZone("CST", 8*3600)

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// IsCurrency reports whether code has the form of an ISO 4217 code, such as CNY.
func IsCurrency(code string) bool { return currencyCode.MatchString(code) }

// Money is an amount in integer minor units (fen, cents) of an ISO 4217 currency.
// Money is never a float (ARCHITECTURE principle 5).
type Money struct {
	Amount   int64  `json:"amount"`   // minor units
	Currency string `json:"currency"` // ISO 4217, e.g. CNY
}

// Clock tells the time. Services take one so that tests can fix it; there is no other
// source of "now" in the exchange's code.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock, in UTC.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// FixedClock is a clock for tests: it stands still until Set or Advance moves it.
type FixedClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFixedClock returns a clock standing at t.
func NewFixedClock(t time.Time) *FixedClock { return &FixedClock{t: t.UTC()} }

// Now returns the clock's time.
func (c *FixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *FixedClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t.UTC()
	c.mu.Unlock()
}

// Advance moves the clock forward by d.
func (c *FixedClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// NewID returns a new identifier: a prefix naming the kind of record ("prt" for a
// participant, "key" for an API key) and a ULID, so ids sort by creation time and say
// what they are when they turn up in a log line or a filing.
func NewID(prefix string) string {
	return prefix + "_" + strings.ToLower(ulid.MustNew(ulid.Now(), rand.Reader).String())
}

// Bilingual is a text the exchange shows in Chinese and in English.
// Either may be empty where only one language exists; the console then shows the other.
type Bilingual struct {
	Zh string `json:"zh" required:"false" maxLength:"2000"`
	En string `json:"en" required:"false" maxLength:"2000"`
}
