package lending

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Currency is the currency of lending: credit lines are in CNY, and so are the
// offers and loans made on them.
const Currency = "CNY"

// Criteria select the credit decisions an institution wants offers on.
type Criteria struct {
	Product Product        `json:"product" enum:"order_financing,procurement_financing,credit_sales,ad_spend_loan"`
	Grades  []string       `json:"grades,omitempty" maxItems:"5" doc:"risk grades A–E; any when empty"`
	MinLine dataport.Money `json:"min_line" doc:"the least credit line, CNY"`
	MaxLine dataport.Money `json:"max_line" doc:"the greatest credit line, CNY"`
	Sectors []string       `json:"sectors,omitempty" maxItems:"50" doc:"merchant categories (the registry's merchant_category); any when empty"`
}

// Terms are what the institution offers.
type Terms struct {
	MaxAmount         dataport.Money `json:"max_amount" doc:"the most lent on one offer, CNY; an offer is for min(line, max_amount)"`
	RateBPS           int64          `json:"rate_bps" minimum:"0" maximum:"2400" doc:"annual interest rate, basis points (1,000 = 10 %)"`
	TermDays          int            `json:"term_days" minimum:"1" maximum:"365"`
	RepaymentShareBPS int64          `json:"repayment_share_bps" minimum:"1" maximum:"10000" doc:"share of each settling receivable taken to repay, basis points"`
	OfferValidDays    int            `json:"offer_valid_days" minimum:"1" maximum:"30"`
}

// NewSubscription is what an institution subscribes with.
type NewSubscription struct {
	Criteria Criteria `json:"criteria"`
	Terms    Terms    `json:"terms"`
	Rules    []Rule   `json:"rules,omitempty" maxItems:"50" doc:"decision rules, all of which an application must meet"`
}

// Subscription is an institution's standing request for offers, with its terms and
// decision rules.
type Subscription struct {
	ID            string    `json:"id"`
	InstitutionID string    `json:"institution_id"`
	Criteria      Criteria  `json:"criteria"`
	Terms         Terms     `json:"terms"`
	Rules         []Rule    `json:"rules"`
	RulesVersion  int64     `json:"rules_version" doc:"1 at creation, one more at every change of the rules"`
	RulesSHA256   string    `json:"rules_sha256" doc:"SHA-256 of the rules' RFC 8785 canonical JSON"`
	Status        string    `json:"status" enum:"active,paused,cancelled"`
	CreatedBy     string    `json:"created_by"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	Version       int64     `json:"version"`
}

const (
	maxLineAmount  = 1_000_000_000_000_000 // 10^15 minor units, as order amounts
	maxOfferAmount = 1_000_000_000_000     // 10^12 minor units: ten billion yuan
	maxRateBPS     = 2400
	maxTermDays    = 365
	maxValidDays   = 30
	maxSectors     = 50
)

func checkMoney(p *dataport.Problems, field string, m dataport.Money, min, max int64) {
	if m.Currency != Currency {
		p.Add(field+".currency", "CNY: credit lines and loans are in CNY")
	}
	if m.Amount < min || m.Amount > max {
		p.Add(field+".amount", "from %d to %d minor units", min, max)
	}
}

func (n *NewSubscription) validate(op string) (*ruleSet, error) {
	var p dataport.Problems
	c, t := &n.Criteria, &n.Terms
	if !c.Product.Valid() {
		p.Add("criteria.product", "one of order_financing, procurement_financing, credit_sales, ad_spend_loan")
	}
	if len(c.Grades) > len(Grades) {
		p.Add("criteria.grades", "at most the five grades A–E")
	}
	for i, g := range c.Grades {
		switch {
		case !slices.Contains(Grades, g):
			p.Add(fmt.Sprintf("criteria.grades[%d]", i), "%q is not a grade: A, B, C, D or E", g)
		case slices.Index(c.Grades, g) < i:
			p.Add(fmt.Sprintf("criteria.grades[%d]", i), "%s is named twice", g)
		}
	}
	checkMoney(&p, "criteria.min_line", c.MinLine, 0, maxLineAmount)
	checkMoney(&p, "criteria.max_line", c.MaxLine, 1, maxLineAmount)
	if c.MaxLine.Amount < c.MinLine.Amount {
		p.Add("criteria.max_line.amount", "not less than min_line")
	}
	if len(c.Sectors) > maxSectors {
		p.Add("criteria.sectors", "at most %d sectors", maxSectors)
	}
	for i := range c.Sectors {
		c.Sectors[i] = strings.TrimSpace(c.Sectors[i])
		sec := c.Sectors[i]
		switch {
		case sec == "" || utf8.RuneCountInString(sec) > 64 || !utf8.ValidString(sec):
			p.Add(fmt.Sprintf("criteria.sectors[%d]", i), "a merchant category of 1 to 64 characters")
		case slices.Index(c.Sectors, sec) < i:
			p.Add(fmt.Sprintf("criteria.sectors[%d]", i), "%q is named twice", sec)
		}
	}
	checkMoney(&p, "terms.max_amount", t.MaxAmount, 1, maxOfferAmount)
	if t.RateBPS < 0 || t.RateBPS > maxRateBPS {
		p.Add("terms.rate_bps", "from 0 to %d basis points a year", maxRateBPS)
	}
	if t.TermDays < 1 || t.TermDays > maxTermDays {
		p.Add("terms.term_days", "from 1 to %d days", maxTermDays)
	}
	if t.RepaymentShareBPS < 1 || t.RepaymentShareBPS > 10_000 {
		p.Add("terms.repayment_share_bps", "from 1 to 10,000 basis points of each settling receivable")
	}
	if t.OfferValidDays < 1 || t.OfferValidDays > maxValidDays {
		p.Add("terms.offer_valid_days", "from 1 to %d days", maxValidDays)
	}
	rs := checkRules("rules", n.Rules, &p)
	return rs, p.Err(op)
}

// CreateSubscription subscribes the acting institution (role financial_institution)
// to offers on the credit decisions its criteria match, on its terms, decided by
// its rules. The rules are compiled at once: a rule that does not compile, or is
// not a condition, is refused naming its field (rules[i].expr). Filed as
// lending.subscription_created with the rules' SHA-256 — the rules themselves are
// the institution's credit policy and stay out of the public log.
//
// Errors: KindInvalid naming each wrong field; KindForbidden for a caller that is
// suspended or not acting as a financial institution; KindUnauthorized.
func (s *Service) CreateSubscription(ctx context.Context, actor dataport.Actor, n NewSubscription) (Subscription, error) {
	const op = "lending.CreateSubscription"
	n.Criteria.Grades = slices.Clone(n.Criteria.Grades)
	n.Criteria.Sectors = slices.Clone(n.Criteria.Sectors)
	n.Rules = slices.Clone(n.Rules)
	var sub Subscription
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayActAs(tx, op, actor, dataport.RoleFinancialInstitution); err != nil {
			return err
		}
		rs, err := n.validate(op)
		if err != nil {
			return err
		}
		if n.Criteria.Grades == nil {
			n.Criteria.Grades = []string{}
		}
		if n.Criteria.Sectors == nil {
			n.Criteria.Sectors = []string{}
		}
		if n.Rules == nil {
			n.Rules = []Rule{}
		}
		_, sum, err := canonicalSHA256(n.Rules)
		if err != nil {
			return dataport.Internal(op, err)
		}
		now := tx.Now()
		sub = Subscription{ID: dataport.NewID("sub"), InstitutionID: actor.ParticipantID, Criteria: n.Criteria, Terms: n.Terms,
			Rules: n.Rules, RulesVersion: 1, RulesSHA256: sum, Status: "active", CreatedBy: actor.ParticipantID,
			CreatedAt: now, UpdatedAt: now, Version: 1}
		c, t := sub.Criteria, sub.Terms
		if _, err := tx.Exec(`INSERT INTO lending_subscriptions (id, institution_id, product, grades, min_line, max_line, sectors,
			currency, max_amount, rate_bps, term_days, repayment_share_bps, offer_valid_days, rules, rules_version, rules_sha256,
			status, created_by, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, 'active', $16, $17, $17, 1)`,
			sub.ID, sub.InstitutionID, string(c.Product), mustJSON(c.Grades), c.MinLine.Amount, c.MaxLine.Amount, mustJSON(c.Sectors),
			Currency, t.MaxAmount.Amount, t.RateBPS, t.TermDays, t.RepaymentShareBPS, t.OfferValidDays, mustJSON(sub.Rules), sum,
			sub.CreatedBy, store.FormatTime(now)); err != nil {
			return dataport.Internal(op, err)
		}
		s.remember(sub.ID, 1, rs)
		return fileSubscription(tx, actor, "lending.subscription_created", &sub, nil)
	})
	if err != nil {
		return Subscription{}, err
	}
	return sub, nil
}

func (s *Service) remember(id string, version int64, rs *ruleSet) {
	s.mu.Lock()
	s.compiled[ruleSetKey{id, version}] = rs
	s.mu.Unlock()
}

func fileSubscription(tx *store.Tx, actor dataport.Actor, typ string, sub *Subscription, extra map[string]any) error {
	payload := map[string]any{"subscription_id": sub.ID, "institution_id": sub.InstitutionID, "criteria": sub.Criteria,
		"terms": sub.Terms, "status": sub.Status, "rules_version": sub.RulesVersion, "rules_sha256": sub.RulesSHA256,
		"rules": len(sub.Rules)}
	for k, v := range extra {
		payload[k] = v
	}
	_, err := ledger.File(tx, actor, ledger.Change{Type: typ, Subjects: []string{sub.ID, sub.InstitutionID}, Payload: payload})
	return err
}

// SetRules replaces a subscription's decision rules (the institution itself):
// a new rules version, compiled at once like CreateSubscription's. Applications
// decided before keep the version they were decided by. Filed as
// lending.subscription_rules_changed.
//
// Errors: KindInvalid naming the wrong rules (rules[i].expr …); KindNotFound for
// another institution's subscription; KindConflict for a cancelled one;
// KindForbidden, KindUnauthorized.
func (s *Service) SetRules(ctx context.Context, actor dataport.Actor, id string, rules []Rule) (Subscription, error) {
	const op = "lending.SetRules"
	rules = slices.Clone(rules)
	var p dataport.Problems
	rs := checkRules("rules", rules, &p)
	if err := p.Err(op); err != nil {
		return Subscription{}, err
	}
	if rules == nil {
		rules = []Rule{}
	}
	return s.changeSubscription(ctx, op, actor, id, false, func(tx *store.Tx, sub *Subscription) (string, error) {
		if sub.Status == "cancelled" {
			return "", dataport.Errorf(op, dataport.KindConflict, "subscription %s is cancelled", id)
		}
		_, sum, err := canonicalSHA256(rules)
		if err != nil {
			return "", err
		}
		sub.Rules, sub.RulesVersion, sub.RulesSHA256 = rules, sub.RulesVersion+1, sum
		if _, err := tx.Exec(`UPDATE lending_subscriptions SET rules = $2, rules_version = $3, rules_sha256 = $4 WHERE id = $1`,
			sub.ID, mustJSON(rules), sub.RulesVersion, sum); err != nil {
			return "", err
		}
		s.remember(sub.ID, sub.RulesVersion, rs)
		return "lending.subscription_rules_changed", nil
	})
}

// PauseSubscription stops new offers to the subscription (the institution, or the
// operator); its open offers stand until they expire. Filed.
//
// Errors: KindNotFound; KindConflict unless it is active; KindForbidden,
// KindUnauthorized.
func (s *Service) PauseSubscription(ctx context.Context, actor dataport.Actor, id string) (Subscription, error) {
	return s.setStatus(ctx, "lending.PauseSubscription", actor, id, "active", "paused", "lending.subscription_paused")
}

// ResumeSubscription makes a paused subscription active again (the institution, or
// the operator). Filed.
func (s *Service) ResumeSubscription(ctx context.Context, actor dataport.Actor, id string) (Subscription, error) {
	return s.setStatus(ctx, "lending.ResumeSubscription", actor, id, "paused", "active", "lending.subscription_resumed")
}

// CancelSubscription ends a subscription for good (the institution, or the
// operator): no more offers, and its open offers are withdrawn. Loans made on it
// are not affected. Filed.
func (s *Service) CancelSubscription(ctx context.Context, actor dataport.Actor, id string) (Subscription, error) {
	return s.setStatus(ctx, "lending.CancelSubscription", actor, id, "", "cancelled", "lending.subscription_cancelled")
}

func (s *Service) setStatus(ctx context.Context, op string, actor dataport.Actor, id, from, to, event string) (Subscription, error) {
	return s.changeSubscription(ctx, op, actor, id, true, func(tx *store.Tx, sub *Subscription) (string, error) {
		if sub.Status == "cancelled" || from != "" && sub.Status != from {
			return "", dataport.Errorf(op, dataport.KindConflict, "subscription %s is %s", id, sub.Status)
		}
		sub.Status = to
		if _, err := tx.Exec(`UPDATE lending_subscriptions SET status = $2 WHERE id = $1`, sub.ID, to); err != nil {
			return "", err
		}
		if to == "cancelled" {
			ids, err := tx.Strings(`SELECT id FROM lending_offers WHERE institution_id = $1 AND status = 'open' AND subscription_id = $2 ORDER BY id`,
				sub.InstitutionID, sub.ID)
			if err != nil {
				return "", err
			}
			for _, offerID := range ids {
				if err := withdrawOffer(tx, actor, offerID, "the institution cancelled its subscription "+sub.ID); err != nil {
					return "", err
				}
			}
		}
		return event, nil
	})
}

// changeSubscription runs fn on a subscription the actor may change — its own, as
// an institution; any, as the operator when operatorToo — then bumps its version
// and files fn's event.
func (s *Service) changeSubscription(ctx context.Context, op string, actor dataport.Actor, id string, operatorToo bool,
	fn func(tx *store.Tx, sub *Subscription) (string, error)) (Subscription, error) {
	var sub Subscription
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		operator := operatorToo && actor.Has(dataport.RoleOperator)
		if operator {
			if err := registry.MayAct(tx, op, actor); err != nil {
				return err
			}
		} else if err := mayActAs(tx, op, actor, dataport.RoleFinancialInstitution); err != nil {
			return err
		}
		var err error
		if sub, err = getSubscription(tx, op, id, true); err != nil {
			return err
		}
		if !operator && sub.InstitutionID != actor.ParticipantID {
			return noSubscription(op, id)
		}
		event, err := fn(tx, &sub)
		if err != nil {
			return dataport.Wrap(op, err)
		}
		sub.UpdatedAt, sub.Version = tx.Now(), sub.Version+1
		if _, err := tx.Exec(`UPDATE lending_subscriptions SET updated_at = $2, version = $3 WHERE id = $1`,
			sub.ID, store.FormatTime(sub.UpdatedAt), sub.Version); err != nil {
			return dataport.Internal(op, err)
		}
		return fileSubscription(tx, actor, event, &sub, nil)
	})
	if err != nil {
		return Subscription{}, err
	}
	return sub, nil
}

// SubscriptionFilter selects subscriptions. Zero fields do not filter.
type SubscriptionFilter struct {
	InstitutionID string
	Status        string
	After         string
	Limit         int // 100 when 0, 1,000 at most
}

// Subscriptions lists subscriptions in id order: an institution its own, the
// operator and regulators all. A subscription is the institution's credit policy:
// merchants see none.
//
// Errors: KindForbidden for a caller in none of those roles (a suspended one
// reads its own); KindUnauthorized.
func (s *Service) Subscriptions(ctx context.Context, actor dataport.Actor, f SubscriptionFilter) ([]Subscription, error) {
	const op = "lending.Subscriptions"
	out := []Subscription{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		r, err := mayRead(tx, op, actor)
		if err != nil {
			return err
		}
		if !r.all && !r.institution {
			return dataport.Errorf(op, dataport.KindForbidden, "subscriptions are the financial institutions'")
		}
		if !r.all {
			f.InstitutionID = actor.ParticipantID
		}
		q := `SELECT id FROM lending_subscriptions WHERE id > $1`
		args := []any{f.After}
		if f.InstitutionID != "" {
			args = append(args, f.InstitutionID)
			q += fmt.Sprintf(" AND institution_id = $%d", len(args))
		}
		if f.Status != "" {
			args = append(args, f.Status)
			q += fmt.Sprintf(" AND status = $%d", len(args))
		}
		args = append(args, page(f.Limit))
		ids, err := tx.Strings(q+fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args)), args...)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, id := range ids {
			sub, err := getSubscription(tx, op, id, false)
			if err != nil {
				return err
			}
			out = append(out, sub)
		}
		return nil
	})
	return out, err
}

// Subscription returns one subscription: its institution's, or for the operator
// and regulators.
//
// Errors: KindNotFound for an unknown subscription or one the actor may not see;
// KindForbidden, KindUnauthorized.
func (s *Service) Subscription(ctx context.Context, actor dataport.Actor, id string) (Subscription, error) {
	const op = "lending.Subscription"
	var sub Subscription
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		r, err := mayRead(tx, op, actor)
		if err != nil {
			return err
		}
		if sub, err = getSubscription(tx, op, id, false); err != nil {
			return err
		}
		if !r.all && !(r.institution && sub.InstitutionID == actor.ParticipantID) {
			return noSubscription(op, id)
		}
		return nil
	})
	return sub, err
}

func noSubscription(op, id string) error {
	return dataport.Errorf(op, dataport.KindNotFound, "no subscription %s", id)
}

const selectSubscription = `SELECT id, institution_id, product, grades, min_line, max_line, sectors, currency, max_amount,
	rate_bps, term_days, repayment_share_bps, offer_valid_days, rules, rules_version, rules_sha256, status, created_by,
	created_at, updated_at, version FROM lending_subscriptions`

func scanSubscription(r interface{ Scan(...any) error }) (Subscription, error) {
	var sub Subscription
	var product, grades, sectors, currency, rules, created, updated string
	c, t := &sub.Criteria, &sub.Terms
	if err := r.Scan(&sub.ID, &sub.InstitutionID, &product, &grades, &c.MinLine.Amount, &c.MaxLine.Amount, &sectors, &currency,
		&t.MaxAmount.Amount, &t.RateBPS, &t.TermDays, &t.RepaymentShareBPS, &t.OfferValidDays, &rules, &sub.RulesVersion,
		&sub.RulesSHA256, &sub.Status, &sub.CreatedBy, &created, &updated, &sub.Version); err != nil {
		return Subscription{}, err
	}
	c.Product = Product(product)
	c.MinLine.Currency, c.MaxLine.Currency, t.MaxAmount.Currency = currency, currency, currency
	for _, j := range []struct {
		s string
		v any
	}{{grades, &c.Grades}, {sectors, &c.Sectors}, {rules, &sub.Rules}} {
		if err := json.Unmarshal([]byte(j.s), j.v); err != nil {
			return Subscription{}, err
		}
	}
	return sub, parseTimes([]*time.Time{&sub.CreatedAt, &sub.UpdatedAt}, created, updated)
}

func getSubscription(tx *store.Tx, op, id string, lock bool) (Subscription, error) {
	q := selectSubscription + ` WHERE id = $1`
	if lock {
		q += forUpdate(tx)
	}
	sub, err := scanSubscription(tx.QueryRow(q, id))
	if isNoRows(err) {
		return Subscription{}, noSubscription(op, id)
	}
	if err != nil {
		return Subscription{}, dataport.Internal(op, err)
	}
	return sub, nil
}

// matches reports whether the subscription's criteria take a credit decision of a
// merchant in sector.
func (c Criteria) matches(v *CreditView, sector string) bool {
	return (len(c.Grades) == 0 || slices.Contains(c.Grades, v.Grade)) &&
		v.Line.Currency == c.MinLine.Currency &&
		v.Line.Amount >= c.MinLine.Amount && v.Line.Amount <= c.MaxLine.Amount &&
		(len(c.Sectors) == 0 || slices.Contains(c.Sectors, sector))
}
