package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/demo"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/financing"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/harvest/connectors"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade"
	"github.com/dataport/dataport/web"
)

// The console's tests run against a real exchange: SQLite, the registry, the
// ledger, the catalog and the compliance engine, the REST API with the console
// mounted in front of it (as `dataport serve` mounts it), on a real HTTP server.
// The catalog is the demo's: a few hundred bilingual products listed through the
// workflow by the demo's suppliers and agent.
//
// Seeding it takes a while, so the tests share one seeded exchange; a test that
// changes something (revokes a key, suspends a participant) does it to
// participants and keys of its own.

// exchange is a running exchange with the console.
type exchange struct {
	db       *store.DB
	clock    dataport.Clock
	reg      *registry.Service
	cat      *catalog.Service
	rules    *compliance.Service
	srv      *httptest.Server
	world    demo.World
	operator dataport.Actor
	keys     map[dataport.Role]string // an API key for each role of the demo world
	fin      *finance.Service
	cred     *credit.Service
	lend     *lending.Service
	deals    *trade.Service
	deliver  *delivery.Service
	harvests *harvest.Service
	mirrors  *mirror.Service
	log      *ledger.Log
	blobs    blob.Store
	console  *web.Console
	close    func()
}

var (
	sharedOnce sync.Once
	shared     *exchange
	sharedErr  error
	sharedDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.close()
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// seeded returns the shared exchange with the demo world and its catalog.
func seeded(t testing.TB) *exchange {
	t.Helper()
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "dataport-web-test-")
		if sharedErr != nil {
			return
		}
		shared, sharedErr = build(sharedDir, dataport.SystemClock{}, true)
	})
	if sharedErr != nil {
		t.Fatalf("build the shared exchange: %v", sharedErr)
	}
	return shared
}

// fresh returns an exchange of the test's own, with only the demo's participants,
// on clock.
func fresh(t testing.TB, clock dataport.Clock) *exchange {
	t.Helper()
	x, err := build(t.TempDir(), clock, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.close)
	return x
}

func build(dir string, clock dataport.Clock, withCatalog bool) (*exchange, error) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "dataport.db"), store.Options{Clock: clock})
	if err != nil {
		return nil, err
	}
	x := &exchange{db: db, clock: clock, reg: registry.New(db), keys: map[dataport.Role]string{}}
	closers := []func(){func() { db.Close() }}
	x.close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) (*exchange, error) { x.close(); return nil, err }
	if _, _, _, err := x.reg.Bootstrap(ctx, demo.Operator()); err != nil {
		return fail(err)
	}
	skey, _, err := ledger.GenerateKey("web.test.example/log")
	if err != nil {
		return fail(err)
	}
	lg, err := ledger.OpenLog(ctx, db, skey, nil)
	if err != nil {
		return fail(err)
	}
	running, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); lg.Run(running, 50*time.Millisecond) }()
	closers = append(closers, func() { stop(); <-done })
	blobs, err := blob.OpenFS(filepath.Join(dir, "blobs"))
	if err != nil {
		return fail(err)
	}
	notifier, err := notify.New(db, bytes.Repeat([]byte{7}, notify.SecretSize), notify.Options{AllowPrivate: true})
	if err != nil {
		return fail(err)
	}
	if x.rules, err = compliance.New(ctx, db, x.reg, lg); err != nil {
		return fail(err)
	}
	x.cat = catalog.New(db, x.reg, blobs, x.rules)
	x.reg.OnSuspension(x.cat.SuspensionCascade)
	deals := trade.New(db, x.reg, x.rules, lg, blobs, trade.Options{FeeBasisPoints: 100, CommissionBasisPoints: 500})
	deliveries, err := delivery.New(db, x.reg, blobs, deals, delivery.Options{StagingDir: filepath.Join(dir, "uploads"), LinkKey: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		return fail(err)
	}
	cache, err := mirror.OpenCache(filepath.Join(dir, "mirror"), mirror.Options{})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { cache.Close() })
	mirrors, err := mirror.New(db, cache, bytes.Repeat([]byte{5}, 32))
	if err != nil {
		return fail(err)
	}
	x.deals, x.deliver, x.mirrors, x.log, x.blobs = deals, deliveries, mirrors, lg, blobs
	x.harvests = harvest.New(db, x.reg, x.cat, mirrors, connectors.Standard())
	if x.world, err = demo.Seed(ctx, x.reg, clock.Now()); err != nil {
		return fail(err)
	}
	x.operator = dataport.Actor{ParticipantID: x.world.Operator.ID, Roles: []dataport.Role{dataport.RoleOperator}}
	if withCatalog {
		if _, err := demo.SeedCatalog(ctx, x.reg, x.rules, x.cat, x.world, clock.Now()); err != nil {
			return fail(err)
		}
	}
	for _, h := range x.world.KeyHolders() {
		_, token, err := x.reg.IssueKey(ctx, h.Participant.ID, registry.NewAPIKey{Name: "web test " + string(h.Role), Roles: []dataport.Role{h.Role}})
		if err != nil {
			return fail(err)
		}
		x.keys[h.Role] = token
	}
	// The financing side, joined as `dataport serve` joins it (financing_test.go).
	x.fin = finance.New(db, x.reg, finance.Options{SpoolDir: filepath.Join(dir, "spool")})
	x.lend = lending.New(db, x.reg, lending.Options{LiveLimits: x.fin})
	x.reg.OnSuspension(x.lend.SuspensionCascade)
	if x.cred, err = credit.New(db, x.reg, x.fin, nil, credit.Options{}); err != nil {
		return fail(err)
	}
	financing.Wire(x.fin, x.cred, x.lend)
	console := web.New(web.Deps{DB: db, Registry: x.reg, Catalog: x.cat, Compliance: x.rules,
		Finance: x.fin, Credit: x.cred, Lending: x.lend,
		Trade: deals, Delivery: deliveries, Harvest: x.harvests, Mirror: mirrors,
		Filings: ledger.NewReader(db), Log: lg})
	x.console = console
	server := api.NewServer(api.Deps{DB: db, Registry: x.reg, Catalog: x.cat, Notify: notifier, Compliance: x.rules,
		Trade: deals, Delivery: deliveries, Filings: ledger.NewReader(db), Log: lg, Version: "test", Blobs: blobs,
		Finance: x.fin, Credit: x.cred, Lending: x.lend, Harvest: x.harvests, Mirror: mirrors,
		Console: console})
	x.srv = httptest.NewServer(server)
	closers = append(closers, x.srv.Close)
	return x, nil
}

// member registers a participant of the test's own, verified, with a key for
// role; it returns the participant and the key.
func (x *exchange) member(t testing.TB, role dataport.Role) (registry.Participant, string) {
	t.Helper()
	ctx := context.Background()
	n := registry.NewParticipant{LegalName: dataport.Bilingual{Zh: "测试" + t.Name(), En: "Test " + t.Name()},
		Jurisdiction: "SG", Kind: registry.Foreign, RegistrationNumber: strings.ReplaceAll(dataport.NewID("reg"), "_", "-"), Roles: []dataport.Role{role}}
	p, err := x.reg.CreateParticipant(ctx, x.operator, n)
	if err != nil {
		t.Fatal(err)
	}
	if p, err = x.reg.ReviewKYC(ctx, x.operator, p.ID, registry.KYCReview{Status: registry.KYCVerified, Note: "test"}); err != nil {
		t.Fatal(err)
	}
	_, token, err := x.reg.IssueKey(ctx, p.ID, registry.NewAPIKey{Name: "web test", Roles: []dataport.Role{role}})
	if err != nil {
		t.Fatal(err)
	}
	return p, token
}

// browser is a visitor of the console over plain HTTP: it keeps the console's
// cookies as a browser does (Go's cookie jar would not send the Secure ones over
// http:// to a loopback host, which browsers do) and follows no redirect by itself,
// so that tests see each answer.
type browser struct {
	t       testing.TB
	x       *exchange
	cookies map[string]*http.Cookie
	lang    string // Accept-Language
}

func (x *exchange) browser(t testing.TB) *browser {
	return &browser{t: t, x: x, cookies: map[string]*http.Cookie{}, lang: "zh-CN,zh;q=0.9"}
}

// page is an answer of the console.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, headers ...string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.x.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept-Language", b.lang)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return page{status: res.StatusCode, header: res.Header, body: string(raw)}
}

func (b *browser) get(path string, headers ...string) page {
	b.t.Helper()
	return b.do(http.MethodGet, path, nil, headers...)
}

// post submits a form with the page's CSRF token, as the form on the page would.
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf())
	}
	return b.do(http.MethodPost, path, form, headers...)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads a CSRF token from a page, as a form carries it.
func (b *browser) csrf() string {
	b.t.Helper()
	p := b.get("/login")
	if p.status == http.StatusSeeOther { // signed in: any page has the sign-out form
		p = b.get("/catalog")
	}
	m := csrfInput.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no CSRF token on the page (%d):\n%s", p.status, p.body)
	}
	return m[1]
}

// signIn signs in with key and checks that the console sent the browser on.
func (b *browser) signIn(key string) {
	b.t.Helper()
	p := b.post("/login", url.Values{"key": {key}})
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("sign in: %d, want 303\n%s", p.status, p.body)
	}
	if b.cookies["dp_session"] == nil {
		b.t.Fatalf("sign in set no session cookie: %v", p.header.Values("Set-Cookie"))
	}
}

// markers finds missing-message markers in a page.
var markers = regexp.MustCompile(`⟦[^⟧]*⟧`)

// mustPage checks a page's status and that it shows no missing message.
func (b *browser) mustPage(path string, status int) page {
	b.t.Helper()
	p := b.get(path)
	if p.status != status {
		b.t.Fatalf("GET %s: %d, want %d\n%s", path, p.status, status, clip(p.body))
	}
	if m := markers.FindAllString(p.body, -1); len(m) > 0 {
		b.t.Errorf("GET %s in %s shows missing messages %v", path, b.lang, m)
	}
	return p
}

func clip(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "\n…(cut)"
	}
	return s
}

// sessions counts the console's sessions in the store.
func (x *exchange) sessions(t testing.TB) int {
	t.Helper()
	var n int
	err := x.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM web_sessions`).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// firstHit searches the catalog as the actor and returns the first product found.
func (x *exchange) firstHit(t testing.TB, q string) catalog.Product {
	t.Helper()
	res, err := x.cat.Search(context.Background(), dataport.System, catalog.SearchQuery{Q: q, Limit: 1})
	if err != nil || len(res.Items) == 0 {
		t.Fatalf("search %q: %v, %d items", q, err, len(res.Items))
	}
	return res.Items[0].Product
}

func describe(p page) string { return fmt.Sprintf("%d %v\n%s", p.status, p.header, clip(p.body)) }
