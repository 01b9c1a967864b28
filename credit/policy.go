package credit

import (
	"math"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/finance"
)

// RiskGrade is a grade of the master scale (風險等級), A the safest.
type RiskGrade string

const (
	GradeA RiskGrade = "A"
	GradeB RiskGrade = "B"
	GradeC RiskGrade = "C"
	GradeD RiskGrade = "D"
	GradeE RiskGrade = "E"
)

// Band is one grade of the master scale: the probabilities of default it
// holds, from MinPD (included) to MaxPD (excluded; the last band has none).
type Band struct {
	Grade RiskGrade `json:"grade"`
	MinPD float64   `json:"min_pd"`
	MaxPD float64   `json:"max_pd,omitempty"`
}

// MasterScale maps the probability of default over 6 months to a grade; the
// package documentation says why these bands.
var MasterScale = []Band{
	{Grade: GradeA, MinPD: 0, MaxPD: 0.01},
	{Grade: GradeB, MinPD: 0.01, MaxPD: 0.025},
	{Grade: GradeC, MinPD: 0.025, MaxPD: 0.05},
	{Grade: GradeD, MinPD: 0.05, MaxPD: 0.12},
	{Grade: GradeE, MinPD: 0.12},
}

// GradeOf returns the grade of the master scale that holds pd.
func GradeOf(pd float64) RiskGrade {
	for _, b := range MasterScale[:len(MasterScale)-1] {
		if pd < b.MaxPD {
			return b.Grade
		}
	}
	return MasterScale[len(MasterScale)-1].Grade
}

// Policy is the credit-line policy (授信額度). The package documentation gives
// the formula.
type Policy struct {
	// AdvanceRate α is the share of the receivables due in 7 to 21 days that is
	// lent against: what the platforms owe is the line's safest basis, but
	// returns and refunds still eat into it.
	AdvanceRate float64 `json:"advance_rate"`
	// SalesShare β is the share of a month's stable sales lent against.
	SalesShare float64 `json:"sales_share"`
	// Caps are the largest line of each grade, A to E, in fen (CNY minor units).
	Caps [5]int64 `json:"caps"`
	// Unit is what a line is rounded down to, in fen.
	Unit int64 `json:"unit"`
}

// DefaultPolicy is the exchange's line policy: 80 % of the receivables coming
// due plus half a month of stable sales, within 1,000,000 / 500,000 / 200,000 /
// 50,000 / 0 yuan for grades A to E, in whole hundreds of yuan.
func DefaultPolicy() Policy {
	return Policy{AdvanceRate: 0.8, SalesShare: 0.5,
		Caps: [5]int64{100_000_000, 50_000_000, 20_000_000, 5_000_000, 0}, Unit: 10_000}
}

func (p Policy) cap(g RiskGrade) int64 {
	for i, b := range MasterScale {
		if b.Grade == g && i < len(p.Caps) {
			return p.Caps[i]
		}
	}
	return 0
}

// LineBasis is how a credit line was worked out: each term of the policy's
// formula, money in fen (CNY minor units).
type LineBasis struct {
	Currency           string   `json:"currency" doc:"CNY: the line and every amount of its basis"`
	Receivables        int64    `json:"receivables" doc:"open receivables due 7 to 21 days after the decision (R)"`
	AdvanceRate        float64  `json:"advance_rate" doc:"α"`
	Sales90            int64    `json:"sales_90" doc:"sales over the last 90 days"`
	Refunded90         int64    `json:"refunded_90" doc:"refunds of those sales"`
	SalesCV90          *float64 `json:"sales_cv_90" doc:"coefficient of variation of daily sales over 90 days; null when there were none"`
	Stability          float64  `json:"stability" doc:"max(0, 1 − sales_cv_90); 0 without sales"`
	StableMonthlySales int64    `json:"stable_monthly_sales" doc:"⌊(sales_90 − refunded_90) / 3 × stability⌋ (M)"`
	SalesShare         float64  `json:"sales_share" doc:"β"`
	Uncapped           int64    `json:"uncapped" doc:"⌊α·R + β·M⌋"`
	GradeCap           int64    `json:"grade_cap" doc:"the grade's cap"`
	Unit               int64    `json:"unit" doc:"the line is rounded down to a multiple of this"`
}

// Line works out the credit line of a merchant of grade g from its features,
// by the policy; it returns the line and its basis.
func (p Policy) Line(g RiskGrade, fs finance.FeatureSet) (dataport.Money, LineBasis) {
	s90 := sales(window(fs.Merchant, 90))
	b := LineBasis{Currency: ModelCurrency, Receivables: max(0, receivables(fs.Merchant)), AdvanceRate: p.AdvanceRate,
		Sales90: s90.Amount, Refunded90: s90.Refunded, SalesCV90: s90.CV, SalesShare: p.SalesShare,
		GradeCap: p.cap(g), Unit: max(1, p.Unit)}
	if s90.CV != nil {
		b.Stability = max(0, 1-*s90.CV)
	}
	net := max(0, s90.Amount-s90.Refunded)
	b.StableMonthlySales = int64(math.Floor(float64(net) / 3 * b.Stability))
	b.Uncapped = int64(math.Floor(p.AdvanceRate*float64(b.Receivables) + p.SalesShare*float64(b.StableMonthlySales)))
	line := min(b.Uncapped, b.GradeCap)
	line -= line % b.Unit
	return dataport.Money{Amount: max(0, line), Currency: ModelCurrency}, b
}
