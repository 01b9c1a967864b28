package credit

import (
	"math"

	"github.com/dataport/dataport/finance"
)

// ModelCurrency is the currency the model's money characteristics are read in.
// Sales and receivables in other currencies are ignored for now; order counts
// and rates count orders in every currency.
const ModelCurrency = "CNY"

// InputNames are the model's characteristics, in the order of the package
// documentation's table. Inputs gives every one of them.
var InputNames = []string{
	"orders_30", "order_growth_30", "order_growth_90", "order_cv_90", "sales_90", "sales_cv_90",
	"cancel_rate_30", "return_rate_90", "refund_rate_30", "complaint_rate_90", "average_rating_90",
	"timeliness_30", "concentration_90", "receivables_7_21", "active_shops_90",
}

// Inputs reads the model's characteristics from a merchant's features (the
// package documentation defines each). A ratio whose denominator is zero is nil
// — a missing value, which the scorecard scores in a bin of its own. Every
// number is a float64, ratios rounded to 6 decimals and money to whole yuan
// (rounded down): what is scored is exactly what is hashed and stored, and a
// last-bit difference in a float (a fused multiply-add on another processor)
// cannot change an input.
func Inputs(fs finance.FeatureSet) map[string]any {
	w30, w90 := window(fs.Merchant, 30), window(fs.Merchant, 90)
	s90 := sales(w90)
	in := map[string]any{
		"orders_30":         float64(w30.Orders),
		"order_growth_30":   rate(w30.OrderGrowth),
		"order_growth_90":   rate(w90.OrderGrowth),
		"order_cv_90":       rate(w90.OrderCV),
		"sales_90":          yuan(s90.Amount),
		"sales_cv_90":       rate(s90.CV),
		"cancel_rate_30":    rate(w30.CancelRate),
		"return_rate_90":    rate(w90.ReturnRate),
		"refund_rate_30":    rate(w30.RefundRate),
		"complaint_rate_90": rate(w90.ComplaintRate),
		"average_rating_90": rate(w90.AverageRating),
		"timeliness_30":     rate(w30.Timeliness),
		"concentration_90":  rate(s90.Concentration),
		"receivables_7_21":  yuan(receivables(fs.Merchant)),
	}
	active := 0
	for _, sh := range fs.Shops {
		if window(sh.Features, 90).Orders > 0 {
			active++
		}
	}
	in["active_shops_90"] = float64(active)
	return in
}

// window returns the window of n days; a zero one when the set has none.
func window(f finance.Features, n int) finance.Window {
	for _, w := range f.Windows {
		if w.Days == n {
			return w
		}
	}
	return finance.Window{Days: n}
}

// sales returns a window's sales in the model's currency; zero when it has none.
func sales(w finance.Window) finance.Sales {
	for _, s := range w.Sales {
		if s.Currency == ModelCurrency {
			return s
		}
	}
	return finance.Sales{Currency: ModelCurrency}
}

// receivables returns the open receivables due 7 to 21 days ahead in the model's
// currency, in minor units.
func receivables(f finance.Features) int64 {
	for _, r := range f.Receivables {
		if r.Currency == ModelCurrency {
			return r.Amount
		}
	}
	return 0
}

// rate is a ratio rounded to 6 decimals, or nil for a missing one.
func rate(r *float64) any {
	if r == nil || math.IsNaN(*r) || math.IsInf(*r, 0) {
		return nil
	}
	return math.Round(*r*1e6) / 1e6
}

// yuan is an amount of fen in whole yuan, rounded down.
func yuan(fen int64) float64 {
	return float64(floorDiv(fen, 100))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
