package finance_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport/finance"
)

type spec struct {
	shop, day, status, refund, settle, settled, shipAfter string
	complaint                                             bool
	rating                                                int
	amount                                                string
}

// line renders one order, placed at 10:00 China time on day (of November 2026).
func (s spec) line(id string) string {
	at := "2026-11-" + s.day + "T10:00:00+08:00"
	m := map[string]any{"order_id": id, "shop": s.shop, "ordered_at": at, "amount": s.amount, "currency": "CNY", "status": s.status}
	if m["amount"] == "" {
		m["amount"] = "100.00"
	}
	if s.refund != "" {
		m["refund_amount"] = s.refund
	}
	if s.settle != "" {
		m["expected_settlement"] = s.settle
	}
	if s.settled != "" {
		m["settled_at"] = s.settled
	}
	if s.shipAfter != "" {
		d, _ := time.ParseDuration(s.shipAfter)
		t, _ := time.Parse(time.RFC3339, at)
		m["logistics"] = []map[string]string{{"event": "shipped", "at": t.Add(d).Format(time.RFC3339)}}
	}
	if s.complaint {
		m["complaint"] = true
	}
	if s.rating > 0 {
		m["rating"] = s.rating
	}
	b, _ := json.Marshal(m)
	return string(b) + "\n"
}

// Features of a dataset built by hand, against answers worked out by hand.
//
// As of 25 November 2026 (China time), the 7-day window is 19–25 November and the
// one before it 12–18 November. Shop A has one order a day in the earlier week
// and 1, 2, 3, 1, 2, 3, 1 orders a day in the window, 100.00 CNY each, and one
// cancelled order; shop B has two orders of 150.00 CNY on 22 November.
func TestFeaturesByHand(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		var orders []spec
		// The week before: receivables due from 1 to 17 December.
		orders = append(orders,
			spec{shop: "A100", day: "12", status: "delivered", settle: "2026-12-01"},                                  // due on day 6: not counted
			spec{shop: "A100", day: "13", status: "delivered", settle: "2026-12-02"},                                  // day 7: 100.00
			spec{shop: "A100", day: "14", status: "shipped", settle: "2026-12-16"},                                    // day 21: 100.00
			spec{shop: "A100", day: "15", status: "paid", settle: "2026-12-17"},                                       // day 22: not counted
			spec{shop: "A100", day: "16", status: "delivered", settle: "2026-12-10", settled: "2026-11-24T12:00:00Z"}, // settled
			spec{shop: "A100", day: "17", status: "delivered", settle: "2026-12-05", refund: "25.00"},                 // 75.00
			spec{shop: "A100", day: "18", status: "paid", settle: "2026-12-09"},                                       // 100.00
		)
		// The window: 13 orders of shop A (k = 0 … 12).
		days := []string{"19", "20", "20", "21", "21", "21", "22", "23", "23", "24", "24", "24", "25"}
		for k, d := range days {
			s := spec{shop: "A100", day: d, status: "delivered"}
			switch {
			case k < 2:
				s.status, s.refund, s.settle = "returned", "100.00", "2026-12-05" // a return is owed nothing
			case k == 2:
				s.refund = "30.00"
			case k == 3:
				s.complaint = true
			case k >= 4 && k <= 7:
				s.rating = []int{5, 4, 4, 3}[k-4]
			case k >= 10:
				s.status = "paid"
			}
			switch {
			case k <= 6 || k == 9:
				s.shipAfter = "24h"
			case k == 7 || k == 8:
				s.shipAfter = "50h" // late
			}
			orders = append(orders, s)
		}
		orders = append(orders,
			spec{shop: "A100", day: "21", status: "cancelled", settle: "2026-12-05"},
			spec{shop: "B200", day: "22", status: "delivered", amount: "150.00", settle: "2026-12-03"},
			spec{shop: "B200", day: "22", status: "paid", amount: "150.00"},
		)
		var b strings.Builder
		for i, s := range orders {
			b.WriteString(s.line(fmt.Sprintf("F%02d", i)))
		}
		if rep := e.ingest("jsonl", b.String()); rep.Inserted != int64(len(orders)) || rep.Rejected != 0 {
			t.Fatalf("%+v %+v", rep.Batch, rep.Problems)
		}

		fs := e.features(now)
		if fs.Day != "2026-11-25" || len(fs.Shops) != 2 || fs.Shops[0].Shop.ID != e.shopA.ID {
			t.Fatalf("%+v", fs)
		}
		m, a, bb := fs.Merchant, fs.Shops[0].Features, fs.Shops[1].Features
		w := m.Windows[0]
		if w.Days != 7 || w.From != "2026-11-19" || w.To != "2026-11-25" {
			t.Fatalf("window %+v", w)
		}
		ints := func(what string, got, want int64) {
			t.Helper()
			if got != want {
				t.Errorf("%s = %d, want %d", what, got, want)
			}
		}
		near := func(what string, got *float64, want float64) {
			t.Helper()
			if got == nil || math.Abs(*got-want) > 1e-12 {
				t.Errorf("%s = %v, want %v", what, show(got), want)
			}
		}
		null := func(what string, got *float64) {
			t.Helper()
			if got != nil {
				t.Errorf("%s = %v, want null", what, *got)
			}
		}
		ints("orders", w.Orders, 15)
		ints("previous orders", w.PreviousOrders, 7)
		near("order growth", w.OrderGrowth, 8.0/7)
		// Daily orders 1, 2, 3, 3, 2, 3, 1: μ = 15/7, σ² = 37/7 − (15/7)² = 34/49.
		near("order cv", w.OrderCV, math.Sqrt(34)/15)
		ints("cancelled", w.Cancelled, 1)
		near("cancel rate", w.CancelRate, 1.0/16)
		near("return rate", w.ReturnRate, 2.0/15)
		near("refund rate", w.RefundRate, 3.0/15)
		near("complaint rate", w.ComplaintRate, 1.0/15)
		near("average rating", w.AverageRating, 4)
		ints("dispatched", w.Dispatched, 10)
		near("timeliness", w.Timeliness, 0.8)
		if len(w.Sales) != 1 {
			t.Fatalf("sales %+v", w.Sales)
		}
		s := w.Sales[0]
		ints("sales", s.Amount, 160000)
		ints("previous sales", s.Previous, 70000)
		near("sales growth", s.Growth, 9.0/7)
		// Daily sales 1, 2, 3, 4, 2, 3, 1 × 100.00: σ² = (44/7 − (16/7)²) × 10^8 = 52/49 × 10^8.
		near("sales cv", s.CV, math.Sqrt(52)/16)
		ints("refunded", s.Refunded, 23000)
		ints("net", s.Net, 137000)
		// Shop A sold 1,300.00, shop B 300.00.
		near("concentration", s.Concentration, (13.0/16)*(13.0/16)+(3.0/16)*(3.0/16))
		near("top shop share", s.TopShopShare, 13.0/16)

		// Over 30 days, the 16 days before 12 November count as days without orders:
		// Σx = 22, Σx² = 44, μ = 22/30, σ² = 44/30 − (22/30)².
		w30 := m.Windows[1]
		ints("30-day orders", w30.Orders, 22)
		near("30-day order cv", w30.OrderCV, math.Sqrt(836)/22)
		null("30-day order growth", w30.OrderGrowth)
		null("30-day sales growth", w30.Sales[0].Growth)
		ints("90-day orders", m.Windows[2].Orders, 22)

		wa := a.Windows[0]
		ints("A orders", wa.Orders, 13)
		near("A order cv", wa.OrderCV, math.Sqrt(34)/13)
		near("A sales cv", wa.Sales[0].CV, math.Sqrt(34)/13)
		near("A cancel rate", wa.CancelRate, 1.0/14)
		near("A return rate", wa.ReturnRate, 2.0/13)
		near("A concentration", wa.Sales[0].Concentration, 1)
		wb := bb.Windows[0]
		// Shop B: 0, 0, 0, 2, 0, 0, 0: μ = 2/7, σ² = 4/7 − 4/49 = 24/49.
		near("B order cv", wb.OrderCV, math.Sqrt(24)/2)
		null("B rating", wb.AverageRating)
		null("B timeliness", wb.Timeliness)
		null("B order growth", wb.OrderGrowth)

		// Receivables due 2 to 16 December.
		want := []finance.Receivable{{Currency: "CNY", Amount: 52500, Orders: 5, From: "2026-12-02", To: "2026-12-16"}}
		if fmt.Sprint(m.Receivables) != fmt.Sprint(want) {
			t.Errorf("receivables %+v, want %+v", m.Receivables, want)
		}
		if a.Receivables[0].Amount != 37500 || a.Receivables[0].Orders != 4 || bb.Receivables[0].Amount != 15000 {
			t.Errorf("shop receivables %+v %+v", a.Receivables, bb.Receivables)
		}

		// A day later the window moves: 20–26 November, and the receivables 3–17 December.
		later := e.features(now.Add(24 * time.Hour))
		ints("orders a day later", later.Merchant.Windows[0].Orders, 14)
		if r := later.Merchant.Receivables[0]; r.Amount != 10000+7500+10000+15000+10000 || r.From != "2026-12-03" {
			t.Errorf("receivables a day later %+v", r)
		}
	})
}

func show(f *float64) any {
	if f == nil {
		return "null"
	}
	return *f
}
