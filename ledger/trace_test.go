package ledger_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// TestTraceByTimeAndCountByType: a list bounded by filing time returns exactly the
// filings of the period, with the subject and type filters and paging of List; the
// counts by type add up to the filings; and a participant other than the operator
// and regulators reads only what is about itself, as Reader.List rules.
func TestTraceByTimeAndCountByType(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		clock := dataport.NewFixedClock(start)
		db := storetest.Open(t, engine, store.Options{Clock: clock})
		fileAs := func(who dataport.Actor, typ string, subjects ...string) {
			t.Helper()
			err := db.Write(ctx, func(tx *store.Tx) error {
				_, err := ledger.File(tx, who, ledger.Change{Type: typ, Subjects: subjects, Payload: map[string]string{"t": typ}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		alice := dataport.Actor{ParticipantID: "prt_alice", KeyID: "key_a"}
		// One filing a day for six days: days 0, 2, 4 about alice's product, the
		// others about bob.
		for day := 0; day < 6; day++ {
			clock.Set(start.Add(time.Duration(day)*24*time.Hour + time.Hour))
			if day%2 == 0 {
				fileAs(alice, "product.listed", "prd_1", "prt_alice")
			} else {
				fileAs(alice, "quote.made", "quo_1", "prt_bob")
			}
		}
		r := ledger.NewReader(db)
		regulator := dataport.Actor{ParticipantID: "prt_reg", Roles: []dataport.Role{dataport.RoleRegulator}}
		seqs := func(fs []ledger.Filing) []int64 {
			var out []int64
			for _, f := range fs {
				out = append(out, f.Seq)
			}
			return out
		}
		day := func(n int) time.Time { return start.Add(time.Duration(n) * 24 * time.Hour) }
		for _, c := range []struct {
			name string
			f    ledger.Filter
			want []int64
		}{
			{"all", ledger.Filter{}, []int64{1, 2, 3, 4, 5, 6}},
			{"from day 2", ledger.Filter{From: day(2)}, []int64{3, 4, 5, 6}},
			{"until day 2", ledger.Filter{Until: day(2)}, []int64{1, 2}},
			{"days 1 to 4", ledger.Filter{From: day(1), Until: day(4)}, []int64{2, 3, 4}},
			{"the product, from day 1", ledger.Filter{Subject: "prd_1", From: day(1)}, []int64{3, 5}},
			{"quotes until day 4", ledger.Filter{Type: "quote.made", Until: day(4)}, []int64{2, 4}},
			{"paged", ledger.Filter{After: 2, Limit: 2, From: day(1)}, []int64{3, 4}},
			{"a period without filings", ledger.Filter{From: day(7)}, nil},
		} {
			got, err := r.List(ctx, regulator, c.f)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if g := seqs(got); !slices.Equal(g, c.want) {
				t.Errorf("%s: %v, want %v", c.name, g, c.want)
			}
		}
		if _, err := r.List(ctx, regulator, ledger.Filter{From: day(3), Until: day(3)}); dataport.KindOf(err) != dataport.KindInvalid {
			t.Errorf("an empty period: %v, want invalid", err)
		}
		if _, err := r.List(ctx, dataport.Actor{}, ledger.Filter{}); dataport.KindOf(err) != dataport.KindUnauthorized {
			t.Errorf("anonymous: %v", err)
		}

		// Bob sees the filings about himself, and may not trace alice.
		bob := dataport.Actor{ParticipantID: "prt_bob", Roles: []dataport.Role{dataport.RoleBuyer}}
		if got, err := r.List(ctx, bob, ledger.Filter{}); err != nil || !slices.Equal(seqs(got), []int64{2, 4, 6}) {
			t.Errorf("bob's trace: %v, %v", seqs(got), err)
		}
		if _, err := r.List(ctx, bob, ledger.Filter{Subject: "prt_alice"}); dataport.KindOf(err) != dataport.KindForbidden {
			t.Errorf("bob tracing alice: %v, want forbidden", err)
		}

		counts, err := r.CountByType(ctx, regulator)
		if err != nil {
			t.Fatal(err)
		}
		want := []ledger.TypeCount{{Type: "product.listed", Count: 3}, {Type: "quote.made", Count: 3}}
		if len(counts) != len(want) || counts[0] != want[0] || counts[1] != want[1] {
			t.Errorf("counts: %+v, want %+v", counts, want)
		}
		fileAs(alice, "quote.made", "quo_2", "prt_carol")
		counts, _ = r.CountByType(ctx, regulator)
		if len(counts) != 2 || counts[0] != (ledger.TypeCount{Type: "quote.made", Count: 4}) {
			t.Errorf("counts after a quote, the most frequent first: %+v", counts)
		}
		counts, err = r.CountByType(ctx, bob)
		if err != nil || len(counts) != 1 || counts[0] != (ledger.TypeCount{Type: "quote.made", Count: 3}) {
			t.Errorf("bob's counts: %+v, %v", counts, err)
		}
	})
}
