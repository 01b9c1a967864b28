package lending

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// NewApplication is a merchant's application against an offer.
type NewApplication struct {
	Amount   dataport.Money `json:"amount" doc:"to borrow: at most the offer's amount, in its currency"`
	TermDays int            `json:"term_days,omitempty" minimum:"0" maximum:"365" doc:"at most the offer's term; the offer's term when 0"`
	Purpose  string         `json:"purpose,omitempty" maxLength:"500"`
	// IdempotencyKey, when given, makes the application once-only: a retry with the
	// same key and the same request answers with the first application (and its
	// loan) and changes nothing. The API takes it from the Idempotency-Key header.
	IdempotencyKey string `json:"idempotency_key,omitempty" maxLength:"200"`
}

// Application is an application (融資申請) and its decision.
type Application struct {
	ID             string         `json:"id"`
	OfferID        string         `json:"offer_id"`
	MerchantID     string         `json:"merchant_id"`
	InstitutionID  string         `json:"institution_id"`
	SubscriptionID string         `json:"subscription_id"`
	Product        Product        `json:"product"`
	Amount         dataport.Money `json:"amount"`
	TermDays       int            `json:"term_days"`
	Purpose        string         `json:"purpose,omitempty"`
	IdempotencyKey string         `json:"idempotency_key,omitempty" doc:"the merchant's own: the institution never sees it"`
	Decision       LoanDecision   `json:"decision"`
	LoanID         string         `json:"loan_id,omitempty" doc:"the loan, when approved"`
	Loan           *Loan          `json:"loan,omitempty"`
	CreatedBy      string         `json:"created_by"`
	CreatedAt      time.Time      `json:"created_at"`
	FilingSeq      int64          `json:"filing_seq" doc:"the filing lending.application_decided"`
}

// forInstitution is a as its institution sees it: without the merchant's
// idempotency key.
func (a Application) forInstitution() Application {
	a.IdempotencyKey = ""
	return a
}

// LoanDecision (決策) is the institution's rules' answer to an application, and
// why. (A credit decision is credit.Decision; lending sees it as a CreditView.)
type LoanDecision struct {
	Outcome      string       `json:"outcome" enum:"approved,declined"`
	Reasons      []string     `json:"reasons" doc:"the reasons of the rules that failed, in the rules' order; empty when approved"`
	Rules        []RuleResult `json:"rules" doc:"every rule and its result"`
	RulesVersion int64        `json:"rules_version"`
	RulesSHA256  string       `json:"rules_sha256"`
	Inputs       Inputs       `json:"inputs" doc:"the variables the rules saw"`
	InputsSHA256 string       `json:"inputs_sha256" doc:"SHA-256 of the inputs' RFC 8785 canonical JSON"`
	DecidedAt    time.Time    `json:"decided_at"`
}

// Loan is money lent on an approved application.
type Loan struct {
	ID                string         `json:"id"`
	ApplicationID     string         `json:"application_id"`
	OfferID           string         `json:"offer_id"`
	MerchantID        string         `json:"merchant_id"`
	InstitutionID     string         `json:"institution_id"`
	Product           Product        `json:"product"`
	Grade             string         `json:"grade" doc:"of the credit decision it was made on"`
	Principal         dataport.Money `json:"principal"`
	Interest          dataport.Money `json:"interest" doc:"fixed at disbursement for the term: see the package documentation"`
	RateBPS           int64          `json:"rate_bps"`
	TermDays          int            `json:"term_days"`
	RepaymentShareBPS int64          `json:"repayment_share_bps"`
	DisbursedAt       time.Time      `json:"disbursed_at"`
	DueAt             time.Time      `json:"due_at"`
	PrincipalPaid     dataport.Money `json:"principal_paid"`
	InterestPaid      dataport.Money `json:"interest_paid"`
	Outstanding       dataport.Money `json:"outstanding" doc:"principal + interest − paid"`
	Status            string         `json:"status" enum:"active,overdue,closed"`
	OverdueSince      time.Time      `json:"overdue_since,omitzero"`
	DaysOverdue       int            `json:"days_overdue" doc:"calendar days (China) from the due date to today, or to the day it closed"`
	ClosedAt          time.Time      `json:"closed_at,omitzero"`
	Disbursement      Disbursement   `json:"disbursement"`
	FilingSeq         int64          `json:"filing_seq" doc:"the filing lending.disbursed"`
}

// Disbursement (放款) records the institution paying the loan out to the merchant.
type Disbursement struct {
	ID          string         `json:"id"`
	Amount      dataport.Money `json:"amount"`
	DisbursedAt time.Time      `json:"disbursed_at"`
	FilingSeq   int64          `json:"filing_seq"`
}

// Interest is the interest of a loan of principal at rateBPS a year for termDays:
// simple interest on an actual/365 day count, rounded down to the minor unit,
//
//	interest = ⌊principal × rate_bps × term_days / (10,000 × 365)⌋
//
// computed exactly, so that no product overflows.
func Interest(principal, rateBPS int64, termDays int) int64 {
	if principal <= 0 || rateBPS <= 0 || termDays <= 0 {
		return 0
	}
	n := new(big.Int).Mul(big.NewInt(principal), big.NewInt(rateBPS))
	n.Mul(n, big.NewInt(int64(termDays)))
	n.Quo(n, big.NewInt(10_000*365))
	if !n.IsInt64() {
		return math.MaxInt64
	}
	return n.Int64()
}

// errReplayed ends the transaction of an application retried with its key: the
// first one did the work, and it is read back.
var errReplayed = errors.New("replayed")

func (n *NewApplication) validate(op string) error {
	var p dataport.Problems
	if !dataport.IsCurrency(n.Amount.Currency) {
		p.Add("amount.currency", "an ISO 4217 code: CNY")
	}
	if n.Amount.Amount <= 0 {
		p.Add("amount.amount", "more than 0 minor units")
	}
	if n.TermDays < 0 || n.TermDays > maxTermDays {
		p.Add("term_days", "from 1 to %d days, or 0 for the offer's term", maxTermDays)
	}
	n.Purpose = strings.TrimSpace(n.Purpose)
	if utf8.RuneCountInString(n.Purpose) > 500 || !utf8.ValidString(n.Purpose) || strings.IndexFunc(n.Purpose, isControl) >= 0 {
		p.Add("purpose", "at most 500 characters, no control characters")
	}
	if len(n.IdempotencyKey) > 200 || !utf8.ValidString(n.IdempotencyKey) || strings.IndexFunc(n.IdempotencyKey, isControl) >= 0 {
		p.Add("idempotency_key", "at most 200 characters, no control characters")
	}
	return p.Err(op)
}

func isControl(r rune) bool { return r != '\n' && unicode.IsControl(r) }

// Apply applies for a loan against an offer (the offer's merchant, role merchant)
// and decides it at once, in one transaction: the offer must be open and
// unexpired, the consent it was made under in force, merchant and institution
// active, the amount within the offer (and, for an ad_spend_loan with LiveLimits
// set, within the merchant's live limit). Then the institution's rules decide:
// approved when every rule holds, declined otherwise with the failed rules'
// reasons; every rule's result, the rules version and the SHA-256 of the inputs are
// recorded and filed (lending.application_decided). On approval the loan is made
// and its disbursement recorded (lending.disbursed), and the offer is taken. The
// institution and the merchant are notified (lending.application_decided). A
// declined application leaves the offer open.
//
// Errors: KindInvalid naming the wrong fields (amount.amount, amount.currency,
// term_days, purpose, idempotency_key); KindNotFound for an offer that is not the
// caller's; KindConflict for an offer that is not open or has expired, a consent no
// longer in force, an ad-spend loan without a live limit, or an idempotency key
// used for another request; KindForbidden when the merchant or the institution is
// suspended, or the caller does not act as a merchant; KindUnauthorized.
//
// replayed reports that the answer is the first application made with the same
// idempotency key and request (a retry, or the same key racing on another
// replica): nothing was changed or filed by this call.
func (s *Service) Apply(ctx context.Context, actor dataport.Actor, offerID string, n NewApplication) (a Application, replayed bool, err error) {
	const op = "lending.Apply"
	if err := n.validate(op); err != nil {
		return Application{}, false, err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayActAs(tx, op, actor, dataport.RoleMerchant); err != nil {
			return err
		}
		_, reqSum, err := canonicalSHA256(applicationRequest(offerID, &n))
		if err != nil {
			return dataport.Internal(op, err)
		}
		// The offer's row lock first: a retry racing its first attempt on another
		// replica waits here, then finds the first attempt's key below.
		o, err := getOffer(tx, op, offerID, true)
		if err != nil {
			return err
		}
		if o.MerchantID != actor.ParticipantID {
			return noOffer(op, offerID)
		}
		if n.IdempotencyKey != "" {
			var id, sum string
			err := tx.QueryRow(`SELECT id, request_sha256 FROM lending_applications WHERE merchant_id = $1 AND idempotency_key = $2`,
				actor.ParticipantID, n.IdempotencyKey).Scan(&id, &sum)
			switch {
			case err == nil && sum == reqSum:
				return errReplayed
			case err == nil:
				return keyReused(op, id)
			case !isNoRows(err):
				return dataport.Internal(op, err)
			}
		}
		if err := s.checkApplication(tx, op, &o, &n); err != nil {
			return err
		}
		a, err = s.decide(tx, op, actor, &o, &n, reqSum)
		return err
	})
	if errors.Is(err, errReplayed) || store.IsUniqueViolation(err) && n.IdempotencyKey != "" {
		// A retry, or the same key racing on another replica: answer with the first.
		// (A racing twin with the same key but another request is no replay: it is
		// told so below, as a retry would be.)
		replayed = true
		err = s.db.Read(ctx, func(tx *store.Tx) error {
			id, err := tx.Strings(`SELECT id FROM lending_applications WHERE merchant_id = $1 AND idempotency_key = $2`, actor.ParticipantID, n.IdempotencyKey)
			if err != nil || len(id) == 0 {
				return dataport.Internal(op, fmt.Errorf("application with key %q: %v", n.IdempotencyKey, err))
			}
			if a, err = getApplication(tx, op, id[0]); err != nil {
				return err
			}
			_, reqSum, err := canonicalSHA256(applicationRequest(offerID, &n))
			if err != nil {
				return dataport.Internal(op, err)
			}
			var sum string
			if err := tx.QueryRow(`SELECT request_sha256 FROM lending_applications WHERE id = $1`, a.ID).Scan(&sum); err != nil {
				return dataport.Internal(op, err)
			}
			if sum != reqSum {
				return keyReused(op, a.ID)
			}
			return nil
		})
	}
	if err != nil {
		return Application{}, false, err
	}
	return a, replayed, nil
}

// applicationRequest is what an idempotency key binds: a retry must repeat it.
func applicationRequest(offerID string, n *NewApplication) map[string]any {
	return map[string]any{"offer_id": offerID, "amount": n.Amount, "term_days": n.TermDays, "purpose": n.Purpose}
}

func keyReused(op, id string) error {
	return &dataport.Error{Op: op, Kind: dataport.KindConflict, Message: "this idempotency key was used for another application",
		Fields: []dataport.FieldProblem{{Field: "idempotency_key", Message: "used for application " + id + " with other details"}}}
}

// checkApplication checks an application against its offer and the state of things.
func (s *Service) checkApplication(tx *store.Tx, op string, o *storedOffer, n *NewApplication) error {
	var p dataport.Problems
	if n.Amount.Currency != o.Amount.Currency {
		p.Add("amount.currency", "the offer's currency, %s", o.Amount.Currency)
	}
	if n.Amount.Amount > o.Amount.Amount {
		p.Add("amount.amount", "at most the offer's %d minor units", o.Amount.Amount)
	}
	if n.TermDays > o.TermDays {
		p.Add("term_days", "at most the offer's %d days", o.TermDays)
	}
	if err := p.Err(op); err != nil {
		return err
	}
	// A suspension is said as such, before the offer's state (which the
	// suspension cascade may have changed).
	if err := registry.CheckActive(tx, o.InstitutionID); err != nil {
		if dataport.KindOf(err) == dataport.KindForbidden {
			return dataport.Errorf(op, dataport.KindForbidden, "institution %s is suspended by the exchange", o.InstitutionID)
		}
		return dataport.Wrap(op, err)
	}
	if o.Status != "open" {
		return dataport.Errorf(op, dataport.KindConflict, "offer %s is %s", o.ID, o.Status)
	}
	if !o.consentInForce {
		return dataport.Errorf(op, dataport.KindConflict, "the consent offer %s was made under is no longer in force", o.ID)
	}
	if o.Product == AdSpendLoan && s.opts.LiveLimits != nil {
		limit, ok, err := s.opts.LiveLimits.LiveLimitIn(tx, o.MerchantID)
		if err != nil {
			return dataport.Wrap(op, err)
		}
		if !ok || limit.Currency != n.Amount.Currency {
			return dataport.Errorf(op, dataport.KindConflict, "an ad-spend loan is sized from live-room data: merchant %s has no live limit in %s", o.MerchantID, n.Amount.Currency)
		}
		if n.Amount.Amount > limit.Amount {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "amount.amount", Message: fmt.Sprintf("at most the live limit, %d minor units", limit.Amount)})
		}
	}
	return nil
}

// decide evaluates the rules, records and files the decision, and on approval
// makes the loan.
func (s *Service) decide(tx *store.Tx, op string, actor dataport.Actor, o *storedOffer, n *NewApplication, reqSum string) (Application, error) {
	now := tx.Now()
	sub, err := getSubscription(tx, op, o.SubscriptionID, false)
	if err != nil {
		return Application{}, err
	}
	rs, err := s.rules(sub.ID, sub.RulesVersion, sub.Rules)
	if err != nil {
		return Application{}, dataport.Internal(op, err)
	}
	m, err := s.reg.Participant(tx, o.MerchantID)
	if err != nil {
		return Application{}, dataport.Wrap(op, err)
	}
	term := n.TermDays
	if term == 0 {
		term = o.TermDays
	}
	in := Inputs{OfferID: o.ID, DecisionID: o.DecisionID, Grade: o.Credit.Grade, Score: int64(o.Credit.Score), PD: o.Credit.PD,
		Line: o.Credit.Line.Amount, Amount: n.Amount.Amount, Currency: n.Amount.Currency, Product: string(o.Product),
		TermDays: int64(term), Sector: m.MerchantCategory, Features: map[string]float64{}}
	if o.Credit.Features != nil {
		in.Features = o.Credit.Features // present only when the consent's scope included features
	}
	if err := tx.QueryRow(`SELECT CAST(COALESCE(SUM(principal + interest - principal_paid - interest_paid), 0) AS BIGINT),
		CAST(COALESCE(SUM(CASE WHEN status = 'overdue' THEN 1 ELSE 0 END), 0) AS BIGINT)
		FROM lending_loans WHERE merchant_id = $1 AND institution_id = $2 AND currency = $3 AND status IN ('active', 'overdue')`,
		o.MerchantID, o.InstitutionID, n.Amount.Currency).Scan(&in.Outstanding, &in.OverdueLoans); err != nil {
		return Application{}, dataport.Internal(op, err)
	}
	results, passed := rs.evaluate(&in)
	_, inSum, err := canonicalSHA256(in)
	if err != nil {
		return Application{}, dataport.Internal(op, err)
	}
	d := LoanDecision{Outcome: "declined", Reasons: []string{}, Rules: results, RulesVersion: sub.RulesVersion,
		RulesSHA256: sub.RulesSHA256, Inputs: in, InputsSHA256: inSum, DecidedAt: now}
	if passed {
		d.Outcome = "approved"
	}
	for _, r := range results {
		if !r.Passed {
			d.Reasons = append(d.Reasons, r.Reason)
		}
	}
	a := Application{ID: dataport.NewID("app"), OfferID: o.ID, MerchantID: o.MerchantID, InstitutionID: o.InstitutionID,
		SubscriptionID: o.SubscriptionID, Product: o.Product, Amount: n.Amount, TermDays: term, Purpose: n.Purpose,
		IdempotencyKey: n.IdempotencyKey, Decision: d, CreatedBy: actor.ParticipantID, CreatedAt: now}
	if passed {
		a.LoanID = dataport.NewID("lon")
	}
	filedRules := make([]map[string]any, len(results))
	for i, r := range results {
		filedRules[i] = map[string]any{"id": r.ID, "passed": r.Passed}
	}
	f, err := ledger.File(tx, actor, ledger.Change{Type: "lending.application_decided",
		Subjects: []string{a.ID, a.OfferID, a.MerchantID, a.InstitutionID},
		Payload: map[string]any{"application_id": a.ID, "offer_id": a.OfferID, "merchant_id": a.MerchantID,
			"institution_id": a.InstitutionID, "subscription_id": a.SubscriptionID, "product": a.Product, "amount": a.Amount,
			"term_days": a.TermDays, "outcome": d.Outcome, "reasons": d.Reasons, "rules": filedRules,
			"rules_version": d.RulesVersion, "rules_sha256": d.RulesSHA256, "inputs_sha256": d.InputsSHA256, "loan_id": a.LoanID}})
	if err != nil {
		return Application{}, err
	}
	a.FilingSeq = f.Seq
	if _, err := tx.Exec(`INSERT INTO lending_applications (id, offer_id, merchant_id, institution_id, subscription_id, product,
		currency, amount, term_days, purpose, idempotency_key, request_sha256, outcome, reasons, rule_results, rules_version,
		rules_sha256, inputs, inputs_sha256, loan_id, created_by, created_at, filing_seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
		a.ID, a.OfferID, a.MerchantID, a.InstitutionID, a.SubscriptionID, string(a.Product), a.Amount.Currency, a.Amount.Amount,
		a.TermDays, a.Purpose, a.IdempotencyKey, reqSum, d.Outcome, mustJSON(d.Reasons), mustJSON(d.Rules), d.RulesVersion,
		d.RulesSHA256, mustJSON(d.Inputs), d.InputsSHA256, a.LoanID, a.CreatedBy, store.FormatTime(now), a.FilingSeq); err != nil {
		if store.IsUniqueViolation(err) {
			return Application{}, err // the key raced another replica: Apply answers with the first
		}
		return Application{}, dataport.Internal(op, err)
	}
	if passed {
		l, err := disburse(tx, actor, o, &a)
		if err != nil {
			return Application{}, dataport.Wrap(op, err)
		}
		a.Loan = &l
	}
	// The idempotency key is the merchant's: the institution's copy (its inbox
	// and its webhooks) goes without it.
	if err := notify.Send(tx, a.InstitutionID, "lending.application_decided", a.forInstitution()); err != nil {
		return Application{}, dataport.Internal(op, err)
	}
	if err := notify.Send(tx, a.MerchantID, "lending.application_decided", a); err != nil {
		return Application{}, dataport.Internal(op, err)
	}
	return a, nil
}

// disburse makes the loan of an approved application, records its disbursement,
// takes the offer and files it all as lending.disbursed.
func disburse(tx *store.Tx, actor dataport.Actor, o *storedOffer, a *Application) (Loan, error) {
	now := tx.Now()
	res, err := tx.Exec(`UPDATE lending_offers SET status = 'taken', status_reason = $2, updated_at = $3 WHERE id = $1 AND status = 'open'`,
		o.ID, "application "+a.ID+" approved", store.FormatTime(now))
	if err != nil {
		return Loan{}, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return Loan{}, dataport.Errorf("lending.disburse", dataport.KindConflict, "offer %s was taken meanwhile", o.ID)
	}
	cur := a.Amount.Currency
	l := Loan{ID: a.LoanID, ApplicationID: a.ID, OfferID: o.ID, MerchantID: a.MerchantID, InstitutionID: a.InstitutionID,
		Product: a.Product, Grade: o.Credit.Grade, Principal: a.Amount,
		Interest: dataport.Money{Amount: Interest(a.Amount.Amount, o.RateBPS, a.TermDays), Currency: cur},
		RateBPS:  o.RateBPS, TermDays: a.TermDays, RepaymentShareBPS: o.RepaymentShareBPS, DisbursedAt: now,
		DueAt:         now.Add(time.Duration(a.TermDays) * 24 * time.Hour),
		PrincipalPaid: dataport.Money{Currency: cur}, InterestPaid: dataport.Money{Currency: cur}, Status: "active"}
	l.Outstanding = dataport.Money{Amount: l.Principal.Amount + l.Interest.Amount, Currency: cur}
	l.Disbursement = Disbursement{ID: dataport.NewID("dsb"), Amount: a.Amount, DisbursedAt: now}
	// The offer is a subject: taking it is its last change (Offer.ChangeSeq).
	f, err := ledger.File(tx, actor, ledger.Change{Type: "lending.disbursed",
		Subjects: []string{l.ID, a.ID, o.ID, l.MerchantID, l.InstitutionID},
		Payload: map[string]any{"loan_id": l.ID, "disbursement_id": l.Disbursement.ID, "application_id": a.ID, "offer_id": o.ID,
			"merchant_id": l.MerchantID, "institution_id": l.InstitutionID, "product": l.Product, "principal": l.Principal,
			"interest": l.Interest, "rate_bps": l.RateBPS, "term_days": l.TermDays, "repayment_share_bps": l.RepaymentShareBPS,
			"disbursed_at": l.DisbursedAt, "due_at": l.DueAt}})
	if err != nil {
		return Loan{}, err
	}
	l.FilingSeq, l.Disbursement.FilingSeq = f.Seq, f.Seq
	if err := setChangeSeq(tx, o.ID, f.Seq); err != nil {
		return Loan{}, err
	}
	if _, err := tx.Exec(`INSERT INTO lending_loans (id, application_id, offer_id, merchant_id, institution_id, product, grade, currency,
		principal, interest, rate_bps, term_days, repayment_share_bps, disbursed_at, due_at, principal_paid, interest_paid, status,
		overdue_since, closed_at, filing_seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, 0, 'active', '', '', $16)`,
		l.ID, a.ID, o.ID, l.MerchantID, l.InstitutionID, string(l.Product), l.Grade, cur, l.Principal.Amount, l.Interest.Amount,
		l.RateBPS, l.TermDays, l.RepaymentShareBPS, store.FormatTime(now), store.FormatTime(l.DueAt), f.Seq); err != nil {
		return Loan{}, err
	}
	if _, err := tx.Exec(`INSERT INTO lending_disbursements (id, loan_id, merchant_id, institution_id, currency, amount, disbursed_at, filing_seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, l.Disbursement.ID, l.ID, l.MerchantID, l.InstitutionID, cur, l.Principal.Amount,
		store.FormatTime(now), f.Seq); err != nil {
		return Loan{}, err
	}
	return l, nil
}
