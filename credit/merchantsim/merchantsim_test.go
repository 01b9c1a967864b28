package merchantsim_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/dataport/dataport/credit/merchantsim"
	"github.com/dataport/dataport/finance"
)

var asOf = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A seed and an index name one merchant, its orders and its features, however
// the population is generated.
func TestDeterministic(t *testing.T) {
	p := merchantsim.DefaultParams()
	a, b := p.Draw(1, 42), p.Draw(1, 42)
	if jsonOf(t, a) != jsonOf(t, b) || jsonOf(t, a.Orders(asOf)) != jsonOf(t, b.Orders(asOf)) {
		t.Fatal("one seed and index, two merchants")
	}
	if c := p.Draw(2, 42); jsonOf(t, c) == jsonOf(t, a) {
		t.Fatal("two seeds, one merchant")
	}
	if c := p.Draw(1, 43); c.Risk == a.Risk {
		t.Fatal("neighbouring merchants share their risk")
	}
	got, err := merchantsim.Population(context.Background(), p, 1, 50, asOf, func(m *merchantsim.Merchant, fs finance.FeatureSet) string {
		return jsonOf(t, fs)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 17, 42, 49} {
		m := p.Draw(1, i)
		if got[i] != jsonOf(t, m.Features(asOf)) {
			t.Errorf("merchant %d: the population's features differ from its own", i)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := merchantsim.Population(ctx, p, 1, 50, asOf, func(*merchantsim.Merchant, finance.FeatureSet) int { return 0 }); err == nil {
		t.Error("a cancelled population came back")
	}
}

// The latent risk drives every trait the way the story says: the same
// merchant (same draws) made riskier is younger, smaller, shrinking, more
// volatile, cancels, returns, refunds and draws complaints more, ships late more
// often, is rated lower and more likely to default.
func TestRiskDrivesTheTraits(t *testing.T) {
	p := merchantsim.DefaultParams()
	for i := range 20 {
		lo, hi := p.WithRisk(5, i, -1), p.WithRisk(5, i, 1)
		if lo.Risk != -1 || hi.Risk != 1 {
			t.Fatalf("risk %v, %v", lo.Risk, hi.Risk)
		}
		if !(hi.Age <= lo.Age && hi.Level < lo.Level && hi.Trend < lo.Trend && hi.Volatility > lo.Volatility &&
			hi.OffDayRate > lo.OffDayRate && hi.CancelRate > lo.CancelRate && hi.ReturnRate > lo.ReturnRate &&
			hi.RefundRate > lo.RefundRate && hi.ComplaintRate > lo.ComplaintRate && hi.OnTimeRate < lo.OnTimeRate &&
			hi.Rating < lo.Rating && hi.PD > lo.PD && len(hi.Shops) <= len(lo.Shops)) {
			t.Errorf("merchant %d: at risk −1 and 1: age %d, %d; shops %d, %d; level %.2f, %.2f; trend %.4f, %.4f; volatility %.3f, %.3f; "+
				"off days %.4f, %.4f; cancel %.4f, %.4f; returns %.4f, %.4f; refunds %.4f, %.4f; complaints %.4f, %.4f; on time %.3f, %.3f; "+
				"rating %.2f, %.2f; PD %.4f, %.4f", i, lo.Age, hi.Age, len(lo.Shops), len(hi.Shops), lo.Level, hi.Level, lo.Trend, hi.Trend,
				lo.Volatility, hi.Volatility, lo.OffDayRate, hi.OffDayRate, lo.CancelRate, hi.CancelRate, lo.ReturnRate, hi.ReturnRate,
				lo.RefundRate, hi.RefundRate, lo.ComplaintRate, hi.ComplaintRate, lo.OnTimeRate, hi.OnTimeRate, lo.Rating, hi.Rating, lo.PD, hi.PD)
		}
	}
}

// Over a population: about 5 % default, the true PDs average to the default
// rate, defaulters are riskier, and the features show the risk.
func TestPopulation(t *testing.T) {
	type row struct {
		z, pd         float64
		bad           bool
		timely, ret   *float64
		orders, shops int
	}
	const n = 3000
	rows, err := merchantsim.Population(context.Background(), merchantsim.DefaultParams(), 9, n, asOf,
		func(m *merchantsim.Merchant, fs finance.FeatureSet) row {
			w30, w90 := fs.Merchant.Windows[1], fs.Merchant.Windows[2]
			return row{z: m.Risk, pd: m.PD, bad: m.Default, timely: w30.Timeliness, ret: w90.ReturnRate,
				orders: int(w90.Orders), shops: len(fs.Shops)}
		})
	if err != nil {
		t.Fatal(err)
	}
	var bads, pd, zBad, zGood float64
	var safe, risky [2]float64 // sums of timeliness and return rate, and their counts below
	var nSafe, nRisky float64
	for _, r := range rows {
		pd += r.pd
		if r.bad {
			bads++
			zBad += r.z
		} else {
			zGood += r.z
		}
		if r.timely == nil || r.ret == nil || r.shops < 1 {
			continue
		}
		switch {
		case r.z < -1:
			safe[0], safe[1], nSafe = safe[0]+*r.timely, safe[1]+*r.ret, nSafe+1
		case r.z > 1:
			risky[0], risky[1], nRisky = risky[0]+*r.timely, risky[1]+*r.ret, nRisky+1
		}
	}
	rate := bads / n
	t.Logf("default rate %.4f, mean true PD %.4f; timeliness %.3f vs %.3f, return rate %.4f vs %.4f (z < −1 vs z > 1)",
		rate, pd/n, safe[0]/nSafe, risky[0]/nRisky, safe[1]/nSafe, risky[1]/nRisky)
	if rate < 0.03 || rate > 0.08 || math.Abs(rate-pd/n) > 0.015 {
		t.Errorf("default rate %.4f, mean PD %.4f", rate, pd/n)
	}
	if zBad/bads <= zGood/(n-bads) {
		t.Errorf("defaulters' mean risk %.3f, the others' %.3f", zBad/bads, zGood/(n-bads))
	}
	if !(safe[0]/nSafe > risky[0]/nRisky && safe[1]/nSafe < risky[1]/nRisky) {
		t.Error("the features do not show the risk")
	}
}

// Generated orders keep finance's rules for order data: nothing after as_of,
// events in order, refunds within amounts, ratings 1 to 5, settlements on or
// after the order's day, and the statuses their events allow.
func TestOrdersKeepTheSchema(t *testing.T) {
	m := merchantsim.DefaultParams().WithRisk(3, 1, 1)
	m.Age = 60
	orders := m.Orders(asOf)
	if len(orders) < 50 {
		t.Fatalf("%d orders", len(orders))
	}
	first := asOf.AddDate(0, 0, -60)
	seen := map[string]bool{}
	statuses := map[string]int{}
	for _, o := range orders {
		statuses[o.Status]++
		if seen[o.Shop+"/"+o.OrderID] {
			t.Fatalf("order %s twice", o.OrderID)
		}
		seen[o.Shop+"/"+o.OrderID] = true
		bad := o.OrderedAt.After(asOf) || o.OrderedAt.Before(first) || o.AmountMinor < 100 || o.Currency != "CNY" ||
			o.RefundMinor < 0 || o.RefundMinor > o.AmountMinor || o.Rating < 0 || o.Rating > 5 ||
			(!o.ShippedAt.IsZero() && (o.ShippedAt.Before(o.OrderedAt) || o.ShippedAt.After(asOf))) ||
			(!o.DeliveredAt.IsZero() && (o.DeliveredAt.Before(o.ShippedAt) || o.DeliveredAt.After(asOf))) ||
			(!o.SettledAt.IsZero() && o.SettledAt.After(asOf))
		switch o.Status {
		case finance.StatusCancelled:
			bad = bad || !o.ShippedAt.IsZero() || o.ExpectedSettlement != "" || o.Rating != 0
		case finance.StatusPaid:
			bad = bad || !o.ShippedAt.IsZero() || o.RefundMinor != 0
		case finance.StatusShipped:
			bad = bad || o.ShippedAt.IsZero() || !o.DeliveredAt.IsZero() || o.RefundMinor != 0
		case finance.StatusDelivered:
			bad = bad || o.DeliveredAt.IsZero() || o.RefundMinor != 0
		case finance.StatusReturned:
			bad = bad || o.DeliveredAt.IsZero() || o.RefundMinor != o.AmountMinor || o.Rating != 0
		case finance.StatusRefunded:
			bad = bad || o.DeliveredAt.IsZero() || o.RefundMinor == 0 || o.Rating != 0
		default:
			bad = true
		}
		if o.Status != finance.StatusCancelled {
			day, err := time.ParseInLocation(time.DateOnly, o.ExpectedSettlement, o.OrderedAt.Location())
			bad = bad || err != nil || day.AddDate(0, 0, 1).Before(o.OrderedAt)
		}
		if bad {
			t.Fatalf("order %+v", o)
		}
	}
	t.Logf("%d orders: %v", len(orders), statuses)
	for _, s := range []string{"paid", "shipped", "delivered", "returned", "refunded", "cancelled"} {
		if statuses[s] == 0 {
			t.Errorf("no %s order among %d", s, len(orders))
		}
	}
}

// BenchmarkPopulation measures merchants generated per second: each merchant's
// orders over its history (at most 180 days), its daily sums and its features.
func BenchmarkPopulation(b *testing.B) {
	const n = 2000
	p := merchantsim.DefaultParams()
	var orders int64
	for b.Loop() {
		_, err := merchantsim.Population(context.Background(), p, 1, n, asOf, func(m *merchantsim.Merchant, fs finance.FeatureSet) int {
			return 0
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for i := range 200 {
		m := p.Draw(1, i)
		orders += int64(len(m.Orders(asOf)))
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "merchants/s")
	b.ReportMetric(float64(orders)/200, "orders/merchant")
}
