package credit_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// BenchmarkDecide measures a credit decision from request to answer, filing
// included: the permission checks, the features of 180 days of a generated
// merchant's orders read in the transaction, inputs, hash, score, grade, line,
// the stored row, the filing and the durable commit. One decision at a time;
// p50 and p99 of the iterations are reported in milliseconds (the goal is a p99
// of at most 20 ms).
func BenchmarkDecide(b *testing.B) {
	storetest.ForEachEngine(b, func(b *testing.B, engine store.Engine) {
		e := setup(b, engine)
		m := simMerchant(0)
		m.Age = 400 // orders over the whole span the features read
		e.load(e.merchant, m)
		ctx := context.Background()
		var took []time.Duration
		for b.Loop() {
			start := time.Now()
			if _, err := e.svc.Decide(ctx, e.merchant, e.merchant.ParticipantID); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		at := func(q float64) float64 { return float64(took[int(q*float64(len(took)-1))]) / 1e6 }
		b.ReportMetric(at(0.50), "p50-ms")
		b.ReportMetric(at(0.99), "p99-ms")
	})
}
