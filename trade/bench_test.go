package trade_test

import (
	"context"
	"testing"

	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade"
)

// BenchmarkDealLifecycle runs whole deals — request, agree, verify, finalize,
// confirm delivery — each step assessed where the protocol says and filed, from many
// goroutines at once; deals/s is b.N over the time taken.
func BenchmarkDealLifecycle(b *testing.B) {
	storetest.ForEachEngine(b, func(b *testing.B, engine store.Engine) {
		w := setup(b, engine)
		ctx := context.Background()
		w.fund(w.buyer, int64(b.N+1)*1_000_000)
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d, err := w.deals.Request(ctx, w.buyer, trade.NewDeal{ProductID: w.product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "api"})
				if err != nil {
					b.Error(err)
					return
				}
				for _, step := range []func() (trade.Deal, error){
					func() (trade.Deal, error) { return w.agree(ctx, w.supplier, d.ID, "") },
					func() (trade.Deal, error) { return w.verify(ctx, w.buyer, d.ID) },
					func() (trade.Deal, error) { return w.deals.Finalize(ctx, w.supplier, d.ID) },
					func() (trade.Deal, error) { return w.deals.ConfirmDelivery(ctx, w.buyer, d.ID, "") },
				} {
					if _, err := step(); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deals/s")
	})
}
