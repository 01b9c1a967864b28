package finance

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// windows are the lengths, in days, of the rolling windows features are computed over.
var windows = []int{7, 30, 90}

// Receivables are counted from this many days after as_of …
const receivablesFrom = 7

// … to this many, both included.
const receivablesTo = 21

// FeatureSet is what a merchant's order data says as of a moment: per window, for
// the merchant as a whole and for each of its shops. The package documentation
// gives every formula.
type FeatureSet struct {
	MerchantID string    `json:"merchant_id"`
	AsOf       time.Time `json:"as_of"`
	Day        string    `json:"day" doc:"the day of as_of in China Standard Time: the last day of every window"`
	// DataThrough names the data the features rest on: the filing of the
	// merchant's latest attested batch or stream chunk; every batch attested up to
	// it, and none after, is counted.
	DataThrough int64          `json:"data_through" doc:"the filing seq of the merchant's latest attested batch or chunk (0: no data yet)"`
	Batches     int64          `json:"batches" doc:"attested batches and stream chunks so far"`
	Merchant    Features       `json:"merchant"`
	Shops       []ShopFeatures `json:"shops"`
}

// ShopFeatures are the features of one shop.
type ShopFeatures struct {
	Shop Shop `json:"shop"`
	Features
}

// Features are computed over each window — 7, 30 and 90 days, in that order —
// and the receivables coming due.
type Features struct {
	Windows     []Window     `json:"windows"`
	Receivables []Receivable `json:"receivables" doc:"open receivables due 7 to 21 days after as_of, per currency"`
}

// Window holds the features over the last Days days up to as_of's day. Ratios are
// null where their denominator is zero.
type Window struct {
	Days             int      `json:"days"`
	From             string   `json:"from" doc:"first day, YYYY-MM-DD (China Standard Time)"`
	To               string   `json:"to" doc:"last day: as_of's"`
	Orders           int64    `json:"orders" doc:"orders placed, not cancelled"`
	PreviousOrders   int64    `json:"previous_orders" doc:"orders in the window of the same length before"`
	OrderGrowth      *float64 `json:"order_growth"`
	OrderCV          *float64 `json:"order_cv" doc:"coefficient of variation of daily orders"`
	Cancelled        int64    `json:"cancelled"`
	CancelRate       *float64 `json:"cancel_rate"`
	Returns          int64    `json:"returns"`
	ReturnRate       *float64 `json:"return_rate"`
	Refunds          int64    `json:"refunds" doc:"orders with a refund"`
	RefundRate       *float64 `json:"refund_rate"`
	Complaints       int64    `json:"complaints"`
	ComplaintRate    *float64 `json:"complaint_rate"`
	Ratings          int64    `json:"ratings"`
	AverageRating    *float64 `json:"average_rating"`
	Dispatched       int64    `json:"dispatched" doc:"orders with a shipped logistics event"`
	DispatchedOnTime int64    `json:"dispatched_on_time" doc:"of those, shipped within 48 hours of the order"`
	Timeliness       *float64 `json:"timeliness"`
	Sales            []Sales  `json:"sales" doc:"money features, one entry per currency sold in"`
}

// Sales are a window's money features in one currency, in minor units.
type Sales struct {
	Currency      string   `json:"currency"`
	Amount        int64    `json:"amount" doc:"sales: the amounts of the orders not cancelled"`
	Previous      int64    `json:"previous" doc:"sales in the window of the same length before"`
	Growth        *float64 `json:"growth"`
	CV            *float64 `json:"cv" doc:"coefficient of variation of daily sales"`
	Refunded      int64    `json:"refunded" doc:"refund amounts"`
	Net           int64    `json:"net" doc:"amount less refunded"`
	Concentration *float64 `json:"concentration" doc:"Herfindahl index of the shops' shares of sales (1: one shop)"`
	TopShopShare  *float64 `json:"top_shop_share"`
}

// Receivable is what the platforms owe in one currency, due in days 7 to 21.
type Receivable struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount" doc:"minor units"`
	Orders   int64  `json:"orders"`
	From     string `json:"from"`
	To       string `json:"to"`
}

// span is the days the features read: the longest window and the one before it.
var span = 2 * slices.Max(windows)

// series is one scope's daily sums (a shop, or the merchant), by day from the
// first day of the span.
type series struct {
	counts [][nDaily]int64        // summed over currencies; money columns unused
	money  map[string][][2]int64  // per currency: sales, refund amount
	recv   map[string]*Receivable // per currency
}

func newSeries() *series {
	return &series{counts: make([][nDaily]int64, span), money: map[string][][2]int64{}, recv: map[string]*Receivable{}}
}

func (s *series) add(i int, currency string, d *[nDaily]int64) {
	for c, v := range d {
		s.counts[i][c] += v
	}
	m := s.money[currency]
	if m == nil {
		m = make([][2]int64, span)
		s.money[currency] = m
	}
	m[i][0] += d[dSales]
	m[i][1] += d[dRefundAmount]
}

// Features computes the merchant's features as of asOf (now when zero). The
// merchant itself or the operator.
func (s *Service) Features(ctx context.Context, actor dataport.Actor, merchantID string, asOf time.Time) (FeatureSet, error) {
	const op = "finance.Features"
	var fs FeatureSet
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if err := s.mayUse(tx, op, actor, merchantID); err != nil {
			return err
		}
		if asOf.IsZero() {
			asOf = tx.Now()
		}
		var err error
		fs, err = features(tx, merchantID, asOf)
		return dataport.Wrap(op, err)
	})
	return fs, err
}

func features(tx *store.Tx, merchantID string, asOf time.Time) (FeatureSet, error) {
	last := dayOf(asOf.UnixMicro())
	first := last - int32(span) + 1
	fs := FeatureSet{MerchantID: merchantID, AsOf: asOf.UTC(), Day: dayString(last), Shops: []ShopFeatures{}}
	err := tx.QueryRow(`SELECT batches, last_filing_seq FROM finance_merchants WHERE merchant_id = $1`, merchantID).
		Scan(&fs.Batches, &fs.DataThrough)
	if err != nil && !isNoRows(err) {
		return FeatureSet{}, err
	}
	list, err := shops(tx, merchantID)
	if err != nil {
		return FeatureSet{}, err
	}
	index := map[string]int{}
	perShop := make([]*series, len(list))
	for i, sh := range list {
		index[sh.ID] = i
		perShop[i] = newSeries()
	}
	all := newSeries()
	rows, err := tx.Query(`SELECT shop_id, day, currency, orders, cancelled, sales, returns, refunds, refund_amount,
		complaints, rating_sum, ratings, dispatched, dispatched_on_time FROM finance_daily
		WHERE merchant_id = $1 AND day >= $2 AND day <= $3`, merchantID, dayString(first), dayString(last))
	if err != nil {
		return FeatureSet{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var shop, day, currency string
		var d [nDaily]int64
		if err := rows.Scan(&shop, &day, &currency, &d[dOrders], &d[dCancelled], &d[dSales], &d[dReturns], &d[dRefunds],
			&d[dRefundAmount], &d[dComplaints], &d[dRatingSum], &d[dRatings], &d[dDispatched], &d[dOnTime]); err != nil {
			return FeatureSet{}, err
		}
		n, ok := parseDay(day)
		i, known := index[shop]
		if !ok || !known || n < first || n > last {
			continue
		}
		perShop[i].add(int(n-first), currency, &d)
		all.add(int(n-first), currency, &d)
	}
	if err := rows.Err(); err != nil {
		return FeatureSet{}, err
	}
	rows.Close()
	from, to := last+receivablesFrom, last+receivablesTo
	rrows, err := tx.Query(`SELECT shop_id, currency, SUM(amount), SUM(orders) FROM finance_receivables
		WHERE merchant_id = $1 AND due_on >= $2 AND due_on <= $3 GROUP BY shop_id, currency`, merchantID, dayString(from), dayString(to))
	if err != nil {
		return FeatureSet{}, err
	}
	defer rrows.Close()
	for rrows.Next() {
		var shop, currency string
		var amount, orders int64
		if err := rrows.Scan(&shop, &currency, &amount, &orders); err != nil {
			return FeatureSet{}, err
		}
		i, known := index[shop]
		if !known || amount == 0 && orders == 0 {
			continue
		}
		for _, sc := range []*series{perShop[i], all} {
			r := sc.recv[currency]
			if r == nil {
				r = &Receivable{Currency: currency, From: dayString(from), To: dayString(to)}
				sc.recv[currency] = r
			}
			r.Amount += amount
			r.Orders += orders
		}
	}
	if err := rrows.Err(); err != nil {
		return FeatureSet{}, err
	}
	for i, sh := range list {
		fs.Shops = append(fs.Shops, ShopFeatures{Shop: sh, Features: perShop[i].features(last, perShop[i:i+1])})
	}
	fs.Merchant = all.features(last, perShop)
	return fs, nil
}

// features computes a scope's features; shops are the scope's shops, for the
// concentration of its sales.
func (s *series) features(last int32, shops []*series) Features {
	f := Features{Windows: make([]Window, 0, len(windows)), Receivables: []Receivable{}}
	for _, n := range windows {
		f.Windows = append(f.Windows, s.window(last, n, shops))
	}
	for _, c := range sortedKeys(s.recv) {
		f.Receivables = append(f.Receivables, *s.recv[c])
	}
	return f
}

func (s *series) window(last int32, n int, shops []*series) Window {
	cur, prev := span-n, span-2*n // first index of the window and of the one before
	w := Window{Days: n, From: dayString(last - int32(n) + 1), To: dayString(last), Sales: []Sales{}}
	daily := make([]float64, n)
	var t [nDaily]int64
	for i := cur; i < span; i++ {
		for c, v := range s.counts[i] {
			t[c] += v
		}
		daily[i-cur] = float64(s.counts[i][dOrders])
	}
	for i := prev; i < cur; i++ {
		w.PreviousOrders += s.counts[i][dOrders]
	}
	w.Orders, w.Cancelled, w.Returns, w.Refunds, w.Complaints = t[dOrders], t[dCancelled], t[dReturns], t[dRefunds], t[dComplaints]
	w.Ratings, w.Dispatched, w.DispatchedOnTime = t[dRatings], t[dDispatched], t[dOnTime]
	w.OrderGrowth = growth(w.Orders, w.PreviousOrders)
	w.OrderCV = cv(daily)
	w.CancelRate = ratio(t[dCancelled], t[dOrders]+t[dCancelled])
	w.ReturnRate = ratio(t[dReturns], t[dOrders])
	w.RefundRate = ratio(t[dRefunds], t[dOrders])
	w.ComplaintRate = ratio(t[dComplaints], t[dOrders])
	w.AverageRating = ratio(t[dRatingSum], t[dRatings])
	w.Timeliness = ratio(t[dOnTime], t[dDispatched])
	for _, c := range sortedKeys(s.money) {
		m := s.money[c]
		sl := Sales{Currency: c}
		for i := cur; i < span; i++ {
			sl.Amount += m[i][0]
			sl.Refunded += m[i][1]
			daily[i-cur] = float64(m[i][0])
		}
		for i := prev; i < cur; i++ {
			sl.Previous += m[i][0]
		}
		if sl.Amount == 0 && sl.Previous == 0 && sl.Refunded == 0 {
			continue
		}
		sl.Net = sl.Amount - sl.Refunded
		sl.Growth = growth(sl.Amount, sl.Previous)
		sl.CV = cv(daily)
		sl.Concentration, sl.TopShopShare = concentration(c, cur, shops)
		w.Sales = append(w.Sales, sl)
	}
	return w
}

// concentration is the Herfindahl index of the shops' shares of the window's sales
// in currency c, and the largest share.
func concentration(c string, cur int, shops []*series) (*float64, *float64) {
	var total float64
	sales := make([]float64, 0, len(shops))
	for _, sh := range shops {
		var x int64
		if m := sh.money[c]; m != nil {
			for i := cur; i < span; i++ {
				x += m[i][0]
			}
		}
		sales = append(sales, float64(x))
		total += float64(x)
	}
	if total <= 0 {
		return nil, nil
	}
	var hhi, top float64
	for _, x := range sales {
		share := x / total
		hhi += share * share
		top = max(top, share)
	}
	return &hhi, &top
}

// cv is the coefficient of variation of xs: the population standard deviation
// over the mean; null when the mean is zero.
func cv(xs []float64) *float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	if mean <= 0 {
		return nil
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	v := math.Sqrt(ss/float64(len(xs))) / mean
	return &v
}

// growth is (current − previous) / previous; null when previous is zero.
func growth(current, previous int64) *float64 {
	if previous == 0 {
		return nil
	}
	g := float64(current-previous) / float64(previous)
	return &g
}

func ratio(num, den int64) *float64 {
	if den == 0 {
		return nil
	}
	r := float64(num) / float64(den)
	return &r
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
