package finance

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// windows are the lengths, in days, of the rolling windows features are computed
// over. SpanDays is twice the longest.
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

// SpanDays is the number of days the features read, up to and including as_of's
// day: the longest window and the one before it (for its growth).
const SpanDays = 180

// span is SpanDays as the series' length.
const span = SpanDays

// DaySums are the sums of one shop's orders placed on one day (China Standard
// Time) in one currency: one row of the daily aggregates that every apply keeps
// up to date, and what Compute reads. The package documentation says what each
// counts.
type DaySums struct {
	Day              string `json:"day" doc:"YYYY-MM-DD, China Standard Time: the day the orders were placed"`
	Currency         string `json:"currency" doc:"ISO 4217"`
	Orders           int64  `json:"orders" doc:"placed, not cancelled"`
	Cancelled        int64  `json:"cancelled"`
	Sales            int64  `json:"sales" doc:"minor units: the amounts of the orders not cancelled"`
	Returns          int64  `json:"returns"`
	Refunds          int64  `json:"refunds" doc:"orders with a refund"`
	RefundAmount     int64  `json:"refund_amount" doc:"minor units"`
	Complaints       int64  `json:"complaints"`
	RatingSum        int64  `json:"rating_sum"`
	Ratings          int64  `json:"ratings"`
	Dispatched       int64  `json:"dispatched" doc:"orders with a shipped event"`
	DispatchedOnTime int64  `json:"dispatched_on_time" doc:"of those, shipped within 48 hours of the order"`
}

func (d *DaySums) array() [nDaily]int64 {
	var a [nDaily]int64
	a[dOrders], a[dCancelled], a[dSales], a[dReturns], a[dRefunds] = d.Orders, d.Cancelled, d.Sales, d.Returns, d.Refunds
	a[dRefundAmount], a[dComplaints], a[dRatingSum], a[dRatings] = d.RefundAmount, d.Complaints, d.RatingSum, d.Ratings
	a[dDispatched], a[dOnTime] = d.Dispatched, d.DispatchedOnTime
	return a
}

// DueSums are one shop's open receivables due on one day in one currency: what
// the platform owes for the orders paid, shipped or delivered and not settled
// whose expected settlement is that day.
type DueSums struct {
	Day      string `json:"day" doc:"YYYY-MM-DD, China Standard Time: the expected settlement day"`
	Currency string `json:"currency"`
	Amount   int64  `json:"amount" doc:"minor units: the orders' amounts less their refunds"`
	Orders   int64  `json:"orders"`
}

// ShopData is what one shop's features are computed from: its daily sums and its
// open receivables by due day, in any order. Days outside the span of as_of, and
// receivables not due 7 to 21 days after it, are not read.
type ShopData struct {
	Shop        Shop
	Days        []DaySums
	Receivables []DueSums
}

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
		if err := s.mayRead(tx, op, actor, merchantID); err != nil {
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

// FeaturesIn computes the merchant's features as of asOf (the transaction's time
// when zero) inside another capability's transaction, which sees them consistent
// with whatever else it reads and writes: a credit decision reads the features it
// decides on in the transaction that files the decision. It checks no permission:
// the caller has checked its own.
func (s *Service) FeaturesIn(tx *store.Tx, merchantID string, asOf time.Time) (FeatureSet, error) {
	if asOf.IsZero() {
		asOf = tx.Now()
	}
	fs, err := features(tx, merchantID, asOf)
	return fs, dataport.Wrap("finance.FeaturesIn", err)
}

// features reads the merchant's stored sums over the span and computes from them.
func features(tx *store.Tx, merchantID string, asOf time.Time) (FeatureSet, error) {
	last := dayOf(asOf.UnixMicro())
	first := last - int32(span) + 1
	var batches, through int64
	err := tx.QueryRow(`SELECT batches, last_filing_seq FROM finance_merchants WHERE merchant_id = $1`, merchantID).
		Scan(&batches, &through)
	if err != nil && !isNoRows(err) {
		return FeatureSet{}, err
	}
	list, err := shops(tx, merchantID)
	if err != nil {
		return FeatureSet{}, err
	}
	index := map[string]int{}
	data := make([]ShopData, len(list))
	for i, sh := range list {
		index[sh.ID] = i
		data[i].Shop = sh
	}
	rows, err := tx.Query(`SELECT shop_id, day, currency, orders, cancelled, sales, returns, refunds, refund_amount,
		complaints, rating_sum, ratings, dispatched, dispatched_on_time FROM finance_daily
		WHERE merchant_id = $1 AND day >= $2 AND day <= $3`, merchantID, dayString(first), dayString(last))
	if err != nil {
		return FeatureSet{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var shop string
		var d DaySums
		if err := rows.Scan(&shop, &d.Day, &d.Currency, &d.Orders, &d.Cancelled, &d.Sales, &d.Returns, &d.Refunds,
			&d.RefundAmount, &d.Complaints, &d.RatingSum, &d.Ratings, &d.Dispatched, &d.DispatchedOnTime); err != nil {
			return FeatureSet{}, err
		}
		if i, known := index[shop]; known {
			data[i].Days = append(data[i].Days, d)
		}
	}
	if err := rows.Err(); err != nil {
		return FeatureSet{}, err
	}
	rows.Close()
	from, to := last+receivablesFrom, last+receivablesTo
	rrows, err := tx.Query(`SELECT shop_id, due_on, currency, amount, orders FROM finance_receivables
		WHERE merchant_id = $1 AND due_on >= $2 AND due_on <= $3`, merchantID, dayString(from), dayString(to))
	if err != nil {
		return FeatureSet{}, err
	}
	defer rrows.Close()
	for rrows.Next() {
		var shop string
		var r DueSums
		if err := rrows.Scan(&shop, &r.Day, &r.Currency, &r.Amount, &r.Orders); err != nil {
			return FeatureSet{}, err
		}
		if i, known := index[shop]; known {
			data[i].Receivables = append(data[i].Receivables, r)
		}
	}
	if err := rrows.Err(); err != nil {
		return FeatureSet{}, err
	}
	fs := Compute(merchantID, asOf, data)
	fs.Batches, fs.DataThrough = batches, through
	return fs, nil
}

// Compute computes a merchant's features as of asOf from its shops' sums, by the
// formulas of the package documentation: what Features does on the stored
// aggregates, for sums held in memory (a simulation, a what-if). The shops'
// features come in the order of shops. DataThrough and Batches stay 0: they name
// attested data, which only the stored path knows.
func Compute(merchantID string, asOf time.Time, shops []ShopData) FeatureSet {
	last := dayOf(asOf.UnixMicro())
	first := last - int32(span) + 1
	from, to := last+receivablesFrom, last+receivablesTo
	fs := FeatureSet{MerchantID: merchantID, AsOf: asOf.UTC(), Day: dayString(last), Shops: make([]ShopFeatures, 0, len(shops))}
	perShop := make([]*series, len(shops))
	all := newSeries()
	for i := range shops {
		sc := newSeries()
		perShop[i] = sc
		for j := range shops[i].Days {
			d := &shops[i].Days[j]
			n, ok := dayNumber(d.Day)
			if !ok || n < first || n > last {
				continue
			}
			a := d.array()
			sc.add(int(n-first), d.Currency, &a)
			all.add(int(n-first), d.Currency, &a)
		}
		// Receivables are summed per currency before they count: a shop whose
		// receivables in a currency net to nothing shows no entry for it.
		var due map[string]*[2]int64
		for _, r := range shops[i].Receivables {
			n, ok := dayNumber(r.Day)
			if !ok || n < from || n > to {
				continue
			}
			if due == nil {
				due = map[string]*[2]int64{}
			}
			v := due[r.Currency]
			if v == nil {
				v = new([2]int64)
				due[r.Currency] = v
			}
			v[0] += r.Amount
			v[1] += r.Orders
		}
		for currency, v := range due {
			if *v == ([2]int64{}) {
				continue
			}
			for _, s := range []*series{sc, all} {
				rc := s.recv[currency]
				if rc == nil {
					rc = &Receivable{Currency: currency, From: dayString(from), To: dayString(to)}
					s.recv[currency] = rc
				}
				rc.Amount += v[0]
				rc.Orders += v[1]
			}
		}
	}
	for i := range shops {
		fs.Shops = append(fs.Shops, ShopFeatures{Shop: shops[i].Shop, Features: perShop[i].features(last, perShop[i:i+1])})
	}
	fs.Merchant = all.features(last, perShop)
	return fs
}

// dayNumber reads a YYYY-MM-DD day as a day number. Compute reads one per shop
// and day, hundreds of thousands a second in a simulation, so the common case (a
// day of the month up to 28, valid in every month) is worked out by hand (H.
// Hinnant's days-from-civil algorithm, the inverse of civil); the rest goes
// through parseDay, which checks the calendar.
func dayNumber(s string) (int32, bool) {
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		y, okY := digits(s[0:4])
		m, okM := digits(s[5:7])
		d, okD := digits(s[8:10])
		if okY && okM && okD && m >= 1 && m <= 12 && d >= 1 && d <= 28 {
			if m <= 2 {
				y--
			}
			era := y / 400
			if y < 0 {
				era = (y - 399) / 400
			}
			yoe := y - era*400
			mp := m + 9
			if m > 2 {
				mp = m - 3
			}
			doy := (153*mp+2)/5 + d - 1
			doe := yoe*365 + yoe/4 - yoe/100 + doy
			return int32(era*146097 + doe - 719468), true
		}
	}
	return parseDay(s)
}

// digits reads a short run of ASCII digits.
func digits(s string) (int64, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
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
