package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// TestSignInStartsASession signs in with a key: the session cookie is HttpOnly,
// Secure (the server is on a loopback host) and SameSite, the store keeps the
// token's hash and never the token, the header shows who is signed in, and
// signing out ends the session.
func TestSignInStartsASession(t *testing.T) {
	x := seeded(t)
	p, key := x.member(t, dataport.RoleBuyer)
	b := x.browser(t)
	b.signIn(key)
	c := b.cookies["dp_session"]
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie: HttpOnly %v, Secure %v, SameSite %v", c.HttpOnly, c.Secure, c.SameSite)
	}
	sum := sha256.Sum256([]byte(c.Value))
	var stored, participant string
	err := x.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT token_sha256, participant_id FROM web_sessions WHERE participant_id = $1`, p.ID).Scan(&stored, &participant)
	})
	if err != nil {
		t.Fatal(err)
	}
	if stored != hex.EncodeToString(sum[:]) || strings.Contains(stored, c.Value) {
		t.Errorf("the store keeps %q for the token %q: want its SHA-256", stored, c.Value)
	}
	page := b.mustPage("/catalog", http.StatusOK)
	if !strings.Contains(page.body, p.LegalName.Zh) || !strings.Contains(page.body, "需方") {
		t.Errorf("the header does not show the participant and its role:\n%s", clip(page.body))
	}
	if p := b.get("/login"); p.status != http.StatusSeeOther {
		t.Errorf("the sign-in page of someone signed in: %d", p.status)
	}

	out := b.post("/logout", url.Values{})
	if out.status != http.StatusSeeOther || out.header.Get("Location") != "/login" {
		t.Fatalf("sign out: %s", describe(out))
	}
	if b.cookies["dp_session"] != nil {
		t.Errorf("sign out left the session cookie")
	}
	// The old token opens nothing any more, even sent again.
	b.cookies["dp_session"] = c
	if p := b.get("/catalog"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login") {
		t.Errorf("the signed-out token still opens the catalog: %s", describe(p))
	}
}

// TestRevokedKeySignsOut revokes the key a session was made from: the session's
// next request is sent to the sign-in page, which says why, and the session is
// gone from the store.
func TestRevokedKeySignsOut(t *testing.T) {
	x := seeded(t)
	p, key := x.member(t, dataport.RoleBuyer)
	b := x.browser(t)
	b.signIn(key)
	b.mustPage("/catalog", http.StatusOK)
	keyID := strings.Split(key, ".")[1]
	if _, err := x.reg.RevokeAPIKey(context.Background(), x.operator, p.ID, keyID); err != nil {
		t.Fatal(err)
	}
	got := b.get("/catalog?q=" + url.QueryEscape("港口"))
	loc := got.header.Get("Location")
	if got.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?") || !strings.Contains(loc, "signout=revoked") {
		t.Fatalf("after the key was revoked: %s", describe(got))
	}
	if b.cookies["dp_session"] != nil {
		t.Errorf("the revoked session's cookie was not cleared")
	}
	if n := x.sessionsOf(t, p.ID); n != 0 {
		t.Errorf("%d sessions of the revoked key are left", n)
	}
	login := b.mustPage(loc, http.StatusOK)
	if !strings.Contains(login.body, `id="signed-out"`) {
		t.Errorf("the sign-in page does not say why:\n%s", clip(login.body))
	}
	// The revoked key does not sign in again.
	again := b.post("/login", url.Values{"key": {key}})
	if again.status != http.StatusUnprocessableEntity {
		t.Errorf("sign in with a revoked key: %d", again.status)
	}
}

// TestSuspensionSignsOut suspends a signed-in participant (叫停): its session ends
// at its next request, for a page and for an htmx request alike, and it cannot
// sign in while suspended.
func TestSuspensionSignsOut(t *testing.T) {
	x := seeded(t)
	p, key := x.member(t, dataport.RoleBuyer)
	b := x.browser(t)
	b.signIn(key)
	htmx := x.browser(t)
	htmx.signIn(key)
	if _, err := x.reg.Suspend(context.Background(), x.operator, p.ID, "test: suspended"); err != nil {
		t.Fatal(err)
	}
	got := b.get("/catalog")
	if got.status != http.StatusSeeOther || !strings.Contains(got.header.Get("Location"), "signout=suspended") {
		t.Fatalf("after the suspension: %s", describe(got))
	}
	// htmx is told to load the sign-in page whole, not to swap it into a region.
	got = htmx.get("/catalog?q=x", "HX-Request", "true", "HX-Target", "results")
	if !strings.Contains(got.header.Get("HX-Redirect"), "signout=suspended") {
		t.Errorf("an htmx request after the suspension: %s", describe(got))
	}
	if n := x.sessionsOf(t, p.ID); n != 0 {
		t.Errorf("%d sessions of the suspended participant are left", n)
	}
	again := x.browser(t)
	res := again.post("/login", url.Values{"key": {key}})
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "叫停") {
		t.Errorf("a suspended participant signs in: %s", describe(res))
	}
	if n := x.sessionsOf(t, p.ID); n != 0 {
		t.Errorf("signing in while suspended made %d sessions", n)
	}
}

// TestSessionExpires moves the clock past a session's end and past its key's
// expiry: either ends the session.
func TestSessionExpires(t *testing.T) {
	clock := dataport.NewFixedClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	x := fresh(t, clock)
	b := x.browser(t)
	b.signIn(x.keys[dataport.RoleBuyer])
	b.mustPage("/catalog", http.StatusOK)
	clock.Advance(13 * time.Hour)
	if got := b.get("/catalog"); !strings.Contains(got.header.Get("Location"), "signout=expired") {
		t.Errorf("a session past its 12 hours: %s", describe(got))
	}

	// A key that expires in an hour makes a session of an hour.
	var buyer registry.Participant
	for _, h := range x.world.KeyHolders() {
		if h.Role == dataport.RoleBuyer {
			buyer = h.Participant
		}
	}
	_, key, err := x.reg.IssueKey(context.Background(), buyer.ID,
		registry.NewAPIKey{Name: "short", Roles: []dataport.Role{dataport.RoleBuyer}, ExpiresAt: clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	b = x.browser(t)
	b.signIn(key)
	if exp := b.cookies["dp_session"].Expires; !exp.Equal(clock.Now().Add(time.Hour)) {
		t.Errorf("the session cookie expires at %v, want the key's expiry %v", exp, clock.Now().Add(time.Hour))
	}
	clock.Advance(61 * time.Minute)
	if got := b.get("/catalog"); !strings.Contains(got.header.Get("Location"), "signout=expired") {
		t.Errorf("a session past its key's expiry: %s", describe(got))
	}
}

// TestSignInAnswersInline sends the sign-in form with bad keys: each is answered
// at the key's input with 422, the form comes back (without the secret typed),
// htmx gets the form alone, and no session is made.
func TestSignInAnswersInline(t *testing.T) {
	x := seeded(t)
	before := x.sessions(t)
	for _, lang := range []string{"zh-CN", "en"} {
		b := x.browser(t)
		b.lang = lang
		for _, bad := range []string{"", "not-a-key", "dp.key_01nosuchkey.secret", x.keys[dataport.RoleBuyer] + "x"} {
			p := b.post("/login", url.Values{"key": {bad}, "next": {"/catalog?q=x"}})
			if p.status != http.StatusUnprocessableEntity {
				t.Fatalf("key %q: %s", bad, describe(p))
			}
			problems := between(p.body, `id="problems-key"`, `</div>`)
			if !strings.Contains(problems, `class="problem"`) || !strings.Contains(p.body, `aria-invalid="true"`) {
				t.Errorf("key %q: the problem is not at the key's input:\n%s", bad, clip(p.body))
			}
			if bad != "" && strings.Contains(p.body, bad) {
				t.Errorf("the form sent the typed key back")
			}
			if !strings.Contains(p.body, `name="next" value="/catalog?q=x"`) {
				t.Errorf("the form lost what it carried")
			}
			if m := markers.FindAllString(p.body, -1); len(m) > 0 {
				t.Errorf("missing messages %v", m)
			}
		}
		p := b.post("/login", url.Values{"key": {"wrong"}}, "HX-Request", "true", "HX-Target", "signin")
		if p.status != http.StatusUnprocessableEntity || !strings.HasPrefix(strings.TrimSpace(p.body), `<form id="signin"`) {
			t.Errorf("htmx sign-in with a bad key: want the form alone with 422, got %s", describe(p))
		}
	}
	if after := x.sessions(t); after != before {
		t.Errorf("bad keys made %d sessions", after-before)
	}
	// A good key from the same form goes on to where the form said.
	b := x.browser(t)
	p := b.post("/login", url.Values{"key": {x.keys[dataport.RoleBuyer]}, "next": {"/catalog?q=x"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/catalog?q=x" {
		t.Errorf("sign in with next: %s", describe(p))
	}
	// …but never off the server.
	b = x.browser(t)
	p = b.post("/login", url.Values{"key": {x.keys[dataport.RoleBuyer]}, "next": {"//evil.example/x"}})
	if p.header.Get("Location") != "/catalog" {
		t.Errorf("sign in with next off the server goes to %q", p.header.Get("Location"))
	}
}

func (x *exchange) sessionsOf(t testing.TB, participantID string) int {
	t.Helper()
	var n int
	err := x.db.Read(context.Background(), func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT COUNT(*) FROM web_sessions WHERE participant_id = $1`, participantID).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
