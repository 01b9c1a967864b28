package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"time"
)

// Cross-site request forgery. Every request that changes something (POST, PUT,
// PATCH, DELETE) must carry the CSRF token of the visitor: a form sends it as the
// hidden field csrfField, htmx as the header csrfHeader (the layout puts it in
// hx-headers on <body>, so no script is needed). A request without it, or with
// another's, gets the 403 page and changes nothing.
//
// The secret behind the token is the session's (kept with it in web_sessions);
// before sign-in it is a random value in a Strict cookie of its own, so that the
// sign-in form is protected too (login CSRF). Each page carries the secret masked
// with fresh random bytes, so the token differs on every response and a
// compression side channel (BREACH) cannot read it out over many responses.
//
// Browsers also say where a request comes from: Go's CrossOriginProtection
// refuses cross-origin requests by Sec-Fetch-Site and Origin before the token is
// even looked at.

const (
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
	csrfCookie = "dp_csrf" // the secret of a visitor who has not signed in
)

// maskToken returns the secret masked with a one-time pad: pad || pad XOR secret.
func maskToken(secret []byte) string {
	out := make([]byte, 2*len(secret))
	rand.Read(out[:len(secret)])
	for i, b := range secret {
		out[len(secret)+i] = out[i] ^ b
	}
	return base64.RawURLEncoding.EncodeToString(out)
}

// tokenMatches reports whether token is secret masked by maskToken.
func tokenMatches(token string, secret []byte) bool {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(secret) == 0 || len(b) != 2*len(secret) {
		return false
	}
	plain := make([]byte, len(secret))
	for i := range plain {
		plain[i] = b[i] ^ b[len(secret)+i]
	}
	return subtle.ConstantTimeCompare(plain, secret) == 1
}

// csrfSecret returns the visitor's CSRF secret: the session's, or the anonymous
// cookie's, set now when the visitor has none yet.
func csrfSecret(w http.ResponseWriter, r *http.Request, s *Session) []byte {
	if s != nil {
		return s.csrfSecret
	}
	if c, err := r.Cookie(csrfCookie); err == nil {
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && len(b) == 32 {
			return b
		}
	}
	b := make([]byte, 32)
	rand.Read(b)
	setCookie(w, r, csrfCookie, base64.RawURLEncoding.EncodeToString(b), time.Time{}, true)
	return b
}

// csrfValid reports whether a state-changing request carries the visitor's token.
func csrfValid(r *http.Request, s *Session) bool {
	var secret []byte
	if s != nil {
		secret = s.csrfSecret
	} else if c, err := r.Cookie(csrfCookie); err == nil {
		secret, _ = base64.RawURLEncoding.DecodeString(c.Value)
	}
	token := r.Header.Get(csrfHeader)
	if token == "" {
		token = r.PostFormValue(csrfField)
	}
	return tokenMatches(token, secret)
}

// changes reports whether a request's method changes state.
func changes(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
