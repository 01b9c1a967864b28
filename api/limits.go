package api

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/dataport/dataport"
)

// Limits bound what one caller may ask of the server: a rate per API key and per
// client address, a time limit per ordinary request, and a slowdown of guessed keys.
// The zero value is right for production.
//
// The state is per process: N replicas behind a load balancer allow N times the
// rates below, and a client's failures counted on one replica are not seen by the
// others. That is deliberate: the limits protect each process from being swamped,
// and sharing them would cost a database round trip per request.
type Limits struct {
	// Off turns the rate limits and the slowdown of failed authentications off
	// (tests, benchmarks). Denied requests are still audited.
	Off bool

	// PerKey is the requests a second one API key may make, sustained; Burst how
	// many it may make at once after a pause (a token bucket). 50 and 500 when zero.
	PerKey float64
	Burst  int
	// PerIP and IPBurst are the same for requests without an API key, by client
	// address (an IPv6 address by its /64: one host's share of addresses). 20 and
	// 500 when zero.
	//
	// The console's pages and the Dataspace Protocol's endpoints authenticate
	// themselves (a session, the protocol's tokens) and are outside these rates: a
	// signed-in page view is several requests, and a peer pulls a transfer's files
	// one request each. The console's sign-in form is guarded against guessing
	// as the API's keys are (web.Console.GuardSignIn).
	PerIP   float64
	IPBurst int
	// OperatorFactor multiplies the rate and burst of the operator's and the
	// regulators' keys: they read the whole exchange (reviews, traces, exports) where
	// a participant reads its own records. A bound still, so that a runaway script
	// or a stolen key cannot swamp the server either. 4 when zero.
	OperatorFactor float64

	// RequestTimeout bounds an ordinary API call: its handler's context has this
	// deadline. Uploads, downloads, live streams and long runs that report as they
	// go are exempt (they are bounded by their own size and idle limits). 60 seconds
	// when zero; none when negative.
	RequestTimeout time.Duration

	// FreeFailures is how many failed authentications a client address (and an API
	// key id, see guard) may have before each further attempt must wait; the wait
	// doubles from one second with each failure, up to MaxBackoff. A success, or
	// QuietPeriod without failures, forgets them. 10, 15 minutes, 30 minutes when
	// zero: room for a person's typing mistakes, none for guessing (a key's secret
	// is random: guessing needs far more attempts than the backoff lets through).
	FreeFailures int
	MaxBackoff   time.Duration
	QuietPeriod  time.Duration

	// TrustedProxies are the load balancers and proxies whose X-Forwarded-For is
	// believed: a request from one of them is the client's named there, the
	// rightmost address that is not itself a trusted proxy. None when empty: behind
	// a proxy, every client then shares the proxy's address and its limits.
	TrustedProxies []netip.Prefix

	// AuditRetention is how long the record of denied requests keeps a minute's
	// counts (90 days when zero); AuditFlush how often each process writes its
	// counts (10 seconds when zero); AuditRowsPerMinute how many distinct rows one
	// process writes for a minute at most, the rest counted in one row per route and
	// status with client "*" (500 when zero).
	AuditRetention     time.Duration
	AuditFlush         time.Duration
	AuditRowsPerMinute int
}

// withDefaults fills the zero fields.
func (l Limits) withDefaults() Limits {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.PerKey, 50)
	defInt(&l.Burst, 500)
	def(&l.PerIP, 20)
	defInt(&l.IPBurst, 500)
	def(&l.OperatorFactor, 4)
	defDur(&l.RequestTimeout, 60*time.Second)
	defInt(&l.FreeFailures, 10)
	defDur(&l.MaxBackoff, 15*time.Minute)
	defDur(&l.QuietPeriod, 30*time.Minute)
	if l.QuietPeriod < l.MaxBackoff {
		l.QuietPeriod = l.MaxBackoff // failures must outlive the wait they cause
	}
	defDur(&l.AuditRetention, 90*24*time.Hour)
	defDur(&l.AuditFlush, 10*time.Second)
	defInt(&l.AuditRowsPerMinute, 500)
	return l
}

// maxTracked bounds each table of the limiter (buckets, failures by address, by
// key id): entries that carry nothing (a full bucket, failures past the quiet
// period) are dropped first, then arbitrary ones.
const maxTracked = 100_000

// limiter holds the per-process state of Limits.
type limiter struct {
	cfg   Limits
	clock dataport.Clock
	mux   *http.ServeMux
	// exempt are the route patterns without the request time limit.
	exempt map[string]bool

	mu        sync.Mutex
	buckets   map[string]*bucket // "key:" + key id, "ip:" + address
	ipFails   map[string]*failures
	keyFails  map[string]*failures
	lastSweep time.Time
}

// bucket is a token bucket: tokens refill at rate a second up to burst; each
// request takes one.
type bucket struct {
	tokens, rate, burst float64
	at                  time.Time
	participant         string // a key's, for the record of a refusal before the key is checked
}

func (b *bucket) refill(now time.Time) {
	if d := now.Sub(b.at).Seconds(); d > 0 {
		b.tokens = math.Min(b.burst, b.tokens+d*b.rate)
	}
	b.at = now
}

// wait is how long until the bucket holds a whole token.
func (b *bucket) wait() time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// failures are a client's (or a key id's) failed authentications since the last
// success or quiet period.
type failures struct {
	n    int
	last time.Time
}

func newLimiter(cfg Limits, clock dataport.Clock, mux *http.ServeMux) *limiter {
	return &limiter{cfg: cfg.withDefaults(), clock: clock, mux: mux, exempt: map[string]bool{},
		buckets: map[string]*bucket{}, ipFails: map[string]*failures{}, keyFails: map[string]*failures{}}
}

// take takes a token from the bucket named name, made with rate and burst when new.
// It returns how long to wait when there is none, and the tokens left.
func (l *limiter) take(name, participant string, rate, burst float64) (wait time.Duration, left float64) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[name]
	if b == nil {
		b = &bucket{tokens: burst, rate: rate, burst: burst, at: now, participant: participant}
		l.buckets[name] = b
	}
	b.refill(now)
	if w := b.wait(); w > 0 {
		return w, b.tokens
	}
	b.tokens--
	return 0, b.tokens
}

// empty is how long the bucket named name is still empty, without taking from it:
// the check made before a key is verified, so that a key already over its rate
// costs no database read; only verified requests take tokens, so a caller who
// merely names a key cannot use its rate up.
func (l *limiter) empty(name string) (wait time.Duration, b bucket) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.buckets[name]
	if p == nil {
		return 0, bucket{}
	}
	p.refill(now)
	return p.wait(), *p
}

// backoff is the wait failures impose at now: none for the first FreeFailures,
// then one second doubling with each further failure, up to MaxBackoff, counted
// from the latest failure.
func (l *limiter) backoff(f *failures, now time.Time) time.Duration {
	if f == nil || f.n < l.cfg.FreeFailures {
		return 0
	}
	d := l.cfg.MaxBackoff
	if shift := f.n - l.cfg.FreeFailures; shift < 30 {
		d = min(time.Second<<shift, l.cfg.MaxBackoff)
	}
	return max(0, f.last.Add(d).Sub(now))
}

// authWait is how long a client at ip must wait before its key naming keyID (""
// when the token names none) is checked: the address's backoff, and the key id's
// when the key id is under attack and this address has failed recently too. A key
// holder at an address with no failures is never held up by others' failures
// against its key: guessing from elsewhere cannot lock it out.
func (l *limiter) authWait(ip, keyID string) time.Duration {
	if l.cfg.Off {
		return 0
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	f := l.ipFails[ip]
	if f == nil {
		return 0
	}
	wait := l.backoff(f, now)
	if keyID != "" {
		wait = max(wait, l.backoff(l.keyFails[keyID], now))
	}
	return wait
}

// authFailed counts a failed authentication by the client at ip naming keyID.
func (l *limiter) authFailed(ip, keyID string) {
	if l.cfg.Off {
		return
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	count := func(m map[string]*failures, k string) {
		f := m[k]
		if f == nil {
			f = &failures{}
			m[k] = f
		}
		f.n++
		f.last = now
	}
	count(l.ipFails, ip)
	if keyID != "" {
		count(l.keyFails, keyID)
	}
}

// authSucceeded forgets the failures of the address and of the key id.
func (l *limiter) authSucceeded(ip, keyID string) {
	if l.cfg.Off {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.ipFails, ip)
	delete(l.keyFails, keyID)
}

// sweep drops what no longer matters, once a minute or when a table is full, so
// that the tables hold the callers of the last minutes, not every caller ever.
// l.mu is held.
func (l *limiter) sweep(now time.Time) {
	full := len(l.buckets) >= maxTracked || len(l.ipFails) >= maxTracked || len(l.keyFails) >= maxTracked
	if !full && now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.refill(now); b.tokens >= b.burst {
			delete(l.buckets, k) // a full bucket is the same as a new one
		}
	}
	for _, m := range []map[string]*failures{l.ipFails, l.keyFails} {
		for k, f := range m {
			if now.Sub(f.last) >= l.cfg.QuietPeriod {
				delete(m, k)
			}
		}
	}
	// Still full: forget arbitrary entries (map order is random), so that memory
	// stays bounded whatever a flood of addresses does.
	for _, m := range []map[string]*failures{l.ipFails, l.keyFails} {
		for k := range m {
			if len(m) < maxTracked*9/10 {
				break
			}
			delete(m, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < maxTracked*9/10 {
			break
		}
		delete(l.buckets, k)
	}
}

// keyRate is the rate and burst of an API key's bucket.
func (l *limiter) keyRate(a dataport.Actor) (rate, burst float64) {
	rate, burst = l.cfg.PerKey, float64(l.cfg.Burst)
	if a.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		rate, burst = rate*l.cfg.OperatorFactor, burst*l.cfg.OperatorFactor
	}
	return rate, burst
}

// unlimitedPaths are never rate limited: the load balancer's and Prometheus's
// probes, which come from a few fixed addresses and must get through whatever
// the other clients there do.
var unlimitedPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// unlimited reports whether a request is outside the rate limits: the probes, and
// the log's tiles (C2SP tlog-tiles), which are public and immutable, cached by
// whatever sits in front of the server, and fetched by the thousand by anyone who
// verifies the whole log (dataport verify -entries), one request each.
func unlimited(r *http.Request) bool {
	return unlimitedPaths[r.URL.Path] || strings.HasPrefix(r.URL.Path, "/log/tile/")
}

// limitKey takes a token for a verified API key; it answers 429 and returns false
// when the key is over its rate.
func (s *Server) limitKey(w http.ResponseWriter, r *http.Request, a dataport.Actor) bool {
	l := s.limiter
	if l.cfg.Off || unlimited(r) {
		return true
	}
	rate, burst := l.keyRate(a)
	wait, left := l.take("key:"+a.KeyID, a.ParticipantID, rate, burst)
	return s.rateAnswer(w, r, wait, left, rate, burst, "this API key")
}

// limitIP takes a token for a request without an API key, by client address.
func (s *Server) limitIP(w http.ResponseWriter, r *http.Request) bool {
	l := s.limiter
	if l.cfg.Off || unlimited(r) {
		return true
	}
	rate, burst := l.cfg.PerIP, float64(l.cfg.IPBurst)
	wait, left := l.take("ip:"+s.clientIP(r), "", rate, burst)
	return s.rateAnswer(w, r, wait, left, rate, burst, "this address")
}

// rateAnswer writes the RateLimit fields (draft-ietf-httpapi-ratelimit-headers:
// the policy's quota q over a window of w seconds; r left, t seconds until the
// bucket is full again) and, when the caller must wait, 429 with Retry-After.
func (s *Server) rateAnswer(w http.ResponseWriter, r *http.Request, wait time.Duration, left, rate, burst float64, who string) bool {
	h := w.Header()
	window := int(math.Ceil(burst / rate))
	h.Set("RateLimit-Policy", fmt.Sprintf(`"default";q=%d;w=%d`, int(burst), window))
	h.Set("RateLimit", fmt.Sprintf(`"default";r=%d;t=%d`, int(max(0, left)), int(math.Ceil((burst-left)/rate))))
	if wait <= 0 {
		return true
	}
	secs := retryAfter(wait)
	h.Set("Retry-After", strconv.Itoa(secs))
	deny(r, reasonRate, "")
	writeProblem(w, http.StatusTooManyRequests, fmt.Sprintf(
		"too many requests: %s may make %s requests a second, %d at once; retry after %d s", who, strconv.FormatFloat(rate, 'f', -1, 64), int(burst), secs))
	return false
}

// retryAfter is a wait in whole seconds, rounded up: Retry-After takes a
// non-negative integer of seconds (RFC 9110 §10.2.3), and a client that retries
// after fewer seconds than it must would only be refused again.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// authBackoff answers 429 when the client at the request's address must wait
// before its key naming keyID is checked.
func (s *Server) authBackoff(w http.ResponseWriter, r *http.Request, keyID string) bool {
	wait := s.limiter.authWait(s.clientIP(r), keyID)
	if wait <= 0 {
		return true
	}
	secs := retryAfter(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	deny(r, reasonBackoff, "")
	writeProblem(w, http.StatusTooManyRequests, fmt.Sprintf(
		"too many failed authentications from this address: retry after %d s", secs))
	return false
}

// keyIDOf is the key id a bearer token names ("dp.<key id>.<secret>"), or "" when
// it names none that could be one. Only the id's shape is checked: the registry
// decides whether the key exists.
func keyIDOf(token string) string {
	rest, ok := strings.CutPrefix(token, "dp.")
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, ".")
	if !ok || id == "" || len(id) > 64 {
		return ""
	}
	for _, c := range id {
		if !(c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return ""
		}
	}
	return id
}

// clientIP is the address a request's limits are counted by: the peer's, or,
// from a trusted proxy, the rightmost address of X-Forwarded-For that is not a
// trusted proxy (the ones left of it are the client's to write). An IPv6 address
// counts by its /64, which a single host is commonly given whole.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if s.limiter.trusted(addr) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			addr = a.Unmap()
			if !s.limiter.trusted(addr) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func (l *limiter) trusted(a netip.Addr) bool {
	for _, p := range l.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// longRoutes are the operations that stream or run long, besides those whose
// request body is streamed or larger than a JSON body (found from their
// operations, exemptRoutes): downloads, and runs that report progress as they go.
var longRoutes = []string{"download", "product-attachment", "sync-upstream", "run-harvest",
	"GET /catalog.jsonld", "GET /api/v1/dsp/consumer/transfers/{id}/files/{path...}"}

// exemptRoutes finds the route patterns without the request time limit: the
// operations whose body is streamed or may be larger than a JSON body (uploads,
// order data, live streams, rule packs), and longRoutes.
func (s *Server) exemptRoutes() {
	ids := map[string]bool{}
	for _, id := range longRoutes {
		ids[id] = true
		if strings.Contains(id, " ") {
			s.limiter.exempt[id] = true
		}
	}
	for path, item := range s.api.OpenAPI().Paths {
		for method, op := range map[string]*huma.Operation{http.MethodGet: item.Get, http.MethodPost: item.Post,
			http.MethodPut: item.Put, http.MethodPatch: item.Patch, http.MethodDelete: item.Delete} {
			if op == nil {
				continue
			}
			if ids[op.OperationID] || op.MaxBodyBytes < 0 || op.MaxBodyBytes > maxBody {
				s.limiter.exempt[method+" "+path] = true
			}
		}
	}
}

// limitTime gives an ordinary API call's handler a context with the request time
// limit (Limits.RequestTimeout); the server's own timeouts already cut slow clients.
func (s *Server) limitTime(next http.Handler) http.Handler {
	d := s.limiter.cfg.RequestTimeout
	if d < 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.limiter.mux.Handler(r); pattern == "" || s.limiter.exempt[pattern] {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
