package finance

import (
	"fmt"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
)

// Applying orders. A batch (or a stream chunk) is applied in one write transaction
// that also files its attestation: its orders, the aggregates they change, the
// batch record and the filing commit together or not at all.
//
// Orders go in as multi-row inserts that skip keys already stored. When every row
// of a chunk went in — the usual case for new data — nothing is read back; when
// some did not, each row of the chunk is looked up: a row that carries this
// batch's id and line is the one just inserted, any other is an order stored
// before, which the new row duplicates, updates or is stale against. The
// aggregates are summed in memory for the whole batch and written once at its end.

// chunkRows is the number of rows of one insert statement.
const chunkRows = 128

// maxSums bounds the aggregate rows summed in memory before they are written.
const maxSums = 100_000

// orderColumns are the columns of finance_orders, in the order of orderArgs.
const orderColumns = `shop_id, order_id, ordered_at, currency, amount, status, refund_amount, complaint, rating,
	shipped_at, delivered_at, expected_settlement, settled_at, updated_at, batch_id, batch_line`

const nOrderColumns = 16

// values returns the VALUES list of rows × cols parameters. PostgreSQL numbers
// them $1, $2 …; on SQLite they are plain "?": SQLite looks each $NNN up by name
// in a list as long as the statement's parameters, which made a 128-row insert
// spend most of its time binding.
func values(engine store.Engine, rows, cols int) string {
	var b strings.Builder
	n := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			n++
			if engine == store.SQLite {
				b.WriteByte('?')
			} else {
				fmt.Fprintf(&b, "$%d", n)
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// statements are the SQL texts of an engine, built once.
type statements struct {
	insert map[int]string // by number of rows: chunkRows and the powers of two below it
	daily  map[int]string
	recv   map[int]string
}

// aggRows is the number of rows of one aggregate upsert.
const aggRows = 64

const dailyColumns = `shop_id, day, currency, merchant_id, orders, cancelled, sales, returns, refunds, refund_amount,
	complaints, rating_sum, ratings, dispatched, dispatched_on_time`

func newStatements(engine store.Engine) *statements {
	s := &statements{insert: map[int]string{}, daily: map[int]string{}, recv: map[int]string{}}
	for n := chunkRows; n >= 1; n /= 2 {
		if engine == store.SQLite {
			// OR IGNORE rather than ON CONFLICT DO NOTHING: a statement that may
			// abort half-way (a NOT NULL or CHECK failure) makes SQLite copy every
			// page it touches to a statement journal first, and that copying was
			// most of an insert's cost. Ingest checks every value before it writes;
			// a row refused all the same is found missing when it is read back.
			s.insert[n] = `INSERT OR IGNORE INTO finance_orders (` + orderColumns + `) VALUES ` + values(engine, n, nOrderColumns)
		} else {
			s.insert[n] = `INSERT INTO finance_orders (` + orderColumns + `) VALUES ` + values(engine, n, nOrderColumns) +
				` ON CONFLICT (shop_id, order_id) DO NOTHING`
		}
	}
	for n := aggRows; n >= 1; n /= 2 {
		s.daily[n] = `INSERT INTO finance_daily (` + dailyColumns + `) VALUES ` + values(engine, n, 4+nDaily) +
			` ON CONFLICT (shop_id, day, currency) DO UPDATE SET orders = finance_daily.orders + excluded.orders,
			cancelled = finance_daily.cancelled + excluded.cancelled, sales = finance_daily.sales + excluded.sales,
			returns = finance_daily.returns + excluded.returns, refunds = finance_daily.refunds + excluded.refunds,
			refund_amount = finance_daily.refund_amount + excluded.refund_amount,
			complaints = finance_daily.complaints + excluded.complaints, rating_sum = finance_daily.rating_sum + excluded.rating_sum,
			ratings = finance_daily.ratings + excluded.ratings, dispatched = finance_daily.dispatched + excluded.dispatched,
			dispatched_on_time = finance_daily.dispatched_on_time + excluded.dispatched_on_time`
		s.recv[n] = `INSERT INTO finance_receivables (shop_id, due_on, currency, merchant_id, amount, orders) VALUES ` +
			values(engine, n, 6) + ` ON CONFLICT (shop_id, due_on, currency) DO UPDATE SET
			amount = finance_receivables.amount + excluded.amount, orders = finance_receivables.orders + excluded.orders`
	}
	return s
}

// The daily sums of finance_daily, in the order of its columns.
const (
	dOrders = iota
	dCancelled
	dSales
	dReturns
	dRefunds
	dRefundAmount
	dComplaints
	dRatingSum
	dRatings
	dDispatched
	dOnTime
	nDaily
)

type dayKey struct {
	shop int32
	day  int32
	cur  uint8
}

type recvKey = dayKey // the day is the expected settlement day

type recvSums struct{ amount, orders int64 }

// sums gathers the changes an apply makes to the aggregates.
type sums struct {
	daily map[dayKey]*[nDaily]int64
	recv  map[recvKey]*recvSums
}

func newSums() *sums {
	return &sums{daily: map[dayKey]*[nDaily]int64{}, recv: map[recvKey]*recvSums{}}
}

// add adds o's share of the aggregates, times sign (+1 to add an order, -1 to take
// away the order as it was before an update).
func (s *sums) add(o *order, sign int64) {
	k := dayKey{o.shop, dayOf(o.orderedAt), o.cur}
	d := s.daily[k]
	if d == nil {
		d = new([nDaily]int64)
		s.daily[k] = d
	}
	if o.status == stCancelled {
		d[dCancelled] += sign
		return
	}
	d[dOrders] += sign
	d[dSales] += sign * o.amount
	if o.status == stReturned {
		d[dReturns] += sign
	}
	if o.refund > 0 || o.status == stRefunded {
		d[dRefunds] += sign
		d[dRefundAmount] += sign * o.refund
	}
	if o.complaint {
		d[dComplaints] += sign
	}
	if o.rating > 0 {
		d[dRatingSum] += sign * int64(o.rating)
		d[dRatings] += sign
	}
	if o.shippedAt != 0 {
		d[dDispatched] += sign
		if o.shippedAt-o.orderedAt <= onTime.Microseconds() {
			d[dOnTime] += sign
		}
	}
	if o.settleOn != 0 && o.settledAt == 0 && o.status <= stDelivered && o.amount > o.refund {
		rk := recvKey{o.shop, o.settleOn, o.cur}
		r := s.recv[rk]
		if r == nil {
			r = &recvSums{}
			s.recv[rk] = r
		}
		r.amount += sign * (o.amount - o.refund)
		r.orders += sign
	}
}

// applier applies one batch in one transaction.
type applier struct {
	tx    *store.Tx
	stmts *statements
	shops []Shop
	b     *Batch
	sums  *sums
	ch    *changes // what the apply changed, for the hooks and the live flow
	args  []any
	chunk []order
	keys  map[orderKey]struct{}
	days  map[int32]string
}

type orderKey struct {
	shop int32
	id   string
}

// applyOrders writes the orders next yields, sums the aggregates and writes them,
// files the attestation of b, keeps the merchant's live limit and runs the
// OnApplied hooks. It fills b's counts and filing.
func (s *Service) applyOrders(tx *store.Tx, actor dataport.Actor, shops []Shop, b *Batch, next func(*order) (bool, error)) error {
	const op = "finance.apply"
	now := store.FormatTime(tx.Now())
	// Take the merchant's row first: on PostgreSQL its lock makes two applies for
	// one merchant, from two replicas, take turns.
	if _, err := tx.Exec(`INSERT INTO finance_merchants (merchant_id, batches, last_batch_id, last_filing_seq, updated_at)
		VALUES ($1, 0, '', 0, $2) ON CONFLICT (merchant_id) DO UPDATE SET updated_at = excluded.updated_at`, b.MerchantID, now); err != nil {
		return dataport.Internal(op, err)
	}
	a := &applier{tx: tx, stmts: s.stmts, shops: shops, b: b, sums: newSums(),
		ch:   &changes{cur: map[uint8]*AppliedCurrency{}},
		args: make([]any, 0, chunkRows*nOrderColumns), keys: map[orderKey]struct{}{}, days: map[int32]string{}}
	// The live-limit policy is read before the orders, so that each row's share of
	// the live flow is decided as it is applied (see live.go).
	pol, ok, err := livePolicy(tx, b.MerchantID, true)
	if err != nil {
		return dataport.Internal(op, err)
	}
	if ok {
		a.ch.live = newLiveAcc(&pol, tx.Now())
	}
	var o order
	for {
		ok, err := next(&o)
		if err != nil {
			return dataport.Internal(op, err)
		}
		if !ok {
			break
		}
		k := orderKey{o.shop, o.id}
		if _, dup := a.keys[k]; dup || len(a.chunk) == chunkRows {
			// One statement never holds one order twice: its later rows are
			// decided against the earlier, stored by then.
			if err := a.flush(); err != nil {
				return dataport.Internal(op, err)
			}
		}
		a.keys[k] = struct{}{}
		a.chunk = append(a.chunk, o)
		if len(a.sums.daily)+len(a.sums.recv) > maxSums {
			// Memory stays bounded for a batch over many shops and years: the
			// sums so far go to the database, in the same transaction.
			if err := a.writeSums(); err != nil {
				return dataport.Internal(op, err)
			}
			a.sums = newSums()
		}
	}
	if err := a.flush(); err != nil {
		return dataport.Internal(op, err)
	}
	if err := a.writeSums(); err != nil {
		return dataport.Internal(op, err)
	}
	b.Accepted = b.Inserted + b.Updated + b.Duplicates + b.Stale
	payload := map[string]any{
		"merchant_id": b.MerchantID, "batch_id": b.ID, "kind": b.Kind, "format": b.Format, "sha256": b.SHA256,
		"bytes": b.Bytes, "rows": b.Rows, "accepted": b.Accepted, "inserted": b.Inserted, "updated": b.Updated,
		"duplicates": b.Duplicates, "stale": b.Stale, "rejected": b.Rejected,
		"first_order_at": store.FormatTime(b.FirstOrderAt), "last_order_at": store.FormatTime(b.LastOrderAt),
	}
	typ := "finance.batch_attested"
	if b.Kind == "stream" {
		typ = "finance.stream_attested"
		payload["stream_id"], payload["seq"], payload["stream_sha256"] = b.StreamID, b.Seq, b.StreamSHA256
	}
	f, err := ledger.File(tx, actor, ledger.Change{Type: typ, Subjects: []string{b.MerchantID, b.ID}, Payload: payload})
	if err != nil {
		return err
	}
	b.FilingSeq, b.CreatedBy, b.CreatedAt = f.Seq, actor.ParticipantID, tx.Now()
	if _, err := tx.Exec(`INSERT INTO finance_batches (id, merchant_id, kind, format, stream_id, seq, sha256, stream_sha256,
		bytes, rows_read, accepted, inserted, updated, duplicates, stale, rejected, first_order_at, last_order_at,
		filing_seq, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
		b.ID, b.MerchantID, b.Kind, b.Format, b.StreamID, b.Seq, b.SHA256, b.StreamSHA256, b.Bytes, b.Rows, b.Accepted,
		b.Inserted, b.Updated, b.Duplicates, b.Stale, b.Rejected, store.FormatTime(b.FirstOrderAt),
		store.FormatTime(b.LastOrderAt), b.FilingSeq, b.CreatedBy, now); err != nil {
		return dataport.Internal(op, err)
	}
	if _, err := tx.Exec(`UPDATE finance_merchants SET batches = batches + 1, last_batch_id = $2, last_filing_seq = $3
		WHERE merchant_id = $1`, b.MerchantID, b.ID, b.FilingSeq); err != nil {
		return dataport.Internal(op, err)
	}
	// The live limit first, so that the hooks (a lender's) see the limit that
	// this apply's data gives.
	if a.ch.live != nil {
		if err := a.ch.live.apply(tx, actor, b); err != nil {
			return dataport.Wrap(op, err)
		}
	}
	return s.runHooks(tx, op, a.ch.applied(b, tx.Now()))
}

// time formats a time for storage, "" for none.
func (a *applier) time(µs int64) string {
	if µs == 0 {
		return ""
	}
	return formatMicros(µs)
}

// day formats a day number, from a cache: a batch spans few days.
func (a *applier) day(d int32) string {
	if s, ok := a.days[d]; ok {
		return s
	}
	s := dayString(d)
	a.days[d] = s
	return s
}

func (a *applier) orderArgs(args []any, o *order) []any {
	settle := ""
	if o.settleOn != 0 {
		settle = a.day(o.settleOn)
	}
	return append(args, a.shops[o.shop].ID, o.id, a.time(o.orderedAt), o.currency(), o.amount, statusNames[o.status],
		o.refund, int64(boolByte(o.complaint)), int64(o.rating), a.time(o.shippedAt), a.time(o.deliveredAt), settle,
		a.time(o.settledAt), a.time(o.updatedAt), a.b.ID, o.line)
}

// flush inserts the chunk's new orders and decides the others.
func (a *applier) flush() error {
	rows := a.chunk
	defer func() {
		a.chunk = a.chunk[:0]
		clear(a.keys)
	}()
	if len(rows) == 0 {
		return nil
	}
	inserted := int64(0)
	for start := 0; start < len(rows); {
		n := chunkRows
		for n > len(rows)-start {
			n /= 2
		}
		a.args = a.args[:0]
		for i := start; i < start+n; i++ {
			a.args = a.orderArgs(a.args, &rows[i])
		}
		res, err := a.tx.Exec(a.stmts.insert[n], a.args...)
		if err != nil {
			return fmt.Errorf("insert orders: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return err
		}
		inserted += k
		start += n
	}
	if inserted == int64(len(rows)) {
		for i := range rows {
			a.sums.add(&rows[i], 1)
			a.ch.note(nil, &rows[i])
		}
		a.b.Inserted += inserted
		return nil
	}
	for i := range rows {
		if err := a.decide(&rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// decide settles one row of a chunk in which some keys were stored already.
func (a *applier) decide(o *order) error {
	var batch, orderedAt, currency, status, shipped, delivered, settle, settled, updated string
	var line, complaint, rating int64
	var stored order
	err := a.tx.QueryRow(`SELECT batch_id, batch_line, ordered_at, currency, amount, status, refund_amount, complaint, rating,
		shipped_at, delivered_at, expected_settlement, settled_at, updated_at FROM finance_orders WHERE shop_id = $1 AND order_id = $2`,
		a.shops[o.shop].ID, o.id).Scan(&batch, &line, &orderedAt, &currency, &stored.amount, &status, &stored.refund,
		&complaint, &rating, &shipped, &delivered, &settle, &settled, &updated)
	if err != nil {
		return fmt.Errorf("read order %s: %w", o.id, err)
	}
	if batch == a.b.ID && line == o.line {
		a.sums.add(o, 1)
		a.ch.note(nil, o)
		a.b.Inserted++
		return nil
	}
	stored.shop, stored.id = o.shop, o.id
	stored.cur = currencyIndex[currency]
	stored.status = statusCode(status)
	stored.complaint, stored.rating = complaint != 0, int8(rating)
	for _, t := range []struct {
		s string
		v *int64
	}{{orderedAt, &stored.orderedAt}, {shipped, &stored.shippedAt}, {delivered, &stored.deliveredAt},
		{settled, &stored.settledAt}, {updated, &stored.updatedAt}} {
		tm, err := store.ParseTime(t.s)
		if err != nil {
			return err
		}
		if !tm.IsZero() {
			*t.v = tm.UnixMicro()
		}
	}
	if settle != "" {
		d, ok := parseDay(settle)
		if !ok {
			return fmt.Errorf("order %s: stored settlement day %q", o.id, settle)
		}
		stored.settleOn = d
	}
	if stored.cur == 0 || stored.status == 0 {
		return fmt.Errorf("order %s: stored currency %q, status %q", o.id, currency, status)
	}
	switch {
	case o.same(&stored):
		a.b.Duplicates++
		return nil
	case !o.supersedes(&stored):
		a.b.Stale++
		return nil
	}
	a.args = a.orderArgs(a.args[:0], o)
	if _, err := a.tx.Exec(`UPDATE finance_orders SET ordered_at = $3, currency = $4, amount = $5, status = $6,
		refund_amount = $7, complaint = $8, rating = $9, shipped_at = $10, delivered_at = $11, expected_settlement = $12,
		settled_at = $13, updated_at = $14, batch_id = $15, batch_line = $16 WHERE shop_id = $1 AND order_id = $2`, a.args...); err != nil {
		return fmt.Errorf("update order %s: %w", o.id, err)
	}
	a.sums.add(&stored, -1)
	a.sums.add(o, 1)
	a.ch.note(&stored, o)
	a.b.Updated++
	return nil
}

// writeSums adds the summed changes to the aggregates.
func (a *applier) writeSums() error {
	merchant := a.b.MerchantID
	args := a.args[:0]
	var daily [][]any
	for k, d := range a.sums.daily {
		if *d == ([nDaily]int64{}) {
			continue
		}
		row := []any{a.shops[k.shop].ID, dayString(k.day), currencyCodes[k.cur], merchant}
		for _, v := range d {
			row = append(row, v)
		}
		daily = append(daily, row)
	}
	if err := a.upsert(a.stmts.daily, daily, args); err != nil {
		return fmt.Errorf("daily sums: %w", err)
	}
	var recv [][]any
	for k, r := range a.sums.recv {
		if r.amount == 0 && r.orders == 0 {
			continue
		}
		recv = append(recv, []any{a.shops[k.shop].ID, dayString(k.day), currencyCodes[k.cur], merchant, r.amount, r.orders})
	}
	if err := a.upsert(a.stmts.recv, recv, args); err != nil {
		return fmt.Errorf("receivables: %w", err)
	}
	return nil
}

func (a *applier) upsert(stmts map[int]string, rows [][]any, args []any) error {
	for start := 0; start < len(rows); {
		n := aggRows
		for n > len(rows)-start {
			n /= 2
		}
		args = args[:0]
		for _, r := range rows[start : start+n] {
			args = append(args, r...)
		}
		if _, err := a.tx.Exec(stmts[n], args...); err != nil {
			return err
		}
		start += n
	}
	return nil
}
