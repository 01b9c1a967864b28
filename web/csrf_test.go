package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dataport/dataport"
)

// TestCSRF sends state-changing requests without the visitor's CSRF token: each
// is refused with the 403 page and changes nothing. With the token, as a hidden
// field or as htmx's header, the same requests go through.
func TestCSRF(t *testing.T) {
	x := seeded(t)
	b := x.browser(t)
	b.signIn(x.keys[dataport.RoleBuyer])
	other := x.browser(t)
	other.signIn(x.keys[dataport.RoleSupplier])
	otherToken := other.csrf()
	before := x.sessions(t)

	refused := []struct {
		name    string
		form    url.Values
		headers []string
	}{
		{"no token", url.Values{}, nil},
		{"a made-up token", url.Values{"csrf": {"AAAA"}}, nil},
		{"another session's token", url.Values{"csrf": {otherToken}}, nil},
		{"another session's token as the header", url.Values{}, []string{"X-CSRF-Token", otherToken}},
		{"a cross-site request with the token", url.Values{"csrf": {b.csrf()}}, []string{"Sec-Fetch-Site", "cross-site"}},
	}
	for _, r := range refused {
		p := b.do(http.MethodPost, "/logout", r.form, r.headers...)
		if p.status != http.StatusForbidden {
			t.Errorf("sign out with %s: %d, want 403", r.name, p.status)
			continue
		}
		if m := markers.FindAllString(p.body, -1); len(m) > 0 || !strings.Contains(p.body, `data-status="403"`) {
			t.Errorf("sign out with %s: not the 403 page: %s", r.name, clip(p.body))
		}
	}
	if x.sessions(t) != before {
		t.Fatalf("a refused sign-out ended a session")
	}
	b.mustPage("/catalog", http.StatusOK) // still signed in

	// Signing in is protected too: without the visitor's token no session starts.
	anon := x.browser(t)
	p := anon.do(http.MethodPost, "/login", url.Values{"key": {x.keys[dataport.RoleBuyer]}})
	if p.status != http.StatusForbidden || x.sessions(t) != before {
		t.Errorf("sign in without a token: %d, %d sessions made", p.status, x.sessions(t)-before)
	}

	// htmx sends the token as a header: that works as the hidden field does.
	p = b.do(http.MethodPost, "/logout", url.Values{}, "X-CSRF-Token", b.csrf(), "HX-Request", "true")
	if p.status != http.StatusOK || p.header.Get("HX-Redirect") != "/login" {
		t.Fatalf("sign out with the header: %s", describe(p))
	}
	if x.sessions(t) != before-1 {
		t.Errorf("sign out ended %d sessions, want 1", before-x.sessions(t))
	}
}

// A form larger than the console reads is refused before anything reads it whole —
// the CSRF check included — with the 413 page, and changes nothing.
func TestOversizedFormRefused(t *testing.T) {
	x := seeded(t)
	b := x.browser(t)
	b.signIn(x.keys[dataport.RoleBuyer])
	before := x.sessions(t)
	big := url.Values{"q": {strings.Repeat("港", 1<<19)}} // 1.5 MB of text, encoded larger
	p := b.post("/logout", big)
	if p.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("an oversized form: %s", describe(p))
	}
	if x.sessions(t) != before {
		t.Fatal("the refused sign-out ended the session")
	}
	b.mustPage("/catalog", http.StatusOK) // still signed in
}
