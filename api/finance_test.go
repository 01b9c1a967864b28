package api_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// financeNow is the fixed clock of the finance tests: 17:00 on 25 November 2026 in
// China, so that the orders' days, "not in the future" and the feature windows
// do not move with the day the tests run.
var financeNow = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// maxTestBatch is the batch size limit of the test exchange, small enough to pass.
const maxTestBatch = 64 << 10

type financeExchange struct {
	*exchange
	merchantID, merchant string // a merchant and its key
	otherID, other       string // another merchant
	buyer                string // a buyer's key
	clock                *dataport.FixedClock
}

func newFinanceExchange(t *testing.T, engine store.Engine) *financeExchange {
	t.Helper()
	clock := dataport.NewFixedClock(financeNow)
	db := storetest.Open(t, engine, store.Options{Clock: clock})
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(context.Background(), registry.OperatorIdentity{
		LegalName: dataport.Bilingual{Zh: "测试数据交易所", En: "Test Data Exchange"}})
	if err != nil {
		t.Fatal(err)
	}
	fin := finance.New(db, reg, finance.Options{SpoolDir: t.TempDir(), MaxBatchBytes: maxTestBatch})
	srv := httptest.NewServer(api.NewServer(api.Deps{DB: db, Registry: reg, Finance: fin, Filings: ledger.NewReader(db), Version: "test"}))
	t.Cleanup(srv.Close)
	x := &financeExchange{exchange: &exchange{t: t, db: db, reg: reg, srv: srv, operator: token}, clock: clock}
	member := func(name, first17, role string) (string, string) {
		return x.createWithKey(map[string]any{"legal_name": map[string]any{"zh": name}, "jurisdiction": "CN", "kind": "domestic",
			"uscc": mustUSCC(first17), "roles": []string{role}})
	}
	x.merchantID, x.merchant = member("嘉兴冻品鲜生食品有限公司", "91330402MA2JD7F10", "merchant")
	x.otherID, x.other = member("义乌小商品电子商务有限公司", "91330782MA2EC4K31", "merchant")
	_, x.buyer = member("华东证券股份有限公司", "91310000132200821", "buyer")
	return x
}

func (x *financeExchange) path(suffix string) string {
	return "/api/v1/merchants/" + x.merchantID + suffix
}

// written counts what a finance request may write: shops, orders, batches, filings.
func (x *financeExchange) written() string {
	return fmt.Sprint(x.count("finance_shops"), x.count("finance_orders"), x.count("finance_batches"), x.count("filings"))
}

const orderHeader = "order_id,shop,ordered_at,amount,currency,status,refund_amount,complaint,rating,logistics,expected_settlement\n"

// The merchant connects a shop, sends a CSV batch with a malformed row (kept:
// the others; reported: the row by line and field), then JSON lines chosen by
// Content-Type, lists its batches and reads its features; bad formats, other
// participants and oversize batches are refused with problems and write nothing.
func TestFinanceEndpoints(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		x := newFinanceExchange(t, engine)

		// Shops.
		empty := x.written()
		wantProblem(t, x.do("POST", x.path("/shops"), x.merchant, map[string]any{"platform": "Tao Bao!", "external_id": "A100", "name": "冻品鲜生旗舰店"}),
			http.StatusBadRequest, "platform")
		if x.written() != empty {
			t.Fatal("a refused shop was written")
		}
		r := x.do("POST", x.path("/shops"), x.merchant, map[string]any{"platform": "taobao", "external_id": "A100", "name": "冻品鲜生旗舰店"})
		wantStatus(t, r, http.StatusCreated)
		shop := r.json(t)
		if !strings.HasPrefix(shop["id"].(string), "shp_") || shop["merchant_id"] != x.merchantID || shop["platform"] != "taobao" {
			t.Fatalf("shop %s", r.body)
		}
		wantProblem(t, x.do("POST", x.path("/shops"), x.merchant, map[string]any{"platform": "taobao", "external_id": "A100", "name": "again"}),
			http.StatusConflict, "")
		// The operator connects one for the merchant.
		wantStatus(t, x.do("POST", x.path("/shops"), x.operator, map[string]any{"platform": "jd", "external_id": "B200", "name": "冻品鲜生京东店"}),
			http.StatusCreated)
		r = x.do("GET", x.path("/shops"), x.merchant, nil)
		wantStatus(t, r, http.StatusOK)
		if items := r.json(t)["items"].([]any); len(items) != 2 || items[0].(map[string]any)["id"] != shop["id"] {
			t.Fatalf("shops %s", r.body)
		}

		// A CSV batch: line 3 has an amount with three decimals; the rest is kept.
		batch := orderHeader +
			"T1,taobao:A100,2026-11-20T10:00:00+08:00,12.30,CNY,delivered,,false,5,shipped@2026-11-20T18:00:00+08:00;delivered@2026-11-22T10:00:00+08:00,2026-12-05\n" +
			"T2,A100,2026-11-21T11:00:00+08:00,12.345,CNY,paid,,,,,\n" +
			"T3,A100,2026-11-24T09:00:00+08:00,99,CNY,paid,,,,,2026-12-06\n" +
			"B1,jd:B200,2026-11-23T09:30:00+08:00,20.00,CNY,shipped,,,,,\n"
		r = x.upload("POST", x.path("/batches?format=csv"), x.merchant, "text/csv", []byte(batch))
		wantStatus(t, r, http.StatusCreated)
		var rep finance.BatchReport
		if err := json.Unmarshal(r.body, &rep); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(rep.ID, "bat_") || rep.Format != "csv" || rep.Rows != 4 || rep.Accepted != 3 || rep.Inserted != 3 || rep.Rejected != 1 ||
			rep.Bytes != int64(len(batch)) || rep.SHA256 != sha256hex([]byte(batch)) || rep.FilingSeq == 0 {
			t.Fatalf("report %s", r.body)
		}
		if len(rep.Problems) != 1 || rep.Problems[0].Line != 3 || rep.Problems[0].Field != "amount" || rep.Problems[0].OrderID != "T2" {
			t.Fatalf("problems %+v", rep.Problems)
		}
		if n := x.count("finance_orders"); n != 3 {
			t.Fatalf("%d orders stored, want 3", n)
		}

		// Formats: unknown, missing, contradicted: 400 naming the query's format, nothing written.
		before := x.written()
		jsonl := `{"order_id":"J1","shop":"A100","ordered_at":"2026-11-24T12:00:00+08:00","amount":"30.00","currency":"CNY","status":"paid"}` + "\n"
		wantProblem(t, x.upload("POST", x.path("/batches?format=xml"), x.merchant, "application/xml", []byte("<orders/>")), http.StatusBadRequest, "query.format")
		p := wantProblem(t, x.upload("POST", x.path("/batches"), x.merchant, "application/octet-stream", []byte(jsonl)), http.StatusBadRequest, "query.format")
		if !strings.Contains(p["detail"].(string), "text/csv") {
			t.Fatalf("the problem does not say how to name the format: %v", p["detail"])
		}
		wantProblem(t, x.upload("POST", x.path("/batches?format=csv"), x.merchant, "application/x-ndjson", []byte(jsonl)), http.StatusBadRequest, "query.format")
		// Larger than the exchange takes: 413, nothing written.
		big := orderHeader + strings.Repeat("T1,taobao:A100,2026-11-20T10:00:00+08:00,12.30,CNY,delivered,,,,,\n", maxTestBatch/60)
		wantProblem(t, x.upload("POST", x.path("/batches?format=csv"), x.merchant, "text/csv", []byte(big)), http.StatusRequestEntityTooLarge, "")
		if x.written() != before {
			t.Fatalf("refused batches wrote: %s, was %s", x.written(), before)
		}

		// JSON lines, the format said by Content-Type alone.
		r = x.upload("POST", x.path("/batches"), x.merchant, "application/x-ndjson; charset=utf-8", []byte(jsonl))
		wantStatus(t, r, http.StatusCreated)
		var second finance.BatchReport
		json.Unmarshal(r.body, &second)
		if second.Format != "jsonl" || second.Inserted != 1 || len(second.Problems) != 0 {
			t.Fatalf("JSON-lines batch %s", r.body)
		}

		// Batches, newest first, paged.
		r = x.do("GET", x.path("/batches?limit=1"), x.merchant, nil)
		wantStatus(t, r, http.StatusOK)
		var page struct {
			Items []finance.Batch `json:"items"`
			Next  string          `json:"next"`
		}
		json.Unmarshal(r.body, &page)
		if len(page.Items) != 1 || page.Items[0].ID != second.ID || page.Next != second.ID {
			t.Fatalf("first page %s", r.body)
		}
		r = x.do("GET", x.path("/batches?limit=1&before="+page.Next), x.merchant, nil)
		json.Unmarshal(r.body, &page)
		if len(page.Items) != 1 || page.Items[0].ID != rep.ID || page.Items[0].SHA256 != rep.SHA256 || page.Items[0].Rejected != 1 {
			t.Fatalf("second page %s", r.body)
		}

		// Features: as of now (the exchange's clock) by default, or as of a moment.
		r = x.do("GET", x.path("/features"), x.merchant, nil)
		wantStatus(t, r, http.StatusOK)
		var fs finance.FeatureSet
		json.Unmarshal(r.body, &fs)
		w7 := fs.Merchant.Windows[0]
		if fs.Day != "2026-11-25" || fs.DataThrough != second.FilingSeq || fs.Batches != 2 || len(fs.Shops) != 2 ||
			w7.Days != 7 || w7.Orders != 4 || len(w7.Sales) != 1 || w7.Sales[0].Currency != "CNY" || w7.Sales[0].Amount != 1230+9900+2000+3000 {
			t.Fatalf("features %s", r.body)
		}
		// As of the 22nd, the orders of the 23rd and 24th are not yet placed.
		r = x.do("GET", x.path("/features?as_of=2026-11-22T23:00:00%2B08:00"), x.operator, nil)
		wantStatus(t, r, http.StatusOK)
		json.Unmarshal(r.body, &fs)
		if w7 := fs.Merchant.Windows[0]; fs.Day != "2026-11-22" || w7.Orders != 1 || w7.Sales[0].Amount != 1230 {
			t.Fatalf("features as of the 22nd %s", r.body)
		}
		wantProblem(t, x.do("GET", x.path("/features?as_of=yesterday"), x.merchant, nil), http.StatusBadRequest, "query.as_of")

		// Day by day over the shops: the same four orders of the week, summed.
		r = x.do("GET", x.path("/daily?days=7"), x.merchant, nil)
		wantStatus(t, r, http.StatusOK)
		var daily finance.Daily
		json.Unmarshal(r.body, &daily)
		var orders, sales int64
		for _, d := range daily.Days {
			orders, sales = orders+d.Orders, sales+d.Sales
		}
		if daily.From != "2026-11-19" || daily.To != "2026-11-25" || orders != 4 || sales != 1230+9900+2000+3000 {
			t.Fatalf("daily %s", r.body)
		}
		wantProblem(t, x.do("GET", x.path("/daily?days=400"), x.merchant, nil), http.StatusBadRequest, "query.days")

		// To another merchant, or a buyer, this merchant does not exist.
		before = x.written()
		for _, key := range []string{x.other, x.buyer} {
			wantProblem(t, x.do("GET", x.path("/shops"), key, nil), http.StatusNotFound, "")
			wantProblem(t, x.do("POST", x.path("/shops"), key, map[string]any{"platform": "pdd", "external_id": "X", "name": "X"}), http.StatusNotFound, "")
			wantProblem(t, x.upload("POST", x.path("/batches?format=jsonl"), key, "application/x-ndjson", []byte(jsonl)), http.StatusNotFound, "")
			wantProblem(t, x.do("GET", x.path("/batches"), key, nil), http.StatusNotFound, "")
			wantProblem(t, x.do("GET", x.path("/features"), key, nil), http.StatusNotFound, "")
			wantProblem(t, x.do("GET", x.path("/daily"), key, nil), http.StatusNotFound, "")
		}
		wantProblem(t, x.do("GET", x.path("/features"), "", nil), http.StatusUnauthorized, "")
		// A merchant without shops has nothing to send orders for.
		wantProblem(t, x.upload("POST", "/api/v1/merchants/"+x.otherID+"/batches?format=jsonl", x.other, "application/x-ndjson", []byte(jsonl)), http.StatusConflict, "")
		if x.written() != before {
			t.Fatal("refused requests wrote")
		}

		// A suspended merchant's changes are refused, and so are the operator's for
		// it; both still read its data (a suspension stops changes, not the view).
		wantStatus(t, x.do("POST", "/api/v1/participants/"+x.merchantID+"/suspend", x.operator, map[string]any{"reason": "orders fabricated"}), http.StatusOK)
		before = x.written()
		wantProblem(t, x.upload("POST", x.path("/batches?format=jsonl"), x.merchant, "application/x-ndjson", []byte(jsonl)), http.StatusForbidden, "")
		wantProblem(t, x.upload("POST", x.path("/stream"), x.merchant, "application/x-ndjson", []byte(jsonl)), http.StatusForbidden, "") // before the stream opens
		m := wantProblem(t, x.upload("POST", x.path("/batches?format=jsonl"), x.operator, "application/x-ndjson", []byte(jsonl)), http.StatusForbidden, "")
		if !strings.Contains(m["detail"].(string), "suspended") {
			t.Fatalf("403 does not say why: %v", m["detail"])
		}
		for _, key := range []string{x.merchant, x.operator} {
			wantStatus(t, x.do("GET", x.path("/features"), key, nil), http.StatusOK)
		}
		if x.written() != before {
			t.Fatal("refused requests of a suspended merchant wrote")
		}
	})
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// streamLine is one line of the answer to a live stream.
type streamLine struct {
	Chunk  *finance.BatchReport  `json:"chunk"`
	Report *finance.StreamReport `json:"report"`
	Error  string                `json:"error"`
}

// A live stream is answered on the same connection while it is still being sent:
// each line written is applied, attested and reported back before the request's
// body ends, the features count it by then, and closing the body brings the
// stream's report.
func TestFinanceStreamIsFullDuplex(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		x := newFinanceExchange(t, engine)
		wantStatus(t, x.do("POST", x.path("/shops"), x.merchant, map[string]any{"platform": "taobao", "external_id": "A100", "name": "冻品鲜生旗舰店"}),
			http.StatusCreated)
		// Refused before the stream opens: a problem, not a 200.
		wantProblem(t, x.send("POST", x.path("/stream"), x.other, "application/x-ndjson", strings.NewReader("")), http.StatusNotFound, "")
		wantProblem(t, x.send("POST", "/api/v1/merchants/"+x.otherID+"/stream", x.other, "application/x-ndjson", strings.NewReader("")), http.StatusConflict, "")

		body, sender := io.Pipe()
		defer sender.Close()
		req, _ := http.NewRequest("POST", x.srv.URL+x.path("/stream"), body)
		req.Header.Set("Authorization", "Bearer "+x.merchant)
		req.Header.Set("Content-Type", "application/x-ndjson")
		// The exchange answers at once: the stream is open. (Without full duplex,
		// Go's server would first read the body to its end, which never comes.)
		type answered struct {
			res *http.Response
			err error
		}
		opened := make(chan answered, 1)
		go func() {
			res, err := http.DefaultClient.Do(req)
			opened <- answered{res, err}
		}()
		var res *http.Response
		select {
		case a := <-opened:
			if a.err != nil {
				t.Fatal(a.err)
			}
			res = a.res
		case <-time.After(30 * time.Second): // a guard against hanging, not a measure
			t.Fatal("the stream was not answered while its body is open")
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("stream opened with %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		answer := bufio.NewReader(res.Body)
		var sent strings.Builder
		write := func(s string) {
			t.Helper()
			sent.WriteString(s)
			if _, err := io.WriteString(sender, s); err != nil {
				t.Fatal(err)
			}
		}
		next := func() streamLine {
			t.Helper()
			got := make(chan streamLine, 1)
			go func() {
				var l streamLine
				b, err := answer.ReadBytes('\n')
				if err == nil {
					err = json.Unmarshal(b, &l)
				}
				if err != nil {
					l.Error = fmt.Sprintf("reading the answer: %v (%q)", err, b)
				}
				got <- l
			}()
			select {
			case l := <-got:
				return l
			case <-time.After(30 * time.Second): // a guard against hanging, not a measure
				t.Fatal("no line in the answer while the stream is open")
				return streamLine{}
			}
		}
		order := func(id, at string) string {
			return fmt.Sprintf(`{"order_id":%q,"shop":"A100","ordered_at":%q,"amount":"10.00","currency":"CNY","status":"paid"}`+"\n", id, at)
		}

		write(order("S1", "2026-11-24T10:00:00+08:00"))
		l := next()
		if l.Chunk == nil || l.Chunk.Seq != 1 || l.Chunk.Kind != "stream" || l.Chunk.Inserted != 1 || l.Chunk.StreamSHA256 != sha256hex([]byte(sent.String())) {
			t.Fatalf("first chunk %+v (%s)", l.Chunk, l.Error)
		}
		// Applied while the stream is still open: the features count it.
		r := x.do("GET", x.path("/features"), x.merchant, nil)
		var fs finance.FeatureSet
		json.Unmarshal(r.body, &fs)
		if fs.Merchant.Windows[0].Orders != 1 || fs.DataThrough != l.Chunk.FilingSeq {
			t.Fatalf("features while the stream is open: %s", r.body)
		}

		write("\n") // a blank line keeps the stream open; it is no row
		write(`{"order_id":"S2","shop":"A100","ordered_at":"2026-11-24T10:00:00+08:00","amount":"ten","currency":"CNY","status":"paid"}` + "\n")
		write(order("S3", "2026-11-24T11:00:00+08:00"))
		var rows, rejected int64
		var problems []finance.RowProblem
		chunks := 1
		for rows < 2 {
			l = next()
			if l.Chunk == nil {
				t.Fatalf("want a chunk, got %+v (%s)", l.Report, l.Error)
			}
			chunks++
			rows, rejected, problems = rows+l.Chunk.Rows, rejected+l.Chunk.Rejected, append(problems, l.Chunk.Problems...)
		}
		if rejected != 1 || len(problems) != 1 || problems[0].Line != 3 || problems[0].Field != "amount" {
			t.Fatalf("rejected %d: %+v", rejected, problems)
		}

		sender.Close()
		l = next()
		if l.Report == nil || l.Error != "" {
			t.Fatalf("the stream ended without its report: %+v", l)
		}
		if rp := l.Report; rp.Chunks != int64(chunks) || rp.Rows != 3 || rp.Accepted != 2 || rp.Rejected != 1 ||
			rp.Bytes != int64(sent.Len()) || rp.SHA256 != sha256hex([]byte(sent.String())) {
			t.Fatalf("stream report %+v, sent %d bytes", rp, sent.Len())
		}
		if rest, _ := io.ReadAll(answer); len(rest) != 0 {
			t.Fatalf("after the report: %q", rest)
		}
		r = x.do("GET", x.path("/batches"), x.merchant, nil)
		var page struct {
			Items []finance.Batch `json:"items"`
		}
		json.Unmarshal(r.body, &page)
		if len(page.Items) != chunks || page.Items[0].StreamID != l.Report.StreamID {
			t.Fatalf("the stream's chunks are not listed as attested batches: %s", r.body)
		}
	})
}
