package lending

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Offer is a financing offer (融資報價) made to an institution on a merchant's
// credit decision, under the merchant's consent.
type Offer struct {
	ID                string         `json:"id"`
	MerchantID        string         `json:"merchant_id"`
	InstitutionID     string         `json:"institution_id"`
	SubscriptionID    string         `json:"subscription_id"`
	ConsentID         string         `json:"consent_id"`
	Product           Product        `json:"product"`
	Amount            dataport.Money `json:"amount" doc:"the most that may be borrowed on it: min(line, the subscription's max_amount)"`
	RateBPS           int64          `json:"rate_bps" doc:"annual, basis points"`
	TermDays          int            `json:"term_days"`
	RepaymentShareBPS int64          `json:"repayment_share_bps" doc:"share of each settling receivable taken to repay, basis points"`
	ExpiresAt         time.Time      `json:"expires_at"`
	DecisionID        string         `json:"decision_id" doc:"the credit decision it was made on"`
	Status            string         `json:"status" enum:"open,taken,superseded,withdrawn,expired"`
	StatusReason      string         `json:"status_reason,omitempty"`
	SupersededBy      string         `json:"superseded_by,omitempty"`
	Scope             []Scope        `json:"scope" doc:"the consent's scope when the offer was made"`
	// Credit is the merchant's credit data as disclosed under the consent; an
	// institution sees it only while that consent is in force.
	Credit    *OfferCredit `json:"credit,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	FilingSeq int64        `json:"filing_seq" doc:"the filing lending.offer_made"`
	// ChangeSeq is the filing of the offer's latest change: lending.offer_made,
	// lending.offer_superseded, lending.offer_withdrawn, or lending.disbursed when
	// it was taken. Offers lists by it (OfferFilter.AfterSeq).
	ChangeSeq int64 `json:"change_seq" doc:"the filing of its latest change (made, superseded, withdrawn, taken): the after_seq cursor"`
}

// OfferCredit is the credit decision behind an offer, as far as the consent's
// scope discloses it.
type OfferCredit struct {
	DecisionID  string             `json:"decision_id"`
	DecidedAt   time.Time          `json:"decided_at"`
	ModelID     string             `json:"model_id"`
	FeatureHash string             `json:"feature_hash"`
	Score       int                `json:"score"`
	PD          float64            `json:"pd"`
	Grade       string             `json:"grade"`
	Line        dataport.Money     `json:"line"`
	Reasons     []string           `json:"reasons"`
	FilingSeq   int64              `json:"filing_seq" doc:"the filing of the credit decision"`
	Features    map[string]float64 `json:"features,omitempty" doc:"only under a consent with scope features"`
}

func (v *CreditView) check() error {
	switch {
	case v.DecisionID == "" || v.MerchantID == "":
		return errors.New("a credit view needs its decision and merchant ids")
	case v.DecidedAt.IsZero():
		return errors.New("a credit view needs its decision time")
	case !slices.Contains(Grades, v.Grade):
		return fmt.Errorf("grade %q is not one of A–E", v.Grade)
	case v.Line.Currency != Currency || v.Line.Amount < 0:
		return fmt.Errorf("line %d %s: want a CNY amount, not negative", v.Line.Amount, v.Line.Currency)
	case math.IsNaN(v.PD) || v.PD < 0 || v.PD > 1:
		return fmt.Errorf("PD %v is not a probability", v.PD)
	}
	for k, x := range v.Features {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("feature %s is %v: features are finite numbers", k, x)
		}
	}
	return nil
}

// Publish makes offers on a credit decision, in the decision's transaction: for
// each institution a consent in force names with scope score, and each of its
// active subscriptions whose criteria the decision matches, an offer — at most one
// per institution and product (the largest; the oldest subscription on a tie). The
// merchant's open offers made on earlier decisions are superseded, whether or not
// this decision makes a new offer in their place. Every offer is filed
// (lending.offer_made) and sent to the institution (notification lending.offer:
// inbox and signed webhooks) and to the merchant's inbox. An institution no consent
// covers gets nothing: no offer, no notification, no filing naming it.
//
// A merchant that is suspended, or is not a merchant, gets no offers. A view of a
// decision older than one offers were already made on changes nothing.
//
// Errors: internal ones only (a malformed view is the credit side's fault); they
// roll back the caller's transaction.
func (s *Service) Publish(tx *store.Tx, v CreditView) error {
	const op = "lending.Publish"
	if err := v.check(); err != nil {
		return dataport.Internal(op, err)
	}
	now := tx.Now()
	m, err := s.reg.Participant(tx, v.MerchantID)
	if err != nil {
		return dataport.Wrap(op, err)
	}
	if !m.Has(dataport.RoleMerchant) || m.Status != registry.Active {
		return nil
	}

	// A view of a decision older than one offers were made on is stale: the newer
	// decision has spoken. (Hooks run in decision order; this guards a replay.)
	var latest string
	if err := tx.QueryRow(`SELECT COALESCE(MAX(decided_at), '') FROM lending_offers WHERE merchant_id = $1`, v.MerchantID).Scan(&latest); err != nil {
		return dataport.Internal(op, err)
	}
	if latest > store.FormatTime(v.DecidedAt) {
		return nil
	}
	// The merchant's open offers, all made on earlier decisions, give way to this one.
	type open struct {
		id, institution string
		product         Product
	}
	var older []open
	rows, err := tx.Query(`SELECT id, institution_id, product FROM lending_offers
		WHERE merchant_id = $1 AND status = 'open' ORDER BY id`+forUpdate(tx), v.MerchantID)
	if err != nil {
		return dataport.Internal(op, err)
	}
	for rows.Next() {
		var o open
		if err := rows.Scan(&o.id, &o.institution, &o.product); err != nil {
			rows.Close()
			return dataport.Internal(op, err)
		}
		older = append(older, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dataport.Internal(op, err)
	}

	institutions, err := tx.Strings(`SELECT DISTINCT i.institution_id FROM lending_consents c
		JOIN lending_consent_institutions i ON i.consent_id = c.id
		WHERE c.merchant_id = $1 AND c.status = 'active' AND c.expires_at > $2
		ORDER BY i.institution_id`, v.MerchantID, store.FormatTime(now))
	if err != nil {
		return dataport.Internal(op, err)
	}
	made := map[string]string{} // institution and product → new offer id
	for _, inst := range institutions {
		if err := registry.CheckActive(tx, inst); err != nil {
			if k := dataport.KindOf(err); k == dataport.KindForbidden || k == dataport.KindNotFound {
				continue // a suspended institution is offered nothing
			}
			return dataport.Wrap(op, err)
		}
		c, ok, err := covering(tx, v.MerchantID, inst, ScopeScore, now)
		if err != nil {
			return dataport.Internal(op, err)
		}
		if !ok {
			continue // consents name it, but none lets the score go
		}
		subs, err := s.matching(tx, inst, &v, m.MerchantCategory)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, sub := range subs {
			key := inst + "\x00" + string(sub.Criteria.Product)
			o, err := s.makeOffer(tx, &v, c, sub, now)
			if err != nil {
				return dataport.Wrap(op, err)
			}
			made[key] = o.ID
		}
	}
	for _, o := range older {
		by := made[o.institution+"\x00"+string(o.product)]
		if err := supersede(tx, o.id, by, v.DecisionID, v.MerchantID, o.institution); err != nil {
			return dataport.Internal(op, err)
		}
	}
	return nil
}

// matching returns the institution's active subscriptions that take the decision,
// the best one per product: the largest offer, the oldest subscription on a tie.
func (s *Service) matching(tx *store.Tx, institutionID string, v *CreditView, sector string) ([]Subscription, error) {
	rows, err := tx.Query(selectSubscription+` WHERE institution_id = $1 AND status = 'active' ORDER BY id`, institutionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	best := map[Product]Subscription{}
	var order []Product
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, err
		}
		if !sub.Criteria.matches(v, sector) || offerAmount(v, sub) <= 0 {
			continue
		}
		p := sub.Criteria.Product
		if b, ok := best[p]; !ok {
			order = append(order, p)
			best[p] = sub
		} else if offerAmount(v, sub) > offerAmount(v, b) {
			best[p] = sub
		}
	}
	out := make([]Subscription, 0, len(order))
	for _, p := range order {
		out = append(out, best[p])
	}
	return out, rows.Err()
}

// offerAmount is what an offer on v under sub lends at most: min(line, max_amount).
func offerAmount(v *CreditView, sub Subscription) int64 {
	return min(v.Line.Amount, sub.Terms.MaxAmount.Amount)
}

// makeOffer records, files and sends one offer.
func (s *Service) makeOffer(tx *store.Tx, v *CreditView, c Consent, sub Subscription, now time.Time) (Offer, error) {
	expires := now.Add(time.Duration(sub.Terms.OfferValidDays) * 24 * time.Hour)
	if c.ExpiresAt.Before(expires) {
		expires = c.ExpiresAt // an offer never outlives the consent it was made under
	}
	credit := &OfferCredit{DecisionID: v.DecisionID, DecidedAt: v.DecidedAt.UTC(), ModelID: v.ModelID, FeatureHash: v.FeatureHash,
		Score: v.Score, PD: v.PD, Grade: v.Grade, Line: v.Line, Reasons: slices.Clone(v.Reasons), FilingSeq: v.FilingSeq}
	if credit.Reasons == nil {
		credit.Reasons = []string{}
	}
	if c.has(ScopeFeatures) && len(v.Features) > 0 {
		credit.Features = v.Features
	}
	raw, sum, err := canonicalSHA256(credit)
	if err != nil {
		return Offer{}, err
	}
	o := Offer{ID: dataport.NewID("ofr"), MerchantID: v.MerchantID, InstitutionID: sub.InstitutionID, SubscriptionID: sub.ID,
		ConsentID: c.ID, Product: sub.Criteria.Product, Amount: dataport.Money{Amount: offerAmount(v, sub), Currency: Currency},
		RateBPS: sub.Terms.RateBPS, TermDays: sub.Terms.TermDays, RepaymentShareBPS: sub.Terms.RepaymentShareBPS,
		ExpiresAt: expires, DecisionID: v.DecisionID, Status: "open", Scope: c.Scope, Credit: credit, CreatedAt: now, UpdatedAt: now}
	f, err := ledger.File(tx, dataport.System, ledger.Change{Type: "lending.offer_made",
		Subjects: []string{o.ID, o.MerchantID, o.InstitutionID, v.DecisionID},
		Payload: map[string]any{"offer_id": o.ID, "merchant_id": o.MerchantID, "institution_id": o.InstitutionID,
			"subscription_id": o.SubscriptionID, "consent_id": o.ConsentID, "product": o.Product, "amount": o.Amount,
			"rate_bps": o.RateBPS, "term_days": o.TermDays, "repayment_share_bps": o.RepaymentShareBPS,
			"expires_at": o.ExpiresAt, "decision_id": o.DecisionID, "scope": o.Scope,
			// The credit data itself is the merchant's and the log is public: the
			// filing binds the offer to it by its hash.
			"credit_sha256": sum}})
	if err != nil {
		return Offer{}, err
	}
	o.FilingSeq, o.ChangeSeq = f.Seq, f.Seq
	if _, err := tx.Exec(`INSERT INTO lending_offers (id, merchant_id, institution_id, subscription_id, consent_id, product, currency,
		amount, rate_bps, term_days, repayment_share_bps, expires_at, decision_id, decided_at, grade, credit, credit_sha256, scope,
		status, status_reason, superseded_by, created_at, updated_at, filing_seq, change_seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 'open', '', '', $19, $19, $20, $20)`,
		o.ID, o.MerchantID, o.InstitutionID, o.SubscriptionID, o.ConsentID, string(o.Product), Currency, o.Amount.Amount,
		o.RateBPS, o.TermDays, o.RepaymentShareBPS, store.FormatTime(o.ExpiresAt), o.DecisionID, store.FormatTime(v.DecidedAt),
		v.Grade, string(raw), sum, mustJSON(o.Scope), store.FormatTime(now), o.FilingSeq); err != nil {
		return Offer{}, err
	}
	if err := notify.Send(tx, o.InstitutionID, "lending.offer", o); err != nil {
		return Offer{}, err
	}
	return o, notify.Send(tx, o.MerchantID, "lending.offer", o)
}

// setChangeSeq records filing seq as offer id's latest change, in the transaction
// that files it: what banks poll offers by (Offers, after_seq).
func setChangeSeq(tx *store.Tx, id string, seq int64) error {
	_, err := tx.Exec(`UPDATE lending_offers SET change_seq = $2 WHERE id = $1`, id, seq)
	return err
}

// supersede marks an open offer superseded by a newer decision (and by the new
// offer to the same institution and product, if there is one) and files it. The
// institution is told only when no new offer replaces it: a new offer says what it
// supersedes.
func supersede(tx *store.Tx, id, by, decisionID, merchantID, institutionID string) error {
	if _, err := tx.Exec(`UPDATE lending_offers SET status = 'superseded', superseded_by = $2, status_reason = $3, updated_at = $4
		WHERE id = $1`, id, by, "superseded by credit decision "+decisionID, store.FormatTime(tx.Now())); err != nil {
		return err
	}
	f, err := ledger.File(tx, dataport.System, ledger.Change{Type: "lending.offer_superseded",
		Subjects: []string{id, merchantID, institutionID},
		Payload: map[string]any{"offer_id": id, "merchant_id": merchantID, "institution_id": institutionID,
			"decision_id": decisionID, "superseded_by": by}})
	if err != nil {
		return err
	}
	if err := setChangeSeq(tx, id, f.Seq); err != nil {
		return err
	}
	if by != "" {
		return nil
	}
	return notify.Send(tx, institutionID, "lending.offer_withdrawn", map[string]any{"offer_id": id,
		"reason": "superseded by a newer credit decision"})
}

// SuspensionCascade is lending's part of a participant's suspension (registry
// Cascade; register it with registry.OnSuspension): when a merchant or an
// institution is suspended, its open offers are withdrawn at once, each filed and
// the institution told. Resuming restores nothing: the next credit decision makes
// new offers. Loans stay as they are; a suspended party is refused every new act.
func (s *Service) SuspensionCascade(tx *store.Tx, actor dataport.Actor, participantID string, suspended bool, reason string) error {
	const op = "lending.SuspensionCascade"
	if !suspended {
		return nil
	}
	ids, err := tx.Strings(`SELECT id FROM lending_offers WHERE status = 'open' AND (merchant_id = $1 OR institution_id = $1) ORDER BY id`, participantID)
	if err != nil {
		return dataport.Internal(op, err)
	}
	why := "participant " + participantID + " suspended by the exchange"
	if reason = strings.TrimSpace(reason); reason != "" {
		why += ": " + reason
	}
	for _, id := range ids {
		if err := withdrawOffer(tx, actor, id, why); err != nil {
			return dataport.Internal(op, err)
		}
	}
	return nil
}

// OfferFilter selects offers. Zero fields do not filter.
type OfferFilter struct {
	MerchantID    string
	InstitutionID string
	Product       Product
	// Status: open (open, unexpired, the merchant active), taken, superseded,
	// withdrawn or expired.
	Status string
	// AfterSeq: only offers whose latest change was filed after this filing (the
	// ChangeSeq of the last offer seen; 0 for all).
	AfterSeq int64
	Limit    int // 100 when 0, 1,000 at most
}

// Offers lists offers in the order of their latest change (ChangeSeq: the filing
// of their making, supersession, withdrawal or taking): an institution its own, a
// merchant its own, the operator and regulators all. This is the pull side of what
// the webhooks push, and a cursor that misses nothing: filings are numbered
// without gaps and committed in their order, so every change not yet visible to a
// reader will be filed after the last ChangeSeq it has seen. A reader polling with
// AfterSeq set to the last ChangeSeq it saw gets every new offer once, and an offer
// again each time it changes (taken, superseded, withdrawn). Expiry is not a
// change: it is read from expires_at. With a status filter, an offer that changes
// out of that status is not listed again: poll without one.
//
// Errors: KindInvalid for an unknown status or a negative after_seq; KindForbidden
// for a caller in none of those roles; KindUnauthorized.
func (s *Service) Offers(ctx context.Context, actor dataport.Actor, f OfferFilter) ([]Offer, error) {
	const op = "lending.Offers"
	if f.Status != "" && !slices.Contains([]string{"open", "taken", "superseded", "withdrawn", "expired"}, f.Status) {
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "status", Message: "open, taken, superseded, withdrawn or expired"})
	}
	if f.AfterSeq < 0 {
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "after_seq", Message: "a filing seq, 0 or more"})
	}
	out := []Offer{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		r, err := mayRead(tx, op, actor)
		if err != nil {
			return err
		}
		now := store.FormatTime(tx.Now())
		q := selectOffer + ` WHERE 1 = 1`
		var args []any
		add := func(cond string, v any) {
			args = append(args, v)
			q += " AND " + strings.ReplaceAll(cond, "$?", fmt.Sprintf("$%d", len(args)))
		}
		if f.MerchantID != "" {
			add("o.merchant_id = $?", f.MerchantID)
		}
		if f.InstitutionID != "" {
			add("o.institution_id = $?", f.InstitutionID)
		}
		if f.Product != "" {
			add("o.product = $?", string(f.Product))
		}
		switch f.Status {
		case "open":
			add("o.status = 'open' AND o.expires_at > $?", now)
			q += ` AND EXISTS (SELECT 1 FROM participants p WHERE p.id = o.merchant_id AND p.status = 'active')`
		case "expired":
			add("o.status = 'open' AND o.expires_at <= $?", now)
		case "":
		default:
			add("o.status = $?", f.Status)
		}
		if !r.all {
			q += r.ownSide("o", &args)
		}
		args = append(args, f.AfterSeq, page(f.Limit))
		q += fmt.Sprintf(" AND o.change_seq > $%d ORDER BY o.change_seq, o.id LIMIT $%d", len(args)-1, len(args))
		rows, err := tx.Query(q, args...)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			o, err := scanOffer(rows, tx.Now())
			if err != nil {
				return dataport.Internal(op, err)
			}
			out = append(out, r.offerView(o.Offer, o.consentInForce))
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}

// ownSide narrows a query over table alias t to the reader's own records: as a
// merchant, its merchant_id; as an institution, its institution_id.
func (r reader) ownSide(t string, args *[]any) string {
	*args = append(*args, r.actor.ParticipantID)
	n := len(*args)
	var sides []string
	if r.merchant {
		sides = append(sides, fmt.Sprintf("%s.merchant_id = $%d", t, n))
	}
	if r.institution {
		sides = append(sides, fmt.Sprintf("%s.institution_id = $%d", t, n))
	}
	return " AND (" + strings.Join(sides, " OR ") + ")"
}

// Offer returns one offer the actor may see (as Offers).
//
// Errors: KindNotFound for an unknown offer or one the actor may not see;
// KindForbidden, KindUnauthorized.
func (s *Service) Offer(ctx context.Context, actor dataport.Actor, id string) (Offer, error) {
	const op = "lending.Offer"
	var o Offer
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		r, err := mayRead(tx, op, actor)
		if err != nil {
			return err
		}
		so, err := getOffer(tx, op, id, false)
		if err != nil {
			return err
		}
		if !r.sees(so.MerchantID, so.InstitutionID) {
			return noOffer(op, id)
		}
		o = r.offerView(so.Offer, so.consentInForce)
		return nil
	})
	return o, err
}

// offerView is o as the reader sees it: the credit data goes to an institution
// only while the consent it was disclosed under is in force.
func (r reader) offerView(o Offer, consentInForce bool) Offer {
	if !r.all && !(r.merchant && o.MerchantID == r.actor.ParticipantID) && !consentInForce {
		o.Credit = nil
	}
	return o
}

func noOffer(op, id string) error {
	return dataport.Errorf(op, dataport.KindNotFound, "no offer %s", id)
}

// storedOffer is an offer as read, with what its reading depends on.
type storedOffer struct {
	Offer
	grade          string
	consentInForce bool
}

// selectOffer reads offers with their consent's state and change_seq, the filing
// of the offer's latest change, kept on the offer by the transaction that files it
// (setChangeSeq). Each of those filings names one offer only (as a subject), so no
// two offers share a change_seq.
const selectOffer = `SELECT o.id, o.merchant_id, o.institution_id, o.subscription_id, o.consent_id, o.product, o.currency,
	o.amount, o.rate_bps, o.term_days, o.repayment_share_bps, o.expires_at, o.decision_id, o.grade, o.credit, o.scope,
	o.status, o.status_reason, o.superseded_by, o.created_at, o.updated_at, o.filing_seq, c.status AS consent_status,
	c.expires_at AS consent_expires_at, o.change_seq
	FROM lending_offers o JOIN lending_consents c ON c.id = o.consent_id`

func scanOffer(r interface{ Scan(...any) error }, now time.Time) (storedOffer, error) {
	var o storedOffer
	var product, expires, credit, scope, created, updated, cStatus, cExpires string
	if err := r.Scan(&o.ID, &o.MerchantID, &o.InstitutionID, &o.SubscriptionID, &o.ConsentID, &product, &o.Amount.Currency,
		&o.Amount.Amount, &o.RateBPS, &o.TermDays, &o.RepaymentShareBPS, &expires, &o.DecisionID, &o.grade, &credit, &scope,
		&o.Status, &o.StatusReason, &o.SupersededBy, &created, &updated, &o.FilingSeq, &cStatus, &cExpires, &o.ChangeSeq); err != nil {
		return storedOffer{}, err
	}
	o.Product = Product(product)
	o.Credit = &OfferCredit{}
	if err := json.Unmarshal([]byte(credit), o.Credit); err != nil {
		return storedOffer{}, err
	}
	if err := json.Unmarshal([]byte(scope), &o.Scope); err != nil {
		return storedOffer{}, err
	}
	if err := parseTimes([]*time.Time{&o.ExpiresAt, &o.CreatedAt, &o.UpdatedAt}, expires, created, updated); err != nil {
		return storedOffer{}, err
	}
	nowText := store.FormatTime(now)
	if o.Status == "open" && expires <= nowText {
		o.Status = "expired"
	}
	o.consentInForce = cStatus == "active" && cExpires > nowText
	return o, nil
}

func getOffer(tx *store.Tx, op, id string, lock bool) (storedOffer, error) {
	q := selectOffer + ` WHERE o.id = $1`
	if lock {
		q += forUpdate(tx, "o") // the offer, not its consent: offers under one consent do not queue
	}
	o, err := scanOffer(tx.QueryRow(q, id), tx.Now())
	if isNoRows(err) {
		return storedOffer{}, noOffer(op, id)
	}
	if err != nil {
		return storedOffer{}, dataport.Internal(op, err)
	}
	return o, nil
}
