package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
	"github.com/dataport/dataport/web"
)

// newLimited is an exchange with the registry alone, served with limits, on a
// clock that stands still until the test moves it: buckets refill and backoffs end
// only when the test says so, never by the test's own speed.
func newLimited(t *testing.T, engine store.Engine, limits api.Limits) (*exchange, *dataport.FixedClock) {
	t.Helper()
	return newLimitedWith(t, engine, limits, false)
}

// newLimitedWith is newLimited, with the web console in front of the API when
// console is true, as serve mounts it.
func newLimitedWith(t *testing.T, engine store.Engine, limits api.Limits, console bool) (*exchange, *dataport.FixedClock) {
	t.Helper()
	clock := dataport.NewFixedClock(time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC))
	db := storetest.Open(t, engine, store.Options{Clock: clock})
	reg := registry.New(db)
	_, token, _, err := reg.Bootstrap(context.Background(), registry.OperatorIdentity{
		LegalName: dataport.Bilingual{Zh: "测试数据交易所", En: "Test Data Exchange"}})
	if err != nil {
		t.Fatal(err)
	}
	deps := api.Deps{DB: db, Registry: reg, Version: "test", Limits: limits}
	if console {
		deps.Console = web.New(web.Deps{DB: db, Registry: reg})
	}
	server := api.NewServer(deps)
	srv := httptest.NewServer(server)
	t.Cleanup(srv.Close)
	return &exchange{t: t, db: db, reg: reg, srv: srv, server: server, operator: token}, clock
}

// member registers a participant holding role and returns a key of it.
func (x *exchange) member(role dataport.Role) string {
	x.t.Helper()
	ctx := context.Background()
	op := dataport.Actor{ParticipantID: x.operatorID(), Roles: []dataport.Role{dataport.RoleOperator}}
	p, err := x.reg.CreateParticipant(ctx, op, registry.NewParticipant{
		LegalName:    dataport.Bilingual{Zh: "测试成员", En: "Test member " + string(role)},
		Jurisdiction: "SG", Kind: registry.Foreign, RegistrationNumber: strings.ReplaceAll(dataport.NewID("reg"), "_", "-"),
		Roles: []dataport.Role{role}})
	if err != nil {
		x.t.Fatal(err)
	}
	_, token, err := x.reg.IssueKey(ctx, p.ID, registry.NewAPIKey{Name: "limits test", Roles: []dataport.Role{role}})
	if err != nil {
		x.t.Fatal(err)
	}
	return token
}

// from sends a request as the client at ip, through the trusted proxy the test
// server's peer address stands for.
func (x *exchange) from(ip, method, path, key string) response {
	x.t.Helper()
	return x.send(method, path, key, "", nil, "X-Forwarded-For", ip)
}

// wantRetryAfter checks a 429 problem and its Retry-After, in whole seconds.
func wantRetryAfter(t *testing.T, r response, secs string) {
	t.Helper()
	wantProblem(t, r, http.StatusTooManyRequests, "")
	if got := r.header.Get("Retry-After"); got != secs {
		t.Fatalf("Retry-After %q, want %q", got, secs)
	}
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func TestRateLimitPerKey(t *testing.T) {
	x, clock := newLimited(t, store.SQLite, api.Limits{PerKey: 1, Burst: 3})
	a, b := x.member(dataport.RoleBuyer), x.member(dataport.RoleBuyer)
	for i := range 3 {
		r := x.do("GET", "/api/v1/me", a, nil)
		wantStatus(t, r, http.StatusOK)
		if want := fmt.Sprintf(`"default";r=%d;t=%d`, 2-i, i+1); r.header.Get("RateLimit") != want {
			t.Errorf("request %d: RateLimit %q, want %q", i+1, r.header.Get("RateLimit"), want)
		}
	}
	over := x.do("GET", "/api/v1/me", a, nil)
	wantRetryAfter(t, over, "1")
	if p := over.header.Get("RateLimit-Policy"); p != `"default";q=3;w=3` {
		t.Errorf("RateLimit-Policy %q", p)
	}
	// Another key is not held up by the first one's rate.
	wantStatus(t, x.do("GET", "/api/v1/me", b, nil), http.StatusOK)

	// Half a second refills half a token: still too early, and the wait rounds up.
	clock.Advance(500 * time.Millisecond)
	wantRetryAfter(t, x.do("GET", "/api/v1/me", a, nil), "1")
	clock.Advance(500 * time.Millisecond)
	wantStatus(t, x.do("GET", "/api/v1/me", a, nil), http.StatusOK)
	wantRetryAfter(t, x.do("GET", "/api/v1/me", a, nil), "1")

	// A request over the rate changes nothing: the refused key's next request after
	// the wait is served as any other.
	clock.Advance(3 * time.Second)
	for range 3 {
		wantStatus(t, x.do("GET", "/api/v1/me", a, nil), http.StatusOK)
	}
}

func TestRateLimitOperatorHasMore(t *testing.T) {
	x, _ := newLimited(t, store.SQLite, api.Limits{PerKey: 1, Burst: 2, OperatorFactor: 3})
	buyer := x.member(dataport.RoleBuyer)
	served := func(key string) int {
		n := 0
		for range 10 {
			if x.do("GET", "/api/v1/me", key, nil).status == http.StatusOK {
				n++
			}
		}
		return n
	}
	if n := served(buyer); n != 2 {
		t.Errorf("a buyer's key was served %d of 10 at once, want its burst of 2", n)
	}
	if n := served(x.operator); n != 6 {
		t.Errorf("the operator's key was served %d of 10 at once, want 3 × 2", n)
	}
}

func TestRateLimitWithoutKeyByAddress(t *testing.T) {
	x, clock := newLimited(t, store.SQLite, api.Limits{PerIP: 0.4, IPBurst: 2, TrustedProxies: loopback})
	for range 2 {
		wantStatus(t, x.from("203.0.113.7", "GET", "/version", ""), http.StatusOK)
	}
	// 0.4 a second: a whole token in 2.5 s, said as 3.
	wantRetryAfter(t, x.from("203.0.113.7", "GET", "/version", ""), "3")
	wantStatus(t, x.from("203.0.113.8", "GET", "/version", ""), http.StatusOK)
	// The probes of the load balancer and of Prometheus are never limited.
	for range 5 {
		wantStatus(t, x.from("203.0.113.7", "GET", "/healthz", ""), http.StatusOK)
	}
	// An IPv6 client is counted by its /64: another address of it shares its bucket.
	wantStatus(t, x.from("2001:db8:1:2::1", "GET", "/version", ""), http.StatusOK)
	wantStatus(t, x.from("2001:db8:1:2::2", "GET", "/version", ""), http.StatusOK)
	wantProblem(t, x.from("2001:db8:1:2::3", "GET", "/version", ""), http.StatusTooManyRequests, "")
	clock.Advance(3 * time.Second)
	wantStatus(t, x.from("203.0.113.7", "GET", "/version", ""), http.StatusOK)
}

func TestRateLimitsOff(t *testing.T) {
	x, _ := newLimited(t, store.SQLite, api.Limits{Off: true, PerKey: 1, Burst: 1, FreeFailures: 1})
	for range 5 {
		wantStatus(t, x.do("GET", "/api/v1/me", x.operator, nil), http.StatusOK)
		wantStatus(t, x.do("GET", "/api/v1/me", "dp.key_nosuch.secret", nil), http.StatusUnauthorized)
	}
}

func TestFailedAuthenticationsSlowDown(t *testing.T) {
	x, clock := newLimited(t, store.SQLite, api.Limits{FreeFailures: 3, TrustedProxies: loopback})
	good := x.member(dataport.RoleBuyer)
	const attacker, holder = "198.51.100.66", "192.0.2.10"
	bad := good[:len(good)-4] + "xxxx" // the holder's key id, a wrong secret
	for range 3 {
		wantProblem(t, x.from(attacker, "GET", "/api/v1/me", bad), http.StatusUnauthorized, "")
	}
	// The fourth attempt waits a second from the last failure; the key is not checked.
	wantRetryAfter(t, x.from(attacker, "GET", "/api/v1/me", good), "1")
	// The key's holder, elsewhere, is not locked out by the guessing.
	wantStatus(t, x.from(holder, "GET", "/api/v1/me", good), http.StatusOK)

	// Each further failure doubles the wait.
	clock.Advance(time.Second)
	wantProblem(t, x.from(attacker, "GET", "/api/v1/me", "dp.key_other.guess"), http.StatusUnauthorized, "")
	wantRetryAfter(t, x.from(attacker, "GET", "/api/v1/me", bad), "2")
	clock.Advance(2 * time.Second)
	wantProblem(t, x.from(attacker, "GET", "/api/v1/me", bad), http.StatusUnauthorized, "")
	wantRetryAfter(t, x.from(attacker, "GET", "/api/v1/me", bad), "4")

	// A success forgets the address's failures.
	clock.Advance(4 * time.Second)
	wantStatus(t, x.from(attacker, "GET", "/api/v1/me", good), http.StatusOK)
	for range 3 {
		wantProblem(t, x.from(attacker, "GET", "/api/v1/me", bad), http.StatusUnauthorized, "")
	}
	wantProblem(t, x.from(attacker, "GET", "/api/v1/me", bad), http.StatusTooManyRequests, "")
	// So does a quiet period (30 minutes by default): three free failures again.
	clock.Advance(31 * time.Minute)
	for range 3 {
		wantProblem(t, x.from(attacker, "GET", "/api/v1/me", bad), http.StatusUnauthorized, "")
	}
	wantProblem(t, x.from(attacker, "GET", "/api/v1/me", bad), http.StatusTooManyRequests, "")
}

// Guessing one key's secret from many addresses, each failing less than the free
// failures: the key id is under attack, and an address that failed must wait before
// it names that key again; an address that did not fail is served at once.
func TestGuessingOneKeyFromManyAddresses(t *testing.T) {
	x, _ := newLimited(t, store.SQLite, api.Limits{FreeFailures: 3, TrustedProxies: loopback})
	good := x.member(dataport.RoleBuyer)
	bad := good[:len(good)-4] + "xxxx"
	for i := range 4 {
		wantProblem(t, x.from(fmt.Sprintf("198.51.100.%d", i+1), "GET", "/api/v1/me", bad), http.StatusUnauthorized, "")
	}
	// Four failures against the key: its wait is two seconds.
	wantRetryAfter(t, x.from("198.51.100.1", "GET", "/api/v1/me", bad), "2")
	// The same address naming another key is not held up by this key's attack.
	wantProblem(t, x.from("198.51.100.1", "GET", "/api/v1/me", "dp.key_other.guess"), http.StatusUnauthorized, "")
	wantStatus(t, x.from("192.0.2.10", "GET", "/api/v1/me", good), http.StatusOK)
}

// Without trusted proxies, X-Forwarded-For is the client's to write and is not
// believed: a client cannot escape its backoff by naming other addresses.
func TestForwardedForIsNotBelievedByDefault(t *testing.T) {
	x, _ := newLimited(t, store.SQLite, api.Limits{FreeFailures: 2})
	for i := range 2 {
		wantProblem(t, x.from(fmt.Sprintf("198.51.100.%d", i+1), "GET", "/api/v1/me", "dp.key_nosuch.guess"), http.StatusUnauthorized, "")
	}
	wantProblem(t, x.from("198.51.100.99", "GET", "/api/v1/me", "dp.key_nosuch.guess"), http.StatusTooManyRequests, "")
}

func TestOversizedBodyIs413AndChangesNothing(t *testing.T) {
	x, _ := newLimited(t, store.SQLite, api.Limits{})
	participants, filings := x.count("participants"), x.count("filings")
	huge := `{"legal_name": {"en": "` + strings.Repeat("x", 70<<10) + `"}}`
	m := wantProblem(t, x.do("POST", "/api/v1/participants", x.operator, huge), http.StatusRequestEntityTooLarge, "")
	if d, _ := m["detail"].(string); !strings.Contains(d, "65536") {
		t.Errorf("detail %q does not name the limit", d)
	}
	if x.count("participants") != participants || x.count("filings") != filings {
		t.Fatal("an oversized request changed the registry")
	}
}

func TestRequestTimeLimit(t *testing.T) {
	x, _ := newLimited(t, store.SQLite, api.Limits{RequestTimeout: time.Nanosecond})
	// An ordinary call's handler runs out of time at its first database read.
	m := wantProblem(t, x.do("GET", "/api/v1/participants", x.operator, nil), http.StatusServiceUnavailable, "")
	if d, _ := m["detail"].(string); !strings.Contains(d, "longer than the server allows") {
		t.Errorf("detail %q does not say the request ran out of time", d)
	}
	// Without a limit the same call is served.
	y, _ := newLimited(t, store.SQLite, api.Limits{RequestTimeout: -1})
	wantStatus(t, y.do("GET", "/api/v1/participants", y.operator, nil), http.StatusOK)
}

func TestDeniedRequestsAreAudited(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		// No flush by time during the test: the record is written when it is read.
		x, clock := newLimited(t, engine, api.Limits{PerKey: 1, Burst: 1, TrustedProxies: loopback, AuditFlush: time.Hour})
		buyer := x.member(dataport.RoleBuyer)
		regulator := x.member(dataport.RoleRegulator)
		for range 2 {
			wantStatus(t, x.from("198.51.100.7", "GET", "/api/v1/me", "dp.key_nosuch.guess"), http.StatusUnauthorized)
		}
		wantStatus(t, x.from("192.0.2.1", "GET", "/api/v1/me", buyer), http.StatusOK)
		wantStatus(t, x.from("192.0.2.1", "GET", "/api/v1/me", buyer), http.StatusTooManyRequests)
		clock.Advance(time.Minute)
		wantStatus(t, x.send("POST", "/api/v1/participants", buyer, "application/json", bytes.NewReader(mustJSON(t, tencent)),
			"X-Forwarded-For", "192.0.2.1"), http.StatusForbidden)
		if n := x.count("denied_requests"); n != 0 {
			t.Fatalf("%d rows written at once: the record must be written in batches", n)
		}

		// Only the operator and regulators read it.
		wantProblem(t, x.do("GET", "/api/v1/audit/denials", "", nil), http.StatusUnauthorized, "")
		clock.Advance(time.Minute)
		wantProblem(t, x.do("GET", "/api/v1/audit/denials", buyer, nil), http.StatusForbidden, "")
		r := x.do("GET", "/api/v1/audit/denials?since=2026-11-02T09:00:00Z", x.operator, nil)
		wantStatus(t, r, http.StatusOK)
		type row struct {
			Minute        time.Time `json:"minute"`
			ParticipantID string    `json:"participant_id"`
			KeyID         string    `json:"key_id"`
			ClientIP      string    `json:"client_ip"`
			Method        string    `json:"method"`
			Route         string    `json:"route"`
			Status        int       `json:"status"`
			Reason        string    `json:"reason"`
			Detail        string    `json:"detail"`
			Count         int       `json:"count"`
		}
		var got struct{ Items []row }
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		buyerID := x.participantOf(buyer)
		t0 := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
		want := []row{
			// Newest minute first, then the most requests.
			{Minute: t0.Add(2 * time.Minute), ParticipantID: buyerID, ClientIP: "127.0.0.1", Method: "GET", Route: "GET /api/v1/audit/denials", Status: 403, Reason: "forbidden", Count: 1},
			{Minute: t0.Add(time.Minute), ClientIP: "127.0.0.1", Method: "GET", Route: "GET /api/v1/audit/denials", Status: 401, Reason: "credentials", Count: 1},
			{Minute: t0.Add(time.Minute), ParticipantID: buyerID, ClientIP: "192.0.2.1", Method: "POST", Route: "POST /api/v1/participants", Status: 403, Reason: "forbidden", Count: 1},
			{Minute: t0, KeyID: "key_nosuch", ClientIP: "198.51.100.7", Method: "GET", Route: "GET /api/v1/me", Status: 401, Reason: "credentials", Count: 2},
			{Minute: t0, ParticipantID: buyerID, ClientIP: "192.0.2.1", Method: "GET", Route: "GET /api/v1/me", Status: 429, Reason: "rate", Count: 1},
		}
		if len(got.Items) != len(want) {
			t.Fatalf("%d rows, want %d:\n%s", len(got.Items), len(want), r.body)
		}
		for i, w := range want {
			g := got.Items[i]
			if g.Detail == "" {
				t.Errorf("row %d has no detail", i)
			}
			if w.ParticipantID != "" && !strings.HasPrefix(g.KeyID, "key_") {
				t.Errorf("row %d: key id %q, want the caller's", i, g.KeyID)
			}
			g.Detail = ""
			if w.ParticipantID != "" {
				g.KeyID = ""
			}
			if !g.Minute.Equal(w.Minute) {
				t.Errorf("row %d: minute %v, want %v", i, g.Minute, w.Minute)
			}
			g.Minute = w.Minute
			if g != w {
				t.Errorf("row %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
		// A regulator reads it too, filtered.
		r = x.do("GET", "/api/v1/audit/denials?since=2026-11-02T09:00:00Z&status=429", regulator, nil)
		wantStatus(t, r, http.StatusOK)
		if err := json.Unmarshal(r.body, &got); err != nil || len(got.Items) != 1 || got.Items[0].Status != 429 {
			t.Errorf("filtered by status 429: %s", r.body)
		}
		// And Prometheus counts them.
		metrics := x.do("GET", "/metrics", "", nil)
		if line := `dataport_http_denied_total{code="401",reason="credentials",route="GET /api/v1/me"} 2`; !strings.Contains(string(metrics.body), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	})
}

// participantOf is the participant a key belongs to, asked of the registry (a
// request would use the key's rate up).
func (x *exchange) participantOf(key string) string {
	x.t.Helper()
	a, err := x.reg.Authenticate(context.Background(), key)
	if err != nil {
		x.t.Fatal(err)
	}
	return a.ParticipantID
}

// The console's sign-in form is guarded as the API is, with one count of failures:
// after the free failures, an address must wait before its key is even checked,
// and the form says so with 429 and Retry-After; a key holder elsewhere signs in.
func TestConsoleSignInSlowsDown(t *testing.T) {
	x, clock := newLimitedWith(t, store.SQLite, api.Limits{FreeFailures: 3, TrustedProxies: loopback, AuditFlush: time.Hour}, true)
	good := x.member(dataport.RoleBuyer)
	bad := good[:len(good)-4] + "xxxx"
	signIn := func(ip, key string) response {
		t.Helper()
		page := x.send("GET", "/login", "", "", nil, "X-Forwarded-For", ip, "Accept-Language", "en")
		wantStatus(t, page, http.StatusOK)
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page.body)
		if m == nil {
			t.Fatalf("no CSRF token on the sign-in page:\n%s", page.body)
		}
		var cookies []string
		for _, c := range page.header["Set-Cookie"] {
			cookies = append(cookies, strings.SplitN(c, ";", 2)[0])
		}
		form := url.Values{"key": {key}, "csrf": {string(m[1])}}.Encode()
		req, _ := http.NewRequest("POST", x.srv.URL+"/login", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", ip)
		req.Header.Set("Accept-Language", "en")
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
		// A signed-in visitor is sent on with 303: that answer, not where it leads.
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return response{status: res.StatusCode, header: res.Header, body: body}
	}
	const attacker, holder = "198.51.100.66", "192.0.2.10"
	for range 2 {
		wantStatus(t, signIn(attacker, bad), http.StatusUnprocessableEntity)
	}
	// The API and the form count together.
	wantProblem(t, x.from(attacker, "GET", "/api/v1/me", bad), http.StatusUnauthorized, "")
	r := signIn(attacker, good)
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.header.Get("Retry-After") != "1" || !strings.Contains(string(r.body), "Too many failed sign-ins") {
		t.Errorf("a held sign-in: Retry-After %q, page:\n%s", r.header.Get("Retry-After"), r.body)
	}
	wantStatus(t, signIn(holder, good), http.StatusSeeOther)
	clock.Advance(time.Second)
	wantStatus(t, signIn(attacker, good), http.StatusSeeOther)

	// The failed sign-ins are in the record of denied requests.
	d := x.do("GET", "/api/v1/audit/denials?since=2026-11-02T09:00:00Z&client_ip="+attacker, x.operator, nil)
	wantStatus(t, d, http.StatusOK)
	var got struct {
		Items []struct {
			Route, Reason string
			Status, Count int
		}
	}
	if err := json.Unmarshal(d.body, &got); err != nil {
		t.Fatal(err)
	}
	var form, held int
	for _, it := range got.Items {
		switch {
		case it.Status == http.StatusUnprocessableEntity:
			form += it.Count
		case it.Status == http.StatusTooManyRequests:
			held += it.Count
		}
	}
	if form != 2 || held != 1 {
		t.Errorf("the record holds %d failed and %d held sign-ins, want 2 and 1:\n%s", form, held, d.body)
	}
}
