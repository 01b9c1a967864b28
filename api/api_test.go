package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/dcat"
	"github.com/dataport/dataport/harvest/dsppeer"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/trade"
	"golang.org/x/mod/sumdb/note"
)

type exchange struct {
	t        testing.TB
	db       *store.DB
	reg      *registry.Service
	log      *ledger.Log
	vkey     string
	srv      *httptest.Server
	server   *api.Server
	operator string // operator's API key
	notify   *notify.Service
	blobs    *blob.FS
	harvest  *harvest.Service
	sealKey  []byte // the DSP sealing key: peers' tokens
}

// newExchange is an exchange served as serve serves it, over a real store of engine,
// a blob folder and a running log, with the capabilities the API's tests use: the
// catalog, compliance, trade, delivery, notifications, the harvest engine (whose DCAT
// sources may be DSP peers' catalogs, harvest/dsppeer) and the DSP sealing key. opts
// may change the server's dependencies before it is made.
func newExchange(t *testing.T, engine store.Engine, opts ...func(*api.Deps)) *exchange {
	return newExchangeTB(t, engine, opts...)
}

// newExchangeB is newExchange for benchmarks: without rate limits, which a
// benchmark's loop exceeds by design.
func newExchangeB(b *testing.B) *exchange {
	return newExchangeTB(b, store.SQLite, func(d *api.Deps) { d.Limits.Off = true })
}

func newExchangeTB(t testing.TB, engine store.Engine, opts ...func(*api.Deps)) *exchange {
	t.Helper()
	db := storetest.Open(t, engine, store.Options{})
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(context.Background(), registry.OperatorIdentity{
		LegalName: dataport.Bilingual{Zh: "测试数据交易所", En: "Test Data Exchange"}})
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := ledger.GenerateKey("api.test.example/log")
	if err != nil {
		t.Fatal(err)
	}
	lg, err := ledger.OpenLog(context.Background(), db, skey, nil)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.OpenFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); lg.Run(ctx, 50*time.Millisecond) }()
	notifier, err := notify.New(db, bytes.Repeat([]byte{7}, notify.SecretSize), notify.Options{AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := compliance.New(context.Background(), db, reg, lg)
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(db, reg, blobs, rules)
	reg.OnSuspension(cat.SuspensionCascade)
	deals := trade.New(db, reg, rules, lg, blobs, trade.Options{FeeBasisPoints: 100, CommissionBasisPoints: 500})
	deliveries, err := delivery.New(db, reg, blobs, deals, delivery.Options{StagingDir: t.TempDir(), LinkKey: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	sealKey := bytes.Repeat([]byte{5}, 32) // serve derives it from the exchange's secret
	peers, err := dsp.NewPeers(db, sealKey)
	if err != nil {
		t.Fatal(err)
	}
	harvests := harvest.New(db, reg, cat, nil, harvest.Connectors{
		harvest.KindDCAT: dsppeer.DCAT(peers, &dsp.Client{HTTP: notifier.OutboundClient()}, dcat.Options{Retries: -1}, nil)})
	deps := api.Deps{DB: db, Registry: reg, Catalog: cat, Notify: notifier, Compliance: rules, Trade: deals, Delivery: deliveries,
		Harvest: harvests, Filings: ledger.NewReader(db), Log: lg, Version: "test", Blobs: blobs, DSPSealKey: sealKey}
	for _, o := range opts {
		o(&deps)
	}
	server := api.NewServer(deps)
	srv := httptest.NewServer(server)
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return &exchange{t: t, db: db, reg: reg, log: lg, vkey: vkey, srv: srv, server: server, operator: token, notify: notifier,
		blobs: blobs, harvest: harvests, sealKey: sealKey}
}

func each(t *testing.T, fn func(t *testing.T, x *exchange)) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) { fn(t, newExchange(t, engine)) })
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, r.body)
	}
	return m
}

// do sends a request; body may be a string (sent as it is) or a value (sent as JSON).
func (x *exchange) do(method, path, key string, body any) response {
	x.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			x.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	contentType := ""
	if rd != nil {
		contentType = "application/json"
	}
	return x.send(method, path, key, contentType, rd)
}

// upload sends content as a raw body, with extra headers (name, value, …).
func (x *exchange) upload(method, path, key, contentType string, content []byte, headers ...string) response {
	x.t.Helper()
	return x.send(method, path, key, contentType, bytes.NewReader(content), headers...)
}

func (x *exchange) send(method, path, key, contentType string, body io.Reader, headers ...string) response {
	x.t.Helper()
	req, err := http.NewRequest(method, x.srv.URL+path, body)
	if err != nil {
		x.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (x *exchange) count(table string) int {
	x.t.Helper()
	var n int
	err := x.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n)
	})
	if err != nil {
		x.t.Fatal(err)
	}
	return n
}

func wantStatus(t testing.TB, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
}

// wantProblem checks an RFC 9457 problem with status, and, if field is set, an
// entry in errors located at body.<field>.
func wantProblem(t *testing.T, r response, status int, field string) map[string]any {
	t.Helper()
	wantStatus(t, r, status)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	m := r.json(t)
	if int(m["status"].(float64)) != status || m["title"] == "" {
		t.Fatalf("problem %v", m)
	}
	if field != "" {
		if !strings.HasPrefix(field, "query.") && !strings.HasPrefix(field, "header.") && !strings.HasPrefix(field, "path.") {
			field = "body." + field
		}
		errs, _ := m["errors"].([]any)
		for _, e := range errs {
			if e.(map[string]any)["location"] == field {
				return m
			}
		}
		t.Fatalf("problem does not name %s: %s", field, r.body)
	}
	return m
}

var tencent = map[string]any{
	"legal_name":   map[string]any{"zh": "深圳市腾讯计算机系统有限公司", "en": "Shenzhen Tencent Computer Systems Co., Ltd."},
	"jurisdiction": "CN", "kind": "domestic", "uscc": "9144030071526726XG", "roles": []string{"buyer"},
}

func with(base map[string]any, k string, v any) map[string]any {
	m := map[string]any{}
	for key, val := range base {
		m[key] = val
	}
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
	return m
}

// createWithKeyID registers a participant and returns only its key.
func (x *exchange) createWithKeyID(body map[string]any) string {
	_, key := x.createWithKey(body)
	return key
}

// createWithKey registers a participant and returns its id and a fresh key.
func (x *exchange) createWithKey(body map[string]any) (string, string) {
	x.t.Helper()
	r := x.do("POST", "/api/v1/participants", x.operator, body)
	wantStatus(x.t, r, http.StatusCreated)
	id := r.json(x.t)["id"].(string)
	if loc := r.header.Get("Location"); loc != "/api/v1/participants/"+id {
		x.t.Fatalf("Location %q", loc)
	}
	k := x.do("POST", "/api/v1/participants/"+id+"/api-keys", x.operator, map[string]any{"name": "test"})
	wantStatus(x.t, k, http.StatusCreated)
	return id, k.json(x.t)["token"].(string)
}

func TestWrongCheckCharacterIs400AndWritesNothing(t *testing.T) {
	each(t, func(t *testing.T, x *exchange) {
		participants, filings := x.count("participants"), x.count("filings")
		r := x.do("POST", "/api/v1/participants", x.operator, with(tencent, "uscc", "9144030071526726XA"))
		m := wantProblem(t, r, http.StatusBadRequest, "uscc")
		if !strings.Contains(m["detail"].(string), "check character") {
			t.Fatalf("detail %q does not explain", m["detail"])
		}
		if x.count("participants") != participants || x.count("filings") != filings {
			t.Fatal("a rejected request changed the registry")
		}
	})
}

func TestBadInputChangesNothing(t *testing.T) {
	each(t, func(t *testing.T, x *exchange) {
		participants, filings := x.count("participants"), x.count("filings")
		cases := []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"malformed JSON", `{"legal_name": {"zh": "x"`, 400, ""},
			{"not an object", `[1, 2]`, 400, ""},
			{"unknown field", with(tencent, "registered_capital", 100), 400, "registered_capital"},
			{"wrong type", with(tencent, "ciio", "yes"), 400, "ciio"},
			{"wrong type in a list", with(tencent, "roles", []any{1}), 400, "roles[0]"},
			{"unknown role", with(tencent, "roles", []string{"king"}), 400, "roles[0]"},
			{"missing kind", with(tencent, "kind", nil), 400, ""},
			{"unknown country", with(tencent, "jurisdiction", "QQ"), 400, "jurisdiction"},
			{"lower-case country", with(tencent, "jurisdiction", "cn"), 400, "jurisdiction"},
			{"bad e-mail", with(tencent, "contact", map[string]any{"email": "nobody"}), 400, "contact.email"},
			{"oversize body", with(tencent, "merchant_category", strings.Repeat("数", 40000)), 413, ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := x.do("POST", "/api/v1/participants", x.operator, c.body)
				wantProblem(t, r, c.status, c.field)
			})
		}
		if x.count("participants") != participants || x.count("filings") != filings {
			t.Fatal("bad input changed the registry")
		}
		// A duplicate USCC is a conflict, and still writes nothing more.
		x.createWithKey(tencent)
		participants, filings = x.count("participants"), x.count("filings")
		wantProblem(t, x.do("POST", "/api/v1/participants", x.operator, tencent), http.StatusConflict, "uscc")
		if x.count("participants") != participants || x.count("filings") != filings {
			t.Fatal("a duplicate changed the registry")
		}
	})
}

func TestAuthenticationAndAuthorisation(t *testing.T) {
	each(t, func(t *testing.T, x *exchange) {
		buyerID, buyerKey := x.createWithKey(tencent)
		otherID, _ := x.createWithKey(map[string]any{"legal_name": map[string]any{"en": "Altmark Signals Ltd"},
			"jurisdiction": "GB", "kind": "foreign", "registration_number": "12873406", "roles": []string{"supplier"}})

		r := x.do("GET", "/api/v1/participants/"+buyerID, "", nil)
		wantProblem(t, r, http.StatusUnauthorized, "")
		r = x.do("GET", "/api/v1/participants/"+buyerID, "dp.key_nope.secret", nil)
		wantProblem(t, r, http.StatusUnauthorized, "")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Fatal("401 without WWW-Authenticate")
		}
		req, _ := http.NewRequest("GET", x.srv.URL+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
		res, _ := http.DefaultClient.Do(req)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("Basic auth: %d", res.StatusCode)
		}

		// Wrong role: 403. Another tenant's record: 404.
		wantProblem(t, x.do("POST", "/api/v1/participants", buyerKey, with(tencent, "uscc", "914403001922038216")), http.StatusForbidden, "")
		wantProblem(t, x.do("GET", "/api/v1/participants/"+otherID, buyerKey, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("GET", "/api/v1/participants/"+otherID+"/api-keys", buyerKey, nil), http.StatusNotFound, "")
		wantStatus(t, x.do("GET", "/api/v1/participants/"+buyerID, buyerKey, nil), http.StatusOK)

		me := x.do("GET", "/api/v1/me", buyerKey, nil)
		wantStatus(t, me, http.StatusOK)
		if me.json(t)["participant"].(map[string]any)["id"] != buyerID {
			t.Fatalf("me: %s", me.body)
		}

		// A revoked key: 401 from the next request on.
		k := x.do("POST", "/api/v1/participants/"+buyerID+"/api-keys", buyerKey, map[string]any{"name": "short-lived"})
		wantStatus(t, k, http.StatusCreated)
		token := k.json(t)["token"].(string)
		keyID := k.json(t)["key"].(map[string]any)["id"].(string)
		wantStatus(t, x.do("GET", "/api/v1/me", token, nil), http.StatusOK)
		wantStatus(t, x.do("DELETE", "/api/v1/participants/"+buyerID+"/api-keys/"+keyID, buyerKey, nil), http.StatusOK)
		wantProblem(t, x.do("GET", "/api/v1/me", token, nil), http.StatusUnauthorized, "")
		// Listing keys never shows secrets or hashes.
		list := x.do("GET", "/api/v1/participants/"+buyerID+"/api-keys", buyerKey, nil)
		wantStatus(t, list, http.StatusOK)
		if strings.Contains(string(list.body), strings.Split(token, ".")[2]) || strings.Contains(string(list.body), "sha256") {
			t.Fatal("key listing leaks a secret")
		}
	})
}

func TestSuspendedKeyRefusedOnItsNextChange(t *testing.T) {
	each(t, func(t *testing.T, x *exchange) {
		buyerID, buyerKey := x.createWithKey(tencent)
		contact := map[string]any{"contact": map[string]any{"email": "ops@tencent.example"}}
		wantStatus(t, x.do("PATCH", "/api/v1/participants/"+buyerID, buyerKey, contact), http.StatusOK)

		r := x.do("POST", "/api/v1/participants/"+buyerID+"/suspend", x.operator, map[string]any{"reason": "data resold without authorisation"})
		wantStatus(t, r, http.StatusOK)
		if r.json(t)["status"] != "suspended" {
			t.Fatalf("after suspend: %s", r.body)
		}
		m := wantProblem(t, x.do("PATCH", "/api/v1/participants/"+buyerID, buyerKey, contact), http.StatusForbidden, "")
		if !strings.Contains(m["detail"].(string), "suspended") {
			t.Fatalf("403 does not say why: %v", m["detail"])
		}
		wantProblem(t, x.do("POST", "/api/v1/participants/"+buyerID+"/api-keys", buyerKey, map[string]any{"name": "x"}), http.StatusForbidden, "")
		// Reads of its own record still work.
		wantStatus(t, x.do("GET", "/api/v1/participants/"+buyerID, buyerKey, nil), http.StatusOK)

		wantStatus(t, x.do("POST", "/api/v1/participants/"+buyerID+"/resume", x.operator, map[string]any{"note": "cleared"}), http.StatusOK)
		wantStatus(t, x.do("PATCH", "/api/v1/participants/"+buyerID, buyerKey, map[string]any{"contact": map[string]any{"email": "new@tencent.example"}}), http.StatusOK)

		f := x.do("GET", "/api/v1/filings?subject="+buyerID, x.operator, nil)
		wantStatus(t, f, http.StatusOK)
		var types []string
		for _, it := range f.json(t)["items"].([]any) {
			types = append(types, it.(map[string]any)["type"].(string))
		}
		if got := strings.Join(types, " "); !strings.Contains(got, "participant.suspended participant.resumed") {
			t.Fatalf("filings about the buyer: %s", got)
		}
		// The buyer reads the filings about itself, and no others.
		own := x.do("GET", "/api/v1/filings", buyerKey, nil)
		wantStatus(t, own, http.StatusOK)
		if n := len(own.json(t)["items"].([]any)); n != len(types) {
			t.Fatalf("buyer sees %d filings, want %d", n, len(types))
		}
		wantProblem(t, x.do("GET", "/api/v1/filings?subject="+x.operatorID(), buyerKey, nil), http.StatusForbidden, "")
	})
}

func (x *exchange) operatorID() string {
	id, err := x.reg.Operator(context.Background())
	if err != nil {
		x.t.Fatal(err)
	}
	return id
}

func TestFilingEntryIsWhatWasHashed(t *testing.T) {
	each(t, func(t *testing.T, x *exchange) {
		id, _ := x.createWithKey(tencent)
		r := x.do("GET", "/api/v1/filings?subject="+id+"&type=participant.created", x.operator, nil)
		wantStatus(t, r, http.StatusOK)
		items := r.json(t)["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("%d participant.created filings", len(items))
		}
		seq := int(items[0].(map[string]any)["seq"].(float64))
		one := x.do("GET", fmt.Sprintf("/api/v1/filings/%d", seq), x.operator, nil).json(t)
		entry := one["entry"].(string)
		if !strings.Contains(entry, `"type":"participant.created"`) || !strings.Contains(entry, "9144030071526726XG") {
			t.Fatalf("entry %s", entry)
		}
		wantProblem(t, x.do("GET", "/api/v1/filings/999999", x.operator, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("GET", "/api/v1/filings/abc", x.operator, nil), http.StatusBadRequest, "")
	})
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	x := newExchange(t, store.SQLite)
	x.db.Close() // every query now fails inside database/sql
	r := x.do("GET", "/api/v1/participants", x.operator, nil)
	if r.status < 500 {
		t.Fatalf("status %d with the database closed", r.status)
	}
	if strings.Contains(string(r.body), "sql") || strings.Contains(string(r.body), "closed") {
		t.Fatalf("internal detail leaked: %s", r.body)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	x := newExchange(t, store.SQLite)
	wantStatus(t, x.do("GET", "/healthz", "", nil), http.StatusOK)
	ready := x.do("GET", "/readyz", "", nil)
	wantStatus(t, ready, http.StatusOK)
	x.do("POST", "/api/v1/participants", x.operator, with(tencent, "uscc", "bad"))
	m := x.do("GET", "/metrics", "", nil)
	wantStatus(t, m, http.StatusOK)
	want := `dataport_http_requests_total{code="400",method="POST",route="POST /api/v1/participants"} 1`
	if !strings.Contains(string(m.body), want) {
		t.Fatalf("metrics lack %s", want)
	}
	if !strings.Contains(string(m.body), "go_goroutines") {
		t.Fatal("metrics lack the Go runtime")
	}
	wantProblem(t, x.do("GET", "/no/such/route", "", nil), http.StatusNotFound, "")
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustUSCC(first17 string) string {
	c, err := registry.CompleteUSCC(first17)
	if err != nil {
		panic(err)
	}
	return c
}

func TestProductEndpoints(t *testing.T) {
	each(t, func(t *testing.T, x *exchange) {
		id, key := x.createWithKey(with(tencent, "roles", []string{"supplier"}))
		// The compliance assessment report is uploaded first and cited by its hash.
		report := []byte("%PDF-1.4\n% 第三方数据合规评估报告 Third-party compliance assessment\n%%EOF\n")
		sum := sha256.Sum256(report)
		reportSHA := hex.EncodeToString(sum[:])
		wantProblem(t, x.upload("POST", "/api/v1/attachments", key, "application/pdf", report), http.StatusBadRequest, "query.name")
		wantProblem(t, x.upload("POST", "/api/v1/attachments?name=a.pdf", "", "application/pdf", report), http.StatusUnauthorized, "")
		wantProblem(t, x.upload("POST", "/api/v1/attachments?name=a.pdf", key, "not a type", report), http.StatusBadRequest, "header.Content-Type")
		wantProblem(t, x.upload("POST", "/api/v1/attachments?name=a.pdf", key, "application/pdf", bytes.Repeat([]byte{'x'}, catalog.MaxAttachment+1)),
			http.StatusRequestEntityTooLarge, "")
		if x.count("attachments") != 0 {
			t.Fatal("a refused upload was recorded")
		}
		up := x.upload("POST", "/api/v1/attachments?name="+url.QueryEscape("合规评估报告.pdf"), key, "application/pdf", report)
		wantStatus(t, up, http.StatusCreated)
		if a := up.json(t); a["sha256"] != reportSHA || a["size"] != float64(len(report)) || a["media_type"] != "application/pdf" {
			t.Fatalf("upload: %s", up.body)
		}
		if l := x.do("GET", "/api/v1/attachments", key, nil).json(t)["items"].([]any); len(l) != 1 {
			t.Fatalf("attachments: %v", l)
		}
		details := map[string]any{
			"type": "dataset", "title": map[string]any{"zh": "小微企业信用评分", "en": "SME credit scoring"},
			"summary": map[string]any{"en": "Credit scores"}, "category": "finance", "delivery_modes": []string{"api"},
			"scenarios": []string{"credit risk"}, "source": "enterprise", "grade": "general", "sublevel": 2,
			"pi_subjects": 0, "sensitive_pi_subjects": 0, "origin_jurisdiction": "CN",
			"rights":      map[string]any{"holding": true, "processing_use": true, "product_operation": false},
			"price_plans": []any{map[string]any{"kind": "one_off", "price": map[string]any{"amount": 500000, "currency": "CNY"}}},
			"attachments": []any{map[string]any{"kind": "compliance_report", "sha256": reportSHA}},
		}
		products := x.count("products")
		bad := map[string]any{"supplier_id": id, "details": with(details, "price_plans", []any{map[string]any{"kind": "one_off", "price": map[string]any{"amount": -5, "currency": "CNY"}}})}
		wantProblem(t, x.do("POST", "/api/v1/products", key, bad), http.StatusBadRequest, "details.price_plans[0].price.amount")
		frac := map[string]any{"supplier_id": id, "details": with(details, "price_plans", []any{map[string]any{"kind": "one_off", "price": map[string]any{"amount": 12.5, "currency": "CNY"}}})}
		wantProblem(t, x.do("POST", "/api/v1/products", key, frac), http.StatusBadRequest, "details.price_plans[0].price.amount")
		wantProblem(t, x.do("POST", "/api/v1/products", key, map[string]any{"supplier_id": id, "details": with(details, "type", "spreadsheet")}), http.StatusBadRequest, "details.type")
		unknown := []any{map[string]any{"kind": "compliance_report", "sha256": strings.Repeat("cd", 32)}}
		wantProblem(t, x.do("POST", "/api/v1/products", key, map[string]any{"supplier_id": id, "details": with(details, "attachments", unknown)}),
			http.StatusBadRequest, "details.attachments[0].sha256")
		if x.count("products") != products {
			t.Fatal("bad input created a product")
		}
		r := x.do("POST", "/api/v1/products", key, map[string]any{"supplier_id": id, "details": details})
		wantStatus(t, r, http.StatusCreated)
		pid := r.json(t)["id"].(string)
		wantProblem(t, x.do("POST", "/api/v1/products/"+pid+"/approve", x.operator, nil), http.StatusConflict, "")
		for _, step := range []struct{ path, key string }{{"submit", key}, {"review", x.operator}, {"approve", x.operator}} {
			wantStatus(t, x.do("POST", "/api/v1/products/"+pid+"/"+step.path, step.key, nil), http.StatusOK)
		}
		got := x.do("GET", "/api/v1/products/"+pid, key, nil).json(t)
		if got["status"] != "listed" || !strings.HasPrefix(got["registration_number"].(string), "DP-") {
			t.Fatalf("product: %v", got)
		}
		// The registration certificate: signed by the exchange over its canonical JSON,
		// and the same certificate the product.listed filing carries.
		cr := x.do("GET", "/api/v1/products/"+pid+"/certificate", key, nil)
		wantStatus(t, cr, http.StatusOK)
		cert := cr.json(t)
		verifier, err := note.NewVerifier(cert["verifier_key"].(string))
		if err != nil {
			t.Fatal(err)
		}
		signed, err := note.Open([]byte(cert["signed_note"].(string)), note.VerifierList(verifier))
		if err != nil {
			t.Fatalf("certificate signature: %v", err)
		}
		if want := api.CertificateKind + "\n" + cert["canonical"].(string) + "\n"; signed.Text != want {
			t.Fatalf("signed %q, want %q", signed.Text, want)
		}
		filing := x.do("GET", fmt.Sprintf("/api/v1/filings/%v", cert["filing_seq"]), x.operator, nil).json(t)
		if filing["type"] != "product.listed" || filing["sha256"] != cert["filing_sha256"] ||
			!strings.Contains(cert["canonical"].(string), got["registration_number"].(string)) {
			t.Fatalf("certificate %v, filing %v", cert, filing)
		}
		if _, err := note.Open([]byte(strings.Replace(cert["signed_note"].(string), "DP-", "DQ-", 1)), note.VerifierList(verifier)); err == nil {
			t.Fatal("an altered certificate verifies")
		}
		outsider := x.createWithKeyID(with(tencent, "uscc", mustUSCC("91440300MA5FUJ2X4")))
		wantStatus(t, x.do("GET", "/api/v1/products/"+pid+"/certificate", outsider, nil), http.StatusOK) // listed: public to members
		// Its attachment downloads whole or in ranges, with its hash as ETag.
		dl := x.do("GET", "/api/v1/products/"+pid+"/attachments/"+reportSHA, outsider, nil)
		wantStatus(t, dl, http.StatusOK)
		if !bytes.Equal(dl.body, report) || dl.header.Get("ETag") != `"`+reportSHA+`"` || dl.header.Get("Content-Type") != "application/pdf" ||
			!strings.Contains(dl.header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("download: %v %q", dl.header, dl.body)
		}
		part := x.upload("GET", "/api/v1/products/"+pid+"/attachments/"+reportSHA, outsider, "", nil, "Range", "bytes=0-7")
		if part.status != http.StatusPartialContent || string(part.body) != "%PDF-1.4" {
			t.Fatalf("range: %d %q", part.status, part.body)
		}
		wantStatus(t, x.upload("GET", "/api/v1/products/"+pid+"/attachments/"+reportSHA, outsider, "", nil, "If-None-Match", `"`+reportSHA+`"`), http.StatusNotModified)
		wantProblem(t, x.do("GET", "/api/v1/products/"+pid+"/attachments/"+strings.Repeat("cd", 32), outsider, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("GET", "/api/v1/products/"+pid+"/attachments/..%2f..%2fetc", outsider, nil), http.StatusBadRequest, "")

		// Editing a listed product: the new revision is reviewed while buyers keep
		// seeing the listed one; approval lists it under the same number.
		listedRev := got["listed_revision"].(float64)
		edited := with(details, "title", map[string]any{"zh": "小微企业信用评分（季度更新）", "en": "SME credit scoring, quarterly"})
		ed := x.do("PUT", "/api/v1/products/"+pid+"/details", key, edited)
		wantStatus(t, ed, http.StatusOK)
		if pc, _ := ed.json(t)["pending_change"].(map[string]any); pc["status"] != "draft" || ed.json(t)["status"] != "listed" {
			t.Fatalf("edit of a listed product: %s", ed.body)
		}
		seen := x.do("GET", "/api/v1/products/"+pid, outsider, nil).json(t)
		if seen["revision"] != listedRev || seen["pending_change"] != nil || seen["details"].(map[string]any)["title"].(map[string]any)["en"] != "SME credit scoring" {
			t.Fatalf("an outsider sees the pending change: %v", seen)
		}
		if pr := wantProblem(t, x.do("POST", "/api/v1/products/"+pid+"/approve", x.operator, nil), http.StatusConflict, ""); !strings.Contains(pr["detail"].(string), "pending change in draft") {
			t.Fatalf("the conflict does not name the change's state: %v", pr)
		}
		for _, step := range []struct{ path, key string }{{"submit", key}, {"review", x.operator}, {"approve", x.operator}} {
			wantStatus(t, x.do("POST", "/api/v1/products/"+pid+"/"+step.path, step.key, nil), http.StatusOK)
		}
		seen = x.do("GET", "/api/v1/products/"+pid, outsider, nil).json(t)
		if seen["revision"] != listedRev+1 || seen["registration_number"] != got["registration_number"] ||
			seen["details"].(map[string]any)["title"].(map[string]any)["en"] != "SME credit scoring, quarterly" {
			t.Fatalf("after approving the change: %v", seen)
		}
		if c := x.do("GET", "/api/v1/products/"+pid+"/certificate", outsider, nil).json(t)["certificate"].(map[string]any); c["revision"] != listedRev+1 {
			t.Fatalf("certificate after the change: %v", c)
		}
		// The operator's queue and the supplier's own list.
		wantStatus(t, x.do("PUT", "/api/v1/products/"+pid+"/details", key, details), http.StatusOK)
		wantStatus(t, x.do("POST", "/api/v1/products/"+pid+"/submit", key, nil), http.StatusOK)
		queue := x.do("GET", "/api/v1/review-queue", x.operator, nil)
		wantStatus(t, queue, http.StatusOK)
		if items := queue.json(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != pid {
			t.Fatalf("review queue: %s", queue.body)
		}
		wantProblem(t, x.do("GET", "/api/v1/review-queue", key, nil), http.StatusForbidden, "")
		mine := x.do("GET", "/api/v1/participants/"+id+"/products?status=listed", key, nil)
		if items := mine.json(t)["items"].([]any); len(items) != 1 {
			t.Fatalf("own products: %s", mine.body)
		}
		wantProblem(t, x.do("GET", "/api/v1/participants/"+id+"/products", outsider, nil), http.StatusNotFound, "")
		draft := x.do("POST", "/api/v1/products", key, map[string]any{"supplier_id": id, "details": details}).json(t)["id"].(string)
		wantProblem(t, x.do("GET", "/api/v1/products/"+draft+"/certificate", key, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("GET", "/api/v1/products/"+draft+"/certificate", outsider, nil), http.StatusNotFound, "")
		wantProblem(t, x.do("GET", "/api/v1/products/prd_nosuch/certificate", key, nil), http.StatusNotFound, "")

		found := x.do("GET", "/api/v1/products?q="+url.QueryEscape("信用"), x.operator, nil)
		wantStatus(t, found, http.StatusOK)
		if items := found.json(t)["items"].([]any); len(items) != 1 {
			t.Fatalf("search 信用: %s", found.body)
		}
		wantProblem(t, x.do("GET", "/api/v1/products?q="+strings.Repeat("a", 201), x.operator, nil), http.StatusBadRequest, "")
		wantProblem(t, x.do("GET", "/api/v1/products?type=spreadsheet", x.operator, nil), http.StatusBadRequest, "")
		// The DCAT export is public.
		cat := x.do("GET", "/catalog.jsonld", "", nil)
		wantStatus(t, cat, http.StatusOK)
		if cat.header.Get("Content-Type") != "application/ld+json" || strings.Count(string(cat.body), `"dcat:Dataset"`) != 1 {
			t.Fatalf("catalog.jsonld: %s", cat.body)
		}
		wantProblem(t, x.do("GET", "/catalog.jsonld?page=0", "", nil), http.StatusBadRequest, "")
		// Demands: posted by buyers, matched with reasons.
		buyerKey := x.createWithKeyID(with(tencent, "uscc", "914403001922038216"))
		wantProblem(t, x.do("POST", "/api/v1/demands", buyerKey, map[string]any{"text": "信用", "currency": "CNY", "budget_max": -1}), http.StatusBadRequest, "budget_max")
		dm := x.do("POST", "/api/v1/demands", buyerKey, map[string]any{"text": "信用评分", "currency": "CNY"})
		wantStatus(t, dm, http.StatusCreated)
		ms := x.do("GET", "/api/v1/demands/"+dm.json(t)["id"].(string)+"/matches", buyerKey, nil)
		wantStatus(t, ms, http.StatusOK)
		if items := ms.json(t)["items"].([]any); len(items) != 1 {
			t.Fatalf("matches: %s", ms.body)
		}
		wantStatus(t, x.do("GET", "/api/v1/inbox", buyerKey, nil), http.StatusOK)
		dmID := dm.json(t)["id"].(string)
		qr := x.do("POST", "/api/v1/demands/"+dmID+"/quotes", key, map[string]any{"product_id": pid, "price": map[string]any{"amount": 400000, "currency": "CNY"}})
		wantStatus(t, qr, http.StatusCreated)
		wantStatus(t, x.do("POST", "/api/v1/quotes/"+qr.json(t)["id"].(string)+"/accept", buyerKey, nil), http.StatusOK)
		wantProblem(t, x.do("POST", "/api/v1/quotes/"+qr.json(t)["id"].(string)+"/decline", buyerKey, nil), http.StatusConflict, "")
		wantStatus(t, x.do("POST", "/api/v1/demands/"+dmID+"/close", buyerKey, nil), http.StatusOK)
	})
}
