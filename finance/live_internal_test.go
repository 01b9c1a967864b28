package finance

import (
	"math"
	"testing"
	"time"
)

func testPolicy() *LiveLimitPolicy {
	return &LiveLimitPolicy{Currency: "CNY", Floor: 0, Cap: 1_000_000_000, Step: 1, MultiplierBP: 20_000, WindowSeconds: 600,
		RecentSeconds: 60, RefundPenaltyBP: 10_000, DropToleranceBP: 2_000, RisePerMinuteBP: 1_000_000}
}

// The formula of the package documentation, worked by hand: five seconds into
// the current bucket, the window has covered 595 s and the recent window 55 s.
func TestComputeLiveFormula(t *testing.T) {
	at := time.Unix(1_764_061_200+5, 0) // a bucket's start, plus 5 s
	cur := bucketOf(at.UnixMicro())
	flows := []liveFlow{
		{bucket: cur - 100, paidOrders: 10, paid: 100_000},
		{bucket: cur, paidOrders: 5, paid: 50_000, refunds: 1, refunded: 10_000},
		{bucket: cur - 600, paidOrders: 99, paid: 9_900_000}, // left the window
	}
	amount, in, f := computeLive(testPolicy(), nil, flows, at)
	// Net 140,000 × 600/595; base twice that. Selling began 105 s ago, 50 s
	// before the recent window: 100,000 in those 50 s, 50,000 in the recent 55 s,
	// a pace ratio of 0.45454 and a drop factor of 0.45454/0.8. The 10,000
	// refunded is held against the window's sales at their average pace over
	// 55 s, 78,571, more than the recent window sold: a rate of 0.127273 over
	// none before; penalty 1.
	if in.Paid != 150_000 || in.PaidOrders != 15 || in.Net != 140_000 || in.NetScaled != 141_176 || in.Base != 282_352 ||
		in.PreviousPaid != 100_000 || in.RecentPaid != 50_000 || *in.PaceRatio != 0.45454 || f.dropPPM != 568_175 ||
		in.RecentRefundRate != 0.127273 || in.PreviousRefundRate != 0 || in.RefundRatio != 0.127273 || f.refundPPM != 872_727 ||
		in.Ceiling != 282_352 || in.Formula != 140_007 || amount != 140_007 {
		t.Fatalf("%d, %+v", amount, in)
	}

	// A drop: 10,800 a second before the recent window, 2,160 a second in it:
	// a pace ratio of 0.2 against a tolerance of 0.2 gives a drop factor of 0.25.
	flows = []liveFlow{{bucket: cur - 100, paid: 540_000}, {bucket: cur - 20, paid: 118_800}}
	_, in, f = computeLive(testPolicy(), nil, flows, at)
	if *in.PaceRatio != 0.2 || f.dropPPM != 250_000 || in.RefundFactor != 1 {
		t.Fatalf("%+v", in)
	}
	// A pace within the tolerance lowers nothing.
	flows[1].paid = 534_600
	if _, in, f = computeLive(testPolicy(), nil, flows, at); f.dropPPM != ppm || *in.PaceRatio != 0.9 {
		t.Fatalf("%+v", in)
	}
	// A steady refund rate is no spike; refunds without sales are the worst.
	flows = []liveFlow{{bucket: cur - 100, paid: 540_000, refunded: 54_000}, {bucket: cur, paid: 594_000, refunded: 59_400}}
	if _, in, _ = computeLive(testPolicy(), nil, flows, at); in.RefundRatio != 0 || in.RecentRefundRate != 0.1 || in.PreviousRefundRate != 0.1 {
		t.Fatalf("%+v", in)
	}
	if _, in, _ = computeLive(testPolicy(), nil, []liveFlow{{bucket: cur, refunded: 1}}, at); in.RefundRatio != 1 || in.RefundFactor != 0 {
		t.Fatalf("%+v", in)
	}
	// A bucket from a clock a little ahead counts as the current one.
	if _, in, _ = computeLive(testPolicy(), nil, []liveFlow{{bucket: cur + 10, paid: 7}}, at); in.RecentPaid != 7 {
		t.Fatalf("%+v", in)
	}
}

// The limit rises at most the rise allowed since the last change, counting the
// time up to the recent window only; it falls at once; floor and cap hold.
func TestComputeLiveRise(t *testing.T) {
	at := time.Unix(1_764_061_200, 0)
	cur := bucketOf(at.UnixMicro())
	p := testPolicy()
	p.Floor, p.Cap, p.Step, p.RisePerMinuteBP = 1_000, 1_000_000, 1_000, 1_000 // a tenth of the cap a minute
	flows := []liveFlow{{bucket: cur, paid: 10_000_000}}                       // base far above the cap
	last := &liveState{currency: "CNY", amount: 5_000, liveFactors: liveFactors{ceiling: 5_000, dropPPM: ppm, refundPPM: ppm},
		changedAt: at.Add(-time.Hour).UnixMicro()}
	amount, in, f := computeLive(p, last, flows, at)
	if *in.MaxRise != 100_000 || f.ceiling != 105_000 || amount != 105_000 || in.Target != 105_000 || in.Base != 20_338_982 {
		t.Fatalf("an hour still: %d, %+v", amount, in)
	}
	last.changedAt = at.Add(-15 * time.Second).UnixMicro()
	if amount, _, _ = computeLive(p, last, flows, at); amount != 30_000 { // 5,000 + 25,000
		t.Fatalf("15 s: %d", amount)
	}
	last.changedAt = at.UnixMicro()
	if amount, _, _ = computeLive(p, last, flows, at); amount != 5_000 {
		t.Fatalf("no time: %d", amount)
	}
	// Falling is at once, to the floor at most.
	last.amount, last.ceiling = 900_000, 900_000
	if amount, _, _ = computeLive(p, last, nil, at); amount != 1_000 {
		t.Fatalf("no flow: %d", amount)
	}
	// A refund spike lowers the limit even while it is still rising to its target.
	last.amount, last.ceiling = 200_000, 200_000
	spike := []liveFlow{{bucket: cur - 100, paid: 10_000_000}, {bucket: cur, refunded: 100_000}}
	if amount, in, _ = computeLive(p, last, spike, at); amount >= 200_000 || in.Target >= 200_000 || in.Ceiling != 200_000 {
		t.Fatalf("spike: %d, %+v", amount, in)
	}
	// … and even while sales lift the ceiling faster than the spike cuts it:
	// a minute's rise takes the ceiling to 600,000, a refund rate of 0.1 takes
	// the formula to 540,000, and the limit to 500,000 × 0.9.
	last.amount, last.ceiling, last.changedAt = 500_000, 500_000, at.Add(-time.Minute).UnixMicro()
	spike = []liveFlow{{bucket: cur - 100, paid: 10_000_000}, {bucket: cur - 20, paid: 10_000_000}, {bucket: cur, refunded: 1_000_000}}
	if amount, in, _ = computeLive(p, last, spike, at); in.Ceiling != 600_000 || in.Formula != 540_000 || amount != 450_000 {
		t.Fatalf("spike while rising: %d, %+v", amount, in)
	}
	// A policy whose cap fell below the last limit holds at once.
	p.Cap = 150_000
	last.amount = 200_000
	if amount, _, _ = computeLive(p, last, flows, at); amount != 150_000 {
		t.Fatalf("cap: %d", amount)
	}
}

func TestLiveReason(t *testing.T) {
	was := &liveState{amount: 500, liveFactors: liveFactors{dropPPM: ppm, refundPPM: 900_000}}
	for _, c := range []struct {
		old, new int64
		was      *liveState
		f        liveFactors
		want     string
	}{
		{500, 600, was, liveFactors{dropPPM: 1, refundPPM: 1}, LiveReasonOrdersRising},
		{500, 400, was, liveFactors{dropPPM: ppm, refundPPM: 800_000}, LiveReasonRefundSpike},
		{500, 400, was, liveFactors{dropPPM: 1, refundPPM: 900_000}, LiveReasonOrderDrop},
		{500, 400, was, liveFactors{dropPPM: 999_000, refundPPM: 800_000}, LiveReasonRefundSpike}, // fell most
		{500, 400, was, liveFactors{dropPPM: 500_000, refundPPM: 800_000}, LiveReasonOrderDrop},
		{500, 400, was, liveFactors{dropPPM: ppm, refundPPM: ppm}, LiveReasonSalesFell},
		{500, 400, nil, liveFactors{dropPPM: ppm, refundPPM: 1}, LiveReasonRefundSpike},
	} {
		if got := liveReason(c.old, c.new, c.was, c.f); got != c.want {
			t.Errorf("%+v: %s", c, got)
		}
	}
}

func TestLiveArithmetic(t *testing.T) {
	for _, c := range []struct{ a, b, c, want int64 }{
		{math.MaxInt64, math.MaxInt64, 1, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{1 << 62, 4, 8, 1 << 61},
		{7, 3, 2, 10},
		{-1, 3, 2, 0},
		{5, 3, 0, 0},
	} {
		if got := mulDiv(c.a, c.b, c.c); got != c.want {
			t.Errorf("mulDiv(%d, %d, %d) = %d, want %d", c.a, c.b, c.c, got, c.want)
		}
	}
	for µs, want := range map[int64]int64{0: 0, 1: 0, 9_999_999: 0, 10_000_000: 10, 19_999_999: 10, -1: -10, -10_000_000: -10, -10_000_001: -20} {
		if got := bucketOf(µs); got != want {
			t.Errorf("bucketOf(%d) = %d, want %d", µs, got, want)
		}
	}
	p := &LiveLimitPolicy{Floor: 100, Cap: 1_000, Step: 300}
	for in, want := range map[int64]int64{0: 100, 450: 400, 999: 700, 1_000: 1_000, 5_000: 1_000} {
		if got := p.grid(in); got != want {
			t.Errorf("grid(%d) = %d, want %d", in, got, want)
		}
	}
}
