// Package merchantsim generates a synthetic population of small e-commerce
// merchants: their shops, their orders and whether they defaulted. The credit
// model is trained on it, so that the whole pipeline — orders, attested batches,
// features, scorecard, decision, line — runs end to end before any real merchant
// has a repayment history; and the demo sends one generated merchant's orders
// through the real ingest.
//
// Nothing here is real data. The population is a function of a seed alone
// (math/rand/v2's PCG, one stream per merchant and purpose), so a model trained
// on it can be rebuilt bit for bit.
//
// # The generative story
//
// Each merchant has a latent risk z ~ N(0, 1): higher is riskier. It is never
// observed; everything the exchange sees is drawn from it with noise of its own,
// and so is the outcome, with noise the data cannot explain, so that no model can
// be perfect. With N a fresh standard normal draw each time and logistic(x) =
// 1/(1 + e^−x), using the parameters of DefaultParams:
//
//	age        days since the first sale: 14 + Exp with mean 300·e^(−0.4z)
//	           (riskier merchants are younger); a merchant has no order before
//	shops      1 + Poisson(0.8·e^(−0.3z)), at most 6, each on one of eight platforms
//	           (taobao, tmall, jd, pinduoduo, douyin, kuaishou, amazon, shopee);
//	           a shop's share of the orders is Exp(1), normalised (one often dominates)
//	level      expected orders a day today, all shops: e^(ln 8 + 0.7N − 0.3z)
//	trend      daily log growth g = 0.001 − 0.003z + 0.0015N: a shop's expected orders
//	           k days ago are its level · e^(−g·k) (riskier merchants shrink)
//	volatility σ = 0.12·e^(0.35z + 0.2N): a daily log shock shared by the shops,
//	           AR(1) with ρ = 0.6 and stationary deviation σ, centred so that the
//	           mean is unchanged
//	off days   each day, with probability logistic(−4.5 + 0.8z), the merchant
//	           sells nothing (stock-outs, suspended listings)
//	orders     a Poisson process within each China Standard Time day, at the day's
//	           rate; up to as_of on its last day
//	order value a shop's mean order is e^(ln 80 + 0.6N) yuan, each order that mean
//	           times a log-normal factor e^(0.5N − 0.125) (mean 1; drawn from 1,024
//	           equally likely quantiles), in fen, at least 1 yuan
//	cancel     an order is cancelled with probability logistic(−3.4 + 0.35z + 0.3N)
//	shipping   shipped within 48 hours with probability
//	           logistic(2.6 − 0.7z + 0.3N) (1 to 47 hours after the order, uniform),
//	           otherwise 49 to 120 hours after; delivered 18 to 96 hours after shipping
//	returns    a delivered order is returned with probability logistic(−3.0 + 0.5z + 0.3N),
//	           1 to 10 days after delivery, and refunded in full
//	refunds    otherwise refunded in part (10 % to 100 % of its amount) with probability
//	           logistic(−3.6 + 0.45z + 0.3N), half a day to 14 days after delivery
//	complaints an order not cancelled draws a complaint with probability
//	           logistic(−4.2 + 0.6z + 0.3N)
//	ratings    55 % of orders delivered (and not returned or refunded) are rated:
//	           round(μ + 0.8N) within 1 to 5, μ = 4.55 − 0.22z + 0.1N per merchant
//	terms      a shop's platform pays an order T days after it was placed,
//	           T = round(14 + 2z + 4N) within 7 to 30; an order is settled at 10:00 on
//	           that day once it has come (its receivable then closes)
//	default    the probability of default over the next 6 months is
//	           PD = logistic(−3.8 + 1.2z + 0.8ε), ε ~ N(0, 1) not seen in any data;
//	           the merchant defaults with probability PD (about 5 % of the population)
//
// An event that would come after as_of has not happened yet: an order shipped
// after it is still paid, one delivered after it still shipped, a return after
// it not yet a return — so recent windows show fewer returns than they will, as
// in real data. An order's chances (cancel, complaint, shipping, return, refund,
// rating) and delays are drawn with 16 bits of precision (1/65,536), four from
// each 64-bit draw: that halved the cost of an order.
//
// A merchant's own traits take a fixed number of draws, its shops' last: WithRisk
// makes merchant i of a seed riskier or safer with all its noise unchanged, so
// the same merchant at two levels of risk differs by its risk alone.
//
// # Two outputs of one story
//
// Population draws merchants and computes each one's features (finance.Compute
// over its daily sums) for training, on every core: 20,000 merchants, some 25
// million orders, take a few seconds on two cores. Orders gives one
// merchant's orders as rows of finance's order schema (WriteCSV, WriteJSONL), for
// the demo and the tests to send through the real ingest. Both walk the same
// orders with the same draws: the sums of the rows, ingested, are the daily sums
// the training saw, and the features of the two agree exactly (a test of package
// credit pins it). Only the last finance.SpanDays days of a merchant's history
// are generated: the features read no further.
package merchantsim

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Logit is a probability drawn per merchant as logistic(Base + Risk·z + Noise·N).
type Logit struct {
	Base  float64 `json:"base"`
	Risk  float64 `json:"risk"`
	Noise float64 `json:"noise"`
}

func (l Logit) draw(z float64, rng *rand.Rand) float64 {
	return logistic(l.Base + l.Risk*z + l.Noise*rng.NormFloat64())
}

// Params are the parameters of the generative story; the package documentation
// tells the story with DefaultParams' values.
type Params struct {
	MinAge  int     `json:"min_age"`  // days
	AgeMean float64 `json:"age_mean"` // days, at z = 0
	AgeRisk float64 `json:"age_risk"`

	ShopsMean float64 `json:"shops_mean"` // extra shops beyond the first, at z = 0
	ShopsRisk float64 `json:"shops_risk"`
	MaxShops  int     `json:"max_shops"`

	OrdersMedian float64 `json:"orders_median"` // orders a day, all shops, at z = 0
	OrdersSpread float64 `json:"orders_spread"`
	OrdersRisk   float64 `json:"orders_risk"`

	TrendMean   float64 `json:"trend_mean"` // daily log growth
	TrendRisk   float64 `json:"trend_risk"`
	TrendSpread float64 `json:"trend_spread"`

	Volatility        float64 `json:"volatility"` // σ of the daily log shock at z = 0
	VolatilityRisk    float64 `json:"volatility_risk"`
	VolatilitySpread  float64 `json:"volatility_spread"`
	VolatilityPersist float64 `json:"volatility_persistence"` // ρ of the AR(1)
	OffDay            Logit   `json:"off_day"`

	ValueMedian float64 `json:"value_median"` // yuan, a shop's mean order
	ValueSpread float64 `json:"value_spread"` // σ of its log across shops
	OrderSpread float64 `json:"order_spread"` // σ of an order's log around its shop's mean

	Cancel    Logit `json:"cancel"`
	OnTime    Logit `json:"on_time"`
	Return    Logit `json:"return"`
	Refund    Logit `json:"refund"`
	Complaint Logit `json:"complaint"`

	RatingShare  float64 `json:"rating_share"`
	RatingMean   float64 `json:"rating_mean"`
	RatingRisk   float64 `json:"rating_risk"`
	RatingNoise  float64 `json:"rating_noise"`  // of the merchant's mean
	RatingSpread float64 `json:"rating_spread"` // of one rating around it

	TermMean   float64 `json:"term_mean"` // days
	TermRisk   float64 `json:"term_risk"`
	TermSpread float64 `json:"term_spread"`

	Default Logit `json:"default"` // over the next 6 months; Noise is the unobserved part
}

// DefaultParams returns the parameters the package documentation describes.
// The default model's base and noise were set so that about 5 % of the
// population defaults and a model of the observed data ranks well but not
// perfectly (the hold-out AUC is on the model card).
func DefaultParams() Params {
	return Params{
		MinAge: 14, AgeMean: 300, AgeRisk: 0.4,
		ShopsMean: 0.8, ShopsRisk: 0.3, MaxShops: 6,
		OrdersMedian: 8, OrdersSpread: 0.7, OrdersRisk: 0.3,
		TrendMean: 0.001, TrendRisk: 0.003, TrendSpread: 0.0015,
		Volatility: 0.12, VolatilityRisk: 0.35, VolatilitySpread: 0.2, VolatilityPersist: 0.6,
		OffDay:      Logit{Base: -4.5, Risk: 0.8},
		ValueMedian: 80, ValueSpread: 0.6, OrderSpread: 0.5,
		Cancel:      Logit{Base: -3.4, Risk: 0.35, Noise: 0.3},
		OnTime:      Logit{Base: 2.6, Risk: -0.7, Noise: 0.3},
		Return:      Logit{Base: -3.0, Risk: 0.5, Noise: 0.3},
		Refund:      Logit{Base: -3.6, Risk: 0.45, Noise: 0.3},
		Complaint:   Logit{Base: -4.2, Risk: 0.6, Noise: 0.3},
		RatingShare: 0.55, RatingMean: 4.55, RatingRisk: 0.22, RatingNoise: 0.1, RatingSpread: 0.8,
		TermMean: 14, TermRisk: 2, TermSpread: 4,
		Default: Logit{Base: -3.8, Risk: 1.2, Noise: 0.8},
	}
}

// Merchant is one generated merchant: its latent risk, the traits drawn from it,
// its shops and its outcome. Merchants come from Draw or WithRisk, which also
// seed their orders; a caller may change the traits (Age, to shorten the
// history) before asking for the orders.
type Merchant struct {
	ID            string  `json:"id"`
	Risk          float64 `json:"risk" doc:"the latent risk z: higher is riskier"`
	Age           int     `json:"age" doc:"days since the first sale; set it to shorten the history"`
	Shops         []Shop  `json:"shops"`
	Level         float64 `json:"level" doc:"expected orders a day today, all shops"`
	Trend         float64 `json:"trend" doc:"daily log growth of the orders"`
	Volatility    float64 `json:"volatility" doc:"deviation of the daily log shock"`
	OffDayRate    float64 `json:"off_day_rate" doc:"probability of a day without sales"`
	CancelRate    float64 `json:"cancel_rate"`
	OnTimeRate    float64 `json:"on_time_rate" doc:"probability of shipping within 48 hours"`
	ReturnRate    float64 `json:"return_rate" doc:"of delivered orders"`
	RefundRate    float64 `json:"refund_rate" doc:"of delivered orders not returned"`
	ComplaintRate float64 `json:"complaint_rate"`
	Rating        float64 `json:"rating" doc:"mean rating"`
	PD            float64 `json:"pd" doc:"the true probability of default over the next 6 months"`
	Default       bool    `json:"default" doc:"whether it defaulted"`

	params Params
	orders [2]uint64 // the seed of its order stream
	spread []float64 // spreadTable(params.OrderSpread)
}

// Shop is one of a generated merchant's shops.
type Shop struct {
	Platform   string  `json:"platform"`
	ExternalID string  `json:"external_id"`
	Name       string  `json:"name"`
	Share      float64 `json:"share" doc:"of the merchant's orders"`
	Value      float64 `json:"value" doc:"mean order amount, yuan"`
	Term       int     `json:"term" doc:"days from an order to its settlement"`
}

// platforms are the shops' platforms, drawn uniformly.
var platforms = []string{"taobao", "tmall", "jd", "pinduoduo", "douyin", "kuaishou", "amazon", "shopee"}

// Draw returns merchant i of the population of seed.
func (p Params) Draw(seed uint64, i int) Merchant {
	rng := stream(seed, uint64(i), 0)
	return p.draw(seed, uint64(i), rng.NormFloat64(), rng)
}

// WithRisk returns merchant i of the population of seed with its latent risk
// set to z, its other traits drawn from z as Draw draws them: the demo's
// merchant of a chosen risk, and the tests' merchants of known risk.
func (p Params) WithRisk(seed uint64, i int, z float64) Merchant {
	rng := stream(seed, uint64(i), 0)
	rng.NormFloat64() // the draw of z, replaced
	return p.draw(seed, uint64(i), z, rng)
}

func (p Params) draw(seed, i uint64, z float64, rng *rand.Rand) Merchant {
	// Every merchant-level trait takes a fixed number of draws, and the shops
	// come last: merchant i of a seed made riskier (WithRisk) keeps its noise
	// and differs by its risk alone.
	m := Merchant{ID: fmt.Sprintf("sim_%d_%d", seed, i), Risk: z, params: p}
	m.Age = p.MinAge + int(rng.ExpFloat64()*p.AgeMean*math.Exp(-p.AgeRisk*z))
	k := min(1+poisson(p.ShopsMean*math.Exp(-p.ShopsRisk*z), rng.Float64()), p.MaxShops)
	m.Level = math.Exp(math.Log(p.OrdersMedian) + p.OrdersSpread*rng.NormFloat64() - p.OrdersRisk*z)
	m.Trend = p.TrendMean - p.TrendRisk*z + p.TrendSpread*rng.NormFloat64()
	m.Volatility = p.Volatility * math.Exp(p.VolatilityRisk*z+p.VolatilitySpread*rng.NormFloat64())
	m.OffDayRate = p.OffDay.draw(z, rng)
	m.CancelRate = p.Cancel.draw(z, rng)
	m.OnTimeRate = p.OnTime.draw(z, rng)
	m.ReturnRate = p.Return.draw(z, rng)
	m.RefundRate = p.Refund.draw(z, rng)
	m.ComplaintRate = p.Complaint.draw(z, rng)
	m.Rating = p.RatingMean - p.RatingRisk*z + p.RatingNoise*rng.NormFloat64()
	m.PD = p.Default.draw(z, rng)
	m.Default = rng.Float64() < m.PD
	var total float64
	for s := range k {
		sh := Shop{
			Platform:   platforms[rng.IntN(len(platforms))],
			ExternalID: fmt.Sprintf("S%d-%d", i, s+1),
			Name:       fmt.Sprintf("模拟商家 %d 的第 %d 家店", i, s+1),
			Share:      rng.ExpFloat64(),
			Value:      math.Exp(math.Log(p.ValueMedian) + p.ValueSpread*rng.NormFloat64()),
			Term:       int(max(7, min(30, math.Round(p.TermMean+p.TermRisk*z+p.TermSpread*rng.NormFloat64())))),
		}
		total += sh.Share
		m.Shops = append(m.Shops, sh)
	}
	for s := range m.Shops {
		m.Shops[s].Share /= total
	}
	m.orders = [2]uint64{seed, i}
	return m
}

// stream returns the random stream of merchant i for one purpose (0: its
// traits, 1: its orders): PCG seeded through SplitMix64, so that neighbouring
// merchants' streams are unrelated.
func stream(seed, i, purpose uint64) *rand.Rand { return rand.New(source(seed, i, purpose)) }

func source(seed, i, purpose uint64) *rand.PCG {
	return rand.NewPCG(splitmix(seed^splitmix(purpose)), splitmix(i*2+purpose))
}

// splitmix is SplitMix64's output function (Steele, Lea and Flood, 2014).
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// poisson returns the Poisson variate of a small mean at the uniform draw u, by
// inversion: the least k whose cumulative probability exceeds u. One draw,
// whatever the result (see draw).
func poisson(mean, u float64) int {
	p := math.Exp(-mean)
	cum := p
	k := 0
	for u >= cum && k < 100 {
		k++
		p *= mean / float64(k)
		cum += p
	}
	return k
}
