package credit_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/credit/merchantsim"
	"github.com/dataport/dataport/finance"
)

// The two outputs of the generative story agree: a generated merchant's order
// rows, sent through the real ingest and aggregated by the database, give the
// features that the training computed from the merchant's daily sums in memory
// (finance.Compute), for merchants of low and high risk and a long history.
func TestGeneratedRowsIngestToTheTrainingFeatures(t *testing.T) {
	for _, c := range []struct {
		z   float64
		age int
	}{{-1, 120}, {1.5, 400}} {
		t.Run(fmt.Sprintf("z=%v", c.z), func(t *testing.T) {
			each(t, func(t *testing.T, e *env) {
				m := merchantsim.DefaultParams().WithRisk(simSeed, 11, c.z)
				m.Age = c.age
				e.load(e.merchant, m)
				stored, err := e.fin.Features(context.Background(), e.merchant, e.merchant.ParticipantID, now)
				if err != nil {
					t.Fatal(err)
				}
				sim := m.Features(now)
				if stored.Merchant.Windows[2].Orders == 0 || len(stored.Merchant.Receivables) == 0 {
					t.Fatalf("nothing to compare: %+v", stored.Merchant)
				}
				sameFeatures(t, "merchant", stored.Merchant, sim.Merchant)
				if len(stored.Shops) != len(sim.Shops) {
					t.Fatalf("%d shops stored, %d generated", len(stored.Shops), len(sim.Shops))
				}
				for _, s := range sim.Shops {
					found := false
					for _, st := range stored.Shops {
						if st.Shop.ExternalID == s.Shop.ExternalID {
							sameFeatures(t, s.Shop.ExternalID, st.Features, s.Features)
							found = true
						}
					}
					if !found {
						t.Errorf("shop %s not stored", s.Shop.ExternalID)
					}
				}
				a, b := credit.Inputs(stored), credit.Inputs(sim)
				for _, n := range credit.InputNames {
					if !near(a[n], b[n]) {
						t.Errorf("input %s: %v stored, %v generated", n, a[n], b[n])
					}
				}
			})
		})
	}
}

// sameFeatures compares two feature sets: counts and amounts exactly, ratios to
// 1e-12 (the shops' order may differ, and with it the order of a float sum).
func sameFeatures(t *testing.T, scope string, got, want finance.Features) {
	t.Helper()
	if fmt.Sprint(got.Receivables) != fmt.Sprint(want.Receivables) {
		t.Errorf("%s receivables %+v, generated %+v", scope, got.Receivables, want.Receivables)
	}
	if len(got.Windows) != len(want.Windows) {
		t.Fatalf("%s: %d windows, %d", scope, len(got.Windows), len(want.Windows))
	}
	for i, g := range got.Windows {
		w := want.Windows[i]
		ints := [][2]int64{{g.Orders, w.Orders}, {g.PreviousOrders, w.PreviousOrders}, {g.Cancelled, w.Cancelled},
			{g.Returns, w.Returns}, {g.Refunds, w.Refunds}, {g.Complaints, w.Complaints}, {g.Ratings, w.Ratings},
			{g.Dispatched, w.Dispatched}, {g.DispatchedOnTime, w.DispatchedOnTime}}
		for k, p := range ints {
			if p[0] != p[1] {
				t.Errorf("%s, %d days, count %d: %d stored, %d generated", scope, g.Days, k, p[0], p[1])
			}
		}
		ratios := [][2]*float64{{g.OrderGrowth, w.OrderGrowth}, {g.OrderCV, w.OrderCV}, {g.CancelRate, w.CancelRate},
			{g.ReturnRate, w.ReturnRate}, {g.RefundRate, w.RefundRate}, {g.ComplaintRate, w.ComplaintRate},
			{g.AverageRating, w.AverageRating}, {g.Timeliness, w.Timeliness}}
		if len(g.Sales) != len(w.Sales) {
			t.Fatalf("%s, %d days: sales %+v, generated %+v", scope, g.Days, g.Sales, w.Sales)
		}
		for k, s := range g.Sales {
			ws := w.Sales[k]
			if s.Currency != ws.Currency || s.Amount != ws.Amount || s.Previous != ws.Previous || s.Refunded != ws.Refunded || s.Net != ws.Net {
				t.Errorf("%s, %d days: sales %+v, generated %+v", scope, g.Days, s, ws)
			}
			ratios = append(ratios, [2]*float64{s.Growth, ws.Growth}, [2]*float64{s.CV, ws.CV},
				[2]*float64{s.Concentration, ws.Concentration}, [2]*float64{s.TopShopShare, ws.TopShopShare})
		}
		for k, p := range ratios {
			if (p[0] == nil) != (p[1] == nil) || p[0] != nil && math.Abs(*p[0]-*p[1]) > 1e-12 {
				t.Errorf("%s, %d days, ratio %d: %v stored, %v generated", scope, g.Days, k, show(p[0]), show(p[1]))
			}
		}
	}
}

func show(f *float64) any {
	if f == nil {
		return "null"
	}
	return *f
}

func near(a, b any) bool {
	x, okA := a.(float64)
	y, okB := b.(float64)
	if !okA || !okB {
		return a == nil && b == nil
	}
	return math.Abs(x-y) <= 1e-6
}

// Riskier generated merchants score lower on average, for every seed: the
// committed model ranks the latent risk it never saw.
func TestRiskierMerchantsScoreLower(t *testing.T) {
	model, err := credit.DefaultModel()
	if err != nil {
		t.Fatal(err)
	}
	p := merchantsim.DefaultParams()
	risks := []float64{-1.5, 0, 1.5}
	for seed := uint64(1); seed <= 5; seed++ {
		var means []float64
		for _, z := range risks {
			var sum float64
			const n = 60
			for i := range n {
				m := p.WithRisk(seed, i, z)
				sc, err := model.Score(credit.Inputs(m.Features(now)))
				if err != nil {
					t.Fatal(err)
				}
				sum += sc.Points
			}
			means = append(means, sum/n)
		}
		t.Logf("seed %d: mean points %.1f, %.1f, %.1f at latent risk %v", seed, means[0], means[1], means[2], risks)
		for k := 1; k < len(means); k++ {
			if !(means[k] < means[k-1]) {
				t.Errorf("seed %d: merchants of risk %v score %.1f on average, of risk %v %.1f", seed, risks[k], means[k], risks[k-1], means[k-1])
			}
		}
	}
}
