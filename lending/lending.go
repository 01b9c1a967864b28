package lending

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/gowebpki/jcs"
)

// Product is a financing product (GLOSSARY).
type Product string

const (
	OrderFinancing       Product = "order_financing"       // 訂單融資
	ProcurementFinancing Product = "procurement_financing" // 代採通
	CreditSales          Product = "credit_sales"          // 賒銷寶
	AdSpendLoan          Product = "ad_spend_loan"         // 投流貸, capped by the live limit
)

// Products lists every product in a stable order.
var Products = []Product{OrderFinancing, ProcurementFinancing, CreditSales, AdSpendLoan}

// Valid reports whether p is one of Products.
func (p Product) Valid() bool { return slices.Contains(Products, p) }

// Scope is a kind of the merchant's data a consent lets leave the exchange.
type Scope string

const (
	// ScopeScore: the credit decision — score, grade, PD, line and reasons. Offers
	// are made only under a consent with this scope.
	ScopeScore Scope = "score"
	// ScopeFeatures: the feature values the decision was computed on; the
	// institution's rules may then read them.
	ScopeFeatures Scope = "features"
	// ScopeOrders: the attested order data. Lending itself discloses none; the
	// capability that serves order data asks Consented before it does.
	ScopeOrders Scope = "orders"
)

// Scopes lists every scope in a stable order.
var Scopes = []Scope{ScopeScore, ScopeFeatures, ScopeOrders}

// Grades are the risk grades, best first.
var Grades = []string{"A", "B", "C", "D", "E"}

// CreditView is what lending needs of a credit decision. The credit capability
// hands it to Publish in the decision's own transaction.
type CreditView struct {
	DecisionID  string         `json:"decision_id"`
	MerchantID  string         `json:"merchant_id"`
	DecidedAt   time.Time      `json:"decided_at"`
	ModelID     string         `json:"model_id"`
	FeatureHash string         `json:"feature_hash"`
	Score       int            `json:"score" doc:"points"`
	PD          float64        `json:"pd" doc:"probability of default, 0 to 1"`
	Grade       string         `json:"grade" enum:"A,B,C,D,E"`
	Line        dataport.Money `json:"line" doc:"the credit line (CNY)"`
	Reasons     []string       `json:"reasons" doc:"human-readable reason codes, most important first"`
	FilingSeq   int64          `json:"filing_seq" doc:"the filing of the credit decision"`
	// Features are the feature values the decision was computed on, by name;
	// optional. They leave the exchange only under a consent with scope features,
	// and only then may an institution's rules read them.
	Features map[string]float64 `json:"features,omitempty"`
}

// LiveLimits tells the live limit of a merchant's ad-spend loans (投流貸), sized
// from its live-room order data. ok is false when the merchant has none.
type LiveLimits interface {
	LiveLimitIn(tx *store.Tx, merchantID string) (limit dataport.Money, ok bool, err error)
}

// Options adjust the service. The zero value is right for production.
type Options struct {
	// LiveLimits, when set, caps every ad_spend_loan application at the merchant's
	// live limit; an ad-spend loan is then refused to a merchant without one.
	LiveLimits LiveLimits
	// MaxConsent is the longest a consent may run (default one year, 366 days).
	MaxConsent time.Duration
}

// Service is the lending capability: consent, subscriptions, offers, applications,
// loans, repayments and overdue.
type Service struct {
	db   *store.DB
	reg  *registry.Service
	opts Options

	// Compiled rule sets by subscription id and rules version: compiling CEL is
	// far dearer than evaluating it, and a version never changes.
	mu       sync.Mutex
	compiled map[ruleSetKey]*ruleSet
}

type ruleSetKey struct {
	subscription string
	version      int64
}

// New returns the service over db.
func New(db *store.DB, reg *registry.Service, opts Options) *Service {
	if opts.MaxConsent <= 0 {
		opts.MaxConsent = 366 * 24 * time.Hour
	}
	return &Service{db: db, reg: reg, opts: opts, compiled: map[ruleSetKey]*ruleSet{}}
}

// seesAll reports whether actor reads every record of the capability: the
// operator and regulators (supervision of lending is their business).
func seesAll(actor dataport.Actor) bool {
	return actor.Has(dataport.RoleOperator, dataport.RoleRegulator)
}

// reader is who reads a lending record, checked once per call.
type reader struct {
	actor       dataport.Actor
	all         bool // operator or regulator
	merchant    bool // acts in its merchant role
	institution bool // acts in its financial institution role
}

// sees reports whether the reader may see a record of merchantID and institutionID.
func (r reader) sees(merchantID, institutionID string) bool {
	return r.all || r.merchant && r.actor.ParticipantID == merchantID ||
		r.institution && r.actor.ParticipantID == institutionID
}

// mayRead checks that actor may read lending records at all: authenticated, its
// participant still registered, and acting as a merchant, a financial institution,
// the operator or a regulator. A suspended participant reads its own records, as
// everywhere on the exchange (README, "The API in brief"): the suspension stops
// its changes (mayActAs), not its view of what it is party to.
func mayRead(tx *store.Tx, op string, actor dataport.Actor) (reader, error) {
	if err := registry.MayAct(tx, op, actor); err != nil && dataport.KindOf(err) != dataport.KindForbidden {
		return reader{}, err // anonymous, a participant no longer registered, the database away
	}
	r := reader{actor: actor, all: seesAll(actor), merchant: actor.Has(dataport.RoleMerchant),
		institution: actor.Has(dataport.RoleFinancialInstitution)}
	if !r.all && !r.merchant && !r.institution {
		return reader{}, dataport.Errorf(op, dataport.KindForbidden, "lending is for merchants, financial institutions, the operator and regulators")
	}
	return r, nil
}

// mayActAs checks that actor may change things now, acting in role.
func mayActAs(tx *store.Tx, op string, actor dataport.Actor, role dataport.Role) error {
	if err := registry.MayAct(tx, op, actor); err != nil {
		return err
	}
	if actor.IsSystem() || !actor.Has(role) {
		return dataport.Errorf(op, dataport.KindForbidden, "this needs the %s role", role)
	}
	return nil
}

// canonicalSHA256 returns v as RFC 8785 canonical JSON and the hex SHA-256 of it.
func canonicalSHA256(v any) ([]byte, string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, "", err
	}
	c, err := jcs.Transform(raw)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(c)
	return c, hex.EncodeToString(sum[:]), nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only values of this package's own types are marshalled
	}
	return string(b)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// forUpdate locks the rows a query reads — of the tables named, or all — on
// PostgreSQL, where several replicas may write at once; SQLite's write
// transaction holds the whole database already.
func forUpdate(tx *store.Tx, of ...string) string {
	if tx.Engine() != store.Postgres {
		return ""
	}
	if len(of) > 0 {
		return " FOR UPDATE OF " + strings.Join(of, ", ")
	}
	return " FOR UPDATE"
}

// page bounds a list's size: 100 when 0, 1,000 at most.
func page(limit int) int {
	if limit <= 0 {
		return 100
	}
	return min(limit, 1000)
}

func parseTimes(dst []*time.Time, src ...string) error {
	for i, s := range src {
		t, err := store.ParseTime(s)
		if err != nil {
			return err
		}
		*dst[i] = t
	}
	return nil
}
