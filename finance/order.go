package finance

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The fields of an order, in CSV header names and JSON names alike.
const (
	fOrderID = iota
	fShop
	fOrderedAt
	fAmount
	fAmountMinor
	fCurrency
	fStatus
	fRefundAmount
	fRefundAmountMinor
	fComplaint
	fRating
	fLogistics
	fExpectedSettlement
	fSettledAt
	fUpdatedAt
	nFields
)

var fieldNames = [nFields]string{
	"order_id", "shop", "ordered_at", "amount", "amount_minor", "currency", "status", "refund_amount",
	"refund_amount_minor", "complaint", "rating", "logistics", "expected_settlement", "settled_at", "updated_at",
}

// Order statuses. An order moves forward through them: paid, shipped, delivered,
// then returned or refunded; cancelled ends it from any earlier status.
const (
	StatusPaid      = "paid"
	StatusShipped   = "shipped"
	StatusDelivered = "delivered"
	StatusReturned  = "returned"
	StatusRefunded  = "refunded"
	StatusCancelled = "cancelled"
)

const (
	stPaid uint8 = iota + 1
	stShipped
	stDelivered
	stReturned
	stRefunded
	stCancelled
)

var statusNames = [...]string{stPaid: StatusPaid, stShipped: StatusShipped, stDelivered: StatusDelivered,
	stReturned: StatusReturned, stRefunded: StatusRefunded, stCancelled: StatusCancelled}

func statusCode(s string) uint8 {
	for c, n := range statusNames {
		if n == s && c > 0 {
			return uint8(c)
		}
	}
	return 0
}

// rank orders statuses along an order's life: an update never moves an order back.
func rank(st uint8) int {
	switch st {
	case stPaid:
		return 1
	case stShipped:
		return 2
	case stDelivered:
		return 3
	default: // returned, refunded, cancelled: the ends
		return 4
	}
}

const (
	// maxAmount bounds an amount in minor units (10^15: ten trillion yuan), so that
	// sums over millions of orders stay far from overflow.
	maxAmount = 1_000_000_000_000_000
	// skew is how far ahead of the exchange's clock a time may be: merchants'
	// clocks run a little fast or slow.
	skew = 5 * time.Minute
	// onTime is the dispatch promise the timeliness feature measures: shipped
	// within 48 hours of the order, the platforms' usual rule.
	onTime = 48 * time.Hour
	// maxEvents caps an order's logistics events.
	maxEvents = 100
	// earliest is the earliest order time taken.
	earliestOrder = 946684800_000000 // 2000-01-01T00:00:00Z in µs
)

// order is a valid order as ingest keeps it: times in µs since 1970 UTC (0: none),
// days as China Standard Time day numbers since 1970-01-01 (0: none).
type order struct {
	line        int64
	shop        int32 // index into the merchant's shops
	id          string
	orderedAt   int64
	cur         uint8 // the currency: an index into currencyCodes
	amount      int64
	status      uint8
	refund      int64
	complaint   bool
	rating      int8 // 1 to 5; 0 when not rated
	shippedAt   int64
	deliveredAt int64
	settleOn    int32
	settledAt   int64
	updatedAt   int64
}

func (o *order) currency() string { return currencyCodes[o.cur] }

// same reports whether o and p carry the same data (the batch aside).
func (o *order) same(p *order) bool {
	return o.orderedAt == p.orderedAt && o.cur == p.cur && o.amount == p.amount && o.status == p.status &&
		o.refund == p.refund && o.complaint == p.complaint && o.rating == p.rating && o.shippedAt == p.shippedAt &&
		o.deliveredAt == p.deliveredAt && o.settleOn == p.settleOn && o.settledAt == p.settledAt && o.updatedAt == p.updatedAt
}

// supersedes decides an order sent again with other data: the platform's version
// time when both carry one, and otherwise the status, which never goes back.
func (o *order) supersedes(stored *order) bool {
	if o.updatedAt != 0 && stored.updatedAt != 0 {
		return o.updatedAt >= stored.updatedAt
	}
	return rank(o.status) >= rank(stored.status)
}

// day numbers: days since 1970-01-01 in China Standard Time.
const cstOffset = 8 * 3600

func dayOf(µs int64) int32 {
	s := µs/1e6 + cstOffset
	if s < 0 {
		return int32((s - 86399) / 86400)
	}
	return int32(s / 86400)
}

func dayString(d int32) string {
	return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly)
}

// formatMicros renders a time given in µs since 1970 exactly as store.FormatTime
// does (2026-11-20T02:00:00.000000Z), several times faster: ingest formats a few
// times per order, and time.Format was a tenth of an insert's cost.
func formatMicros(µs int64) string {
	secs := µs / 1e6
	frac := µs % 1e6
	if frac < 0 {
		secs, frac = secs-1, frac+1e6
	}
	days := secs / 86400
	rem := secs % 86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	y, m, d := civil(days)
	if y < 0 || y > 9999 {
		return timeOf(µs).Format("2006-01-02T15:04:05.000000Z")
	}
	var b [27]byte
	put := func(i, n, v int) {
		for j := i + n - 1; j >= i; j-- {
			b[j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, 4, y)
	b[4] = '-'
	put(5, 2, m)
	b[7] = '-'
	put(8, 2, d)
	b[10] = 'T'
	put(11, 2, int(rem/3600))
	b[13] = ':'
	put(14, 2, int(rem%3600/60))
	b[16] = ':'
	put(17, 2, int(rem%60))
	b[19] = '.'
	put(20, 6, int(frac))
	b[26] = 'Z'
	return string(b[:])
}

// civil returns the proleptic Gregorian date of a day number since 1970-01-01
// (H. Hinnant's days-to-civil algorithm).
func civil(z int64) (year, month, day int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

func parseDay(s string) (int32, bool) {
	if len(s) != len(time.DateOnly) {
		return 0, false
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, false
	}
	return int32(t.Unix() / 86400), true
}

// RowProblem says why one row of order data was rejected.
type RowProblem struct {
	Line    int64  `json:"line" doc:"the line the row starts on, from 1 (the CSV header is line 1)"`
	OrderID string `json:"order_id,omitempty"`
	Field   string `json:"field,omitempty" doc:"the column or JSON field at fault; empty when the whole row is"`
	Reason  string `json:"reason"`
}

// validator turns rows of text into orders.
type validator struct {
	now   int64          // µs
	shops map[string]int // shop id, external id or platform:external id → index; -1 when ambiguous
	probs []RowProblem   // the current row's
	line  int64
	id    string
}

func newValidator(now time.Time, list []Shop) *validator {
	v := &validator{now: now.UnixMicro(), shops: map[string]int{}}
	add := func(k string, i int) {
		if j, ok := v.shops[k]; ok && j != i {
			v.shops[k] = -1
			return
		}
		v.shops[k] = i
	}
	for i, sh := range list {
		add(sh.ID, i)
		add(sh.ExternalID, i)
		add(sh.Platform+":"+sh.ExternalID, i)
	}
	return v
}

func (v *validator) bad(field, reason string) {
	v.probs = append(v.probs, RowProblem{Line: v.line, OrderID: v.id, Field: field, Reason: reason})
}

// row validates one row given as text per field ("" when absent). It returns the
// order and true, or records the row's problems and returns false.
func (v *validator) row(line int64, rec *[nFields]string) (order, bool) {
	v.probs, v.line, v.id = v.probs[:0], line, ""
	var o order
	o.line = line
	id := strings.TrimSpace(rec[fOrderID])
	switch {
	case id == "":
		v.bad("order_id", "missing")
	case !printable(id, 128):
		v.bad("order_id", "1 to 128 characters, no control characters")
	default:
		o.id, v.id = id, id
	}
	shop := strings.TrimSpace(rec[fShop])
	switch i, ok := v.shops[shop]; {
	case shop == "":
		v.bad("shop", "missing")
	case !ok:
		v.bad("shop", "no shop "+quote(shop)+" is connected to this merchant: connect it first")
	case i < 0:
		v.bad("shop", "several of the merchant's shops have the id "+quote(shop)+": use the shop's exchange id or platform:id")
	default:
		o.shop = int32(i)
	}
	o.orderedAt = v.time("ordered_at", rec[fOrderedAt], true)
	if o.orderedAt != 0 && o.orderedAt < earliestOrder {
		v.bad("ordered_at", "before 2000")
	}
	cur := strings.TrimSpace(rec[fCurrency])
	digits, known := currencyDigits(cur)
	switch {
	case cur == "":
		v.bad("currency", "missing")
	case !known:
		v.bad("currency", quote(cur)+" is not an ISO 4217 currency in use")
	default:
		o.cur = currencyIndex[cur]
	}
	if st := strings.TrimSpace(rec[fStatus]); st == "" {
		v.bad("status", "missing")
	} else if o.status = statusCode(st); o.status == 0 {
		v.bad("status", quote(st)+" is not one of paid, shipped, delivered, returned, refunded, cancelled")
	}
	var haveAmount bool
	if known {
		o.amount, haveAmount = v.money("amount", rec[fAmount], rec[fAmountMinor], digits, cur, true)
		var haveRefund bool
		o.refund, haveRefund = v.money("refund_amount", rec[fRefundAmount], rec[fRefundAmountMinor], digits, cur, false)
		if haveRefund && haveAmount && o.refund > o.amount {
			v.bad("refund_amount", "more than the order's amount")
		}
		if !haveRefund && o.status == stRefunded {
			o.refund = o.amount // refunded, no amount said: the whole order
		}
	}
	switch c := strings.TrimSpace(rec[fComplaint]); c {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		o.complaint = true
	default:
		v.bad("complaint", "true or false")
	}
	if r := strings.TrimSpace(rec[fRating]); r != "" {
		if len(r) == 1 && r[0] >= '1' && r[0] <= '5' {
			o.rating = int8(r[0] - '0')
		} else {
			v.bad("rating", "a whole number from 1 to 5, or empty when not rated")
		}
	}
	v.logistics(&o, rec[fLogistics])
	if s := strings.TrimSpace(rec[fExpectedSettlement]); s != "" {
		d, ok := parseDay(s)
		switch {
		case !ok:
			v.bad("expected_settlement", "a date such as 2026-12-01 (China Standard Time)")
		case o.orderedAt != 0 && d < dayOf(o.orderedAt):
			v.bad("expected_settlement", "before the order")
		default:
			o.settleOn = d
		}
	}
	o.settledAt = v.time("settled_at", rec[fSettledAt], false)
	if o.settledAt != 0 && o.settledAt < o.orderedAt {
		v.bad("settled_at", "before the order")
	}
	o.updatedAt = v.time("updated_at", rec[fUpdatedAt], false)
	return o, len(v.probs) == 0
}

// time parses an RFC 3339 time with its zone, to the microsecond, not in the future.
func (v *validator) time(field, s string, required bool) int64 {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			v.bad(field, "missing")
		}
		return 0
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		v.bad(field, "an RFC 3339 time with its zone, such as 2026-11-20T14:03:00+08:00")
		return 0
	}
	µs := t.UnixMicro()
	if µs > v.now+skew.Microseconds() {
		v.bad(field, "in the future")
		return 0
	}
	if µs <= 0 {
		v.bad(field, "before 1970")
		return 0
	}
	return µs
}

// money reads an amount given in major units (decimal) or minor units (integer).
func (v *validator) money(field, major, minor string, digits int, cur string, required bool) (int64, bool) {
	major, minor = strings.TrimSpace(major), strings.TrimSpace(minor)
	switch {
	case major != "" && minor != "":
		v.bad(field, "give "+field+" or "+field+"_minor, not both")
		return 0, false
	case major == "" && minor == "":
		if required {
			v.bad(field, "missing")
		}
		return 0, false
	case minor != "":
		n, ok := parseDigits(minor)
		if !ok || n > maxAmount {
			v.bad(field+"_minor", "a whole number of minor units (fen, cents) from 0 to 10^15")
			return 0, false
		}
		return n, true
	}
	whole, frac, dot := strings.Cut(major, ".")
	n, ok := parseDigits(whole)
	if !ok || (dot && frac == "") {
		v.bad(field, "a decimal amount in major units, such as 12.30")
		return 0, false
	}
	if len(frac) > digits {
		if digits == 0 {
			v.bad(field, cur+" has no minor unit: a whole amount")
		} else {
			v.bad(field, cur+" has "+strconv.Itoa(digits)+" decimals at most")
		}
		return 0, false
	}
	f := int64(0)
	if frac != "" {
		if f, ok = parseDigits(frac); !ok {
			v.bad(field, "a decimal amount in major units, such as 12.30")
			return 0, false
		}
	}
	for i := len(frac); i < digits; i++ {
		f *= 10
	}
	scale := int64(1)
	for range digits {
		scale *= 10
	}
	if n > maxAmount/scale {
		v.bad(field, "too large")
		return 0, false
	}
	n = n*scale + f
	if n > maxAmount {
		v.bad(field, "too large")
		return 0, false
	}
	return n, true
}

// parseDigits reads 1 to 18 ASCII digits.
func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
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

type event struct {
	Event string `json:"event"`
	At    string `json:"at"`
}

// logistics reads the logistics events, a JSON array [{"event":"shipped","at":"…"}]
// or the short form shipped@2026-11-20T18:00:00+08:00;delivered@…, and keeps the
// first shipped and delivered times.
func (v *validator) logistics(o *order, s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	var events []event
	if s[0] == '[' {
		if err := json.Unmarshal([]byte(s), &events); err != nil {
			v.bad("logistics", `a JSON array of {"event": …, "at": …}, or event@time;event@time`)
			return
		}
	} else {
		for part := range strings.SplitSeq(s, ";") {
			name, at, ok := strings.Cut(part, "@")
			if !ok {
				v.bad("logistics", `event@time;event@time, such as shipped@2026-11-20T18:00:00+08:00, or a JSON array`)
				return
			}
			events = append(events, event{Event: name, At: at})
		}
	}
	if len(events) > maxEvents {
		v.bad("logistics", "at most 100 events")
		return
	}
	for _, e := range events {
		name := strings.ToLower(strings.TrimSpace(e.Event))
		if !eventName(name) {
			v.bad("logistics", "an event is named in lower-case letters and _, at most 32: shipped, in_transit, delivered …")
			return
		}
		at := v.time("logistics", e.At, true)
		if at == 0 {
			return
		}
		if o.orderedAt != 0 && at < o.orderedAt {
			v.bad("logistics", name+" before the order")
			return
		}
		switch name {
		case "shipped":
			if o.shippedAt == 0 || at < o.shippedAt {
				o.shippedAt = at
			}
		case "delivered":
			if o.deliveredAt == 0 || at < o.deliveredAt {
				o.deliveredAt = at
			}
		}
	}
	if o.deliveredAt != 0 && o.shippedAt != 0 && o.deliveredAt < o.shippedAt {
		v.bad("logistics", "delivered before shipped")
	}
}

func eventName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// quote shows a value from the input in a message, shortened.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}
