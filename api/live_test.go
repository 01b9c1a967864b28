package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// A live seller's ad-spend limit over the API: the operator sets the policy, the
// seller's live streams of paid orders raise the limit, and a stream carrying a
// burst of refunds lowers it in the transaction that applied the refunds — the
// limit's last change cites that chunk's attestation. Others see nothing.
func TestLiveLimitEndpoints(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		x := newFinanceExchange(t, engine)
		clock, srv, seller, other, path := x.clock, x.srv, x.merchant, x.other, x.path("")
		wantStatus(t, x.do("POST", path+"/shops", seller, map[string]any{"platform": "douyin", "external_id": "L1", "name": "优选直播间"}), http.StatusCreated)

		policy := map[string]any{"floor": 100_000, "cap": 2_000_000, "multiplier_bp": 20_000, "step": 10_000, "rise_per_minute_bp": 10_000}
		// Only the operator sets a policy; bad input is refused by field and changes nothing.
		wantProblem(t, x.do("PUT", path+"/live-limit/policy", seller, policy), http.StatusForbidden, "")
		filings := x.count("filings")
		wantProblem(t, x.do("PUT", path+"/live-limit/policy", x.operator, map[string]any{"floor": 500, "cap": 100, "multiplier_bp": 20_000}),
			http.StatusBadRequest, "cap")
		if x.count("filings") != filings {
			t.Fatal("a refused policy was filed")
		}
		wantStatus(t, x.do("PUT", path+"/live-limit/policy", x.operator, policy), http.StatusOK)

		line := func(id string, at time.Time, status, extra string) string {
			return fmt.Sprintf(`{"order_id":%q,"shop":"L1","ordered_at":%q,"amount":"100.00","currency":"CNY","status":%q%s}`+"\n",
				id, at.In(dataport.China).Format(time.RFC3339), status, extra)
		}
		// stream sends lines as one live stream and returns its chunks' reports.
		stream := func(lines string) []finance.BatchReport {
			t.Helper()
			req, _ := http.NewRequest("POST", srv.URL+path+"/stream", strings.NewReader(lines))
			req.Header.Set("Authorization", "Bearer "+seller)
			req.Header.Set("Content-Type", "application/x-ndjson")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var chunks []finance.BatchReport
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				var l streamLine
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Error != "" {
					t.Fatalf("stream answer %q: %v", sc.Text(), err)
				}
				if l.Chunk != nil {
					chunks = append(chunks, *l.Chunk)
				}
			}
			return chunks
		}
		limit := func(key string) finance.LiveLimit {
			t.Helper()
			r := x.do("GET", path+"/live-limit", key, nil)
			wantStatus(t, r, http.StatusOK)
			var l finance.LiveLimit
			if err := json.Unmarshal(r.body, &l); err != nil {
				t.Fatal(err)
			}
			return l
		}
		if l := limit(seller); l.Limit.Amount != 100_000 {
			t.Fatalf("before any order the limit is the floor: %+v", l.Limit)
		}

		// Ten paid orders every ten seconds for two minutes: the limit rises.
		for round := 1; round <= 12; round++ {
			clock.Advance(10 * time.Second)
			var b strings.Builder
			for i := range 10 {
				b.WriteString(line(fmt.Sprintf("P%02d-%d", round, i), clock.Now(), "paid", ""))
			}
			stream(b.String())
		}
		top := limit(seller)
		if top.Limit.Amount <= 100_000 || top.Limit.Amount > 2_000_000 {
			t.Fatalf("after two minutes of paid orders: %+v", top.Limit)
		}

		// A burst of refunds arrives: the limit falls in the chunk's own transaction.
		clock.Advance(10 * time.Second)
		at := clock.Now().In(dataport.China).Format(time.RFC3339)
		var burst strings.Builder
		for i := range 5 {
			burst.WriteString(line(fmt.Sprintf("P12-%d", i), clock.Now().Add(-10*time.Second), "refunded", `,"updated_at":"`+at+`"`))
		}
		chunks := stream(burst.String())
		if len(chunks) != 1 {
			t.Fatalf("refunds in %d chunks", len(chunks))
		}
		spike := limit(seller)
		ch := spike.LastChange
		if spike.Limit.Amount >= top.Limit.Amount || ch.Reason != finance.LiveReasonRefundSpike || ch.Previous != top.Limit ||
			ch.DataThrough != chunks[0].FilingSeq || ch.BatchID != chunks[0].ID {
			t.Fatalf("after the refunds %+v (was %+v), chunk %+v", spike, top.Limit, chunks[0].Batch)
		}
		r := x.do("GET", path+"/live-limit/history?limit=1", x.operator, nil)
		var page struct {
			Items []finance.LiveLimitChange `json:"items"`
			Next  int64                     `json:"next"`
		}
		json.Unmarshal(r.body, &page)
		if len(page.Items) != 1 || page.Items[0].FilingSeq != ch.FilingSeq || page.Next != ch.FilingSeq {
			t.Fatalf("history %s", r.body)
		}
		r = x.do("GET", fmt.Sprintf("%s/live-limit/history?before=%d", path, page.Next), seller, nil)
		json.Unmarshal(r.body, &page)
		if len(page.Items) < 2 || page.Items[0].FilingSeq >= ch.FilingSeq || page.Items[len(page.Items)-1].Reason != finance.LiveReasonPolicySet {
			t.Fatalf("older history %s", r.body)
		}
		// Another merchant sees nothing of it.
		wantProblem(t, x.do("GET", path+"/live-limit", other, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("GET", path+"/live-limit/history", other, nil), http.StatusNotFound, "")
	})
}
