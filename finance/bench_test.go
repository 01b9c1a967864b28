package finance_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/store"
)

const (
	benchOrders = 200_000
	benchShops  = 50
	benchDays   = 90
)

// orderData generates a realistic batch: benchOrders orders of benchShops shops
// over the benchDays days before the clock, each shop with its own daily volume
// and price level; most orders delivered, some still on their way, returned,
// refunded or cancelled; logistics events, ratings and expected settlements.
func orderData(format string, batch int, shops []string) []byte {
	rng := rand.New(rand.NewPCG(uint64(batch), 7))
	var b bytes.Buffer
	if format == "csv" {
		b.WriteString("order_id,shop,ordered_at,amount,currency,status,refund_amount,complaint,rating,logistics,expected_settlement\n")
	}
	start := now.Add(-benchDays * 24 * time.Hour)
	span := int64(benchDays*24*time.Hour - 6*time.Hour)
	for i := range benchOrders {
		shop := shops[rng.IntN(len(shops))]
		at := start.Add(time.Duration(rng.Int64N(span))).In(time.FixedZone("", 8*3600)).Truncate(time.Second)
		yuan, fen := 10+rng.IntN(990), rng.IntN(100)
		status, refund, rating, complaint, logistics := "delivered", "", "", "false", ""
		shipped := at.Add(time.Duration(2+rng.IntN(70)) * time.Hour)
		delivered := shipped.Add(time.Duration(12+rng.IntN(60)) * time.Hour)
		switch p := rng.IntN(100); {
		case p < 5:
			status = "cancelled"
		case p < 12 || delivered.After(now):
			status = "paid"
			if shipped.Before(now) {
				status = "shipped"
			}
		case p < 16:
			status, refund = "returned", fmt.Sprintf("%d.%02d", yuan, fen)
		case p < 19:
			status, refund = "refunded", fmt.Sprintf("%d.00", 1+rng.IntN(yuan))
		}
		if status != "cancelled" && status != "paid" {
			logistics = "shipped@" + shipped.Format(time.RFC3339)
			if status != "shipped" {
				logistics += ";delivered@" + delivered.Format(time.RFC3339)
			}
		}
		if status == "delivered" && rng.IntN(10) < 6 {
			rating = fmt.Sprint(1 + rng.IntN(5))
		}
		if rng.IntN(50) == 0 {
			complaint = "true"
		}
		settle := at.AddDate(0, 0, 7+rng.IntN(14)).Format(time.DateOnly)
		id := fmt.Sprintf("B%d-%07d", batch, i)
		amount := fmt.Sprintf("%d.%02d", yuan, fen)
		if format == "csv" {
			fmt.Fprintf(&b, "%s,%s,%s,%s,CNY,%s,%s,%s,%s,%s,%s\n", id, shop, at.Format(time.RFC3339), amount, status, refund, complaint, rating, logistics, settle)
		} else {
			fmt.Fprintf(&b, `{"order_id":%q,"shop":%q,"ordered_at":%q,"amount":%q,"currency":"CNY","status":%q,"refund_amount":%q,"complaint":%s,"rating":%q,"logistics":%q,"expected_settlement":%q}`+"\n",
				id, shop, at.Format(time.RFC3339), amount, status, refund, complaint, rating, logistics, settle)
		}
	}
	return b.Bytes()
}

// BenchmarkIngest measures order events ingested into features per second on
// SQLite: a batch of 200,000 orders of 50 shops over 90 days, read, hashed,
// checked, stored, folded into the daily aggregates and attested, per iteration
// (each iteration a new batch into the same database).
func BenchmarkIngest(b *testing.B) {
	for _, format := range []string{"csv", "jsonl"} {
		b.Run(format, func(b *testing.B) {
			e := setup(b, store.SQLite)
			shops := []string{"A100", "B200"}
			for i := len(shops); i < benchShops; i++ {
				sh := e.connect(finance.NewShop{Platform: "taobao", ExternalID: fmt.Sprintf("S%03d", i), Name: fmt.Sprintf("店 %d", i)})
				shops = append(shops, sh.ExternalID)
			}
			var elapsed time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer() // the generation is not the ingest
				body := orderData(format, i, shops)
				b.StartTimer()
				start := time.Now()
				rep, err := e.svc.IngestBatch(context.Background(), e.merchant, e.merchant.ParticipantID, format, bytes.NewReader(body))
				elapsed += time.Since(start)
				if err != nil || rep.Inserted != benchOrders {
					b.Fatalf("%+v %+v, %v", rep.Batch, rep.Problems, err)
				}
				b.SetBytes(int64(len(body)))
			}
			b.ReportMetric(float64(benchOrders*b.N)/elapsed.Seconds(), "events/s")
			fs := e.features(now)
			if fs.Merchant.Windows[2].Orders == 0 {
				b.Fatal("no features")
			}
		})
	}
}
