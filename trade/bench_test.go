package trade_test

import (
	"context"
	"testing"

	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade"
	"github.com/dataport/dataport/trade/tradetest"
)

// BenchmarkDealLifecycle runs whole deals — request, agree, verify, finalize,
// confirm delivery — each step assessed where the protocol says and filed, from many
// goroutines at once; deals/s is b.N over the time taken.
func BenchmarkDealLifecycle(b *testing.B) {
	storetest.ForEachEngine(b, func(b *testing.B, engine store.Engine) {
		w := tradetest.New(b, engine)
		ctx := context.Background()
		w.Fund(w.Buyer, int64(b.N+1)*1_000_000)
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d, err := w.Deals.Request(ctx, w.Buyer, trade.NewDeal{ProductID: w.Product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "api"})
				if err != nil {
					b.Error(err)
					return
				}
				for _, step := range []func() (trade.Deal, error){
					func() (trade.Deal, error) { return w.Agree(ctx, w.Supplier, d.ID, "") },
					func() (trade.Deal, error) { return w.Verify(ctx, w.Buyer, d.ID) },
					func() (trade.Deal, error) { return w.Deals.Finalize(ctx, w.Supplier, d.ID) },
					func() (trade.Deal, error) { return w.Deals.ConfirmDelivery(ctx, w.Buyer, d.ID, "") },
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
