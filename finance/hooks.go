package finance

import (
	"errors"
	"slices"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// Applied is what one apply — a batch or a stream chunk — changed, handed to the
// functions registered with OnApplied inside the apply's own transaction, after
// its orders, sums, batch record and attestation are written.
//
// Each row is taken against the order as it stood just before that row: an order
// inserted paid and cancelled within one batch counts as a sale and as a
// cancellation. Duplicates and stale rows change nothing and count nowhere.
type Applied struct {
	MerchantID string    `json:"merchant_id"`
	BatchID    string    `json:"batch_id"`
	Kind       string    `json:"kind" enum:"batch,stream"`
	StreamID   string    `json:"stream_id,omitempty"`
	FilingSeq  int64     `json:"filing_seq" doc:"the filing that attests the batch or chunk"`
	At         time.Time `json:"at" doc:"the time of the apply's transaction (the exchange clock)"`
	// Currencies holds one entry per currency the apply moved, by code; an apply of
	// duplicates only has none.
	Currencies []AppliedCurrency `json:"currencies"`
}

// AppliedCurrency is what an apply changed in one currency. Amounts are in
// minor units.
type AppliedCurrency struct {
	Currency string `json:"currency"`
	// Sales are the orders that became counted: inserted not cancelled, or (with a
	// newer updated_at) moved out of cancelled. An order already counted whose
	// amount is corrected is no new sale.
	Sales       int64 `json:"sales"`
	SalesAmount int64 `json:"sales_amount"`
	// Refunds are the counted orders whose refund amount grew or that became
	// refunded; RefundAmount is the refund amount they added. A refund amount
	// corrected downwards is not a refund and is not subtracted.
	Refunds      int64 `json:"refunds"`
	RefundAmount int64 `json:"refund_amount"`
	// Cancelled are the orders that became cancelled; CancelledAmount is the sales
	// they withdrew: the amounts of those that counted as sales before (an order
	// that arrives cancelled withdraws nothing).
	Cancelled       int64 `json:"cancelled"`
	CancelledAmount int64 `json:"cancelled_amount"`
	// Settled are the receivables newly settled: orders stored before without
	// settled_at that now have it, not cancelled; SettledAmount is what the
	// platform paid for them, Σ (amount − refund amount) (never below 0 per order).
	// This is money the merchant received in this apply: a lender takes T+0
	// repayments from it.
	Settled       int64 `json:"settled"`
	SettledAmount int64 `json:"settled_amount"`
	// SettledOnArrival are orders new to the exchange that arrived settled, with
	// what was paid for them. They were never receivables the exchange knew of —
	// a batch of history arrives mostly settled — so they are kept apart from
	// Settled: whether to take repayments from them is the taker's decision.
	SettledOnArrival       int64 `json:"settled_on_arrival"`
	SettledOnArrivalAmount int64 `json:"settled_on_arrival_amount"`
}

// In returns the apply's changes in currency (all zero when it moved none).
func (a Applied) In(currency string) AppliedCurrency {
	for _, c := range a.Currencies {
		if c.Currency == currency {
			return c
		}
	}
	return AppliedCurrency{Currency: currency}
}

func (c *AppliedCurrency) zero() bool { return *c == AppliedCurrency{Currency: c.Currency} }

// OnApplied registers fn to run in every apply's transaction — each batch and
// each stream chunk of every merchant — after the orders, sums, batch record,
// attestation and live limit are written, with what the apply changed. fn may
// read and write in tx and must file what it changes, as any write does. An error
// from fn rolls back the whole apply: no order, no sum, no batch, no
// attestation; IngestBatch and IngestStream return it (a *dataport.Error as it
// is, anything else as an internal error), and a stream ends there. Functions
// run in the order they were registered.
//
// Register at wiring time, before the service is used: it is not safe to call
// concurrently with an ingest.
func (s *Service) OnApplied(fn func(tx *store.Tx, a Applied) error) {
	s.hooks = append(s.hooks, fn)
}

// changes gathers an apply's Applied, per currency, as rows are decided.
type changes struct {
	cur  map[uint8]*AppliedCurrency
	live *liveAcc // nil when the merchant has no live-limit policy
}

func (c *changes) in(cur uint8) *AppliedCurrency {
	ac := c.cur[cur]
	if ac == nil {
		ac = &AppliedCurrency{Currency: currencyCodes[cur]}
		c.cur[cur] = ac
	}
	return ac
}

// note records the change of one order from before (nil: not stored before) to
// after, for the hooks and the live flow.
func (c *changes) note(before, after *order) {
	wasCounted := before != nil && before.status != stCancelled
	isCounted := after.status != stCancelled
	if !wasCounted && isCounted {
		ac := c.in(after.cur)
		ac.Sales++
		ac.SalesAmount += after.amount
		c.live.sale(after)
	}
	if isCounted {
		var refundBefore int64
		refundedBefore := false
		if wasCounted && before.cur == after.cur {
			refundBefore, refundedBefore = before.refund, before.status == stRefunded
		}
		if after.refund > refundBefore || (after.status == stRefunded && !refundedBefore) {
			ac := c.in(after.cur)
			added := max(0, after.refund-refundBefore)
			ac.Refunds++
			ac.RefundAmount += added
			c.live.refund(before, after, added)
		}
	}
	if !isCounted && (before == nil || before.status != stCancelled) {
		cur := after.cur
		if wasCounted {
			cur = before.cur // the sale withdrawn is in the currency it counted in
		}
		ac := c.in(cur)
		ac.Cancelled++
		if wasCounted {
			ac.CancelledAmount += before.amount
			c.live.cancel(before, after)
		}
	}
	if isCounted && after.settledAt != 0 && (before == nil || before.settledAt == 0) {
		ac := c.in(after.cur)
		paid := max(0, after.amount-after.refund)
		if before == nil {
			ac.SettledOnArrival++
			ac.SettledOnArrivalAmount += paid
		} else {
			ac.Settled++
			ac.SettledAmount += paid
		}
	}
}

// applied returns what b's apply changed.
func (c *changes) applied(b *Batch, at time.Time) Applied {
	a := Applied{MerchantID: b.MerchantID, BatchID: b.ID, Kind: b.Kind, StreamID: b.StreamID, FilingSeq: b.FilingSeq,
		At: at, Currencies: []AppliedCurrency{}}
	for _, ac := range c.cur {
		if !ac.zero() {
			a.Currencies = append(a.Currencies, *ac)
		}
	}
	slices.SortFunc(a.Currencies, func(x, y AppliedCurrency) int {
		switch {
		case x.Currency < y.Currency:
			return -1
		case x.Currency > y.Currency:
			return 1
		}
		return 0
	})
	return a
}

// runHooks calls the registered functions with a.
func (s *Service) runHooks(tx *store.Tx, op string, a Applied) error {
	for _, fn := range s.hooks {
		if err := fn(tx, a); err != nil {
			var de *dataport.Error
			if errors.As(err, &de) {
				return err
			}
			return dataport.Internal(op, err)
		}
	}
	return nil
}
