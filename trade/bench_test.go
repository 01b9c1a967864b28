package trade_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade"
	"github.com/dataport/dataport/trade/tradetest"
)

// BenchmarkDealLifecycle runs whole deals — request, agree, verify, finalize,
// confirm delivery — each step assessed where the protocol says and filed, from many
// goroutines at once; deals/s is b.N over the time taken, and each step's p99
// latency is reported (ms).
func BenchmarkDealLifecycle(b *testing.B) {
	storetest.ForEachEngine(b, func(b *testing.B, engine store.Engine) {
		w := tradetest.New(b, engine)
		ctx := context.Background()
		w.Fund(w.Buyer, int64(b.N+1)*1_000_000)
		steps := []string{"request", "agree", "verify", "finalize", "confirm"}
		var mu sync.Mutex
		took := map[string][]time.Duration{}
		timed := func(step string, fn func() (trade.Deal, error)) (trade.Deal, error) {
			t0 := time.Now()
			d, err := fn()
			mu.Lock()
			took[step] = append(took[step], time.Since(t0))
			mu.Unlock()
			return d, err
		}
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d, err := timed("request", func() (trade.Deal, error) {
					return w.Deals.Request(ctx, w.Buyer, trade.NewDeal{ProductID: w.Product.ID, Scenario: "research", Purpose: "academic", DeliveryMode: "api"})
				})
				if err != nil {
					b.Error(err)
					return
				}
				for i, step := range []func() (trade.Deal, error){
					func() (trade.Deal, error) { return w.Agree(ctx, w.Supplier, d.ID, "") },
					func() (trade.Deal, error) { return w.Verify(ctx, w.Buyer, d.ID) },
					func() (trade.Deal, error) { return w.Deals.Finalize(ctx, w.Supplier, d.ID) },
					func() (trade.Deal, error) { return w.Deals.ConfirmDelivery(ctx, w.Buyer, d.ID, "") },
				} {
					if _, err := timed(steps[i+1], step); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deals/s")
		for _, step := range steps {
			ds := took[step]
			slices.Sort(ds)
			if len(ds) > 0 {
				b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, step+"-p99-ms")
			}
		}
	})
}
