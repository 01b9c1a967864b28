package lending

import (
	"context"
	"errors"
	"math/bits"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/store"
)

// Repayment (還款) is money taken from a settling receivable towards a loan.
type Repayment struct {
	ID            string         `json:"id"`
	LoanID        string         `json:"loan_id"`
	MerchantID    string         `json:"merchant_id"`
	InstitutionID string         `json:"institution_id"`
	Amount        dataport.Money `json:"amount" doc:"interest + principal"`
	Interest      dataport.Money `json:"interest"`
	Principal     dataport.Money `json:"principal"`
	Source        string         `json:"source" enum:"settlement"`
	Settled       dataport.Money `json:"settled" doc:"the settlement it was taken from"`
	SettledAt     time.Time      `json:"settled_at"`
	Outstanding   dataport.Money `json:"outstanding" doc:"of the loan after this repayment"`
	CreatedAt     time.Time      `json:"created_at"`
	FilingSeq     int64          `json:"filing_seq" doc:"the filing lending.repaid"`
}

// Share is the part of amount that shareBPS basis points take, rounded down to
// the minor unit: ⌊amount × share_bps / 10,000⌋, computed in 128 bits.
func Share(amount, shareBPS int64) int64 {
	if amount <= 0 || shareBPS <= 0 {
		return 0
	}
	if shareBPS >= 10_000 {
		return amount
	}
	// amount < 2⁶³ and share_bps < 10,000 keep the high word below the divisor.
	hi, lo := bits.Mul64(uint64(amount), uint64(shareBPS))
	q, _ := bits.Div64(hi, lo, 10_000)
	return int64(q)
}

// openLoan is what repayment needs of a loan.
type openLoan struct {
	id, institutionID, status                        string
	principal, interest, principalPaid, interestPaid int64
	shareBPS                                         int64
}

func (l *openLoan) outstanding() int64 {
	return l.principal + l.interest - l.principalPaid - l.interestPaid
}

// Settled repays the merchant's loans from receivables that have just settled
// (T+0), in the settling transaction: amount is the money newly settled, in minor
// units of currency, at the time at. The merchant's open loans (active or overdue)
// in that currency are served in order of due date (oldest first; then disbursement,
// then id); each takes its repayment share of the settled amount,
//
//	take = min(⌊amount × repayment_share_bps / 10,000⌋, the loan's outstanding, what is left of amount)
//
// and applies it to interest first, then principal. Each repayment is a row and a
// filing (lending.repaid), the institution and the merchant told; a loan repaid in
// full closes (lending.loan_closed), an overdue one too. The sum taken never
// exceeds amount; what the shares leave, and the fractions of a minor unit that
// rounding down leaves, stay with the merchant. Loans are repaid whatever the
// state of the parties: a suspension stops new business, not repayment.
//
// Errors: internal ones only; they roll back the caller's transaction.
func (s *Service) Settled(tx *store.Tx, merchantID, currency string, amount int64, at time.Time) error {
	const op = "lending.Settled"
	if amount <= 0 {
		return nil
	}
	if at.IsZero() {
		at = tx.Now()
	}
	rows, err := tx.Query(`SELECT id, institution_id, status, principal, interest, principal_paid, interest_paid, repayment_share_bps
		FROM lending_loans WHERE merchant_id = $1 AND currency = $2 AND status IN ('active', 'overdue')
		ORDER BY due_at, disbursed_at, id`+forUpdate(tx), merchantID, currency)
	if err != nil {
		return dataport.Internal(op, err)
	}
	var loans []openLoan
	for rows.Next() {
		var l openLoan
		if err := rows.Scan(&l.id, &l.institutionID, &l.status, &l.principal, &l.interest, &l.principalPaid, &l.interestPaid, &l.shareBPS); err != nil {
			rows.Close()
			return dataport.Internal(op, err)
		}
		loans = append(loans, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dataport.Internal(op, err)
	}
	left := amount
	for i := range loans {
		if left == 0 {
			break
		}
		l := &loans[i]
		take := min(Share(amount, l.shareBPS), l.outstanding(), left)
		if take <= 0 {
			continue
		}
		if err := repay(tx, merchantID, currency, l, take, amount, at); err != nil {
			return dataport.Internal(op, err)
		}
		left -= take
	}
	return nil
}

// repay records one repayment of take towards l: interest first, then principal.
func repay(tx *store.Tx, merchantID, currency string, l *openLoan, take, settled int64, at time.Time) error {
	now := tx.Now()
	interest := min(take, l.interest-l.interestPaid)
	principal := take - interest
	l.interestPaid += interest
	l.principalPaid += principal
	money := func(a int64) dataport.Money { return dataport.Money{Amount: a, Currency: currency} }
	r := Repayment{ID: dataport.NewID("rpm"), LoanID: l.id, MerchantID: merchantID, InstitutionID: l.institutionID,
		Amount: money(take), Interest: money(interest), Principal: money(principal), Source: "settlement",
		Settled: money(settled), SettledAt: at.UTC(), Outstanding: money(l.outstanding()), CreatedAt: now}
	f, err := ledger.File(tx, dataport.System, ledger.Change{Type: "lending.repaid",
		Subjects: []string{l.id, r.ID, merchantID, l.institutionID},
		Payload: map[string]any{"repayment_id": r.ID, "loan_id": l.id, "merchant_id": merchantID, "institution_id": l.institutionID,
			"amount": r.Amount, "interest": r.Interest, "principal": r.Principal, "source": r.Source, "settled": r.Settled,
			"settled_at": r.SettledAt, "outstanding": r.Outstanding}})
	if err != nil {
		return err
	}
	r.FilingSeq = f.Seq
	closed := l.outstanding() == 0
	status, closedAt := l.status, ""
	if closed {
		status, closedAt = "closed", store.FormatTime(now)
	}
	// The row was read under lock (PostgreSQL) or inside SQLite's one writer; the
	// guard on the amounts paid makes a lost update impossible either way.
	res, err := tx.Exec(`UPDATE lending_loans SET interest_paid = $2, principal_paid = $3,
		status = $4, closed_at = $5
		WHERE id = $1 AND interest_paid = $6 AND principal_paid = $7`,
		l.id, l.interestPaid, l.principalPaid, status, closedAt, l.interestPaid-interest, l.principalPaid-principal)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errors.Join(errors.New("loan "+l.id+" changed while it was repaid"), err)
	}
	if _, err := tx.Exec(`INSERT INTO lending_repayments (id, loan_id, merchant_id, institution_id, currency, amount, interest, principal,
		source, settled_amount, settled_at, outstanding, created_at, filing_seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'settlement', $9, $10, $11, $12, $13)`,
		r.ID, l.id, merchantID, l.institutionID, currency, take, interest, principal, settled, store.FormatTime(r.SettledAt),
		l.outstanding(), store.FormatTime(now), r.FilingSeq); err != nil {
		return err
	}
	for _, to := range []string{l.institutionID, merchantID} {
		if err := notify.Send(tx, to, "lending.repaid", r); err != nil {
			return err
		}
	}
	if !closed {
		return nil
	}
	if _, err := ledger.File(tx, dataport.System, ledger.Change{Type: "lending.loan_closed",
		Subjects: []string{l.id, merchantID, l.institutionID},
		Payload: map[string]any{"loan_id": l.id, "merchant_id": merchantID, "institution_id": l.institutionID,
			"principal": money(l.principal), "interest": money(l.interest), "last_repayment_id": r.ID}}); err != nil {
		return err
	}
	payload := map[string]any{"loan_id": l.id, "closed_at": now}
	for _, to := range []string{l.institutionID, merchantID} {
		if err := notify.Send(tx, to, "lending.loan_closed", payload); err != nil {
			return err
		}
	}
	return nil
}

// sweepBatch bounds the loans one Sweep transaction marks.
const sweepBatch = 500

var errNothingDue = errors.New("nothing due")

// Sweep marks overdue (逾期) every active loan whose due time has passed by now
// with something still outstanding: status overdue, overdue since its due time,
// filed (lending.loan_overdue) and both parties told. It works in transactions of
// at most 500 loans and returns how many it marked. Repayments from later
// settlements still apply to an overdue loan, and repaid in full it closes. The
// exchange runs it periodically; running it twice marks nothing twice.
//
// Errors: KindUnavailable when the database is; internal ones.
func (s *Service) Sweep(ctx context.Context, now time.Time) (int, error) {
	const op = "lending.Sweep"
	total := 0
	for {
		var ids []string
		err := s.db.Read(ctx, func(tx *store.Tx) error {
			var err error
			ids, err = tx.Strings(`SELECT id FROM lending_loans WHERE status = 'active' AND due_at <= $1 ORDER BY due_at, id LIMIT $2`,
				store.FormatTime(now), sweepBatch)
			return dataport.Wrap(op, err)
		})
		if err != nil || len(ids) == 0 {
			return total, err
		}
		marked := 0
		err = s.db.Write(ctx, func(tx *store.Tx) error {
			marked = 0
			for _, id := range ids {
				ok, err := markOverdue(tx, id, now)
				if err != nil {
					return dataport.Internal(op, err)
				}
				if ok {
					marked++
				}
			}
			if marked == 0 {
				return errNothingDue // another server marked them first
			}
			return nil
		})
		if errors.Is(err, errNothingDue) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		total += marked
		if len(ids) < sweepBatch {
			return total, nil
		}
	}
}

// markOverdue marks one loan overdue if it still is due and unpaid.
func markOverdue(tx *store.Tx, id string, now time.Time) (bool, error) {
	var merchantID, institutionID, currency, due string
	var outstanding int64
	err := tx.QueryRow(`SELECT merchant_id, institution_id, currency, due_at, principal + interest - principal_paid - interest_paid
		FROM lending_loans WHERE id = $1 AND status = 'active'`+forUpdate(tx), id).Scan(&merchantID, &institutionID, &currency, &due, &outstanding)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if due > store.FormatTime(now) || outstanding <= 0 {
		return false, nil
	}
	if _, err := tx.Exec(`UPDATE lending_loans SET status = 'overdue', overdue_since = due_at WHERE id = $1 AND status = 'active'`, id); err != nil {
		return false, err
	}
	dueAt, err := store.ParseTime(due)
	if err != nil {
		return false, err
	}
	payload := map[string]any{"loan_id": id, "merchant_id": merchantID, "institution_id": institutionID, "due_at": dueAt,
		"outstanding": dataport.Money{Amount: outstanding, Currency: currency}}
	if _, err := ledger.File(tx, dataport.System, ledger.Change{Type: "lending.loan_overdue",
		Subjects: []string{id, merchantID, institutionID}, Payload: payload}); err != nil {
		return false, err
	}
	for _, to := range []string{institutionID, merchantID} {
		if err := notify.Send(tx, to, "lending.loan_overdue", payload); err != nil {
			return false, err
		}
	}
	return true, nil
}

// daysOverdue counts the calendar days in China from the day a loan fell due to the
// day of until (today, or the day it closed); 0 when it was not yet due.
func daysOverdue(due, until time.Time) int {
	if !until.After(due) {
		return 0
	}
	day := func(t time.Time) time.Time {
		y, m, d := t.In(dataport.China).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return int(day(until).Sub(day(due)) / (24 * time.Hour))
}
