package lending_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/store"
)

func TestInterestAndShareRoundDown(t *testing.T) {
	for _, c := range []struct {
		principal, bps int64
		days           int
		want           int64
	}{
		{20_000_000, 720, 30, 118_356}, // 118,356.16
		{2_000_000, 365, 10, 2_000},    // exact
		{1, 2400, 365, 0},              // 0.24 fen
		{1_000_000_000_000, 2400, 365, 240_000_000_000},
		{math.MaxInt64, 2400, 365, 2_213_609_288_845_146_193}, // no overflow on the way
		{5_000_000, 0, 30, 0},
	} {
		if got := lending.Interest(c.principal, c.bps, c.days); got != c.want {
			t.Errorf("Interest(%d, %d, %d) = %d, want %d", c.principal, c.bps, c.days, got, c.want)
		}
	}
	for _, c := range []struct{ amount, bps, want int64 }{
		{1_000_001, 2000, 200_000}, {3, 5000, 1}, {3, 2000, 0}, {999, 10_000, 999},
		{math.MaxInt64, 9999, 9_222_449_699_651_090_329}, // ⌊(2⁶³−1) × 0.9999⌋
	} {
		if got := lending.Share(c.amount, c.bps); got != c.want {
			t.Errorf("Share(%d, %d) = %d, want %d", c.amount, c.bps, got, c.want)
		}
	}
}

// twoLoans makes loan A (bank A, order financing: 10,000 yuan at 7.2 % for 30 days,
// 20 % of each settlement) and loan B (bank B, credit sales: 20,000 yuan at 3.65 %
// for 10 days, 90 % of each settlement). B is due first.
func twoLoans(e *env) (a, b lending.Loan) {
	e.t.Helper()
	e.consent(e.merchant, []lending.Scope{lending.ScopeScore}, e.bankA, e.bankB)
	e.subscribe(e.bankA, subscription(lending.OrderFinancing))
	nb := subscription(lending.CreditSales)
	nb.Terms.RateBPS, nb.Terms.TermDays, nb.Terms.RepaymentShareBPS = 365, 10, 9000
	e.subscribe(e.bankB, nb)
	e.publish(e.decision(e.merchant, "B", 50_000_000))
	la := e.apply(e.merchant, e.openOffer(e.merchant, e.bankA).ID, lending.NewApplication{Amount: cny(1_000_000)}).Loan
	lb := e.apply(e.merchant, e.openOffer(e.merchant, e.bankB).ID, lending.NewApplication{Amount: cny(2_000_000)}).Loan
	if la.Interest != cny(5_917) || lb.Interest != cny(2_000) || !lb.DueAt.Before(la.DueAt) {
		e.t.Fatalf("loans A %+v, B %+v", la, lb)
	}
	return *la, *lb
}

// Settlements repay T+0: each loan its share, oldest due first, interest before
// principal, never more than settled; a loan repaid in full closes.
func TestSettledRepays(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		la, lb := twoLoans(e)
		e.settled(e.merchant, 1_000_000)
		// B (due first) takes 90 %: 900,000 — 2,000 interest, 898,000 principal.
		// A takes its 20 %, 200,000, capped by what is left: 100,000 — 5,917 interest first.
		b, a := e.loan(e.merchant, lb.ID), e.loan(e.merchant, la.ID)
		if b.InterestPaid != cny(2_000) || b.PrincipalPaid != cny(898_000) || b.Outstanding != cny(1_102_000) {
			t.Fatalf("loan B after 1,000,000: %+v", b)
		}
		if a.InterestPaid != cny(5_917) || a.PrincipalPaid != cny(94_083) || a.Outstanding != cny(905_917) {
			t.Fatalf("loan A after 1,000,000: %+v", a)
		}
		// Fractions stay with the merchant: 90 % of 3 is 2.7 → 2; A's 20 % would be 0.6 → 0, and 1 is left anyway.
		e.settled(e.merchant, 3)
		if b = e.loan(e.merchant, lb.ID); b.Outstanding != cny(1_101_998) {
			t.Fatalf("loan B after 3: %+v", b)
		}
		if a = e.loan(e.merchant, la.ID); a.Outstanding != cny(905_917) {
			t.Fatalf("loan A took from a settlement of 3: %+v", a)
		}
		// Another currency, or another merchant, repays nothing.
		before := e.snapshot()
		err := e.db.Write(e.ctx, func(tx *store.Tx) error {
			if err := e.svc.Settled(tx, e.merchant.ParticipantID, "USD", 1_000_000, tx.Now()); err != nil {
				return err
			}
			if err := e.svc.Settled(tx, e.merchant2.ParticipantID, "CNY", 1_000_000, tx.Now()); err != nil {
				return err
			}
			return errRollback
		})
		if err != errRollback {
			t.Fatal(err)
		}
		e.unchanged(before)
		// A large settlement closes both, taking only what is owed.
		e.settled(e.merchant, 10_000_000)
		b, a = e.loan(e.merchant, lb.ID), e.loan(e.merchant, la.ID)
		if b.Status != "closed" || a.Status != "closed" || b.Outstanding.Amount != 0 || a.Outstanding.Amount != 0 ||
			b.ClosedAt.IsZero() || b.PrincipalPaid != cny(2_000_000) || a.PrincipalPaid != cny(1_000_000) {
			t.Fatalf("after a large settlement: A %+v, B %+v", a, b)
		}
		var taken int64
		rs, err := e.svc.Repayments(e.ctx, e.regulator, lending.RepaymentFilter{MerchantID: e.merchant.ParticipantID})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Interest.Amount+r.Principal.Amount != r.Amount.Amount {
				t.Fatalf("repayment %+v does not add up", r)
			}
			taken += r.Amount.Amount
		}
		if owed := int64(1_000_000 + 5_917 + 2_000_000 + 2_000); taken != owed || len(rs) != 5 {
			t.Fatalf("%d repayments took %d, want 5 taking %d", len(rs), taken, owed)
		}
		if n := len(e.filings("lending.loan_closed")); n != 2 {
			t.Fatalf("%d loan_closed filings", n)
		}
		// Each bank reads the repayments of its own loans only.
		if rs, _ := e.svc.Repayments(e.ctx, e.bankA, lending.RepaymentFilter{}); len(rs) != 2 || rs[0].LoanID != la.ID {
			t.Fatalf("bank A's repayments %+v", rs)
		}
		if got := len(e.received(e.rcvB, "lending.repaid")); got != 3 {
			t.Fatalf("bank B was told of %d repayments, want 3", got)
		}
	})
}

var errRollback = dataport.Errorf("test", dataport.KindConflict, "roll back")

// A loan past due with something outstanding is overdue; repayments still apply
// and close it; the portfolio shows it.
func TestOverdueSweep(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		la, lb := twoLoans(e)
		if n, err := e.svc.Sweep(e.ctx, e.clock.Now()); err != nil || n != 0 {
			t.Fatalf("swept %d before anything was due: %v", n, err)
		}
		e.clock.Advance(12 * 24 * time.Hour) // B was due two days ago; A is not due
		n, err := e.svc.Sweep(e.ctx, e.clock.Now())
		if err != nil || n != 1 {
			t.Fatalf("swept %d, want 1: %v", n, err)
		}
		if n, _ := e.svc.Sweep(e.ctx, e.clock.Now()); n != 0 {
			t.Fatalf("swept %d again", n)
		}
		b := e.loan(e.bankB, lb.ID)
		if b.Status != "overdue" || !b.OverdueSince.Equal(lb.DueAt) || b.DaysOverdue != 2 {
			t.Fatalf("loan B %+v", b)
		}
		if a := e.loan(e.bankA, la.ID); a.Status != "active" || a.DaysOverdue != 0 {
			t.Fatalf("loan A %+v", a)
		}
		if got := e.received(e.rcvB, "lending.loan_overdue"); len(got) != 1 || !strings.Contains(string(got[0].Data), lb.ID) {
			t.Fatalf("bank B's overdue notices %+v", got)
		}
		p, err := e.svc.Portfolio(e.ctx, e.bankB, e.bankB.ParticipantID)
		if err != nil {
			t.Fatal(err)
		}
		if p.OpenLoans != 1 || p.OverdueLoans != 1 || p.Overdue != cny(2_002_000) || p.Outstanding != cny(2_002_000) ||
			p.Disbursed != cny(2_000_000) || len(p.ByGrade) != 1 || p.ByGrade[0].Key != "B" || p.ByGrade[0].OverdueLoans != 1 ||
			len(p.ByProduct) != 1 || p.ByProduct[0].Key != "credit_sales" {
			t.Fatalf("portfolio %+v", p)
		}
		_, err = e.svc.Portfolio(e.ctx, e.bankA, e.bankB.ParticipantID)
		wantKind(t, err, dataport.KindNotFound)
		_, err = e.svc.Portfolio(e.ctx, e.merchant, e.bankB.ParticipantID)
		wantKind(t, err, dataport.KindNotFound)
		if ls, _ := e.svc.Loans(e.ctx, e.regulator, lending.LoanFilter{Status: "overdue"}); len(ls) != 1 || ls[0].ID != lb.ID {
			t.Fatalf("regulator's overdue loans %+v", ls)
		}

		// The next settlement repays the overdue loan first, and closes it.
		e.clock.Advance(24 * time.Hour)
		e.settled(e.merchant, 5_000_000)
		b = e.loan(e.bankB, lb.ID)
		if b.Status != "closed" || b.DaysOverdue != 3 || b.Outstanding.Amount != 0 {
			t.Fatalf("overdue loan after repayment %+v", b)
		}
		p, _ = e.svc.Portfolio(e.ctx, e.regulator, e.bankB.ParticipantID)
		if p.OpenLoans != 0 || p.ClosedLoans != 1 || p.Overdue.Amount != 0 {
			t.Fatalf("portfolio after closing %+v", p)
		}
		if got := e.filingsAbout(lb.ID); strings.Join(got, " ") != "lending.disbursed lending.loan_overdue lending.repaid lending.loan_closed" {
			t.Fatalf("filings about loan B: %v", got)
		}
	})
}
