package lending

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// ApplicationFilter selects applications. Zero fields do not filter.
type ApplicationFilter struct {
	MerchantID    string
	InstitutionID string
	OfferID       string
	Outcome       string // approved or declined
	After         string // the last id of the previous page
	Limit         int    // 100 when 0, 1,000 at most
}

// Applications lists applications in id (arrival) order with their decisions: a
// merchant its own, an institution those made to it, the operator and regulators
// all.
//
// Errors: KindForbidden for a caller in none of those roles (a suspended one
// reads its own); KindUnauthorized.
func (s *Service) Applications(ctx context.Context, actor dataport.Actor, f ApplicationFilter) ([]Application, error) {
	const op = "lending.Applications"
	out := []Application{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		r, err := mayRead(tx, op, actor)
		if err != nil {
			return err
		}
		ids, err := r.page(tx, op, "lending_applications", f.After, f.Limit, map[string]string{"merchant_id": f.MerchantID,
			"institution_id": f.InstitutionID, "offer_id": f.OfferID, "outcome": f.Outcome})
		if err != nil {
			return err
		}
		for _, id := range ids {
			a, err := getApplication(tx, op, id)
			if err != nil {
				return err
			}
			out = append(out, r.applicationView(a))
		}
		return nil
	})
	return out, err
}

// Application returns one application the actor may see (as Applications), with
// its loan when approved.
//
// Errors: KindNotFound for an unknown application or one the actor may not see;
// KindForbidden, KindUnauthorized.
func (s *Service) Application(ctx context.Context, actor dataport.Actor, id string) (Application, error) {
	const op = "lending.Application"
	var a Application
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		r, err := mayRead(tx, op, actor)
		if err != nil {
			return err
		}
		if a, err = getApplication(tx, op, id); err != nil {
			return err
		}
		if !r.sees(a.MerchantID, a.InstitutionID) {
			return dataport.Errorf(op, dataport.KindNotFound, "no application %s", id)
		}
		a = r.applicationView(a)
		return nil
	})
	return a, err
}

// applicationView is a as the reader sees it: the idempotency key is the
// merchant's, for the merchant (and those who oversee); an institution reads the
// application without it.
func (r reader) applicationView(a Application) Application {
	if r.all || r.merchant && a.MerchantID == r.actor.ParticipantID {
		return a
	}
	return a.forInstitution()
}

// listQuery selects the ids of table (alias t) after a cursor, filtered by the
// columns given non-empty values.
func listQuery(table, after string, eq map[string]string) (string, []any) {
	q := `SELECT t.id FROM ` + table + ` t WHERE t.id > $1`
	args := []any{after}
	cols := make([]string, 0, len(eq))
	for c := range eq {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	for _, c := range cols {
		if eq[c] != "" {
			args = append(args, eq[c])
			q += fmt.Sprintf(" AND t.%s = $%d", c, len(args))
		}
	}
	return q, args
}

// page is the ids of one page of table's records the reader may see, in id
// order after after, filtered by the equalities of eq.
func (r reader) page(tx *store.Tx, op, table, after string, n int, eq map[string]string) ([]string, error) {
	q, args := listQuery(table, after, eq)
	if !r.all {
		q += r.ownSide("t", &args)
	}
	ids, err := tx.Strings(q+limit(&args, n), args...)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	return ids, nil
}

func limit(args *[]any, n int) string {
	*args = append(*args, page(n))
	return fmt.Sprintf(" ORDER BY t.id LIMIT $%d", len(*args))
}

func getApplication(tx *store.Tx, op, id string) (Application, error) {
	var a Application
	var product, reasons, rules, inputs, created string
	d := &a.Decision
	err := tx.QueryRow(`SELECT id, offer_id, merchant_id, institution_id, subscription_id, product, currency, amount, term_days,
		purpose, idempotency_key, outcome, reasons, rule_results, rules_version, rules_sha256, inputs, inputs_sha256, loan_id,
		created_by, created_at, filing_seq FROM lending_applications WHERE id = $1`, id).Scan(&a.ID, &a.OfferID, &a.MerchantID,
		&a.InstitutionID, &a.SubscriptionID, &product, &a.Amount.Currency, &a.Amount.Amount, &a.TermDays, &a.Purpose,
		&a.IdempotencyKey, &d.Outcome, &reasons, &rules, &d.RulesVersion, &d.RulesSHA256, &inputs, &d.InputsSHA256, &a.LoanID,
		&a.CreatedBy, &created, &a.FilingSeq)
	if isNoRows(err) {
		return Application{}, dataport.Errorf(op, dataport.KindNotFound, "no application %s", id)
	}
	if err != nil {
		return Application{}, dataport.Internal(op, err)
	}
	a.Product = Product(product)
	for _, j := range []struct {
		s string
		v any
	}{{reasons, &d.Reasons}, {rules, &d.Rules}, {inputs, &d.Inputs}} {
		if err := json.Unmarshal([]byte(j.s), j.v); err != nil {
			return Application{}, dataport.Internal(op, err)
		}
	}
	if a.CreatedAt, err = store.ParseTime(created); err != nil {
		return Application{}, dataport.Internal(op, err)
	}
	d.DecidedAt = a.CreatedAt
	if a.LoanID != "" {
		l, err := getLoan(tx, op, a.LoanID, tx.Now())
		if err != nil {
			return Application{}, err
		}
		a.Loan = &l
	}
	return a, nil
}

// LoanFilter selects loans. Zero fields do not filter.
type LoanFilter struct {
	MerchantID    string
	InstitutionID string
	Product       Product
	Status        string // active, overdue or closed
	After         string // the last id of the previous page
	Limit         int    // 100 when 0, 1,000 at most
}

// Loans lists loans in id order: a merchant its own, an institution its own, the
// operator and regulators all.
//
// Errors: KindForbidden for a caller in none of those roles (a suspended one
// reads its own); KindUnauthorized.
func (s *Service) Loans(ctx context.Context, actor dataport.Actor, f LoanFilter) ([]Loan, error) {
	const op = "lending.Loans"
	out := []Loan{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		r, err := mayRead(tx, op, actor)
		if err != nil {
			return err
		}
		ids, err := r.page(tx, op, "lending_loans", f.After, f.Limit, map[string]string{"merchant_id": f.MerchantID,
			"institution_id": f.InstitutionID, "product": string(f.Product), "status": f.Status})
		if err != nil {
			return err
		}
		for _, id := range ids {
			l, err := getLoan(tx, op, id, tx.Now())
			if err != nil {
				return err
			}
			out = append(out, l)
		}
		return nil
	})
	return out, err
}

// Loan returns one loan the actor may see (as Loans).
//
// Errors: KindNotFound for an unknown loan or one the actor may not see;
// KindForbidden, KindUnauthorized.
func (s *Service) Loan(ctx context.Context, actor dataport.Actor, id string) (Loan, error) {
	const op = "lending.Loan"
	var l Loan
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		r, err := mayRead(tx, op, actor)
		if err != nil {
			return err
		}
		if l, err = getLoan(tx, op, id, tx.Now()); err != nil {
			return err
		}
		if !r.sees(l.MerchantID, l.InstitutionID) {
			return noLoan(op, id)
		}
		return nil
	})
	return l, err
}

func noLoan(op, id string) error { return dataport.Errorf(op, dataport.KindNotFound, "no loan %s", id) }

func getLoan(tx *store.Tx, op, id string, now time.Time) (Loan, error) {
	var l Loan
	var product, cur, disbursed, due, overdue, closed, dID, dAt string
	var dAmount, dSeq int64
	err := tx.QueryRow(`SELECT l.id, l.application_id, l.offer_id, l.merchant_id, l.institution_id, l.product, l.grade, l.currency,
		l.principal, l.interest, l.rate_bps, l.term_days, l.repayment_share_bps, l.disbursed_at, l.due_at, l.principal_paid,
		l.interest_paid, l.status, l.overdue_since, l.closed_at, l.filing_seq, d.id, d.amount, d.disbursed_at, d.filing_seq
		FROM lending_loans l JOIN lending_disbursements d ON d.loan_id = l.id WHERE l.id = $1`, id).Scan(&l.ID, &l.ApplicationID,
		&l.OfferID, &l.MerchantID, &l.InstitutionID, &product, &l.Grade, &cur, &l.Principal.Amount, &l.Interest.Amount, &l.RateBPS,
		&l.TermDays, &l.RepaymentShareBPS, &disbursed, &due, &l.PrincipalPaid.Amount, &l.InterestPaid.Amount, &l.Status, &overdue,
		&closed, &l.FilingSeq, &dID, &dAmount, &dAt, &dSeq)
	if isNoRows(err) {
		return Loan{}, noLoan(op, id)
	}
	if err != nil {
		return Loan{}, dataport.Internal(op, err)
	}
	l.Product = Product(product)
	l.Principal.Currency, l.Interest.Currency, l.PrincipalPaid.Currency, l.InterestPaid.Currency = cur, cur, cur, cur
	l.Outstanding = dataport.Money{Amount: l.Principal.Amount + l.Interest.Amount - l.PrincipalPaid.Amount - l.InterestPaid.Amount, Currency: cur}
	l.Disbursement = Disbursement{ID: dID, Amount: dataport.Money{Amount: dAmount, Currency: cur}, FilingSeq: dSeq}
	if err := parseTimes([]*time.Time{&l.DisbursedAt, &l.DueAt, &l.OverdueSince, &l.ClosedAt, &l.Disbursement.DisbursedAt},
		disbursed, due, overdue, closed, dAt); err != nil {
		return Loan{}, dataport.Internal(op, err)
	}
	switch {
	case l.Status != "closed":
		l.DaysOverdue = daysOverdue(l.DueAt, now)
	case !l.OverdueSince.IsZero():
		l.DaysOverdue = daysOverdue(l.DueAt, l.ClosedAt)
	}
	return l, nil
}

// RepaymentFilter selects repayments. Zero fields do not filter.
type RepaymentFilter struct {
	LoanID        string
	MerchantID    string
	InstitutionID string
	After         string // the last id of the previous page
	Limit         int    // 100 when 0, 1,000 at most
}

// Repayments lists repayments in id order: a merchant its own, an institution
// those of its loans, the operator and regulators all.
//
// Errors: KindForbidden for a caller in none of those roles (a suspended one
// reads its own); KindUnauthorized.
func (s *Service) Repayments(ctx context.Context, actor dataport.Actor, f RepaymentFilter) ([]Repayment, error) {
	const op = "lending.Repayments"
	out := []Repayment{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		r, err := mayRead(tx, op, actor)
		if err != nil {
			return err
		}
		q, args := listQuery("lending_repayments", f.After, map[string]string{"loan_id": f.LoanID,
			"merchant_id": f.MerchantID, "institution_id": f.InstitutionID})
		if !r.all {
			q += r.ownSide("t", &args)
		}
		q = strings.Replace(q, "SELECT t.id FROM", `SELECT t.id, t.loan_id, t.merchant_id, t.institution_id, t.currency, t.amount,
			t.interest, t.principal, t.source, t.settled_amount, t.settled_at, t.outstanding, t.created_at, t.filing_seq FROM`, 1)
		rows, err := tx.Query(q+limit(&args, f.Limit), args...)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var p Repayment
			var cur, settledAt, created string
			if err := rows.Scan(&p.ID, &p.LoanID, &p.MerchantID, &p.InstitutionID, &cur, &p.Amount.Amount, &p.Interest.Amount,
				&p.Principal.Amount, &p.Source, &p.Settled.Amount, &settledAt, &p.Outstanding.Amount, &created, &p.FilingSeq); err != nil {
				return dataport.Internal(op, err)
			}
			p.Amount.Currency, p.Interest.Currency, p.Principal.Currency, p.Settled.Currency, p.Outstanding.Currency = cur, cur, cur, cur, cur
			if err := parseTimes([]*time.Time{&p.SettledAt, &p.CreatedAt}, settledAt, created); err != nil {
				return dataport.Internal(op, err)
			}
			out = append(out, p)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}

// Portfolio is an institution's book of loans, for its console.
type Portfolio struct {
	InstitutionID string            `json:"institution_id"`
	AsOf          time.Time         `json:"as_of"`
	Currency      string            `json:"currency"`
	OpenLoans     int64             `json:"open_loans" doc:"active and overdue"`
	ClosedLoans   int64             `json:"closed_loans"`
	Disbursed     dataport.Money    `json:"disbursed" doc:"principal of every loan ever made"`
	Outstanding   dataport.Money    `json:"outstanding" doc:"of the open loans"`
	OverdueLoans  int64             `json:"overdue_loans"`
	Overdue       dataport.Money    `json:"overdue" doc:"outstanding of the overdue loans"`
	ByGrade       []PortfolioBucket `json:"by_grade"`
	ByProduct     []PortfolioBucket `json:"by_product"`
}

// PortfolioBucket is the part of a portfolio with one grade or product.
type PortfolioBucket struct {
	Key          string         `json:"key" doc:"the grade or product"`
	OpenLoans    int64          `json:"open_loans"`
	Disbursed    dataport.Money `json:"disbursed"`
	Outstanding  dataport.Money `json:"outstanding"`
	OverdueLoans int64          `json:"overdue_loans"`
	Overdue      dataport.Money `json:"overdue"`
}

// Portfolio summarises an institution's loans (in CNY) as of now: the institution
// itself, the operator and regulators.
//
// Errors: KindNotFound for anyone else (a suspended institution reads its own);
// KindUnauthorized.
func (s *Service) Portfolio(ctx context.Context, actor dataport.Actor, institutionID string) (Portfolio, error) {
	const op = "lending.Portfolio"
	p := Portfolio{InstitutionID: institutionID, Currency: Currency, ByGrade: []PortfolioBucket{}, ByProduct: []PortfolioBucket{}}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		r, err := mayRead(tx, op, actor)
		if err != nil {
			return err
		}
		if !r.all && !(r.institution && actor.ParticipantID == institutionID) {
			return dataport.Errorf(op, dataport.KindNotFound, "no portfolio of %s", institutionID)
		}
		p.AsOf = tx.Now()
		rows, err := tx.Query(`SELECT grade, product, status, COUNT(*), CAST(SUM(principal) AS BIGINT),
			CAST(SUM(principal + interest - principal_paid - interest_paid) AS BIGINT)
			FROM lending_loans WHERE institution_id = $1 AND currency = $2 GROUP BY grade, product, status ORDER BY grade, product, status`,
			institutionID, Currency)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		grades, products := map[string]*PortfolioBucket{}, map[string]*PortfolioBucket{}
		bucket := func(m map[string]*PortfolioBucket, key string) *PortfolioBucket {
			if b := m[key]; b != nil {
				return b
			}
			b := &PortfolioBucket{Key: key, Disbursed: cny(0), Outstanding: cny(0), Overdue: cny(0)}
			m[key] = b
			return b
		}
		p.Disbursed, p.Outstanding, p.Overdue = cny(0), cny(0), cny(0)
		for rows.Next() {
			var grade, product, status string
			var n, principal, outstanding int64
			if err := rows.Scan(&grade, &product, &status, &n, &principal, &outstanding); err != nil {
				return dataport.Internal(op, err)
			}
			for _, b := range []*PortfolioBucket{bucket(grades, grade), bucket(products, product)} {
				b.Disbursed.Amount += principal
				if status != "closed" {
					b.OpenLoans += n
					b.Outstanding.Amount += outstanding
				}
				if status == "overdue" {
					b.OverdueLoans += n
					b.Overdue.Amount += outstanding
				}
			}
			p.Disbursed.Amount += principal
			switch status {
			case "closed":
				p.ClosedLoans += n
			case "overdue":
				p.OverdueLoans += n
				p.Overdue.Amount += outstanding
				fallthrough
			default:
				p.OpenLoans += n
				p.Outstanding.Amount += outstanding
			}
		}
		if err := rows.Err(); err != nil {
			return dataport.Internal(op, err)
		}
		for _, g := range Grades {
			if b := grades[g]; b != nil {
				p.ByGrade = append(p.ByGrade, *b)
			}
		}
		for _, pr := range Products {
			if b := products[string(pr)]; b != nil {
				p.ByProduct = append(p.ByProduct, *b)
			}
		}
		return nil
	})
	return p, err
}

func cny(a int64) dataport.Money { return dataport.Money{Amount: a, Currency: Currency} }
