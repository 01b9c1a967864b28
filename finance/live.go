package finance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Live ad-spend limits (投流貸). A live-stream seller's ad-spend limit follows
// the live flow of its orders: every apply of a merchant with a live-limit policy
// adds its live sales and refunds to 10-second buckets by arrival time and
// recomputes the limit in the same transaction; reads recompute it as of now, so
// that the windows slide without new data; Sweep files what sliding changed. The
// package documentation gives the formula.

// liveBucket is the live flow's granularity, in seconds: small enough that a
// window slides smoothly, large enough that a window of an hour is 360 rows.
const liveBucket = 10

// maxLiveWindow bounds a policy's window, and so the flow kept per merchant.
const maxLiveWindow = 3600

// Live-limit change reasons.
const (
	LiveReasonPolicySet    = "policy_set"    // the operator set or changed the policy
	LiveReasonOrdersRising = "orders_rising" // the limit rose, as far as its rise allows
	LiveReasonRefundSpike  = "refund_spike"  // it fell, and the refund factor fell
	LiveReasonOrderDrop    = "order_drop"    // it fell, and the recent pace of paid sales fell below the pace before
	LiveReasonSalesFell    = "sales_fell"    // it fell as net sales over the window fell (older sales left it)
)

// LiveLimitPolicy is how a merchant's live ad-spend limit is computed. Amounts are
// in minor units of Currency; ratios in basis points (10,000 = 1).
type LiveLimitPolicy struct {
	MerchantID      string    `json:"merchant_id"`
	Currency        string    `json:"currency"`
	Floor           int64     `json:"floor" doc:"the limit never falls below it, minor units"`
	Cap             int64     `json:"cap" doc:"the limit never rises above it, minor units"`
	Step            int64     `json:"step" doc:"the limit moves in whole steps above the floor, minor units"`
	MultiplierBP    int64     `json:"multiplier_bp" doc:"the limit as a multiple of net live sales over the window, basis points (10,000 = 1×)"`
	WindowSeconds   int64     `json:"window_seconds" doc:"the sales window"`
	RecentSeconds   int64     `json:"recent_seconds" doc:"the recent window, the last part of the sales window"`
	RefundPenaltyBP int64     `json:"refund_penalty_bp" doc:"the refund factor is 1 − penalty × refund ratio, basis points"`
	DropToleranceBP int64     `json:"drop_tolerance_bp" doc:"a recent pace this far below the pace before lowers nothing, basis points"`
	RisePerMinuteBP int64     `json:"rise_per_minute_bp" doc:"the most the limit rises per minute, basis points of the cap"`
	SetBy           string    `json:"set_by"`
	SetAt           time.Time `json:"set_at"`
	FilingSeq       int64     `json:"filing_seq" doc:"the filing finance.live_limit_policy_set"`
}

// NewLiveLimitPolicy sets a merchant's live-limit policy. Floor, Cap and
// MultiplierBP are required; the others take the defaults named.
type NewLiveLimitPolicy struct {
	Currency        string `json:"currency,omitempty" required:"false" doc:"ISO 4217; CNY when empty"`
	Floor           int64  `json:"floor" minimum:"0" doc:"minor units"`
	Cap             int64  `json:"cap" minimum:"0" doc:"minor units, not below the floor"`
	MultiplierBP    int64  `json:"multiplier_bp" minimum:"1" maximum:"1000000" doc:"basis points: 20,000 lends twice the net live sales of the window"`
	Step            *int64 `json:"step,omitempty" required:"false" doc:"minor units, 1 to the cap; a hundredth of the cap when absent"`
	WindowSeconds   *int64 `json:"window_seconds,omitempty" required:"false" doc:"60 to 3,600, whole tens; 600 when absent"`
	RecentSeconds   *int64 `json:"recent_seconds,omitempty" required:"false" doc:"30 to half the window, whole tens; 60 (or half a shorter window) when absent"`
	RefundPenaltyBP *int64 `json:"refund_penalty_bp,omitempty" required:"false" doc:"0 to 100,000; 20,000 when absent"`
	DropToleranceBP *int64 `json:"drop_tolerance_bp,omitempty" required:"false" doc:"0 to 9,000; 2,000 when absent"`
	RisePerMinuteBP *int64 `json:"rise_per_minute_bp,omitempty" required:"false" doc:"1 to 1,000,000; 1,000 (a tenth of the cap a minute) when absent"`
}

// policy checks n and returns the policy it sets, or the fields at fault.
func (n *NewLiveLimitPolicy) policy(op string) (LiveLimitPolicy, error) {
	var p dataport.Problems
	pol := LiveLimitPolicy{Currency: strings.TrimSpace(n.Currency), Floor: n.Floor, Cap: n.Cap, MultiplierBP: n.MultiplierBP,
		WindowSeconds: 600, RefundPenaltyBP: 20_000, DropToleranceBP: 2_000, RisePerMinuteBP: 1_000}
	if pol.Currency == "" {
		pol.Currency = "CNY"
	}
	if _, ok := currencyDigits(pol.Currency); !ok {
		p.Add("currency", "an ISO 4217 currency in use, such as CNY")
	}
	if pol.Floor < 0 || pol.Floor > maxAmount {
		p.Add("floor", "0 to 10^15 minor units")
	}
	if pol.Cap < 0 || pol.Cap > maxAmount {
		p.Add("cap", "0 to 10^15 minor units")
	} else if pol.Cap < pol.Floor {
		p.Add("cap", "not below the floor")
	}
	if pol.MultiplierBP < 1 || pol.MultiplierBP > 1_000_000 {
		p.Add("multiplier_bp", "1 to 1,000,000 basis points (100×)")
	}
	pol.Step = max(1, pol.Cap/100)
	if n.Step != nil {
		pol.Step = *n.Step
		if pol.Step < 1 || pol.Step > max(1, pol.Cap) {
			p.Add("step", "1 minor unit to the cap")
		}
	}
	if n.WindowSeconds != nil {
		pol.WindowSeconds = *n.WindowSeconds
	}
	window := pol.WindowSeconds
	if window < 60 || window > maxLiveWindow || window%liveBucket != 0 {
		p.Add("window_seconds", "60 to 3,600 seconds, in whole tens")
		window = 600
	}
	pol.RecentSeconds = min(60, window/2/liveBucket*liveBucket)
	if n.RecentSeconds != nil {
		pol.RecentSeconds = *n.RecentSeconds
		// At least three buckets: the recent window's pace is measured over the
		// whole buckets before the current one, which has only begun.
		if pol.RecentSeconds < 3*liveBucket || pol.RecentSeconds > window/2 || pol.RecentSeconds%liveBucket != 0 {
			p.Add("recent_seconds", "30 seconds to half the window (%d), in whole tens", window/2)
		}
	}
	for _, f := range []struct {
		name     string
		v        *int64
		dst      *int64
		min, max int64
	}{
		{"refund_penalty_bp", n.RefundPenaltyBP, &pol.RefundPenaltyBP, 0, 100_000},
		{"drop_tolerance_bp", n.DropToleranceBP, &pol.DropToleranceBP, 0, 9_000},
		{"rise_per_minute_bp", n.RisePerMinuteBP, &pol.RisePerMinuteBP, 1, 1_000_000},
	} {
		if f.v == nil {
			continue
		}
		*f.dst = *f.v
		if *f.v < f.min || *f.v > f.max {
			p.Add(f.name, "%d to %d basis points", f.min, f.max)
		}
	}
	return pol, p.Err(op)
}

// LiveInputs are what a live limit was computed from, as of AsOf. Amounts are in
// minor units of the policy's currency; the flow counts by arrival time.
type LiveInputs struct {
	AsOf               time.Time `json:"as_of"`
	PaidOrders         int64     `json:"paid_orders" doc:"live sales over the window: orders that became sales"`
	Paid               int64     `json:"paid"`
	Refunds            int64     `json:"refunds" doc:"live refunds over the window, cancellations of counted orders included"`
	Refunded           int64     `json:"refunded"`
	Net                int64     `json:"net" doc:"paid − refunded, not below 0"`
	NetScaled          int64     `json:"net_scaled" doc:"net scaled to the whole window while its last bucket is still filling"`
	Base               int64     `json:"base" doc:"multiplier × net_scaled"`
	Ceiling            int64     `json:"ceiling" doc:"base, at most the cap, rising at most the rise allowed since the last change"`
	RecentPaidOrders   int64     `json:"recent_paid_orders"`
	RecentPaid         int64     `json:"recent_paid"`
	RecentRefunds      int64     `json:"recent_refunds"`
	RecentRefunded     int64     `json:"recent_refunded"`
	PreviousPaid       int64     `json:"previous_paid" doc:"paid in the part of the window before the recent window"`
	PreviousRefunded   int64     `json:"previous_refunded"`
	PaceRatio          *float64  `json:"pace_ratio" doc:"recent pace of paid sales / the pace before (from the window's first sale); null when nothing was paid before"`
	DropFactor         float64   `json:"drop_factor"`
	RecentRefundRate   float64   `json:"recent_refund_rate" doc:"recent refunded / the recent sales, or the window's at its average pace when more"`
	PreviousRefundRate float64   `json:"previous_refund_rate" doc:"refunded / paid before the recent window"`
	RefundRatio        float64   `json:"refund_ratio" doc:"the refund spike: recent_refund_rate − previous_refund_rate, not below 0"`
	RefundFactor       float64   `json:"refund_factor"`
	Formula            int64     `json:"formula" doc:"ceiling × drop_factor × refund_factor"`
	Target             int64     `json:"target" doc:"the formula held between floor and cap, on the step grid"`
	MaxRise            *int64    `json:"max_rise" doc:"how far the limit could rise above its last value now; null when the target is not above it"`
}

// LiveLimit is a merchant's live ad-spend limit as of now.
type LiveLimit struct {
	MerchantID  string         `json:"merchant_id"`
	Limit       dataport.Money `json:"limit" doc:"the limit as of as_of"`
	AsOf        time.Time      `json:"as_of"`
	DataThrough int64          `json:"data_through" doc:"the filing of the merchant's latest attested batch or chunk"`
	Inputs      LiveInputs     `json:"inputs"`
	// LastChange is the last stored and filed change. Its limit is Limit unless
	// the windows slid since the last apply; Sweep files that.
	LastChange LiveLimitChange `json:"last_change"`
	Policy     LiveLimitPolicy `json:"policy"`
}

// LiveLimitChange is one filed change of a live limit.
type LiveLimitChange struct {
	MerchantID  string         `json:"merchant_id"`
	Previous    dataport.Money `json:"previous" doc:"0 when the policy was first set"`
	Limit       dataport.Money `json:"limit"`
	Reason      string         `json:"reason" enum:"policy_set,orders_rising,refund_spike,order_drop,sales_fell"`
	DataThrough int64          `json:"data_through" doc:"the filing of the merchant's latest attested batch or chunk counted: the chunk's own when an apply changed the limit"`
	BatchID     string         `json:"batch_id,omitempty" doc:"the batch or chunk whose apply changed it"`
	Inputs      LiveInputs     `json:"inputs"`
	FilingSeq   int64          `json:"filing_seq" doc:"the filing finance.live_limit_changed"`
	ChangedBy   string         `json:"changed_by"`
	ChangedAt   time.Time      `json:"changed_at"`
}

// liveState is the last stored limit, with the ceiling it was computed with and
// the factors of the last recomputation that stored anything.
type liveState struct {
	currency string
	amount   int64
	liveFactors
	changedAt int64 // µs
}

// liveFactors are what a computation found beside the limit: the ceiling, kept
// with each change for the next one to rise from, and the factors (in parts per
// million), kept by every apply, for the next computation to tell which of them
// fell.
type liveFactors struct{ ceiling, dropPPM, refundPPM int64 }

// liveFlow is one bucket of the live flow.
type liveFlow struct {
	bucket                              int64 // its start, seconds since 1970
	paidOrders, paid, refunds, refunded int64
}

const ppm = 1_000_000

// mulDiv returns a × b / c, rounded down, for a, b ≥ 0 and c > 0, without
// overflow in between; a quotient past int64 saturates.
func mulDiv(a, b, c int64) int64 {
	if a <= 0 || b <= 0 || c <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// bucketOf returns the start, in seconds since 1970, of the live bucket holding
// the time µs.
func bucketOf(µs int64) int64 {
	s := µs / 1e6
	if µs < 0 && µs%1e6 != 0 {
		s--
	}
	b := s / liveBucket * liveBucket
	if s < 0 && s%liveBucket != 0 {
		b -= liveBucket
	}
	return b
}

// windowStart is the first bucket of a window of seconds ending with the bucket
// of now.
func windowStart(now time.Time, seconds int64) int64 {
	return bucketOf(now.UnixMicro()) - seconds + liveBucket
}

// grid puts an amount between floor and cap on the policy's step grid, rounding
// down: the cap itself is on it.
func (p *LiveLimitPolicy) grid(amount int64) int64 {
	amount = min(max(amount, p.Floor), p.Cap)
	if amount == p.Cap {
		return amount
	}
	return p.Floor + (amount-p.Floor)/p.Step*p.Step
}

// computeLive computes the limit as of now from the flow and the last stored
// limit (nil when none). The package documentation gives the formula.
func computeLive(p *LiveLimitPolicy, last *liveState, flows []liveFlow, now time.Time) (int64, LiveInputs, liveFactors) {
	nowµs := now.UnixMicro()
	cur := bucketOf(nowµs)
	elapsed := nowµs - cur*1e6 // into the current bucket
	W, S := p.WindowSeconds, p.RecentSeconds
	windowFrom, recentFrom := cur-W+liveBucket, cur-S+liveBucket
	dWindow := (W-liveBucket)*1e6 + elapsed // µs the window has covered so far
	dRecent := (S-liveBucket)*1e6 + elapsed
	first := cur + liveBucket // the window's first bucket with a sale

	in := LiveInputs{AsOf: now}
	for _, f := range flows {
		b := min(f.bucket, cur) // a bucket from a clock a little ahead is the current one
		if b < windowFrom {
			continue
		}
		if f.paid > 0 {
			first = min(first, b)
		}
		in.PaidOrders += f.paidOrders
		in.Paid += f.paid
		in.Refunds += f.refunds
		in.Refunded += f.refunded
		if b >= recentFrom {
			in.RecentPaidOrders += f.paidOrders
			in.RecentPaid += f.paid
			in.RecentRefunds += f.refunds
			in.RecentRefunded += f.refunded
		} else {
			in.PreviousPaid += f.paid
			in.PreviousRefunded += f.refunded
		}
	}
	in.Net = max(0, in.Paid-in.Refunded)
	in.NetScaled = mulDiv(in.Net, W*1e6, dWindow)
	in.Base = mulDiv(in.NetScaled, p.MultiplierBP, 10_000)

	// The rise allowed since the last change. Time counts up to the recent
	// window's length only: a limit that sat still for an hour has not earned an
	// hour's rise, or a burst after a quiet spell would lend at once.
	var rise int64
	if last != nil {
		rise = mulDiv(mulDiv(p.Cap, p.RisePerMinuteBP, 10_000), min(max(0, nowµs-last.changedAt), S*1e6), 60e6)
	}
	same := last != nil && last.currency == p.Currency
	f := liveFactors{ceiling: min(in.Base, p.Cap), dropPPM: ppm, refundPPM: ppm}
	if same && f.ceiling > last.ceiling {
		// Sales lend gradually: orders pumped up for a few minutes, and refunded
		// afterwards, must not lend the cap at once.
		f.ceiling = min(f.ceiling, last.ceiling+rise)
	}
	in.Ceiling = f.ceiling

	// Paces are measured from the window's first sale, not from the window's
	// start: a stream that began three minutes ago is held against its own
	// minutes, not against a silent window.
	dActive := max(nowµs-first*1e6, dRecent) // the window's selling time, at least the recent window
	dPrevious := (recentFrom - first) * 1e6  // the selling time before the recent window, when there was a sale

	// A drop in paid orders: the recent pace below the pace before it, by more
	// than the tolerance, scales the limit by how far below it is.
	if in.PreviousPaid > 0 {
		pace := mulDiv(mulDiv(in.RecentPaid, dPrevious, dRecent), ppm, in.PreviousPaid)
		r := float64(pace) / ppm
		in.PaceRatio = &r
		threshold := ppm - p.DropToleranceBP*100
		if pace < threshold {
			f.dropPPM = mulDiv(pace, ppm, threshold)
		}
	}
	// A spike in refunds: the recent refund rate above the rate before it. The
	// recent rate is taken against the recent sales, or the window's sales at
	// its average pace when the recent window sold less, so that a lull does not
	// make a few refunds look like many. A steady rate is no spike: net sales
	// count it already.
	var recentRate, previousRate int64
	if in.RecentRefunded > 0 {
		recentRate = ppm
		if sold := max(in.RecentPaid, mulDiv(in.Paid, dRecent, dActive)); sold > 0 {
			recentRate = min(ppm, mulDiv(in.RecentRefunded, ppm, sold))
		}
	}
	if in.PreviousPaid > 0 {
		previousRate = min(ppm, mulDiv(in.PreviousRefunded, ppm, in.PreviousPaid))
	}
	excess := max(0, recentRate-previousRate)
	in.RecentRefundRate = float64(recentRate) / ppm
	in.PreviousRefundRate = float64(previousRate) / ppm
	f.refundPPM = max(0, ppm-mulDiv(excess, p.RefundPenaltyBP, 10_000))
	in.DropFactor = float64(f.dropPPM) / ppm
	in.RefundRatio = float64(excess) / ppm
	in.RefundFactor = float64(f.refundPPM) / ppm

	in.Formula = mulDiv(mulDiv(f.ceiling, f.dropPPM, ppm), f.refundPPM, ppm)
	in.Target = p.grid(in.Formula)
	amount := in.Target
	if same {
		// A policy changed since may have moved floor or cap past the last limit:
		// those hold at once.
		prev := min(max(last.amount, p.Floor), p.Cap)
		if amount > prev {
			// The limit itself rises gradually too: after a refund spike or a
			// drop passes, it comes back at the rise's pace.
			in.MaxRise = &rise
			if rise < amount-prev {
				amount = max(prev, p.grid(prev+rise))
			}
		}
		// A spike or a drop lowers the limit whatever the ceiling did since the
		// last change: at most the last limit times each factor's fall.
		if f.refundPPM < last.refundPPM || f.dropPPM < last.dropPPM {
			fallen := prev
			if f.refundPPM < last.refundPPM {
				fallen = mulDiv(fallen, f.refundPPM, last.refundPPM)
			}
			if f.dropPPM < last.dropPPM {
				fallen = mulDiv(fallen, f.dropPPM, last.dropPPM)
			}
			amount = min(amount, p.grid(fallen))
		}
	}
	return amount, in, f
}

// liveReason names why a limit moved from old to new: when it fell, for the
// factor that fell most since the last change, relatively.
func liveReason(old, new int64, was *liveState, f liveFactors) string {
	refundFell := was != nil && f.refundPPM < was.refundPPM
	dropFell := was != nil && f.dropPPM < was.dropPPM
	switch {
	case new > old:
		return LiveReasonOrdersRising
	case refundFell && dropFell:
		// new/old of each, cross-multiplied: both are at most 10^6.
		if f.refundPPM*was.dropPPM <= f.dropPPM*was.refundPPM {
			return LiveReasonRefundSpike
		}
		return LiveReasonOrderDrop
	case refundFell:
		return LiveReasonRefundSpike
	case dropFell:
		return LiveReasonOrderDrop
	case was == nil && f.refundPPM < ppm:
		return LiveReasonRefundSpike
	case was == nil && f.dropPPM < ppm:
		return LiveReasonOrderDrop
	}
	return LiveReasonSalesFell
}

// liveAcc gathers an apply's share of the live flow in the policy's currency.
// A nil *liveAcc (no policy) gathers nothing.
type liveAcc struct {
	pol     *LiveLimitPolicy
	cur     uint8
	arrival time.Time
	cutoff  int64 // µs: what happened before it is not live
	flow    liveFlow
}

func newLiveAcc(p *LiveLimitPolicy, arrival time.Time) *liveAcc {
	return &liveAcc{pol: p, cur: currencyIndex[p.Currency], arrival: arrival,
		cutoff: arrival.UnixMicro() - p.WindowSeconds*1e6, flow: liveFlow{bucket: bucketOf(arrival.UnixMicro())}}
}

// sale counts an order that became a sale, when it was placed within the window
// before it arrived: a batch of history is no live selling.
func (l *liveAcc) sale(o *order) {
	if l == nil || o.cur != l.cur || o.orderedAt < l.cutoff {
		return
	}
	l.flow.paidOrders++
	l.flow.paid += o.amount
}

// fresh reports whether a refund or cancellation happened within the window
// before it arrived: by the row's updated_at when it has one; otherwise an order
// seen before without it changed since, so it is taken as happening now, and a
// new order's by its ordered_at.
func (l *liveAcc) fresh(before, after *order) bool {
	switch {
	case after.updatedAt != 0:
		return after.updatedAt >= l.cutoff
	case before != nil:
		return true
	}
	return after.orderedAt >= l.cutoff
}

func (l *liveAcc) refund(before, after *order, added int64) {
	if l == nil || after.cur != l.cur || !l.fresh(before, after) {
		return
	}
	l.flow.refunds++
	l.flow.refunded += added
}

// cancel counts a counted order cancelled as a refund of what was not refunded
// of it yet: the buyer has the money back.
func (l *liveAcc) cancel(before, after *order) {
	if l == nil || before.cur != l.cur || !l.fresh(before, after) {
		return
	}
	l.flow.refunds++
	l.flow.refunded += max(0, before.amount-before.refund)
}

// apply adds the apply's flow to its bucket, forgets buckets that left the
// window, and recomputes the limit; it runs in the apply's transaction, after
// the attestation, which the limit's change then cites.
func (l *liveAcc) apply(tx *store.Tx, actor dataport.Actor, b *Batch) error {
	if fl := l.flow; fl.paidOrders != 0 || fl.refunds != 0 {
		if _, err := tx.Exec(`INSERT INTO finance_live_flow (merchant_id, currency, bucket, paid_orders, paid_amount, refunds, refund_amount)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (merchant_id, currency, bucket) DO UPDATE SET
			paid_orders = finance_live_flow.paid_orders + excluded.paid_orders,
			paid_amount = finance_live_flow.paid_amount + excluded.paid_amount,
			refunds = finance_live_flow.refunds + excluded.refunds,
			refund_amount = finance_live_flow.refund_amount + excluded.refund_amount`,
			b.MerchantID, l.pol.Currency, fl.bucket, fl.paidOrders, fl.paid, fl.refunds, fl.refunded); err != nil {
			return fmt.Errorf("live flow: %w", err)
		}
	}
	_, err := recomputeLive(tx, actor, l.pol, b.MerchantID, b.FilingSeq, b.ID, "")
	return err
}

// recomputeLive recomputes merchantID's limit as of the transaction's time and,
// when it differs from the stored one, stores and files the change. reason, when
// not empty, names the change instead of the inputs. It reports whether the
// limit changed.
func recomputeLive(tx *store.Tx, actor dataport.Actor, p *LiveLimitPolicy, merchantID string, dataThrough int64, batchID, reason string) (bool, error) {
	now := tx.Now()
	// Buckets that left the window count no more: the flow kept is bounded.
	if _, err := tx.Exec(`DELETE FROM finance_live_flow WHERE merchant_id = $1 AND bucket < $2`,
		merchantID, windowStart(now, p.WindowSeconds)); err != nil {
		return false, fmt.Errorf("prune live flow: %w", err)
	}
	st, ok, err := readLiveState(tx, merchantID, true)
	if err != nil {
		return false, err
	}
	flows, err := liveFlows(tx, merchantID, p.Currency, windowStart(now, p.WindowSeconds))
	if err != nil {
		return false, err
	}
	var last *liveState
	if ok {
		last = &st
	}
	amount, in, f := computeLive(p, last, flows, now)
	if ok && st.amount == amount && st.currency == p.Currency {
		// The limit stands, but the factors are kept as found: the next
		// computation tells a spike or a drop against these, not against
		// those of a change long ago (which would hold a limit down for good
		// after a fall that could not lower it, at the floor).
		if f.dropPPM != st.dropPPM || f.refundPPM != st.refundPPM {
			if _, err := tx.Exec(`UPDATE finance_live_limits SET drop_ppm = $2, refund_ppm = $3 WHERE merchant_id = $1`,
				merchantID, f.dropPPM, f.refundPPM); err != nil {
				return false, fmt.Errorf("store live factors: %w", err)
			}
		}
		return false, nil
	}
	prev := dataport.Money{Currency: p.Currency}
	if ok {
		prev = dataport.Money{Amount: st.amount, Currency: st.currency}
	}
	if reason == "" {
		reason = liveReason(prev.Amount, amount, last, f)
	}
	c := LiveLimitChange{MerchantID: merchantID, Previous: prev, Limit: dataport.Money{Amount: amount, Currency: p.Currency},
		Reason: reason, DataThrough: dataThrough, BatchID: batchID, Inputs: in, ChangedBy: actor.ParticipantID, ChangedAt: now}
	subjects := []string{merchantID}
	if batchID != "" {
		subjects = append(subjects, batchID)
	}
	fl, err := ledger.File(tx, actor, ledger.Change{Type: "finance.live_limit_changed", Subjects: subjects, Payload: map[string]any{
		"merchant_id": merchantID, "currency": p.Currency, "previous": prev.Amount, "previous_currency": prev.Currency,
		"limit": amount, "reason": reason, "data_through": dataThrough, "batch_id": batchID,
		"policy_filing_seq": p.FilingSeq, "inputs": in,
	}})
	if err != nil {
		return false, err
	}
	c.FilingSeq = fl.Seq
	inputs, err := json.Marshal(in)
	if err != nil {
		return false, err
	}
	at := store.FormatTime(now)
	if _, err := tx.Exec(`INSERT INTO finance_live_limits (merchant_id, currency, amount, reason, ceiling, drop_ppm, refund_ppm,
		data_through, changed_at, filing_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (merchant_id) DO UPDATE SET currency = excluded.currency, amount = excluded.amount, reason = excluded.reason,
		ceiling = excluded.ceiling, drop_ppm = excluded.drop_ppm, refund_ppm = excluded.refund_ppm,
		data_through = excluded.data_through, changed_at = excluded.changed_at, filing_seq = excluded.filing_seq`,
		merchantID, p.Currency, amount, reason, f.ceiling, f.dropPPM, f.refundPPM, dataThrough, at, c.FilingSeq); err != nil {
		return false, fmt.Errorf("store live limit: %w", err)
	}
	if _, err := tx.Exec(`INSERT INTO finance_live_limit_changes (filing_seq, merchant_id, currency, previous_amount,
		previous_currency, amount, reason, data_through, batch_id, inputs, changed_by, changed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.FilingSeq, merchantID, p.Currency, prev.Amount, prev.Currency, amount, reason, dataThrough, batchID, string(inputs),
		c.ChangedBy, at); err != nil {
		return false, fmt.Errorf("record live limit change: %w", err)
	}
	return true, nil
}

// lockMerchant takes merchantID's finance_merchants row on PostgreSQL before anything
// else of the merchant's: apply takes it first (an upsert), so a sweep or a policy
// change that takes it first too waits for the apply to end instead of holding the
// policy row the apply waits for while waiting on a lock the apply holds (a
// deadlock seen between an apply and a sweep). Without data there is no row, and
// nothing to wait for.
func lockMerchant(tx *store.Tx, merchantID string) error {
	if tx.Engine() != store.Postgres {
		return nil
	}
	var id string
	err := tx.QueryRow(`SELECT merchant_id FROM finance_merchants WHERE merchant_id = $1 FOR UPDATE`, merchantID).Scan(&id)
	if isNoRows(err) {
		return nil
	}
	return err
}

// forUpdate locks the rows a write reads on PostgreSQL, where replicas apply at
// once; SQLite has one writer and no such clause.
func forUpdate(tx *store.Tx, lock bool) string {
	if lock && tx.Engine() == store.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

const policyColumns = `currency, floor_amount, cap_amount, step, multiplier_bp, window_seconds, recent_seconds,
	refund_penalty_bp, drop_tolerance_bp, rise_per_minute_bp, set_by, set_at, filing_seq`

// livePolicy reads merchantID's policy; lock takes its row on PostgreSQL, so that
// applies, policy changes and sweeps of one merchant's limit take turns.
func livePolicy(tx *store.Tx, merchantID string, lock bool) (LiveLimitPolicy, bool, error) {
	p := LiveLimitPolicy{MerchantID: merchantID}
	var at string
	err := tx.QueryRow(`SELECT `+policyColumns+` FROM finance_live_policies WHERE merchant_id = $1`+forUpdate(tx, lock), merchantID).
		Scan(&p.Currency, &p.Floor, &p.Cap, &p.Step, &p.MultiplierBP, &p.WindowSeconds, &p.RecentSeconds, &p.RefundPenaltyBP,
			&p.DropToleranceBP, &p.RisePerMinuteBP, &p.SetBy, &at, &p.FilingSeq)
	if isNoRows(err) {
		return LiveLimitPolicy{}, false, nil
	}
	if err != nil {
		return LiveLimitPolicy{}, false, fmt.Errorf("read live-limit policy: %w", err)
	}
	p.SetAt, err = store.ParseTime(at)
	return p, err == nil, err
}

func readLiveState(tx *store.Tx, merchantID string, lock bool) (liveState, bool, error) {
	var st liveState
	var at string
	err := tx.QueryRow(`SELECT currency, amount, ceiling, drop_ppm, refund_ppm, changed_at FROM finance_live_limits
		WHERE merchant_id = $1`+forUpdate(tx, lock), merchantID).Scan(&st.currency, &st.amount, &st.ceiling, &st.dropPPM, &st.refundPPM, &at)
	if isNoRows(err) {
		return liveState{}, false, nil
	}
	if err != nil {
		return liveState{}, false, fmt.Errorf("read live limit: %w", err)
	}
	t, err := store.ParseTime(at)
	st.changedAt = t.UnixMicro()
	return st, err == nil, err
}

func liveFlows(tx *store.Tx, merchantID, currency string, from int64) ([]liveFlow, error) {
	rows, err := tx.Query(`SELECT bucket, paid_orders, paid_amount, refunds, refund_amount FROM finance_live_flow
		WHERE merchant_id = $1 AND currency = $2 AND bucket >= $3`, merchantID, currency, from)
	if err != nil {
		return nil, fmt.Errorf("read live flow: %w", err)
	}
	defer rows.Close()
	var out []liveFlow
	for rows.Next() {
		var f liveFlow
		if err := rows.Scan(&f.bucket, &f.paidOrders, &f.paid, &f.refunds, &f.refunded); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// dataThrough is the filing of the merchant's latest attested batch or chunk.
func dataThrough(tx *store.Tx, merchantID string) (int64, error) {
	var seq int64
	err := tx.QueryRow(`SELECT last_filing_seq FROM finance_merchants WHERE merchant_id = $1`, merchantID).Scan(&seq)
	if isNoRows(err) {
		return 0, nil
	}
	return seq, err
}

// liveNow computes merchantID's limit as of the transaction's time, without
// storing it.
func liveNow(tx *store.Tx, p *LiveLimitPolicy) (int64, LiveInputs, error) {
	st, ok, err := readLiveState(tx, p.MerchantID, false)
	if err != nil {
		return 0, LiveInputs{}, err
	}
	flows, err := liveFlows(tx, p.MerchantID, p.Currency, windowStart(tx.Now(), p.WindowSeconds))
	if err != nil {
		return 0, LiveInputs{}, err
	}
	var last *liveState
	if ok {
		last = &st
	}
	amount, in, _ := computeLive(p, last, flows, tx.Now())
	return amount, in, nil
}

// mayView checks that actor may see merchantID's live limit: the merchant itself
// (as mayRead), the operator or a regulator. Anyone else is told there is no such
// merchant. The operator and regulators see a suspended merchant's limit too.
func (s *Service) mayView(tx *store.Tx, op string, actor dataport.Actor, merchantID string) error {
	if !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return s.mayRead(tx, op, actor, merchantID)
	}
	if err := registry.MayAct(tx, op, actor); err != nil {
		return err
	}
	p, err := s.reg.Participant(tx, merchantID)
	if dataport.KindOf(err) == dataport.KindNotFound {
		return noMerchant(op, merchantID)
	}
	if err != nil {
		return dataport.Wrap(op, err)
	}
	if !p.Has(dataport.RoleMerchant) {
		return noMerchant(op, merchantID)
	}
	return nil
}

// SetLiveLimitPolicy sets (or replaces) merchantID's live-limit policy. Only the
// exchange operator sets it: the limit is a risk parameter of the exchange and
// the institutions lending on it, not the merchant's to choose. From then on the
// merchant's live flow is recorded and its limit kept; the limit is recomputed at
// once (reason policy_set), starting from the floor the first time.
//
// Errors: KindInvalid naming the wrong fields; KindForbidden for a caller that is
// not the operator but may see the merchant; KindNotFound, KindUnauthorized.
func (s *Service) SetLiveLimitPolicy(ctx context.Context, actor dataport.Actor, merchantID string, n NewLiveLimitPolicy) (LiveLimitPolicy, error) {
	const op = "finance.SetLiveLimitPolicy"
	pol, err := n.policy(op)
	if err != nil {
		return LiveLimitPolicy{}, err
	}
	pol.MerchantID = merchantID
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := s.mayView(tx, op, actor, merchantID); err != nil {
			return err
		}
		if !actor.Has(dataport.RoleOperator) {
			return dataport.Errorf(op, dataport.KindForbidden, "only the exchange operator sets live-limit policies")
		}
		if err := lockMerchant(tx, merchantID); err != nil {
			return dataport.Internal(op, err)
		}
		_, had, err := livePolicy(tx, merchantID, true)
		if err != nil {
			return dataport.Internal(op, err)
		}
		pol.SetBy, pol.SetAt = actor.ParticipantID, tx.Now()
		f, err := ledger.File(tx, actor, ledger.Change{Type: "finance.live_limit_policy_set", Subjects: []string{merchantID},
			Payload: map[string]any{"merchant_id": merchantID, "replaced": had, "currency": pol.Currency, "floor": pol.Floor,
				"cap": pol.Cap, "step": pol.Step, "multiplier_bp": pol.MultiplierBP, "window_seconds": pol.WindowSeconds,
				"recent_seconds": pol.RecentSeconds, "refund_penalty_bp": pol.RefundPenaltyBP,
				"drop_tolerance_bp": pol.DropToleranceBP, "rise_per_minute_bp": pol.RisePerMinuteBP}})
		if err != nil {
			return err
		}
		pol.FilingSeq = f.Seq
		if _, err := tx.Exec(`INSERT INTO finance_live_policies (merchant_id, `+policyColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (merchant_id) DO UPDATE SET currency = excluded.currency, floor_amount = excluded.floor_amount,
			cap_amount = excluded.cap_amount, step = excluded.step, multiplier_bp = excluded.multiplier_bp,
			window_seconds = excluded.window_seconds, recent_seconds = excluded.recent_seconds,
			refund_penalty_bp = excluded.refund_penalty_bp, drop_tolerance_bp = excluded.drop_tolerance_bp,
			rise_per_minute_bp = excluded.rise_per_minute_bp, set_by = excluded.set_by, set_at = excluded.set_at,
			filing_seq = excluded.filing_seq`,
			merchantID, pol.Currency, pol.Floor, pol.Cap, pol.Step, pol.MultiplierBP, pol.WindowSeconds, pol.RecentSeconds,
			pol.RefundPenaltyBP, pol.DropToleranceBP, pol.RisePerMinuteBP, pol.SetBy, store.FormatTime(pol.SetAt), pol.FilingSeq); err != nil {
			return dataport.Internal(op, err)
		}
		through, err := dataThrough(tx, merchantID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		_, err = recomputeLive(tx, actor, &pol, merchantID, through, "", LiveReasonPolicySet)
		return dataport.Wrap(op, err)
	})
	if err != nil {
		return LiveLimitPolicy{}, err
	}
	return pol, nil
}

// LiveLimit returns merchantID's live ad-spend limit as of now, with what it was
// computed from, its last filed change and its policy. The merchant itself, the
// operator and regulators may see it.
//
// Errors: KindNotFound when the merchant has no live-limit policy (or the caller
// may not see it); KindForbidden, KindUnauthorized.
func (s *Service) LiveLimit(ctx context.Context, actor dataport.Actor, merchantID string) (LiveLimit, error) {
	const op = "finance.LiveLimit"
	var out LiveLimit
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if err := s.mayView(tx, op, actor, merchantID); err != nil {
			return err
		}
		p, ok, err := livePolicy(tx, merchantID, false)
		if err != nil {
			return dataport.Internal(op, err)
		}
		if !ok {
			return dataport.Errorf(op, dataport.KindNotFound, "merchant %s has no live limit: the operator has set it no live-limit policy", merchantID)
		}
		amount, in, err := liveNow(tx, &p)
		if err != nil {
			return dataport.Internal(op, err)
		}
		out = LiveLimit{MerchantID: merchantID, Limit: dataport.Money{Amount: amount, Currency: p.Currency}, AsOf: tx.Now(),
			Inputs: in, Policy: p}
		if out.DataThrough, err = dataThrough(tx, merchantID); err != nil {
			return dataport.Internal(op, err)
		}
		changes, err := liveChanges(tx, merchantID, 0, 1)
		if err != nil {
			return dataport.Internal(op, err)
		}
		if len(changes) > 0 {
			out.LastChange = changes[0]
		}
		return nil
	})
	return out, err
}

// LiveLimitIn returns merchantID's live limit as of tx's time, and false when the
// merchant has no live-limit policy. It checks no caller: it is for capabilities
// that lend within the limit (lending), in their own transaction — inside an
// apply's hook it is the limit that apply's data gives. A suspended merchant's
// limit is returned like any other: refusing to lend to it is the caller's check.
func (s *Service) LiveLimitIn(tx *store.Tx, merchantID string) (dataport.Money, bool, error) {
	const op = "finance.LiveLimitIn"
	p, ok, err := livePolicy(tx, merchantID, false)
	if err != nil || !ok {
		return dataport.Money{}, false, dataport.Internal(op, err)
	}
	amount, _, err := liveNow(tx, &p)
	if err != nil {
		return dataport.Money{}, false, dataport.Internal(op, err)
	}
	return dataport.Money{Amount: amount, Currency: p.Currency}, true, nil
}

// LiveLimitHistory lists the filed changes of merchantID's live limit, newest
// first, at most limit (100 when 0, 1,000 at most), before the filing seq before
// (paging; 0 for the newest). Who may: as LiveLimit.
func (s *Service) LiveLimitHistory(ctx context.Context, actor dataport.Actor, merchantID string, before int64, limit int) ([]LiveLimitChange, error) {
	const op = "finance.LiveLimitHistory"
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var out []LiveLimitChange
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if err := s.mayView(tx, op, actor, merchantID); err != nil {
			return err
		}
		var err error
		out, err = liveChanges(tx, merchantID, before, limit)
		return dataport.Wrap(op, err)
	})
	return out, err
}

func liveChanges(tx *store.Tx, merchantID string, before int64, limit int) ([]LiveLimitChange, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := tx.Query(`SELECT filing_seq, currency, previous_amount, previous_currency, amount, reason, data_through,
		batch_id, inputs, changed_by, changed_at FROM finance_live_limit_changes
		WHERE merchant_id = $1 AND filing_seq < $2 ORDER BY filing_seq DESC LIMIT $3`, merchantID, before, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []LiveLimitChange{}
	for rows.Next() {
		c := LiveLimitChange{MerchantID: merchantID}
		var inputs, at string
		if err := rows.Scan(&c.FilingSeq, &c.Limit.Currency, &c.Previous.Amount, &c.Previous.Currency, &c.Limit.Amount,
			&c.Reason, &c.DataThrough, &c.BatchID, &inputs, &c.ChangedBy, &at); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(inputs), &c.Inputs); err != nil {
			return nil, fmt.Errorf("live limit change %d: inputs: %w", c.FilingSeq, err)
		}
		if c.ChangedAt, err = store.ParseTime(at); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// errNoChange rolls back a sweep's write that found nothing to change after all.
var errNoChange = errors.New("no live limit changed")

// sweepGroup bounds the merchants one sweep transaction recomputes.
const sweepGroup = 100

// Sweep files the live limits that time alone changed: reads compute a limit as
// of now — so a limit whose windows slid without new data is right when read —
// but the stored limit and its filed history move only when something recomputes
// them, and a stream that stopped applies nothing. Sweep recomputes, as of now,
// every limit that can still move (above its floor, or with flow in the last
// hour) and stores and files those that differ, as the exchange itself (actor
// system). The server runs it every second, so the history trails the read value
// by at most a second. It returns how many limits changed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	const op = "finance.Sweep"
	var due []string
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		ids, err := tx.Strings(`SELECT p.merchant_id FROM finance_live_policies p
			LEFT JOIN finance_live_limits l ON l.merchant_id = p.merchant_id
			WHERE l.amount IS NULL OR l.amount <> p.floor_amount OR l.currency <> p.currency
			OR EXISTS (SELECT 1 FROM finance_live_flow f WHERE f.merchant_id = p.merchant_id AND f.bucket >= $1)
			ORDER BY p.merchant_id`, windowStart(tx.Now(), maxLiveWindow))
		if err != nil {
			return err
		}
		for _, id := range ids {
			p, ok, err := livePolicy(tx, id, false)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			st, had, err := readLiveState(tx, id, false)
			if err != nil {
				return err
			}
			amount, _, err := liveNow(tx, &p)
			if err != nil {
				return err
			}
			if !had || amount != st.amount || st.currency != p.Currency {
				due = append(due, id)
			}
		}
		return nil
	})
	if err != nil {
		return 0, dataport.Wrap(op, err)
	}
	changed := 0
	for len(due) > 0 {
		group := due[:min(len(due), sweepGroup)]
		due = due[len(group):]
		n := 0
		err := s.db.Write(ctx, func(tx *store.Tx) error {
			n = 0
			for _, id := range group {
				// Checked again: an apply may have stored the change meanwhile.
				if err := lockMerchant(tx, id); err != nil {
					return dataport.Internal(op, err)
				}
				p, ok, err := livePolicy(tx, id, true)
				if err != nil {
					return dataport.Internal(op, err)
				}
				if !ok {
					continue
				}
				through, err := dataThrough(tx, id)
				if err != nil {
					return dataport.Internal(op, err)
				}
				moved, err := recomputeLive(tx, dataport.System, &p, id, through, "", "")
				if err != nil {
					return dataport.Wrap(op, err)
				}
				if moved {
					n++
				}
			}
			if n == 0 {
				return errNoChange // a write must file: this one has nothing to
			}
			return nil
		})
		if errors.Is(err, errNoChange) {
			continue
		}
		if err != nil {
			return changed, err
		}
		changed += n
	}
	return changed, nil
}
