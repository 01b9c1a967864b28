package lending_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// Offers go only where the criteria match: grade, line range and sector.
func TestCriteriaMatching(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.consent(e.merchant, []lending.Scope{lending.ScopeScore}, e.bankA)
		e.consent(e.merchant2, []lending.Scope{lending.ScopeScore}, e.bankA)
		n := subscription(lending.OrderFinancing) // grades A–C, lines 10,000 to 1,000,000 yuan
		n.Criteria.Sectors = []string{"frozen_food", "fresh_produce"}
		e.subscribe(e.bankA, n)

		cases := []struct {
			name     string
			merchant dataport.Actor
			grade    string
			line     int64
			offered  bool
		}{
			{"grade D is not taken", e.merchant, "D", 50_000_000, false},
			{"a line below min_line", e.merchant, "A", 999_999, false},
			{"min_line itself", e.merchant, "A", 1_000_000, true},
			{"a line above max_line", e.merchant, "A", 100_000_001, false},
			{"max_line itself", e.merchant, "C", 100_000_000, true},
			{"another sector", e.merchant2, "A", 50_000_000, false},
		}
		for _, c := range cases {
			before := len(e.filings("lending.offer_made"))
			e.publish(e.decision(c.merchant, c.grade, c.line))
			made := len(e.filings("lending.offer_made")) - before
			if made != map[bool]int{true: 1, false: 0}[c.offered] {
				t.Errorf("%s: %d offers made", c.name, made)
			}
		}
		// The offer is for min(line, max_amount): the last one made had a line of
		// 1,000,000 yuan, over the 300,000 yuan maximum.
		if o := e.openOffer(e.merchant, e.bankA); o.Amount != cny(30_000_000) || o.Credit.Grade != "C" {
			t.Fatalf("offer %+v", o)
		}
	})
}

// A new decision supersedes the open offers of earlier ones; of two matching
// subscriptions for one product, the larger offer is made.
func TestSupersedeAndBestSubscription(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.consent(e.merchant, []lending.Scope{lending.ScopeScore}, e.bankA)
		small := subscription(lending.OrderFinancing)
		small.Terms.MaxAmount = cny(5_000_000)
		e.subscribe(e.bankA, small)
		big := e.subscribe(e.bankA, subscription(lending.OrderFinancing))
		credit := e.subscribe(e.bankA, subscription(lending.CreditSales))

		e.publish(e.decision(e.merchant, "B", 50_000_000))
		first := e.offers(e.merchant, lending.OfferFilter{Status: "open"})
		if len(first) != 2 {
			t.Fatalf("%d open offers, want one per product: %+v", len(first), first)
		}
		for _, o := range first {
			if o.Product == lending.OrderFinancing && (o.SubscriptionID != big.ID || o.Amount != cny(30_000_000)) {
				t.Fatalf("order financing offer from %s for %d, want %s's 300,000 yuan", o.SubscriptionID, o.Amount.Amount, big.ID)
			}
		}

		// The bank stops lending on credit sales; the next decision supersedes both.
		if _, err := e.svc.PauseSubscription(e.ctx, e.bankA, credit.ID); err != nil {
			t.Fatal(err)
		}
		e.publish(e.decision(e.merchant, "A", 80_000_000))
		now := e.offers(e.merchant, lending.OfferFilter{Status: "open"})
		if len(now) != 1 || now[0].Product != lending.OrderFinancing || now[0].Credit.Grade != "A" {
			t.Fatalf("open offers after the second decision: %+v", now)
		}
		for _, o := range first {
			got, _ := e.svc.Offer(e.ctx, e.bankA, o.ID)
			want := ""
			if o.Product == lending.OrderFinancing {
				want = now[0].ID
			}
			if got.Status != "superseded" || got.SupersededBy != want {
				t.Fatalf("earlier offer %+v, want superseded by %q", got, want)
			}
		}
		if n := len(e.filings("lending.offer_superseded")); n != 2 {
			t.Fatalf("%d supersessions filed, want 2", n)
		}
		// A view of an older decision, replayed late, changes nothing.
		stale := e.decision(e.merchant, "C", 20_000_000)
		stale.DecidedAt = stale.DecidedAt.Add(-time.Hour)
		before := e.snapshot()
		e.publish(stale)
		before["filings"]++ // the credit side's own filing of the replay
		e.unchanged(before)
		// A malformed view is the credit side's fault: it fails the decision's
		// transaction, leaving nothing.
		bad := e.decision(e.merchant, "F", 20_000_000)
		err := e.db.Write(e.ctx, func(tx *store.Tx) error { return e.svc.Publish(tx, bad) })
		wantKind(t, err, dataport.KindInternal)
		e.unchanged(before)
		// Pages: one offer at a time, after the last change seen.
		all := e.offers(e.bankA, lending.OfferFilter{})
		var paged []string
		for after := int64(0); ; {
			page := e.offers(e.bankA, lending.OfferFilter{AfterSeq: after, Limit: 1})
			if len(page) == 0 {
				break
			}
			paged, after = append(paged, page[0].ID), page[0].ChangeSeq
		}
		if len(all) != 3 || len(paged) != 3 || paged[2] != all[2].ID {
			t.Fatalf("paged %v, all %d", paged, len(all))
		}
		// The bank is told of the one nothing replaced.
		if n := len(e.received(e.rcvA, "lending.offer_withdrawn")); n != 1 {
			t.Fatalf("bank told of %d withdrawals, want 1", n)
		}
		// Cancelling withdraws what is open.
		if _, err := e.svc.CancelSubscription(e.ctx, e.bankA, big.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.svc.Offer(e.ctx, e.bankA, now[0].ID); got.Status != "withdrawn" {
			t.Fatalf("offer of a cancelled subscription: %s", got.Status)
		}
		_, err = e.svc.ResumeSubscription(e.ctx, e.bankA, big.ID)
		wantKind(t, err, dataport.KindConflict)
		_, err = e.svc.PauseSubscription(e.ctx, e.bankB, credit.ID)
		wantKind(t, err, dataport.KindNotFound)
	})
}

// Rules that do not compile are refused naming the rule's field, and nothing changes.
func TestBadRulesRejected(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		before := e.snapshot()
		ok := lending.Rule{ID: "grade_ok", Expr: `grade in ["A", "B"]`, Reason: "grade A or B"}
		cases := []struct {
			rules []lending.Rule
			field string
			says  string
		}{
			{[]lending.Rule{ok, {ID: "broken", Expr: `amount <=`, Reason: "r"}}, "rules[1].expr", "Syntax error"},
			{[]lending.Rule{ok, {ID: "unknown", Expr: `turnover > 5`, Reason: "r"}}, "rules[1].expr", "undeclared reference"},
			{[]lending.Rule{{ID: "not_bool", Expr: `amount + 1`, Reason: "r"}}, "rules[0].expr", "want bool"},
			{[]lending.Rule{{ID: "typed", Expr: `grade > 3`, Reason: "r"}}, "rules[0].expr", "no matching overload"},
			{[]lending.Rule{ok, ok}, "rules[1].id", "rules[0]"},
			{[]lending.Rule{{ID: "Bad-ID", Expr: `true`, Reason: "r"}}, "rules[0].id", ""},
			{[]lending.Rule{{ID: "no_reason", Expr: `true`}}, "rules[0].reason", ""},
		}
		for _, c := range cases {
			_, err := e.svc.CreateSubscription(e.ctx, e.bankA, subscription(lending.OrderFinancing, c.rules...))
			wantField(t, err, c.field)
			for _, f := range dataport.FieldsOf(err) {
				if f.Field == c.field && !strings.Contains(f.Message, c.says) {
					t.Errorf("%s: %q does not say %q", c.field, f.Message, c.says)
				}
			}
		}
		n := subscription(lending.Product("payday"))
		n.Criteria.Grades = []string{"A", "F"}
		n.Criteria.MinLine = cny(5)
		n.Criteria.MaxLine = dataport.Money{Amount: 1, Currency: "USD"}
		n.Terms.RateBPS, n.Terms.TermDays, n.Terms.RepaymentShareBPS, n.Terms.OfferValidDays = 3600, 0, 0, 90
		_, err := e.svc.CreateSubscription(e.ctx, e.bankA, n)
		for _, f := range []string{"criteria.product", "criteria.grades[1]", "criteria.max_line.currency", "criteria.max_line.amount",
			"terms.rate_bps", "terms.term_days", "terms.repayment_share_bps", "terms.offer_valid_days"} {
			wantField(t, err, f)
		}
		_, err = e.svc.CreateSubscription(e.ctx, e.merchant, subscription(lending.OrderFinancing))
		wantKind(t, err, dataport.KindForbidden)
		e.unchanged(before)

		// SetRules checks the same way, and a good change is a new version.
		sub := e.subscribe(e.bankA, subscription(lending.OrderFinancing, ok))
		before = e.snapshot()
		_, err = e.svc.SetRules(e.ctx, e.bankA, sub.ID, []lending.Rule{ok, {ID: "x", Expr: `pd <`, Reason: "r"}})
		wantField(t, err, "rules[1].expr")
		_, err = e.svc.SetRules(e.ctx, e.bankB, sub.ID, []lending.Rule{ok})
		wantKind(t, err, dataport.KindNotFound)
		e.unchanged(before)
		v2, err := e.svc.SetRules(e.ctx, e.bankA, sub.ID, []lending.Rule{{ID: "pd_low", Expr: `pd < 0.05`, Reason: "PD under 5 %"}})
		if err != nil || v2.RulesVersion != 2 || v2.RulesSHA256 == sub.RulesSHA256 {
			t.Fatalf("set rules: %+v %v", v2, err)
		}
		// Merchants see no subscriptions; the bank its own; the regulator all.
		_, err = e.svc.Subscriptions(e.ctx, e.merchant, lending.SubscriptionFilter{})
		wantKind(t, err, dataport.KindForbidden)
		_, err = e.svc.Subscription(e.ctx, e.bankB, sub.ID)
		wantKind(t, err, dataport.KindNotFound)
		if subs, err := e.svc.Subscriptions(e.ctx, e.regulator, lending.SubscriptionFilter{}); err != nil || len(subs) != 1 || len(subs[0].Rules) != 1 {
			t.Fatalf("regulator's view %+v %v", subs, err)
		}
	})
}

// The bank's rules decide: approved when all hold, declined with the reasons of
// those that failed, in order; every rule's result is kept; a rule that cannot be
// evaluated fails. Features reach the rules only under scope features.
func TestApplicationDecisions(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.consent(e.merchant, []lending.Scope{lending.ScopeScore, lending.ScopeFeatures}, e.bankA)
		e.consent(e.merchant2, []lending.Scope{lending.ScopeScore}, e.bankA)
		rules := []lending.Rule{
			{ID: "small_first", Expr: `amount <= 10000000 || grade == "A"`, Reason: "above 100,000 yuan only for grade A"},
			{ID: "pd_cap", Expr: `pd <= 0.05`, Reason: "PD above 5 %"},
			{ID: "few_returns", Expr: `features["return_rate"] < 0.1`, Reason: "return rate of 10 % or more"},
			{ID: "no_overdue", Expr: `overdue_loans == 0`, Reason: "an overdue loan with us"},
		}
		n := subscription(lending.OrderFinancing, rules...)
		n.Criteria.Sectors = nil
		e.subscribe(e.bankA, n)
		e.publish(e.decision(e.merchant, "B", 50_000_000))
		o := e.openOffer(e.merchant, e.bankA)
		if o.Credit.Features["return_rate"] != 0.04 {
			t.Fatalf("features not disclosed under scope features: %+v", o.Credit)
		}

		declined := e.apply(e.merchant, o.ID, lending.NewApplication{Amount: cny(20_000_000)})
		d := declined.Decision
		if d.Outcome != "declined" || !slices.Equal(d.Reasons, []string{"above 100,000 yuan only for grade A"}) ||
			declined.LoanID != "" || declined.Loan != nil || len(d.Rules) != 4 || d.Rules[0].Passed || !d.Rules[2].Passed {
			t.Fatalf("decision %+v", declined)
		}
		if d.Inputs.Features["return_rate"] != 0.04 {
			t.Fatalf("inputs %+v", d.Inputs)
		}
		// A declined application leaves the offer open; a smaller one is approved.
		approved := e.apply(e.merchant, o.ID, lending.NewApplication{Amount: cny(10_000_000), TermDays: 14})
		if approved.Decision.Outcome != "approved" || approved.Loan.TermDays != 14 || approved.Loan.Interest != cny(27_616) {
			t.Fatalf("approved %+v", approved) // 10,000,000 × 720 × 14 / 3,650,000 = 27,616.4
		}
		if n := len(e.received(e.rcvA, "lending.application_decided")); n != 2 {
			t.Fatalf("bank told of %d decisions, want 2", n)
		}

		// Without scope features the map is empty: the rule cannot be evaluated and fails.
		e.publish(e.decision(e.merchant2, "B", 50_000_000))
		o2 := e.openOffer(e.merchant2, e.bankA)
		if o2.Credit.Features != nil {
			t.Fatalf("features disclosed without scope features: %+v", o2.Credit.Features)
		}
		a := e.apply(e.merchant2, o2.ID, lending.NewApplication{Amount: cny(1_000_000)})
		r := a.Decision.Rules[2]
		if a.Decision.Outcome != "declined" || r.Passed || !strings.Contains(r.Error, "no such key") ||
			!slices.Equal(a.Decision.Reasons, []string{"return rate of 10 % or more"}) {
			t.Fatalf("decision without features %+v", a.Decision)
		}

		// Reads: the bank sees the applications made to it, the merchant its own.
		if as, err := e.svc.Applications(e.ctx, e.bankA, lending.ApplicationFilter{}); err != nil || len(as) != 3 {
			t.Fatalf("bank's applications %d %v", len(as), err)
		}
		if as, err := e.svc.Applications(e.ctx, e.merchant2, lending.ApplicationFilter{}); err != nil || len(as) != 1 || as[0].ID != a.ID {
			t.Fatalf("merchant2's applications %+v %v", as, err)
		}
		if as, _ := e.svc.Applications(e.ctx, e.regulator, lending.ApplicationFilter{Outcome: "declined"}); len(as) != 2 {
			t.Fatalf("regulator sees %d declined", len(as))
		}
		_, err := e.svc.Application(e.ctx, e.merchant2, declined.ID)
		wantKind(t, err, dataport.KindNotFound)
	})
}

// A retried application with its key makes one loan; the key with other details
// is a conflict.
func TestIdempotentApplication(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.consent(e.merchant, []lending.Scope{lending.ScopeScore}, e.bankA)
		e.subscribe(e.bankA, subscription(lending.OrderFinancing))
		e.publish(e.decision(e.merchant, "B", 50_000_000))
		o := e.openOffer(e.merchant, e.bankA)
		n := lending.NewApplication{Amount: cny(5_000_000), IdempotencyKey: "po-2026-1125-001"}
		first, replayed, err := e.svc.Apply(e.ctx, e.merchant, o.ID, n)
		if err != nil || replayed {
			t.Fatalf("first application: replayed %v, %v", replayed, err)
		}
		before := e.snapshot()
		again, replayed, err := e.svc.Apply(e.ctx, e.merchant, o.ID, n)
		if err != nil || !replayed || again.ID != first.ID || again.LoanID != first.LoanID || again.Loan == nil ||
			again.Decision.InputsSHA256 != first.Decision.InputsSHA256 {
			t.Fatalf("retry answered %+v (replayed %v, %v), first %+v", again, replayed, err, first)
		}
		e.unchanged(before)
		// The key is the merchant's: the bank never sees it, in its reads or its
		// webhooks; the merchant and those who oversee do.
		for _, c := range []struct {
			actor dataport.Actor
			key   string
		}{{e.merchant, n.IdempotencyKey}, {e.operator, n.IdempotencyKey}, {e.bankA, ""}} {
			one, err := e.svc.Application(e.ctx, c.actor, first.ID)
			list, err2 := e.svc.Applications(e.ctx, c.actor, lending.ApplicationFilter{OfferID: o.ID})
			if err != nil || err2 != nil || one.IdempotencyKey != c.key || len(list) != 1 || list[0].IdempotencyKey != c.key {
				t.Fatalf("%s reads the key %q, %+v (%v, %v); want %q", c.actor.ParticipantID, one.IdempotencyKey, list, err, err2, c.key)
			}
		}
		hooks := e.received(e.rcvA, "lending.application_decided")
		if len(hooks) != 1 || !strings.Contains(string(hooks[0].Data), first.ID) {
			t.Fatalf("the bank was told of %d decisions", len(hooks))
		}
		for _, b := range hooks {
			if strings.Contains(string(b.Data), "idempotency_key") || strings.Contains(string(b.Data), n.IdempotencyKey) {
				t.Fatalf("the bank's webhook carries the key: %s", b.Data)
			}
		}
		n.Amount = cny(6_000_000)
		_, _, err = e.svc.Apply(e.ctx, e.merchant, o.ID, n)
		wantKind(t, err, dataport.KindConflict)
		if fs := dataport.FieldsOf(err); len(fs) != 1 || fs[0].Field != "idempotency_key" {
			t.Fatalf("conflict names %+v", fs)
		}
		e.unchanged(before)
		// Without the key, a second application on a taken offer is refused.
		_, _, err = e.svc.Apply(e.ctx, e.merchant, o.ID, lending.NewApplication{Amount: cny(5_000_000)})
		wantKind(t, err, dataport.KindConflict)
		if n := e.count(`SELECT COUNT(*) FROM lending_loans`); n != 1 {
			t.Fatalf("%d loans, want 1", n)
		}
	})
}

// Two servers on one database (PostgreSQL replicas, or two processes on one SQLite
// file) taking the same offer at once make one loan: retries with one key answer
// alike, and of different applications one is approved and the rest refused.
func TestConcurrentApplicationsMakeOneLoan(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		dsn := storetest.DSN(t, engine)
		clock := dataport.NewFixedClock(now)
		open := func() *store.DB {
			db, err := store.Open(context.Background(), dsn, store.Options{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		e := build(t, open(), clock)
		replica := lending.New(open(), e.reg, lending.Options{})
		e.consent(e.merchant, []lending.Scope{lending.ScopeScore}, e.bankA)
		e.subscribe(e.bankA, subscription(lending.OrderFinancing))

		for _, keyed := range []bool{true, false} {
			e.publish(e.decision(e.merchant, "B", 50_000_000))
			o := e.openOffer(e.merchant, e.bankA)
			var wg sync.WaitGroup
			apps := make([]lending.Application, 8)
			replays := make([]bool, 8)
			errs := make([]error, 8)
			for i := range 8 {
				svc := e.svc
				if i%2 == 1 {
					svc = replica
				}
				n := lending.NewApplication{Amount: cny(1_000_000)}
				if keyed {
					n.IdempotencyKey = "same-key-" + o.ID
				} else {
					n.Amount = cny(int64(1_000_000 + i))
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					apps[i], replays[i], errs[i] = svc.Apply(context.Background(), e.merchant, o.ID, n)
				}()
			}
			wg.Wait()
			approved := map[string]bool{}
			for i := range 8 {
				switch {
				case errs[i] == nil && apps[i].LoanID != "":
					approved[apps[i].LoanID] = true
				case keyed || dataport.KindOf(errs[i]) != dataport.KindConflict:
					t.Fatalf("keyed=%v: application %d: %v", keyed, i, errs[i])
				}
			}
			// With one key, one application decided and the rest are its replays.
			if n := len(slices.DeleteFunc(slices.Clone(replays), func(r bool) bool { return !r })); keyed && n != 7 || !keyed && n != 0 {
				t.Fatalf("keyed=%v: %d replays", keyed, n)
			}
			if len(approved) != 1 || e.count(`SELECT COUNT(*) FROM lending_loans WHERE offer_id = $1`, o.ID) != 1 {
				t.Fatalf("keyed=%v: %d loans on one offer", keyed, len(approved))
			}
		}
	})
}
