package merchantsim

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/finance"
)

// Currency is the currency every generated order is in: the model reads CNY.
const Currency = "CNY"

// onTime is finance's dispatch promise: shipped within 48 hours of the order.
const onTime = 48 * 3600

// Order statuses, as finance's order schema names them.
const (
	stPaid uint8 = iota + 1
	stShipped
	stDelivered
	stReturned
	stRefunded
	stCancelled
)

var statusNames = [...]string{stPaid: finance.StatusPaid, stShipped: finance.StatusShipped, stDelivered: finance.StatusDelivered,
	stReturned: finance.StatusReturned, stRefunded: finance.StatusRefunded, stCancelled: finance.StatusCancelled}

// order is one generated order: times in Unix seconds (0: none), days as day
// numbers since 1970-01-01 in China Standard Time.
type order struct {
	shop      int
	seq       int // the shop's n-th order
	day       int32
	at        int64
	amount    int64 // fen
	status    uint8
	refund    int64
	complaint bool
	rating    int
	shipped   int64
	delivered int64
	settleOn  int32
	settled   int64
}

const cst = 8 * 3600

func dayOf(unix int64) int32 {
	s := unix + cst
	if s < 0 {
		return int32((s - 86399) / 86400)
	}
	return int32(s / 86400)
}

func dayStart(d int32) int64 { return int64(d)*86400 - cst }

// walk generates the merchant's orders as of asOf — the last min(Age,
// finance.SpanDays) days up to asOf — and calls fn with each, in time order
// within each day and shop. Population and Orders both walk: one story, one set
// of draws.
func (m *Merchant) walk(asOf time.Time, fn func(*order)) {
	p := m.params
	src := source(m.orders[0], m.orders[1], 1)
	rng := rand.New(src)
	u := &uniforms{src: src}
	c := m.chances()
	now := asOf.Unix()
	last := dayOf(now)
	first := last - int32(min(max(m.Age, 1), finance.SpanDays)) + 1
	rho := p.VolatilityPersist
	v := m.Volatility * rng.NormFloat64() // the AR(1) starts in its stationary law
	seqs := make([]int, len(m.Shops))
	var o order // one, reused: fn must not keep it
	for d := first; d <= last; d++ {
		if d > first {
			v = rho*v + m.Volatility*math.Sqrt(1-rho*rho)*rng.NormFloat64()
		}
		if rng.Float64() < m.OffDayRate {
			continue
		}
		start := dayStart(d)
		length := float64(min(start+86400, now+1) - start) // the last day ends at as_of
		// Centred: E[e^(v − σ²/2)] = 1, so the shock moves the orders, not their mean.
		level := m.Level * math.Exp(-m.Trend*float64(last-d)) * math.Exp(v-m.Volatility*m.Volatility/2)
		for s := range m.Shops {
			sh := &m.Shops[s]
			perSecond := level * sh.Share / 86400
			if perSecond <= 0 {
				continue
			}
			for x := rng.ExpFloat64() / perSecond; x < length; x += rng.ExpFloat64() / perSecond {
				m.order(&o, u, c, sh, start+int64(x), now)
				o.shop, o.seq, o.day = s, seqs[s], d
				seqs[s]++
				fn(&o)
			}
		}
	}
}

// uniforms hands out uniform draws of 16 bits, four from each 64-bit draw of
// the generator: an order needs about ten uniforms of modest precision, and
// drawing each one whole cost more than everything else the order does.
type uniforms struct {
	src *rand.PCG // the stream's own generator, called directly: no interface call
	v   uint64
	n   int
}

// u16 returns a uniform draw from 0 to 65,535. (Small enough to be inlined;
// the refill is not.)
func (u *uniforms) u16() uint64 {
	if u.n == 0 {
		u.refill()
	}
	u.n--
	return u.v >> (16 * u.n) & 0xffff
}

func (u *uniforms) refill() { u.v, u.n = u.src.Uint64(), 4 }

// within returns a uniform draw from lo to lo+span (excluded), in steps of span/65,536.
func (u *uniforms) within(lo, span int64) int64 {
	return lo + int64(uint64(span)*u.u16()>>16)
}

// chances are a merchant's per-order probabilities as thresholds of u16: an
// event of probability p happens when u16() < p·65,536.
type chances struct {
	cancel, complaint, onTime, ret, refund, rated uint64
	rating                                        [5]uint64 // u16() < rating[k−1]: the rating is k, the first such
	spread                                        []float64
}

func threshold(p float64) uint64 { return uint64(math.Round(max(0, min(1, p)) * 65536)) }

// chances reads the merchant's traits as they stand (a caller may have changed
// them since Draw).
func (m *Merchant) chances() *chances {
	p := &m.params
	c := &chances{cancel: threshold(m.CancelRate), complaint: threshold(m.ComplaintRate), onTime: threshold(m.OnTimeRate),
		ret: threshold(m.ReturnRate), refund: threshold(m.RefundRate), rated: threshold(p.RatingShare),
		spread: spreadTable(p.OrderSpread)}
	// A rating is round(μ + σN) within 1 to 5: it is k with probability
	// Φ((k + ½ − μ)/σ) − Φ((k − ½ − μ)/σ), the ends taking the tails.
	for k := 1; k <= 5; k++ {
		cum := 1.0
		if k < 5 {
			cum = 0.5 * math.Erfc(-(float64(k)+0.5-m.Rating)/(p.RatingSpread*math.Sqrt2))
		}
		c.rating[k-1] = threshold(cum)
	}
	return c
}

// order draws the life of one order placed at `at`, as it stands at now, into o.
func (m *Merchant) order(o *order, u *uniforms, c *chances, sh *Shop, at, now int64) {
	*o = order{at: at, status: stPaid}
	o.amount = max(100, int64(math.Round(sh.Value*c.spread[u.u16()>>(16-spreadBits)]*100)))
	if u.u16() < c.cancel {
		o.status = stCancelled
		return
	}
	o.complaint = u.u16() < c.complaint
	o.settleOn = dayOf(at) + int32(sh.Term)
	var delay int64
	if u.u16() < c.onTime {
		delay = u.within(3600, 46*3600) // 1 to 47 hours
	} else {
		delay = u.within(49*3600, 71*3600) // 49 to 120 hours
	}
	if ship := at + delay; ship <= now {
		o.shipped, o.status = ship, stShipped
		if deliver := ship + u.within(18*3600, 78*3600); deliver <= now {
			o.delivered, o.status = deliver, stDelivered
			if u.u16() < c.ret {
				if deliver+u.within(86400, 9*86400) <= now {
					o.status, o.refund = stReturned, o.amount
				}
			} else if u.u16() < c.refund {
				share := 0.1 + 0.9*float64(u.u16())/65536
				if deliver+u.within(43200, 27*43200) <= now {
					o.status, o.refund = stRefunded, max(1, int64(math.Round(float64(o.amount)*share)))
				}
			}
			if o.status == stDelivered && u.u16() < c.rated {
				x := u.u16()
				o.rating = 5
				for k, t := range c.rating {
					if x < t {
						o.rating = k + 1
						break
					}
				}
			}
		}
	}
	if settle := dayStart(o.settleOn) + 10*3600; settle <= now && o.status <= stDelivered {
		o.settled = settle
	}
}

// spreadBits sizes the table of an order's log-normal factor: 2^10 quantiles,
// indexed by the top bits of a u16.
const spreadBits = 10

// spreadTable returns the 2^spreadBits equally likely quantiles of the
// log-normal factor e^(σN − σ²/2), whose mean is 1: an order draws one by a
// random index, which costs a twentieth of math.Exp — the amount was a third of
// the cost of generating an order.
func spreadTable(sigma float64) []float64 {
	if t, ok := spreadTables.Load(sigma); ok {
		return t.([]float64)
	}
	n := 1 << spreadBits
	t := make([]float64, n)
	for i := range t {
		z := math.Sqrt2 * math.Erfinv(2*(float64(i)+0.5)/float64(n)-1)
		t[i] = math.Exp(sigma*z - sigma*sigma/2)
	}
	spreadTables.Store(sigma, t)
	return t
}

// spreadTables caches the tables by σ: a population shares one.
var spreadTables sync.Map

// calendar names the days of a span, YYYY-MM-DD: formatting a day is slower than
// generating its orders, so a population names them once.
type calendar struct {
	first int32
	names []string
}

func newCalendar(asOf time.Time) *calendar {
	last := dayOf(asOf.Unix())
	c := &calendar{first: last - finance.SpanDays + 1}
	for d := c.first; d <= last+31; d++ { // settlements fall up to 30 days after an order
		c.names = append(c.names, time.Unix(dayStart(d), 0).In(dataport.China).Format(time.DateOnly))
	}
	return c
}

func (c *calendar) name(d int32) string {
	if i := int(d - c.first); i >= 0 && i < len(c.names) {
		return c.names[i]
	}
	return time.Unix(dayStart(d), 0).In(dataport.China).Format(time.DateOnly)
}

// ShopData returns the merchant's daily sums and open receivables as of asOf,
// per shop: what finance's aggregates would hold had its orders been ingested.
func (m *Merchant) ShopData(asOf time.Time) []finance.ShopData {
	return m.shopData(asOf, newCalendar(asOf), &sums{})
}

// Features returns the merchant's features as of asOf, computed from ShopData.
func (m *Merchant) Features(asOf time.Time) finance.FeatureSet {
	return finance.Compute(m.ID, asOf, m.ShopData(asOf))
}

// daySums and dueSums are finance.DaySums and finance.DueSums without their
// day and currency: pointer-free, so that the garbage collector never scans
// the sums of a population being generated.
type (
	daySums [11]int64 // in the order of finance.DaySums' counts
	dueSums struct{ amount, orders int64 }
)

// The counts of a daySums.
const (
	sOrders = iota
	sCancelled
	sSales
	sReturns
	sRefunds
	sRefundAmount
	sComplaints
	sRatingSum
	sRatings
	sDispatched
	sOnTime
)

// sums holds one merchant's sums by shop and day while it is generated; a
// worker of Population reuses one for every merchant it generates.
type sums struct {
	days [][]daySums
	due  [][]dueSums
}

func (a *sums) reset(shops, days int) {
	for len(a.days) < shops {
		a.days = append(a.days, nil)
		a.due = append(a.due, nil)
	}
	for s := range shops {
		a.days[s] = slices.Grow(a.days[s][:0], days)[:days]
		a.due[s] = slices.Grow(a.due[s][:0], days)[:days]
		clear(a.days[s])
		clear(a.due[s])
	}
}

func (m *Merchant) shopData(asOf time.Time, cal *calendar, a *sums) []finance.ShopData {
	first := cal.first
	n := len(cal.names)
	a.reset(len(m.Shops), n)
	// The sums finance's ingest adds for each order (finance/doc.go, "Features";
	// finance/apply.go, sums.add). The test of package credit that ingests
	// generated rows and compares features holds the two to the same rules.
	m.walk(asOf, func(o *order) {
		d := &a.days[o.shop][o.day-first]
		if o.status == stCancelled {
			d[sCancelled]++
			return
		}
		d[sOrders]++
		d[sSales] += o.amount
		if o.status == stReturned {
			d[sReturns]++
		}
		if o.refund > 0 || o.status == stRefunded {
			d[sRefunds]++
			d[sRefundAmount] += o.refund
		}
		if o.complaint {
			d[sComplaints]++
		}
		if o.rating > 0 {
			d[sRatingSum] += int64(o.rating)
			d[sRatings]++
		}
		if o.shipped != 0 {
			d[sDispatched]++
			if o.shipped-o.at <= onTime {
				d[sOnTime]++
			}
		}
		if o.settleOn != 0 && o.settled == 0 && o.status <= stDelivered && o.amount > o.refund {
			if i := int(o.settleOn - first); i < n {
				r := &a.due[o.shop][i]
				r.amount += o.amount - o.refund
				r.orders++
			}
		}
	})
	out := make([]finance.ShopData, len(m.Shops))
	for s, sh := range m.Shops {
		sd := finance.ShopData{Shop: finance.Shop{ID: fmt.Sprintf("shp_sim_%d", s+1), MerchantID: m.ID,
			Platform: sh.Platform, ExternalID: sh.ExternalID, Name: sh.Name}}
		days, due := 0, 0
		for i := range a.days[s] {
			if d := &a.days[s][i]; d[sOrders] != 0 || d[sCancelled] != 0 {
				days++
			}
			if a.due[s][i].orders != 0 {
				due++
			}
		}
		sd.Days, sd.Receivables = make([]finance.DaySums, 0, days), make([]finance.DueSums, 0, due)
		for i, d := range a.days[s] {
			if d[sOrders] != 0 || d[sCancelled] != 0 {
				sd.Days = append(sd.Days, finance.DaySums{Day: cal.names[i], Currency: Currency,
					Orders: d[sOrders], Cancelled: d[sCancelled], Sales: d[sSales], Returns: d[sReturns], Refunds: d[sRefunds],
					RefundAmount: d[sRefundAmount], Complaints: d[sComplaints], RatingSum: d[sRatingSum], Ratings: d[sRatings],
					Dispatched: d[sDispatched], DispatchedOnTime: d[sOnTime]})
			}
		}
		for i, r := range a.due[s] {
			if r.orders != 0 {
				sd.Receivables = append(sd.Receivables, finance.DueSums{Day: cal.names[i], Currency: Currency, Amount: r.amount, Orders: r.orders})
			}
		}
		out[s] = sd
	}
	return out
}

// Population draws merchants 0 … n−1 of seed, computes each one's features as
// of asOf, and returns what keep makes of each, in merchant order. It runs on
// every core; the result depends on its arguments alone. keep is called
// concurrently and must not change shared state.
func Population[T any](ctx context.Context, p Params, seed uint64, n int, asOf time.Time,
	keep func(m *Merchant, fs finance.FeatureSet) T) ([]T, error) {
	out := make([]T, n)
	cal := newCalendar(asOf)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var a sums
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				m := p.Draw(seed, i)
				out[i] = keep(&m, finance.Compute(m.ID, asOf, m.shopData(asOf, cal, &a)))
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// NewShops are the merchant's shops as finance connects them.
func (m *Merchant) NewShops() []finance.NewShop {
	out := make([]finance.NewShop, len(m.Shops))
	for i, sh := range m.Shops {
		out[i] = finance.NewShop{Platform: sh.Platform, ExternalID: sh.ExternalID, Name: sh.Name}
	}
	return out
}

// Order is one generated order in the fields of finance's order schema (see
// package finance: "Order data").
type Order struct {
	OrderID            string
	Shop               string // platform:external_id
	OrderedAt          time.Time
	AmountMinor        int64
	Currency           string
	Status             string
	RefundMinor        int64 // 0: none
	Complaint          bool
	Rating             int       // 0: not rated
	ShippedAt          time.Time // zero: not shipped
	DeliveredAt        time.Time
	ExpectedSettlement string // YYYY-MM-DD; "" for a cancelled order
	SettledAt          time.Time
}

// Orders returns the merchant's orders as of asOf (the last min(Age,
// finance.SpanDays) days), day by day. Ingested, their sums are ShopData's.
func (m *Merchant) Orders(asOf time.Time) []Order {
	cal := newCalendar(asOf)
	var out []Order
	at := func(unix int64) time.Time {
		if unix == 0 {
			return time.Time{}
		}
		return time.Unix(unix, 0).In(dataport.China)
	}
	m.walk(asOf, func(o *order) {
		sh := &m.Shops[o.shop]
		r := Order{OrderID: fmt.Sprintf("%s-%06d", sh.ExternalID, o.seq+1), Shop: sh.Platform + ":" + sh.ExternalID,
			OrderedAt: at(o.at), AmountMinor: o.amount, Currency: Currency, Status: statusNames[o.status],
			RefundMinor: o.refund, Complaint: o.complaint, Rating: o.rating, ShippedAt: at(o.shipped),
			DeliveredAt: at(o.delivered), SettledAt: at(o.settled)}
		if o.settleOn != 0 {
			r.ExpectedSettlement = cal.name(o.settleOn)
		}
		out = append(out, r)
	})
	return out
}

// logistics renders the events in finance's short form: shipped@…;delivered@….
func (o *Order) logistics() string {
	if o.ShippedAt.IsZero() {
		return ""
	}
	s := "shipped@" + o.ShippedAt.Format(time.RFC3339)
	if !o.DeliveredAt.IsZero() {
		s += ";delivered@" + o.DeliveredAt.Format(time.RFC3339)
	}
	return s
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// csvHeader names the columns WriteCSV writes.
var csvHeader = []string{"order_id", "shop", "ordered_at", "amount_minor", "currency", "status", "refund_amount_minor",
	"complaint", "rating", "logistics", "expected_settlement", "settled_at"}

// WriteCSV writes orders as a CSV batch of finance's order schema.
func WriteCSV(w io.Writer, orders []Order) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for i := range orders {
		o := &orders[i]
		refund, rating := "", ""
		if o.RefundMinor > 0 {
			refund = strconv.FormatInt(o.RefundMinor, 10)
		}
		if o.Rating > 0 {
			rating = strconv.Itoa(o.Rating)
		}
		if err := cw.Write([]string{o.OrderID, o.Shop, formatTime(o.OrderedAt), strconv.FormatInt(o.AmountMinor, 10),
			o.Currency, o.Status, refund, strconv.FormatBool(o.Complaint), rating, o.logistics(), o.ExpectedSettlement,
			formatTime(o.SettledAt)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSONL writes orders as JSON lines of finance's order schema.
func WriteJSONL(w io.Writer, orders []Order) error {
	type line struct {
		OrderID            string `json:"order_id"`
		Shop               string `json:"shop"`
		OrderedAt          string `json:"ordered_at"`
		AmountMinor        int64  `json:"amount_minor"`
		Currency           string `json:"currency"`
		Status             string `json:"status"`
		RefundMinor        int64  `json:"refund_amount_minor,omitempty"`
		Complaint          bool   `json:"complaint"`
		Rating             int    `json:"rating,omitempty"`
		Logistics          string `json:"logistics,omitempty"`
		ExpectedSettlement string `json:"expected_settlement,omitempty"`
		SettledAt          string `json:"settled_at,omitempty"`
	}
	enc := json.NewEncoder(w)
	for i := range orders {
		o := &orders[i]
		if err := enc.Encode(line{OrderID: o.OrderID, Shop: o.Shop, OrderedAt: formatTime(o.OrderedAt), AmountMinor: o.AmountMinor,
			Currency: o.Currency, Status: o.Status, RefundMinor: o.RefundMinor, Complaint: o.Complaint, Rating: o.Rating,
			Logistics: o.logistics(), ExpectedSettlement: o.ExpectedSettlement, SettledAt: formatTime(o.SettledAt)}); err != nil {
			return err
		}
	}
	return nil
}
