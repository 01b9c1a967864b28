package lending_test

import (
	"slices"
	"testing"
	"time"

	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/store"
)

// BenchmarkApply measures the decision latency: from Apply's call to its return,
// the application checked, the bank's rules evaluated, the decision, loan and
// disbursement written and filed, the notifications queued, and the transaction
// committed (SQLite synchronous=FULL: on disk). Each iteration applies against a
// fresh offer, made outside the timed part by a new credit decision, and the loan
// is repaid from a settlement before the next (untimed too). It reports the
// 50th and 99th percentiles in milliseconds (the goal: p99 ≤ 20 ms).
func BenchmarkApply(b *testing.B) {
	e := setup(b, store.SQLite)
	e.consent(e.merchant, []lending.Scope{lending.ScopeScore, lending.ScopeFeatures}, e.bankA)
	e.subscribe(e.bankA, subscription(lending.OrderFinancing,
		lending.Rule{ID: "grade_ok", Expr: `grade in ["A", "B", "C"]`, Reason: "grades A to C"},
		lending.Rule{ID: "pd_cap", Expr: `pd <= 0.05 || (pd <= 0.08 && amount <= line / 4)`, Reason: "PD too high for the amount"},
		lending.Rule{ID: "within_line", Expr: `amount <= line`, Reason: "within the credit line"},
		lending.Rule{ID: "no_overdue", Expr: `overdue_loans == 0`, Reason: "an overdue loan with us"},
		lending.Rule{ID: "few_returns", Expr: `!("return_rate" in features) || features["return_rate"] < 0.1`, Reason: "returns of 10 % or more"}))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e.publish(e.decision(e.merchant, "B", 50_000_000))
		o := e.openOffer(e.merchant, e.bankA)
		b.StartTimer()
		start := time.Now()
		a, _, err := e.svc.Apply(e.ctx, e.merchant, o.ID, lending.NewApplication{Amount: cny(1_000_000)})
		lat = append(lat, time.Since(start))
		if err != nil || a.Decision.Outcome != "approved" {
			b.Fatalf("%v %+v", err, a.Decision)
		}
		b.StopTimer()
		e.settled(e.merchant, 100_000_000) // T+0: the loan is repaid, as a merchant's loans are
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
