package finance_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

func ptr(v int64) *int64 { return &v }

// livePolicy lends twice the net live sales of the last ten minutes, between
// 1,000 and 20,000 yuan in steps of 100, rising by at most the cap a minute.
var livePolicy = finance.NewLiveLimitPolicy{Floor: 100_000, Cap: 2_000_000, MultiplierBP: 20_000, Step: ptr(10_000),
	RisePerMinuteBP: ptr(10_000)}

// liveLine is a live order of 100 yuan placed at the clock's time.
func liveLine(id string, at time.Time, status, extra string) string {
	return fmt.Sprintf(`{"order_id":%q,"shop":"A100","ordered_at":%q,"amount":"100.00","currency":"CNY","status":%q%s}`+"\n",
		id, at.In(dataport.China).Format(time.RFC3339), status, extra)
}

func (e *env) liveLimit(actor dataport.Actor) finance.LiveLimit {
	e.t.Helper()
	l, err := e.svc.LiveLimit(context.Background(), actor, e.merchant.ParticipantID)
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func (e *env) liveHistory() []finance.LiveLimitChange {
	e.t.Helper()
	h, err := e.svc.LiveLimitHistory(context.Background(), e.operator, e.merchant.ParticipantID, 0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (e *env) sweep() int {
	e.t.Helper()
	n, err := e.svc.Sweep(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// A live seller's limit follows its live stream: it rises with paid orders,
// gradually and within floor and cap; a chunk with a burst of refunds lowers it
// in the very transaction that applies the chunk (so within the stream's chunk
// delay of the lines' arrival), with reason refund_spike and a filing that cites
// the chunk's attestation; when paid orders stop it falls to the floor as the
// windows slide, which reads show at once and the sweep files.
func TestLiveLimitFollowsTheStream(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		pol, err := e.svc.SetLiveLimitPolicy(ctx, e.operator, e.merchant.ParticipantID, livePolicy)
		if err != nil {
			t.Fatal(err)
		}
		if pol.Currency != "CNY" || pol.WindowSeconds != 600 || pol.RecentSeconds != 60 || pol.RefundPenaltyBP != 20_000 ||
			pol.DropToleranceBP != 2_000 || pol.FilingSeq == 0 {
			t.Fatalf("policy %+v", pol)
		}
		l := e.liveLimit(e.merchant)
		if l.Limit != (dataport.Money{Amount: 100_000, Currency: "CNY"}) || l.LastChange.Reason != finance.LiveReasonPolicySet ||
			l.LastChange.FilingSeq != pol.FilingSeq+1 {
			t.Fatalf("at first %+v", l)
		}

		// The stream's service lends, in a hook, within the limit its chunk gives.
		svc := finance.New(e.db, e.reg, finance.Options{StreamChunkOrders: 5, StreamChunkDelay: time.Hour})
		seen := map[string]dataport.Money{}
		svc.OnApplied(func(tx *store.Tx, a finance.Applied) error {
			m, ok, err := svc.LiveLimitIn(tx, a.MerchantID)
			if !ok || err != nil {
				return fmt.Errorf("live limit in the hook: %v, %v", ok, err)
			}
			seen[a.BatchID] = m
			return nil
		})
		s := e.streamOn(t, svc)

		// Ten paid orders every ten seconds, for two minutes.
		limits := []int64{l.Limit.Amount}
		for round := 1; round <= 12; round++ {
			e.clock.Advance(10 * time.Second)
			for half := range 2 {
				// One chunk at a time, so that the limit read is the chunk's.
				var b strings.Builder
				for i := range 5 {
					b.WriteString(liveLine(fmt.Sprintf("P%02d-%d", round, 5*half+i), e.clock.Now(), "paid", ""))
				}
				s.write(b.String())
				c := s.chunk()
				l := e.liveLimit(e.merchant)
				if seen[c.ID] != l.Limit {
					t.Fatalf("round %d: the hook saw %+v, the limit is %+v", round, seen[c.ID], l.Limit)
				}
				limits = append(limits, l.Limit.Amount)
			}
		}
		if !slices.IsSorted(limits) || limits[0] != 100_000 || limits[len(limits)-1] != 2_000_000 {
			t.Fatalf("limits while paid orders came: %v", limits)
		}
		for i := 1; i < len(limits); i++ {
			// The rise is gradual: at most the cap a minute, a sixth of it per round.
			if limits[i]-limits[i-1] > 2_000_000/6 {
				t.Fatalf("rose from %d to %d at once: %v", limits[i-1], limits[i], limits)
			}
		}
		top := e.liveLimit(e.merchant)

		// A burst of refunds: five of the last round's orders are refunded, a
		// tenth of what the last minute sold.
		e.clock.Advance(10 * time.Second)
		at := e.clock.Now().In(dataport.China).Format(time.RFC3339)
		var burst strings.Builder
		for i := range 5 {
			burst.WriteString(liveLine(fmt.Sprintf("P12-%d", i), e.clock.Now().Add(-10*time.Second), "refunded", `,"updated_at":"`+at+`"`))
		}
		s.write(burst.String())
		c := s.chunk()
		spike := e.liveLimit(e.merchant)
		ch := spike.LastChange
		if spike.Limit.Amount >= top.Limit.Amount || spike.Limit.Amount <= 100_000 || ch.Reason != finance.LiveReasonRefundSpike ||
			ch.Limit != spike.Limit || ch.Previous != top.Limit || seen[c.ID] != spike.Limit {
			t.Fatalf("after the refunds: %+v (was %+v)", spike, top.Limit)
		}
		if ch.Inputs.RecentRefunds != 5 || ch.Inputs.RecentRefunded != 50_000 || ch.Inputs.RecentRefundRate != 0.1 ||
			ch.Inputs.RefundFactor != 0.8 || ch.Inputs.DropFactor != 1 || spike.Limit.Amount != 1_600_000 {
			t.Fatalf("inputs %+v", ch.Inputs)
		}
		// Within a second: the limit changed in the transaction that applied the
		// chunk — the change cites the chunk's attestation as its data, was filed
		// right after it, at the same time — and the chunk closed at most
		// StreamChunkDelay (200 ms by default) after its first line arrived.
		if ch.DataThrough != c.FilingSeq || ch.BatchID != c.ID || ch.FilingSeq != c.FilingSeq+1 || !ch.ChangedAt.Equal(c.CreatedAt) ||
			spike.DataThrough != c.FilingSeq || ch.ChangedBy != e.merchant.ParticipantID {
			t.Fatalf("change %+v, chunk %+v", ch, c.Batch)
		}
		filed := e.attestations("finance.live_limit_changed")
		last := filed[len(filed)-1]
		if int64(last["_seq"].(float64)) != ch.FilingSeq || last["reason"] != "refund_spike" || last["data_through"] != float64(c.FilingSeq) ||
			last["limit"] != float64(spike.Limit.Amount) || last["previous"] != float64(top.Limit.Amount) || last["batch_id"] != c.ID ||
			last["inputs"].(map[string]any)["recent_refunded"] != float64(50_000) {
			t.Fatalf("filing %v", last)
		}
		s.w.Close()
		s.end()
		if s.err != nil {
			t.Fatal(s.err)
		}

		// Paid orders stop: as the clock moves on, the limit read as of now falls
		// — the recent minute's pace drops below the pace before it — to the
		// floor, and stays there; the sweep files each fall.
		falling := []int64{spike.Limit.Amount}
		var swept int
		for range 70 {
			e.clock.Advance(10 * time.Second)
			l := e.liveLimit(e.merchant)
			if l.Limit.Amount > falling[len(falling)-1] || l.Limit.Amount < 100_000 {
				t.Fatalf("%s: %d after %v", e.clock.Now(), l.Limit.Amount, falling)
			}
			if l.Limit.Amount != falling[len(falling)-1] {
				falling = append(falling, l.Limit.Amount)
			}
			swept += e.sweep()
			if after := e.liveLimit(e.merchant); after.LastChange.Limit != l.Limit {
				t.Fatalf("swept %+v, read %+v", after.LastChange, l.Limit)
			}
		}
		if falling[len(falling)-1] != 100_000 || len(falling) < 3 || swept != len(falling)-1 {
			t.Fatalf("limits after orders stopped: %v, %d swept", falling, swept)
		}
		h := e.liveHistory()
		if h[0].Reason != finance.LiveReasonOrderDrop || h[0].ChangedBy != dataport.SystemActorID || h[0].Limit.Amount != 100_000 ||
			h[0].DataThrough != c.FilingSeq || h[swept].Reason != finance.LiveReasonRefundSpike ||
			h[len(h)-1].Reason != finance.LiveReasonPolicySet || h[len(h)-2].Reason != finance.LiveReasonOrdersRising {
			t.Fatalf("history %+v", h)
		}
		for i := 1; i < len(h); i++ {
			if h[i].Limit != h[i-1].Previous || h[i].FilingSeq >= h[i-1].FilingSeq {
				t.Fatalf("history breaks between %+v and %+v", h[i], h[i-1])
			}
		}
		if n := e.sweep(); n != 0 {
			t.Fatalf("swept %d with nothing to change", n)
		}

		// The next apply forgets the buckets that left the window.
		if e.count(`SELECT COUNT(*) FROM finance_live_flow`) != 13 {
			t.Fatalf("%d buckets", e.count(`SELECT COUNT(*) FROM finance_live_flow`))
		}
		e.ingest("jsonl", liveLine("R1", e.clock.Now(), "paid", ""))
		if n := e.count(`SELECT COUNT(*) FROM finance_live_flow`); n != 1 {
			t.Fatalf("%d buckets", n)
		}
	})
}

// A merchant without a policy has no live limit, and no live flow is kept for it.
func TestNoLiveLimitWithoutPolicy(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.ingest("jsonl", liveLine("N1", now, "paid", "")+liveLine("N2", now, "refunded", ""))
		_, err := e.svc.LiveLimit(ctx, e.merchant, e.merchant.ParticipantID)
		is(t, err, dataport.KindNotFound, "no live limit")
		err = e.db.Read(ctx, func(tx *store.Tx) error {
			m, ok, err := e.svc.LiveLimitIn(tx, e.merchant.ParticipantID)
			if ok || err != nil || m != (dataport.Money{}) {
				return fmt.Errorf("%+v, %v, %v", m, ok, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if h := e.liveHistory(); len(h) != 0 {
			t.Fatalf("history %+v", h)
		}
		if n := e.count(`SELECT COUNT(*) FROM finance_live_flow`); n != 0 {
			t.Fatalf("%d buckets", n)
		}
		if n := e.sweep(); n != 0 || len(e.attestations("finance.live_limit_changed")) != 0 {
			t.Fatalf("swept %d", n)
		}
	})
}

// The operator sets a policy; the merchant, the operator and regulators see the
// limit; others are told there is no such merchant. Bad input names its fields
// and changes nothing.
func TestLiveLimitPolicyAndPermissions(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		id := e.merchant.ParticipantID
		code, err := registry.CompleteUSCC("11100000000013127")
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.reg.CreateParticipant(ctx, e.operator, registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "国家金融监督管理总局上海监管局"},
			Jurisdiction: "CN", Kind: registry.Domestic, USCC: code, Roles: []dataport.Role{dataport.RoleRegulator}})
		if err != nil {
			t.Fatal(err)
		}
		regulator := dataport.Actor{ParticipantID: p.ID, Roles: []dataport.Role{dataport.RoleRegulator}}

		_, err = e.svc.SetLiveLimitPolicy(ctx, e.merchant, id, livePolicy)
		is(t, err, dataport.KindForbidden, "only the exchange operator")
		_, err = e.svc.SetLiveLimitPolicy(ctx, regulator, id, livePolicy)
		is(t, err, dataport.KindForbidden, "only the exchange operator")
		_, err = e.svc.SetLiveLimitPolicy(ctx, e.buyer, id, livePolicy)
		is(t, err, dataport.KindNotFound, "no merchant")
		_, err = e.svc.SetLiveLimitPolicy(ctx, e.operator, e.buyer.ParticipantID, livePolicy)
		is(t, err, dataport.KindNotFound, "no merchant")

		bad := finance.NewLiveLimitPolicy{Currency: "XYZ", Floor: 500, Cap: 100, MultiplierBP: 0, Step: ptr(0),
			WindowSeconds: ptr(605), RecentSeconds: ptr(400), RefundPenaltyBP: ptr(-1), DropToleranceBP: ptr(9_500), RisePerMinuteBP: ptr(0)}
		_, err = e.svc.SetLiveLimitPolicy(ctx, e.operator, id, bad)
		is(t, err, dataport.KindInvalid, "invalid input")
		var fields []string
		for _, f := range dataport.FieldsOf(err) {
			fields = append(fields, f.Field)
		}
		if want := []string{"currency", "cap", "multiplier_bp", "step", "window_seconds", "recent_seconds", "refund_penalty_bp",
			"drop_tolerance_bp", "rise_per_minute_bp"}; !slices.Equal(fields, want) {
			t.Fatalf("fields %v, want %v", fields, want)
		}
		if len(e.attestations("finance.live_limit_policy_set")) != 0 || e.count(`SELECT COUNT(*) FROM finance_live_policies`) != 0 {
			t.Fatal("a refused policy left something")
		}

		pol, err := e.svc.SetLiveLimitPolicy(ctx, e.operator, id, finance.NewLiveLimitPolicy{Floor: 0, Cap: 50_000_00,
			MultiplierBP: 15_000, WindowSeconds: ptr(60)})
		if err != nil {
			t.Fatal(err)
		}
		if pol.RecentSeconds != 30 || pol.Step != 50_000 || pol.RisePerMinuteBP != 1_000 || pol.SetBy != e.operator.ParticipantID {
			t.Fatalf("defaults %+v", pol)
		}
		for _, a := range []dataport.Actor{e.merchant, e.operator, regulator} {
			l := e.liveLimit(a)
			if l.Limit != (dataport.Money{Currency: "CNY"}) || l.Policy.FilingSeq != pol.FilingSeq || l.Policy.MultiplierBP != 15_000 {
				t.Fatalf("%s sees %+v", a.ParticipantID, l)
			}
			if _, err := e.svc.LiveLimitHistory(ctx, a, id, 0, 0); err != nil {
				t.Fatal(err)
			}
		}
		_, err = e.svc.LiveLimit(ctx, e.buyer, id)
		is(t, err, dataport.KindNotFound, "no merchant")
		_, err = e.svc.LiveLimitHistory(ctx, e.buyer, id, 0, 0)
		is(t, err, dataport.KindNotFound, "no merchant")
		_, err = e.svc.LiveLimit(ctx, dataport.Actor{}, id)
		is(t, err, dataport.KindUnauthorized, "")

		// Replaced: the floor holds at once.
		if _, err := e.svc.SetLiveLimitPolicy(ctx, e.operator, id, livePolicy); err != nil {
			t.Fatal(err)
		}
		h := e.liveHistory()
		if len(h) != 2 || h[0].Reason != finance.LiveReasonPolicySet || h[0].Previous.Amount != 0 || h[0].Limit.Amount != 100_000 {
			t.Fatalf("history %+v", h)
		}
		set := e.attestations("finance.live_limit_policy_set")
		if len(set) != 2 || set[0]["replaced"] != false || set[1]["replaced"] != true || set[1]["floor"] != float64(100_000) {
			t.Fatalf("filings %v", set)
		}

		// A suspended merchant's limit is still seen by the operator and regulators,
		// and by the merchant itself.
		if _, err := e.reg.Suspend(ctx, e.operator, id, "review"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.LiveLimit(ctx, e.merchant, id); err != nil { // its own, still
			t.Fatalf("the suspended merchant's own limit: %v", err)
		}
		e.liveLimit(regulator)
	})
}

// BenchmarkLiveLimitLatency measures, on SQLite with the real clock, the wall
// time from writing the last line of a refund spike into an open live stream to
// the lowered limit being visible to a reader: with the stream's default chunk
// delay (200 ms), which bounds it, and with 20 ms, which shows the rest — the
// apply, the recomputation and the commit. Each iteration is a new live merchant
// whose stream first carries paid orders.
func BenchmarkLiveLimitLatency(b *testing.B) {
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		name := "delay=default"
		if delay > 0 {
			name = "delay=" + delay.String()
		}
		b.Run(name, func(b *testing.B) { benchLiveLatency(b, delay) })
	}
}

func benchLiveLatency(b *testing.B, delay time.Duration) {
	ctx := context.Background()
	db := storetest.Open(b, store.SQLite, store.Options{})
	e := build(b, db)
	svc := finance.New(db, e.reg, finance.Options{SpoolDir: b.TempDir(), StreamChunkDelay: delay})
	pol := livePolicy
	pol.RisePerMinuteBP = ptr(100_000) // ten caps a minute: no waiting for the rise, the fall is measured
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		code, err := registry.CompleteUSCC(fmt.Sprintf("91330782MA%07d", 1_000_000+i))
		if err != nil {
			b.Fatal(err)
		}
		p, err := e.reg.CreateParticipant(ctx, e.operator, registry.NewParticipant{LegalName: dataport.Bilingual{Zh: fmt.Sprintf("直播商家 %d", i)},
			Jurisdiction: "CN", Kind: registry.Domestic, USCC: code, Roles: []dataport.Role{dataport.RoleMerchant}})
		if err != nil {
			b.Fatal(err)
		}
		m := dataport.Actor{ParticipantID: p.ID, Roles: []dataport.Role{dataport.RoleMerchant}}
		if _, err := svc.ConnectShop(ctx, m, m.ParticipantID, finance.NewShop{Platform: "douyin", ExternalID: "A100", Name: "直播间"}); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.SetLiveLimitPolicy(ctx, e.operator, m.ParticipantID, pol); err != nil {
			b.Fatal(err)
		}
		r, w := io.Pipe()
		chunks := make(chan finance.BatchReport, 64)
		done := make(chan error, 1)
		go func() {
			_, err := svc.IngestStream(ctx, m, m.ParticipantID, r, func(c finance.BatchReport) { chunks <- c })
			done <- err
		}()
		var paid strings.Builder
		for j := range 50 {
			paid.WriteString(liveLine(fmt.Sprintf("P%d", j), time.Now().Add(-time.Second), "paid", ""))
		}
		w.Write([]byte(paid.String()))
		for n := int64(0); n < 50; {
			n += (<-chunks).Inserted
		}
		// The limit rises as fast as the policy lets it, which takes a moment;
		// the sweep files the rise, as the server's does every second.
		var before finance.LiveLimit
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			if _, err := svc.Sweep(ctx); err != nil {
				b.Fatal(err)
			}
			if before, err = svc.LiveLimit(ctx, m, m.ParticipantID); err != nil {
				b.Fatal(err)
			}
			if before.LastChange.Limit.Amount > pol.Floor {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("before the spike %+v", before.Limit)
			}
		}
		b.StartTimer()
		var spike strings.Builder
		at := time.Now().In(dataport.China).Format(time.RFC3339)
		for j := range 10 {
			spike.WriteString(liveLine(fmt.Sprintf("P%d", j), time.Now().Add(-time.Second), "refunded", `,"updated_at":"`+at+`"`))
		}
		w.Write([]byte(spike.String()))
		start := time.Now()
		for {
			l, err := svc.LiveLimit(ctx, m, m.ParticipantID)
			if err != nil {
				b.Fatal(err)
			}
			if l.LastChange.Reason == finance.LiveReasonRefundSpike && l.LastChange.Limit.Amount < before.LastChange.Limit.Amount {
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatalf("no refund spike: %+v, before %+v", l.LastChange, before.LastChange)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		w.Close()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
}

// Two replicas applying one live merchant's batches, and sweeping, at once keep
// its live flow exact and its limit's history one unbroken chain.
func TestLiveLimitReplicas(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		dsn := storetest.DSN(t, engine)
		clock := dataport.NewFixedClock(now)
		var dbs [2]*store.DB
		for i := range dbs {
			db, err := store.Open(ctx, dsn, store.Options{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			dbs[i] = db
		}
		e := build(t, dbs[0])
		e.clock = clock
		other := finance.New(dbs[1], registry.New(dbs[1]), finance.Options{SpoolDir: t.TempDir()})
		if _, err := e.svc.SetLiveLimitPolicy(ctx, e.operator, e.merchant.ParticipantID, livePolicy); err != nil {
			t.Fatal(err)
		}
		for round := range 6 {
			clock.Advance(10 * time.Second)
			errs := make(chan error, 4)
			for side, svc := range []*finance.Service{e.svc, other} {
				go func() {
					var b strings.Builder
					for i := range 50 {
						// Half the orders both sides send (one of them applies
						// each, the other finds a duplicate); some arrive refunded.
						id, status := fmt.Sprintf("X%d-%d", round, i), "paid"
						if i%2 == 0 {
							id = fmt.Sprintf("X%d-%d-%d", round, i, side)
						}
						if i%10 == 0 {
							status = "refunded"
						}
						b.WriteString(liveLine(id, clock.Now(), status, ""))
					}
					_, err := svc.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "jsonl", strings.NewReader(b.String()))
					errs <- err
				}()
				go func() {
					_, err := svc.Sweep(ctx)
					errs <- err
				}()
			}
			for range 4 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
		}
		sales, refunds := e.count(`SELECT COALESCE(SUM(paid_orders), 0) FROM finance_live_flow`), e.count(`SELECT COALESCE(SUM(refunds), 0) FROM finance_live_flow`)
		if want := e.count(`SELECT COUNT(*) FROM finance_orders`); sales != want || refunds != e.count(`SELECT COUNT(*) FROM finance_orders WHERE status = 'refunded'`) {
			t.Fatalf("flow: %d sales, %d refunds; %d orders", sales, refunds, want)
		}
		h := e.liveHistory()
		for i := 1; i < len(h); i++ {
			if h[i].Limit != h[i-1].Previous {
				t.Fatalf("history breaks between %+v and %+v", h[i], h[i-1])
			}
		}
		if l := e.liveLimit(e.operator); l.LastChange.FilingSeq != h[0].FilingSeq || len(h) < 3 {
			t.Fatalf("%+v; %d changes", l, len(h))
		}
	})
}
