package finance_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// now is the fixed clock of every test: 17:00 on 25 November 2026 in China.
var now = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

type env struct {
	t        testing.TB
	db       *store.DB
	clock    *dataport.FixedClock
	reg      *registry.Service
	svc      *finance.Service
	operator dataport.Actor
	merchant dataport.Actor
	buyer    dataport.Actor
	shopA    finance.Shop // taobao:A100
	shopB    finance.Shop // jd:B200
	failNext *bool
}

func setup(t testing.TB, engine store.Engine) *env {
	t.Helper()
	fail := false
	clock := dataport.NewFixedClock(now)
	db := storetest.Open(t, engine, store.Options{Clock: clock, BeforeCommit: func(context.Context) error {
		if fail {
			fail = false
			return errors.New("injected failure after the work, before the commit")
		}
		return nil
	}})
	e := build(t, db)
	e.clock, e.failNext = clock, &fail
	return e
}

// build makes the test exchange on db: an operator, a merchant with two shops and
// a buyer.
func build(t testing.TB, db *store.DB) *env {
	t.Helper()
	ctx := context.Background()
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试数据交易所"}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, reg: reg, svc: finance.New(db, reg, finance.Options{SpoolDir: t.TempDir()})}
	if e.operator, err = reg.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	member := func(name, first17 string, role dataport.Role) dataport.Actor {
		code, err := registry.CompleteUSCC(first17)
		if err != nil {
			t.Fatal(err)
		}
		p, err := reg.CreateParticipant(ctx, e.operator, registry.NewParticipant{LegalName: dataport.Bilingual{Zh: name},
			Jurisdiction: "CN", Kind: registry.Domestic, USCC: code, Roles: []dataport.Role{role}})
		if err != nil {
			t.Fatal(err)
		}
		return dataport.Actor{ParticipantID: p.ID, Roles: []dataport.Role{role}}
	}
	e.merchant = member("嘉兴冻品鲜生食品有限公司", "91330402MA2JD7F10", dataport.RoleMerchant)
	e.buyer = member("华东证券股份有限公司", "91310000132200821", dataport.RoleBuyer)
	e.shopA = e.connect(finance.NewShop{Platform: "taobao", ExternalID: "A100", Name: "冻品鲜生旗舰店"})
	e.shopB = e.connect(finance.NewShop{Platform: "jd", ExternalID: "B200", Name: "冻品鲜生京东店"})
	return e
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) { fn(t, setup(t, engine)) })
}

func (e *env) connect(n finance.NewShop) finance.Shop {
	e.t.Helper()
	sh, err := e.svc.ConnectShop(context.Background(), e.merchant, e.merchant.ParticipantID, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return sh
}

func (e *env) ingest(format, body string) finance.BatchReport {
	e.t.Helper()
	rep, err := e.svc.IngestBatch(context.Background(), e.merchant, e.merchant.ParticipantID, format, strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("ingest: %v", err)
	}
	return rep
}

func (e *env) count(query string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.db.Read(context.Background(), func(tx *store.Tx) error { return tx.QueryRow(query, args...).Scan(&n) }); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// attestations returns the payloads of the filings of type typ.
func (e *env) attestations(typ string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	err := e.db.Read(context.Background(), func(tx *store.Tx) error {
		fs, err := ledger.List(tx, ledger.Filter{Type: typ, Limit: 1000})
		for _, f := range fs {
			var p map[string]any
			if err := json.Unmarshal(f.Payload, &p); err != nil {
				return err
			}
			p["_seq"] = float64(f.Seq)
			p["_subjects"] = f.Subjects
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) features(asOf time.Time) finance.FeatureSet {
	e.t.Helper()
	fs, err := e.svc.Features(context.Background(), e.merchant, e.merchant.ParticipantID, asOf)
	if err != nil {
		e.t.Fatal(err)
	}
	return fs
}

func is(t testing.TB, err error, k dataport.Kind, says string) {
	t.Helper()
	if err == nil || dataport.KindOf(err) != k || !strings.Contains(err.Error(), says) {
		t.Fatalf("err = %v, want %s saying %q", err, k, says)
	}
}

func sum(b string) string {
	h := sha256.Sum256([]byte(b))
	return hex.EncodeToString(h[:])
}

const header = "order_id,shop,ordered_at,amount,currency,status,refund_amount,complaint,rating,logistics,expected_settlement\n"

// A batch with good rows, bad rows and a duplicate keeps the good rows, lists the
// bad ones by line and field, and files the SHA-256 of exactly its bytes. Sent
// again, it changes nothing and is attested again.
func TestBatchKeepsGoodRowsAndAttests(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		body := header +
			"T1,taobao:A100,2026-11-20T10:00:00+08:00,12.30,CNY,delivered,,false,5,shipped@2026-11-20T18:00:00+08:00;delivered@2026-11-22T10:00:00+08:00,2026-12-05\n" + // 2
			"T2,A100,2026-11-21T11:00:00+08:00,99,CNY,paid,,,,,2026-12-06\n" + // 3
			"T3,A100,2026-11-21T12:00:00+08:00,12.345,CNY,paid,,,,,\n" + // 4: three decimals
			"T4,A100,2026-11-21T12:00:00+08:00,10.00,XYZ,paid,,,,,\n" + // 5: no such currency
			"T5,A100,2026-11-26T12:00:00+08:00,10.00,CNY,paid,,,,,\n" + // 6: tomorrow
			",A100,2026-11-21T12:00:00+08:00,10.00,CNY,paid,,,,,\n" + // 7: no id
			"T7,A100,2026-11-21T12:00:00+08:00,10.00,CNY,lost,,,,,\n" + // 8: no such status
			"T1,taobao:A100,2026-11-20T10:00:00+08:00,12.30,CNY,delivered,,false,5,shipped@2026-11-20T18:00:00+08:00;delivered@2026-11-22T10:00:00+08:00,2026-12-05\n" + // 9: duplicate of line 2
			"T8,A100,2026-11-21\n" + // 10: too few fields
			"\"B1\",B200,2026-11-22T09:30:00Z,\"1,000.00\",USD,shipped,,,,,\n" + // 11: a thousands separator
			"B2,jd:B200,2026-11-22T09:30:00Z,1000.5,USD,refunded,,true,2,,\n" + // 12
			"B3,nowhere,2026-11-22T09:30:00Z,1,USD,paid,,,,,\n" + // 13: no such shop
			"B4,B200,2026-11-22T09:30:00,1,USD,paid,,,,,\n" // 14: no zone
		rep := e.ingest("csv", body)
		if rep.SHA256 != sum(body) || rep.Bytes != int64(len(body)) {
			t.Fatalf("sha256 %s, %d bytes; sent %s, %d", rep.SHA256, rep.Bytes, sum(body), len(body))
		}
		if rep.Rows != 13 || rep.Accepted != 4 || rep.Inserted != 3 || rep.Duplicates != 1 || rep.Updated != 0 || rep.Rejected != 9 {
			t.Fatalf("report %+v", rep.Batch)
		}
		want := []struct {
			line  int64
			field string
			says  string
		}{
			{4, "amount", "CNY has 2 decimals at most"},
			{5, "currency", `"XYZ" is not an ISO 4217 currency`},
			{6, "ordered_at", "in the future"},
			{7, "order_id", "missing"},
			{8, "status", `"lost" is not one of`},
			{10, "", "has 3 fields; the header has 11"},
			{11, "amount", "a decimal amount"},
			{13, "shop", `no shop "nowhere"`},
			{14, "ordered_at", "RFC 3339"},
		}
		if len(rep.Problems) != len(want) {
			t.Fatalf("problems %+v", rep.Problems)
		}
		for i, w := range want {
			p := rep.Problems[i]
			if p.Line != w.line || p.Field != w.field || !strings.Contains(p.Reason, w.says) {
				t.Errorf("problem %d = %+v, want line %d, %s: %s", i, p, w.line, w.field, w.says)
			}
		}
		if got := e.count(`SELECT COUNT(*) FROM finance_orders`); got != 3 {
			t.Fatalf("%d orders stored", got)
		}
		var refund int64
		e.db.Read(context.Background(), func(tx *store.Tx) error {
			return tx.QueryRow(`SELECT refund_amount FROM finance_orders WHERE order_id = 'B2'`).Scan(&refund)
		})
		if refund != 100050 {
			t.Fatalf("a refunded order without a refund amount is refunded in full: %d", refund)
		}
		att := e.attestations("finance.batch_attested")
		if len(att) != 1 || att[0]["sha256"] != sum(body) || att[0]["batch_id"] != rep.ID || att[0]["bytes"] != float64(len(body)) ||
			att[0]["accepted"] != float64(4) || att[0]["rejected"] != float64(9) || att[0]["merchant_id"] != e.merchant.ParticipantID ||
			att[0]["first_order_at"] != "2026-11-20T02:00:00.000000Z" || att[0]["last_order_at"] != "2026-11-22T09:30:00.000000Z" ||
			int64(att[0]["_seq"].(float64)) != rep.FilingSeq {
			t.Fatalf("attestation %v, report %+v", att, rep.Batch)
		}
		before := e.features(now)

		again := e.ingest("csv", body)
		if again.SHA256 != rep.SHA256 || again.ID == rep.ID || again.Inserted != 0 || again.Duplicates != 4 || again.Updated != 0 || again.Rejected != 9 {
			t.Fatalf("sent again: %+v", again.Batch)
		}
		if got := e.count(`SELECT COUNT(*) FROM finance_orders`); got != 3 {
			t.Fatalf("%d orders stored", got)
		}
		after := e.features(now)
		if after.DataThrough != again.FilingSeq || after.Batches != 2 || before.Batches != 1 {
			t.Fatalf("data through %d (batches %d), want %d", after.DataThrough, after.Batches, again.FilingSeq)
		}
		before.DataThrough, before.Batches, after.DataThrough, after.Batches = 0, 0, 0, 0
		if b, a := mustJSON(before), mustJSON(after); b != a {
			t.Fatalf("features moved:\n%s\n%s", b, a)
		}
		if att := e.attestations("finance.batch_attested"); len(att) != 2 || att[1]["sha256"] != sum(body) {
			t.Fatalf("attestations %v", att)
		}
		list, err := e.svc.Batches(context.Background(), e.merchant, e.merchant.ParticipantID, "", 0)
		if err != nil || len(list) != 2 || list[0].ID != again.ID || list[1].ID != rep.ID || list[1].SHA256 != sum(body) || list[1].Rejected != 9 {
			t.Fatalf("batches %+v, %v", list, err)
		}
	})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// A batch that fails — it breaks off, the header is wrong, it is empty or too
// large, or the transaction fails at the last moment — leaves nothing: no order,
// no aggregate, no batch, no attestation.
func TestFailedBatchLeavesNothing(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var b strings.Builder
		b.WriteString(header)
		for i := range 500 {
			fmt.Fprintf(&b, "X%d,A100,2026-11-20T10:00:00+08:00,1.00,CNY,paid,,,,,2026-12-05\n", i)
		}
		body := b.String()
		broken := &breaking{r: strings.NewReader(body[:len(body)/2])}
		_, err := e.svc.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "csv", broken)
		is(t, err, dataport.KindInvalid, "broke off")
		if !errors.Is(err, errReset) {
			t.Fatalf("the cause is kept: %v", err)
		}

		_, err = e.svc.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "csv", strings.NewReader("order_id,shop,amount,colour\n1,A100,1,red\n"))
		is(t, err, dataport.KindInvalid, "unknown column \"colour\"")
		if f := dataport.FieldsOf(err); len(f) != 4 || !strings.Contains(f[1].Message, "no ordered_at column") {
			t.Fatalf("fields %+v", f)
		}
		_, err = e.svc.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "csv", strings.NewReader(""))
		is(t, err, dataport.KindInvalid, "empty")
		_, err = e.svc.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "csv", strings.NewReader(header))
		is(t, err, dataport.KindInvalid, "no orders")
		_, err = e.svc.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "xml", strings.NewReader(body))
		is(t, err, dataport.KindInvalid, "invalid input")
		_, err = e.svc.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "csv", strings.NewReader(header+"\"X1,A100"+strings.Repeat("x", 80<<10)+"\n"))
		is(t, err, dataport.KindInvalid, "longer than 64 KiB")

		small := finance.New(e.db, e.reg, finance.Options{SpoolDir: t.TempDir(), MaxBatchOrders: 100, MaxBatchBytes: 1 << 20})
		_, err = small.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "csv", strings.NewReader(body))
		is(t, err, dataport.KindTooLarge, "more than 100 rows")
		_, err = small.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "jsonl", strings.NewReader(strings.Repeat(" \n", 600<<10)))
		is(t, err, dataport.KindTooLarge, "larger than 1048576 bytes")

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, err = e.svc.IngestBatch(cancelled, e.merchant, e.merchant.ParticipantID, "csv", strings.NewReader(body))
		is(t, err, dataport.KindUnavailable, "")

		*e.failNext = true
		_, err = e.svc.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "csv", strings.NewReader(body))
		is(t, err, dataport.KindInternal, "injected failure")

		for _, table := range []string{"finance_orders", "finance_daily", "finance_receivables", "finance_batches", "finance_merchants"} {
			if n := e.count(`SELECT COUNT(*) FROM ` + table); n != 0 {
				t.Errorf("%s holds %d rows", table, n)
			}
		}
		if att := e.attestations("finance.batch_attested"); len(att) != 0 {
			t.Fatalf("attested: %v", att)
		}
		// And the same batch whole goes in.
		if rep := e.ingest("csv", body); rep.Inserted != 500 || rep.SHA256 != sum(body) {
			t.Fatalf("%+v", rep.Batch)
		}
	})
}

var errReset = errors.New("connection reset by peer")

// breaking yields its content and then fails, as a dropped connection does.
type breaking struct{ r io.Reader }

func (b *breaking) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, errReset
	}
	return n, err
}

// JSON lines: numbers are read by their digits, logistics as an array, and a line
// that is not an object of order fields is one rejected row.
func TestJSONLines(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		body := `{"order_id": 9001, "shop": "A100", "ordered_at": "2026-11-24T08:00:00+08:00", "amount": 12.30, "currency": "CNY", "status": "delivered", "rating": 4, "complaint": true, "logistics": [{"event": "shipped", "at": "2026-11-24T09:00:00+08:00", "carrier": "SF"}, {"event": "delivered", "at": "2026-11-25T09:00:00+08:00"}], "expected_settlement": "2026-12-08"}` + "\n" +
			"\n" + // blank: no row
			`{"order_id": "9002", "shop": "A100", "ordered_at": "2026-11-24T08:00:00+08:00", "amount_minor": 500, "currency": "JPY", "status": "paid"}` + "\r\n" +
			`{"order_id": "9003", "shop": "A100", "ordered_at": "2026-11-24T08:00:00+08:00", "amount": "5.5", "currency": "JPY", "status": "paid"}` + "\n" +
			`{"order_id": "9004", "shop": "A100", "ordered_at": "2026-11-24T08:00:00+08:00", "amount": "5", "currency": "CNY", "status": "paid", "colour": "red"}` + "\n" +
			`[1, 2]` + "\n" +
			`{"order_id": "9005", "shop": "A100", "ordered_at": "2026-11-24T08:00:00+08:00", "amount": 1e3, "currency": "CNY", "status": "paid"}` + "\n" +
			`{"order_id": "9006", "shop": "A100", "ordered_at": "2026-11-24T08:00:00+08:00", "amount": "5", "currency": "CNY", "status": "paid", "logistics": "shipped@2026-11-23T08:00:00+08:00"}` + "\n" +
			`{"order_id": "9007", "shop": "A100", "ordered_at": "2026-11-24T08:00:00+08:00", "amount": "5", "amount_minor": 500, "currency": "CNY", "status": "paid"}` + "\n" +
			`{"order_id": "9008", "shop": "A100", "ordered_at": "2026-11-24T08:00:00+08:00", "amount": "5", "refund_amount": "6", "currency": "CNY", "status": "paid", "rating": 6}` + "\n" +
			`{"order_id": "` + strings.Repeat("x", 70<<10) + `"}` + "\n" +
			`{"order_id": "9010", "shop": "A100", "ordered_at": "2026-11-24T08:00:00+08:00", "amount": "1.234", "currency": "KWD", "status": "paid"}` + "\n" +
			`{"order_id": "9011", "shop": ["A100"]}` + "\n" +
			`{"order_id": "9012", "shop": "A100"` + "\n" +
			`{"order_id": "9013", "sh\u006fp": "A100", "ordered_at": "2026-11-24T08:00:00+08:00", "amount": "1", "currency": "CNY", "status": "paid", "logistics": "[{\"event\": \"shipped\", \"at\": \"2026-11-24T09:00:00+08:00\"}]"}` + "\n"
		rep := e.ingest("jsonl", body)
		if rep.Rows != 14 || rep.Inserted != 4 || rep.Rejected != 10 || rep.SHA256 != sum(body) {
			t.Fatalf("report %+v %+v", rep.Batch, rep.Problems)
		}
		want := []struct {
			line  int64
			field string
			says  string
		}{
			{4, "amount", "JPY has no minor unit"},
			{5, "", `unknown field "colour"`},
			{6, "", "not a JSON object"},
			{7, "amount", "a decimal amount"},
			{8, "logistics", "shipped before the order"},
			{9, "amount", "not both"},
			{10, "refund_amount", "more than the order's amount"},
			{10, "rating", "from 1 to 5"},
			{11, "", "longer than 64 KiB"},
			{13, "shop", "a string, a number, true or false"},
			{14, "", "not valid JSON"},
		}
		if len(rep.Problems) != len(want) {
			t.Fatalf("problems %+v", rep.Problems)
		}
		for i, w := range want {
			p := rep.Problems[i]
			if p.Line != w.line || p.Field != w.field || !strings.Contains(p.Reason, w.says) {
				t.Errorf("problem %d = %+v, want line %d, %s: %s", i, p, w.line, w.field, w.says)
			}
		}
		var amount, rating, complaint int64
		var shipped, delivered, currency string
		e.db.Read(context.Background(), func(tx *store.Tx) error {
			return tx.QueryRow(`SELECT amount, rating, complaint, shipped_at, delivered_at FROM finance_orders WHERE order_id = '9001'`).
				Scan(&amount, &rating, &complaint, &shipped, &delivered)
		})
		if amount != 1230 || rating != 4 || complaint != 1 || shipped != "2026-11-24T01:00:00.000000Z" || delivered != "2026-11-25T01:00:00.000000Z" {
			t.Fatalf("9001: %d %d %d %s %s", amount, rating, complaint, shipped, delivered)
		}
		e.db.Read(context.Background(), func(tx *store.Tx) error {
			return tx.QueryRow(`SELECT amount, currency FROM finance_orders WHERE order_id = '9010'`).Scan(&amount, &currency)
		})
		if amount != 1234 || currency != "KWD" {
			t.Fatalf("9010: %d %s", amount, currency)
		}
		e.db.Read(context.Background(), func(tx *store.Tx) error {
			return tx.QueryRow(`SELECT shipped_at FROM finance_orders WHERE order_id = '9013'`).Scan(&shipped)
		})
		if shipped != "2026-11-24T01:00:00.000000Z" {
			t.Fatalf("9013: an escaped name, logistics as a string of JSON: %q", shipped)
		}
	})
}

// An order sent again with newer data updates it and moves the aggregates; with
// older data it is stale and changes nothing.
func TestOrderLifecycle(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		row := func(id, status, extra string) string {
			return fmt.Sprintf(`{"order_id":%q,"shop":"A100","ordered_at":"2026-11-24T10:00:00+08:00","amount":"100","currency":"CNY","status":%q,"expected_settlement":"2026-12-05"%s}`+"\n", id, status, extra)
		}
		rep := e.ingest("jsonl", row("L1", "paid", "")+row("L2", "paid", `,"updated_at":"2026-11-24T10:00:00+08:00"`))
		if rep.Inserted != 2 {
			t.Fatalf("%+v", rep.Batch)
		}
		w := e.features(now).Merchant.Windows[0]
		if w.Orders != 2 || w.Sales[0].Amount != 20000 || w.Returns != 0 {
			t.Fatalf("window %+v", w)
		}
		if r := e.features(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)).Merchant.Receivables; len(r) != 1 || r[0].Amount != 20000 || r[0].Orders != 2 {
			t.Fatalf("receivables due 2026-12-05, 9 days after 26 November: %+v", r)
		}
		// L1 goes on to delivered and then is returned, within one batch; L2 is
		// sent with an older version and a later status: its version decides.
		rep = e.ingest("jsonl", row("L1", "delivered", `,"rating":2`)+row("L1", "returned", `,"rating":2,"refund_amount":"100","complaint":true`)+
			row("L2", "delivered", `,"updated_at":"2026-11-24T09:00:00+08:00"`))
		if rep.Updated != 2 || rep.Stale != 1 || rep.Accepted != 3 {
			t.Fatalf("%+v", rep.Batch)
		}
		w = e.features(now).Merchant.Windows[0]
		if w.Orders != 2 || w.Returns != 1 || w.Refunds != 1 || w.Complaints != 1 || w.Ratings != 1 || w.Sales[0].Refunded != 10000 || w.Sales[0].Net != 10000 {
			t.Fatalf("window %+v %+v", w, w.Sales)
		}
		if r := e.features(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)).Merchant.Receivables; len(r) != 1 || r[0].Amount != 10000 || r[0].Orders != 1 {
			t.Fatalf("a returned order is owed nothing: %+v", r)
		}
		// Back to paid: stale. Cancelled: the end.
		rep = e.ingest("jsonl", row("L1", "paid", "")+row("L2", "cancelled", `,"updated_at":"2026-11-24T12:00:00+08:00"`))
		if rep.Stale != 1 || rep.Updated != 1 {
			t.Fatalf("%+v", rep.Batch)
		}
		w = e.features(now).Merchant.Windows[0]
		if w.Orders != 1 || w.Cancelled != 1 || *w.CancelRate != 0.5 || w.Sales[0].Amount != 10000 {
			t.Fatalf("window %+v", w)
		}
		if r := e.features(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)).Merchant.Receivables; len(r) != 0 {
			t.Fatalf("receivables %+v", r)
		}
		var batch string
		var line int64
		e.db.Read(context.Background(), func(tx *store.Tx) error {
			return tx.QueryRow(`SELECT batch_id, batch_line FROM finance_orders WHERE order_id = 'L2'`).Scan(&batch, &line)
		})
		if batch != rep.ID || line != 2 {
			t.Fatalf("L2 came last from %s line %d, want %s line 2", batch, line, rep.ID)
		}
	})
}

// The merchant itself, in its merchant role, and the operator; no one else, and
// not while suspended (when it still reads its own data).
func TestWhoMay(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		m := e.merchant.ParticipantID
		body := header + "W1,A100,2026-11-20T10:00:00+08:00,1.00,CNY,paid,,,,,\n"
		_, err := e.svc.Features(ctx, e.buyer, m, now)
		is(t, err, dataport.KindNotFound, "no merchant")
		_, err = e.svc.IngestBatch(ctx, e.buyer, m, "csv", strings.NewReader(body))
		is(t, err, dataport.KindNotFound, "no merchant")
		_, err = e.svc.Shops(ctx, e.operator, e.buyer.ParticipantID)
		is(t, err, dataport.KindNotFound, "no merchant")
		_, err = e.svc.Shops(ctx, dataport.Actor{}, m)
		is(t, err, dataport.KindUnauthorized, "")
		_, err = e.svc.Shops(ctx, dataport.Actor{ParticipantID: m}, m)
		is(t, err, dataport.KindForbidden, "merchant role")

		_, err = e.svc.ConnectShop(ctx, e.merchant, m, finance.NewShop{Platform: "Taobao!", Name: ""})
		if f := dataport.FieldsOf(err); dataport.KindOf(err) != dataport.KindInvalid || len(f) != 3 {
			t.Fatalf("err = %v", err)
		}
		_, err = e.svc.ConnectShop(ctx, e.merchant, m, finance.NewShop{Platform: " TAOBAO ", ExternalID: "A100", Name: "again"})
		is(t, err, dataport.KindConflict, "already")
		sh, err := e.svc.ConnectShop(ctx, e.operator, m, finance.NewShop{Platform: "douyin", ExternalID: "A100", Name: "直播间"})
		if err != nil {
			t.Fatal(err)
		}
		list, err := e.svc.Shops(ctx, e.operator, m)
		if err != nil || len(list) != 3 || list[2].ID != sh.ID || list[0].Platform != "taobao" {
			t.Fatalf("shops %+v, %v", list, err)
		}
		// A100 is now two shops' platform id: the row must say which.
		rep, err := e.svc.IngestBatch(ctx, e.operator, m, "csv", strings.NewReader(body))
		if err != nil || rep.Rejected != 1 || !strings.Contains(rep.Problems[0].Reason, "several") {
			t.Fatalf("%+v, %v", rep, err)
		}

		if _, err := e.reg.Suspend(ctx, e.operator, m, "fraud inquiry"); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.IngestBatch(ctx, e.merchant, m, "csv", strings.NewReader(body))
		is(t, err, dataport.KindForbidden, "suspended")
		_, err = e.svc.IngestBatch(ctx, e.operator, m, "csv", strings.NewReader(body))
		is(t, err, dataport.KindForbidden, "suspended")
		// A suspension stops changes, not the view: the merchant reads its own data,
		// the operator reads it too.
		for _, who := range []dataport.Actor{e.merchant, e.operator} {
			if _, err := e.svc.Features(ctx, who, m, now); err != nil {
				t.Fatalf("features as %v while suspended: %v", who.Roles, err)
			}
			if _, err := e.svc.Shops(ctx, who, m); err != nil {
				t.Fatalf("shops as %v while suspended: %v", who.Roles, err)
			}
		}
	})
}

// A merchant without shops is told to connect them first.
func TestNoShops(t *testing.T) {
	e := setup(t, store.SQLite)
	ctx := context.Background()
	code, _ := registry.CompleteUSCC("91330782MA2EYX311")
	p, err := e.reg.CreateParticipant(ctx, e.operator, registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "义乌优选直播电商有限公司"},
		Jurisdiction: "CN", Kind: registry.Domestic, USCC: code, Roles: []dataport.Role{dataport.RoleMerchant}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.IngestBatch(ctx, e.operator, p.ID, "csv", bytes.NewReader([]byte(header)))
	is(t, err, dataport.KindConflict, "connect its shops")
	fs, err := e.svc.Features(ctx, e.operator, p.ID, time.Time{})
	if err != nil || fs.DataThrough != 0 || len(fs.Shops) != 0 || fs.Merchant.Windows[2].Orders != 0 || fs.Merchant.Windows[2].OrderCV != nil || fs.Day != "2026-11-25" {
		t.Fatalf("%+v, %v", fs, err)
	}
}

// Two replicas applying overlapping batches of one merchant at once keep the
// aggregates exactly the sums of the orders as they end up.
func TestReplicasKeepSumsExact(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		dsn := storetest.DSN(t, engine)
		var dbs [2]*store.DB
		for i := range dbs {
			db, err := store.Open(ctx, dsn, store.Options{Clock: dataport.NewFixedClock(now)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			dbs[i] = db
		}
		e := build(t, dbs[0])
		other := finance.New(dbs[1], registry.New(dbs[1]), finance.Options{SpoolDir: t.TempDir()})
		statuses := []string{"paid", "shipped", "delivered", "returned", "refunded", "cancelled"}
		for round := range 4 {
			var bodies [2]string
			for side := range bodies {
				var b strings.Builder
				for i := range 400 {
					st := statuses[(i+side*round+side)%len(statuses)]
					fmt.Fprintf(&b, `{"order_id":"R%d","shop":"%s","ordered_at":"2026-11-%02dT10:00:00+08:00","amount":"%d.00","currency":"CNY","status":%q,"refund_amount":"%d","expected_settlement":"2026-12-%02d","updated_at":"2026-11-24T%02d:00:00+08:00"}`+"\n",
						i, []string{"A100", "B200"}[i%2], 10+i%14, 10+i%7, st, side, 1+(i+side)%28, 2*round+side)
				}
				bodies[side] = b.String()
			}
			errs := make(chan error, 2)
			for side, svc := range []*finance.Service{e.svc, other} {
				go func() {
					_, err := svc.IngestBatch(ctx, e.merchant, e.merchant.ParticipantID, "jsonl", strings.NewReader(bodies[side]))
					errs <- err
				}()
			}
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
		}
		pairs := [][2]string{
			{`SELECT COALESCE(SUM(orders), 0) FROM finance_daily`, `SELECT COUNT(*) FROM finance_orders WHERE status <> 'cancelled'`},
			{`SELECT COALESCE(SUM(cancelled), 0) FROM finance_daily`, `SELECT COUNT(*) FROM finance_orders WHERE status = 'cancelled'`},
			{`SELECT COALESCE(SUM(sales), 0) FROM finance_daily`, `SELECT COALESCE(SUM(amount), 0) FROM finance_orders WHERE status <> 'cancelled'`},
			{`SELECT COALESCE(SUM(returns), 0) FROM finance_daily`, `SELECT COUNT(*) FROM finance_orders WHERE status = 'returned'`},
			{`SELECT COALESCE(SUM(refund_amount), 0) FROM finance_daily`, `SELECT COALESCE(SUM(refund_amount), 0) FROM finance_orders WHERE status <> 'cancelled'`},
			{`SELECT COALESCE(SUM(amount), 0) FROM finance_receivables`, `SELECT COALESCE(SUM(amount - refund_amount), 0) FROM finance_orders
				WHERE status IN ('paid', 'shipped', 'delivered') AND expected_settlement <> '' AND settled_at = '' AND amount > refund_amount`},
		}
		for _, p := range pairs {
			if got, want := e.count(p[0]), e.count(p[1]); got != want || want == 0 {
				t.Errorf("%s = %d; from the orders %d", p[0], got, want)
			}
		}
		if n := e.count(`SELECT COUNT(*) FROM finance_batches`); n != 8 {
			t.Fatalf("%d batches", n)
		}
	})
}

// Daily answers a merchant's sums day by day over its shops, and its receivables by
// due day, from the same aggregates the features read; to the merchant and the
// operator only.
func TestDaily(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		row := func(id, shop, day, amount, status, extra string) string {
			return fmt.Sprintf(`{"order_id":%q,"shop":%q,"ordered_at":"%sT10:00:00+08:00","amount":%q,"currency":"CNY","status":%q,"expected_settlement":"2026-12-05"%s}`+"\n",
				id, shop, day, amount, status, extra)
		}
		e.ingest("jsonl", row("D1", "A100", "2026-11-24", "100", "paid", "")+
			row("D2", "B200", "2026-11-24", "50.50", "returned", `,"refund_amount":"50.50","complaint":true`)+
			row("D3", "A100", "2026-11-20", "20", "paid", "")+
			row("D4", "A100", "2026-10-01", "999", "paid", "")) // outside a week
		d, err := e.svc.Daily(ctx, e.merchant, e.merchant.ParticipantID, 7, now)
		if err != nil {
			t.Fatal(err)
		}
		if d.From != "2026-11-19" || d.To != "2026-11-25" || len(d.Days) != 2 {
			t.Fatalf("daily %+v", d)
		}
		if day := d.Days[0]; day.Day != "2026-11-20" || day.Orders != 1 || day.Sales != 2000 {
			t.Fatalf("20 November: %+v", day)
		}
		if day := d.Days[1]; day.Day != "2026-11-24" || day.Orders != 2 || day.Sales != 15050 || day.Returns != 1 || day.Complaints != 1 || day.RefundAmount != 5050 {
			t.Fatalf("24 November, both shops: %+v", day)
		}
		// D1 and D3 are owed on 5 December (D2 was refunded, D4 too: it was placed
		// before the week but is owed all the same).
		if len(d.Receivables) != 1 || d.Receivables[0].Day != "2026-12-05" || d.Receivables[0].Amount != 111900 || d.Receivables[0].Orders != 3 {
			t.Fatalf("receivables %+v", d.Receivables)
		}
		if _, err := e.svc.Daily(ctx, e.operator, e.merchant.ParticipantID, 30, now); err != nil {
			t.Fatalf("the operator: %v", err)
		}
		_, err = e.svc.Daily(ctx, e.buyer, e.merchant.ParticipantID, 7, now)
		is(t, err, dataport.KindNotFound, "no merchant")
		_, err = e.svc.Daily(ctx, e.merchant, e.merchant.ParticipantID, 0, now)
		is(t, err, dataport.KindInvalid, "days")
	})
}
