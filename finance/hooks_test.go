package finance_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
)

// hookLine is one JSON line of order data in CNY unless extra says otherwise.
func hookLine(id, status, amount, extra string) string {
	return fmt.Sprintf(`{"order_id":%q,"shop":"A100","ordered_at":"2026-11-24T10:00:00+08:00","amount":%q,"currency":"CNY","status":%q%s}`+"\n",
		id, amount, status, extra)
}

// streamOn runs a live stream into svc, as env.stream does into a service of its own.
func (e *env) streamOn(t *testing.T, svc *finance.Service) *streamRun {
	r, w := io.Pipe()
	s := &streamRun{t: t, w: w, chunks: make(chan finance.BatchReport, 16), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.rep, s.err = svc.IngestStream(context.Background(), e.merchant, e.merchant.ParticipantID, r,
			func(c finance.BatchReport) { s.chunks <- c })
	}()
	return s
}

// Every batch and stream chunk hands its hooks what it changed, per currency:
// new sales, refunds that arrived, cancellations, receivables newly settled and
// orders that arrived settled, with the batch's attestation.
func TestApplyHooksSeeWhatChanged(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		var got []finance.Applied
		e.svc.OnApplied(func(tx *store.Tx, a finance.Applied) error {
			got = append(got, a)
			return nil
		})
		rep := e.ingest("jsonl", hookLine("H1", "paid", "100", `,"expected_settlement":"2026-12-05"`)+
			hookLine("H2", "delivered", "50", `,"settled_at":"2026-11-25T10:00:00+08:00"`)+
			hookLine("H3", "cancelled", "30", "")+
			strings.Replace(hookLine("H4", "paid", "10", ""), "CNY", "USD", 1)+
			hookLine("H5", "refunded", "40", "")+
			hookLine("H6", "paid", "25", "")+
			"not json\n")
		if rep.Inserted != 6 || len(got) != 1 {
			t.Fatalf("%+v, %d applies", rep.Batch, len(got))
		}
		a := got[0]
		if a.MerchantID != e.merchant.ParticipantID || a.BatchID != rep.ID || a.Kind != "batch" || a.FilingSeq != rep.FilingSeq ||
			!a.At.Equal(now) || len(a.Currencies) != 2 || a.Currencies[0].Currency != "CNY" || a.Currencies[1].Currency != "USD" {
			t.Fatalf("applied %+v", a)
		}
		want := finance.AppliedCurrency{Currency: "CNY", Sales: 4, SalesAmount: 21500, Refunds: 1, RefundAmount: 4000,
			Cancelled: 1, SettledOnArrival: 1, SettledOnArrivalAmount: 5000}
		if a.In("CNY") != want {
			t.Fatalf("CNY %+v\nwant %+v", a.In("CNY"), want)
		}
		if usd := a.In("USD"); usd != (finance.AppliedCurrency{Currency: "USD", Sales: 1, SalesAmount: 1000}) {
			t.Fatalf("USD %+v", usd)
		}

		// H1 is partly refunded and settled: a refund and a settled receivable of
		// what the platform paid; H4 and H6 are cancelled (H6 after a partial
		// refund); H2 and H3 come again unchanged and H5 stale.
		rep = e.ingest("jsonl", hookLine("H1", "delivered", "100", `,"expected_settlement":"2026-12-05","refund_amount":"20","settled_at":"2026-11-25T12:00:00+08:00"`)+
			hookLine("H2", "delivered", "50", `,"settled_at":"2026-11-25T10:00:00+08:00"`)+
			hookLine("H3", "cancelled", "30", "")+
			strings.Replace(hookLine("H4", "cancelled", "10", ""), "CNY", "USD", 1)+
			hookLine("H5", "paid", "40", "")+
			hookLine("H6", "paid", "25", `,"refund_amount":"5"`)+
			hookLine("H6", "cancelled", "25", `,"refund_amount":"5"`))
		if rep.Updated != 4 || rep.Duplicates != 2 || rep.Stale != 1 || len(got) != 2 {
			t.Fatalf("%+v, %d applies", rep.Batch, len(got))
		}
		a = got[1]
		want = finance.AppliedCurrency{Currency: "CNY", Refunds: 2, RefundAmount: 2500, Cancelled: 1, CancelledAmount: 2500,
			Settled: 1, SettledAmount: 8000}
		if a.FilingSeq != rep.FilingSeq || a.In("CNY") != want {
			t.Fatalf("CNY %+v\nwant %+v", a.In("CNY"), want)
		}
		if usd := a.In("USD"); usd != (finance.AppliedCurrency{Currency: "USD", Cancelled: 1, CancelledAmount: 1000}) {
			t.Fatalf("USD %+v", usd)
		}

		// Duplicates only: the hooks run all the same, with nothing changed.
		rep = e.ingest("jsonl", hookLine("H3", "cancelled", "30", ""))
		if len(got) != 3 || len(got[2].Currencies) != 0 || got[2].FilingSeq != rep.FilingSeq {
			t.Fatalf("%+v", got[2])
		}

		// A stream chunk, in a service of its own with its own hook.
		svc := finance.New(e.db, e.reg, finance.Options{StreamChunkOrders: 2, StreamChunkDelay: time.Hour})
		var streamed []finance.Applied
		svc.OnApplied(func(tx *store.Tx, a finance.Applied) error {
			streamed = append(streamed, a)
			return nil
		})
		s := e.streamOn(t, svc)
		s.write(hookLine("S1", "paid", "7", "") + hookLine("S2", "paid", "8", ""))
		c := s.chunk()
		s.w.Close()
		s.end()
		if len(streamed) != 1 || streamed[0].Kind != "stream" || streamed[0].StreamID != s.rep.StreamID || streamed[0].BatchID != c.ID ||
			streamed[0].FilingSeq != c.FilingSeq || streamed[0].In("CNY") != (finance.AppliedCurrency{Currency: "CNY", Sales: 2, SalesAmount: 1500}) {
			t.Fatalf("%+v", streamed)
		}
	})
}

// A hook that fails rolls back the whole apply, with what the other hooks wrote:
// the batch leaves nothing, and a stream ends at the chunk.
func TestApplyHookErrorLeavesNothing(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var fail error
		e.svc.OnApplied(func(tx *store.Tx, a finance.Applied) error {
			// A hook writes and files in the apply's transaction …
			_, err := ledger.File(tx, e.operator, ledger.Change{Type: "test.hook_ran", Subjects: []string{a.BatchID}, Payload: a})
			return err
		})
		e.svc.OnApplied(func(tx *store.Tx, a finance.Applied) error { return fail })
		body := hookLine("F1", "paid", "10", "") + hookLine("F2", "delivered", "20", `,"settled_at":"2026-11-25T10:00:00+08:00"`)

		fail = dataport.Errorf("lending.repay", dataport.KindConflict, "no repayment account")
		_, err := e.svc.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "jsonl", strings.NewReader(body))
		is(t, err, dataport.KindConflict, "no repayment account")
		fail = errors.New("disk on fire")
		_, err = e.svc.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "jsonl", strings.NewReader(body))
		is(t, err, dataport.KindInternal, "disk on fire")
		if dataport.MessageOf(err) != "internal error" {
			t.Fatalf("an internal cause is not shown: %q", dataport.MessageOf(err))
		}

		svc := finance.New(e.db, e.reg, finance.Options{StreamChunkOrders: 2, StreamChunkDelay: time.Hour})
		svc.OnApplied(func(tx *store.Tx, a finance.Applied) error { return fail })
		s := e.streamOn(t, svc)
		s.write(body)
		s.end()
		s.w.Close()
		is(t, s.err, dataport.KindInternal, "disk on fire")
		if s.rep.Chunks != 0 {
			t.Fatalf("%+v", s.rep)
		}

		for _, table := range []string{"finance_orders", "finance_daily", "finance_receivables", "finance_batches", "finance_merchants"} {
			if n := e.count(`SELECT COUNT(*) FROM ` + table); n != 0 {
				t.Errorf("%s holds %d rows", table, n)
			}
		}
		for _, typ := range []string{"finance.batch_attested", "finance.stream_attested", "test.hook_ran"} {
			if att := e.attestations(typ); len(att) != 0 {
				t.Errorf("%s filed: %v", typ, att)
			}
		}
		fail = nil
		if rep := e.ingest("jsonl", body); rep.Inserted != 2 || len(e.attestations("test.hook_ran")) != 1 {
			t.Fatalf("%+v", rep.Batch)
		}
	})
}
