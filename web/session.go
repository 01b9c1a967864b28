package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Sessions. Signing in checks an API key with the registry once and starts a
// session: a random token in an HttpOnly cookie, whose SHA-256 (never the token)
// is kept in web_sessions with the participant, the key's id, the session's CSRF
// secret and its expiry. The key itself is not kept anywhere.
//
// A session is not a credential of its own: on every request it is checked with
// the registry again — the key still in force (not revoked, not expired), the
// participant still active — and the actor's roles are the key's roles the
// participant still holds, as registry.Authenticate computes them for the API. So
// revoking a key or suspending a participant (叫停) signs its people out of the
// console on their next click.

// sessionCookie holds the session token.
const sessionCookie = "dp_session"

// Session is a signed-in person's session, as checked for this request.
type Session struct {
	tokenSHA256 string
	csrfSecret  []byte
	keyExpiry   time.Time // the API key's, when it has one: a session never outlives its key
	ExpiresAt   time.Time
	// Actor is who the pages act as: the participant, the key and its roles now.
	Actor dataport.Actor
	// Participant is the signed-in participant as the registry has it now.
	Participant registry.Participant
}

// signOutReason says why a session ended without its owner signing out; the
// sign-in page tells the person (enum "signout").
type signOutReason string

const (
	signOutRevoked   signOutReason = "revoked"   // the API key was revoked
	signOutExpired   signOutReason = "expired"   // the key or the session expired
	signOutSuspended signOutReason = "suspended" // the participant was suspended (叫停)
	signOutUnknown   signOutReason = "unknown"   // no such session, key or participant
)

// signedOut is the error of a request whose session ended: the console answers it
// by sending the person to the sign-in page.
type signedOut struct{ reason signOutReason }

func (e *signedOut) Error() string { return "console: signed out (" + string(e.reason) + ")" }

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// startSession signs in with an API key: the registry checks the key, the
// participant must be active, and a session is written. It returns the session's
// token, for the cookie. A bad key is KindUnauthorized, a suspended participant
// KindForbidden: the sign-in form shows either at its field.
func (c *Console) startSession(ctx context.Context, apiKey string) (string, *Session, error) {
	const op = "web.startSession"
	actor, err := c.deps.Registry.Authenticate(ctx, apiKey)
	if err != nil {
		return "", nil, err
	}
	s := &Session{}
	if reason, err := c.check(ctx, s, actor.ParticipantID, actor.KeyID); err != nil {
		return "", nil, err
	} else if reason != "" {
		if reason == signOutSuspended {
			return "", nil, dataport.Errorf(op, dataport.KindForbidden, "participant %s is suspended", actor.ParticipantID)
		}
		return "", nil, dataport.Errorf(op, dataport.KindUnauthorized, "API key %s is %s", actor.KeyID, reason)
	}
	token := randomToken()
	s.tokenSHA256 = hashToken(token)
	s.csrfSecret = make([]byte, 32)
	rand.Read(s.csrfSecret)
	now := c.deps.DB.Clock().Now()
	s.ExpiresAt = now.Add(c.deps.SessionTTL)
	if key := s.keyExpiry; !key.IsZero() && key.Before(s.ExpiresAt) {
		s.ExpiresAt = key
	}
	err = c.deps.DB.WriteDerived(ctx, func(tx *store.Tx) error {
		// Sessions that ran out go when a new one starts, so the table stays the
		// size of the sessions in use without a sweeper of its own.
		if _, err := tx.Exec(`DELETE FROM web_sessions WHERE expires_at <= $1`, store.FormatTime(tx.Now())); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO web_sessions (token_sha256, participant_id, key_id, csrf_secret, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, s.tokenSHA256, actor.ParticipantID, actor.KeyID,
			base64.RawURLEncoding.EncodeToString(s.csrfSecret), store.FormatTime(tx.Now()), store.FormatTime(s.ExpiresAt))
		return err
	})
	if err != nil {
		return "", nil, dataport.Internal(op, err)
	}
	return token, s, nil
}

// session finds the request's session and checks it with the registry. It returns
// nil without error for a request that has no session cookie, and a *signedOut
// error for one whose session has ended (the session is then deleted).
func (c *Console) session(r *http.Request) (*Session, error) {
	const op = "web.session"
	cookie, err := r.Cookie(sessionCookie)
	if err != nil || cookie.Value == "" {
		return nil, nil
	}
	ctx := r.Context()
	s := &Session{tokenSHA256: hashToken(cookie.Value)}
	var participantID, keyID, secret, expires string
	err = c.deps.DB.Read(ctx, func(tx *store.Tx) error {
		return tx.QueryRow(`SELECT participant_id, key_id, csrf_secret, expires_at FROM web_sessions WHERE token_sha256 = $1`,
			s.tokenSHA256).Scan(&participantID, &keyID, &secret, &expires)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &signedOut{signOutUnknown}
	}
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	s.csrfSecret, _ = base64.RawURLEncoding.DecodeString(secret)
	s.ExpiresAt, _ = store.ParseTime(expires)
	if !c.deps.DB.Clock().Now().Before(s.ExpiresAt) {
		c.endSession(ctx, s)
		return nil, &signedOut{signOutExpired}
	}
	reason, err := c.check(ctx, s, participantID, keyID)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		c.endSession(ctx, s)
		return nil, &signedOut{reason}
	}
	return s, nil
}

// check asks the registry whether the key still stands for the participant and the
// participant is active, and fills in the session's actor and participant. A
// reason is returned when the session must end; an error when the registry could
// not be asked.
func (c *Console) check(ctx context.Context, s *Session, participantID, keyID string) (signOutReason, error) {
	// The session acts as the participant it was made for, as that participant
	// reads its own keys and record: the registry's own permission checks apply.
	self := dataport.Actor{ParticipantID: participantID, KeyID: keyID}
	keys, err := c.deps.Registry.ListAPIKeys(ctx, self, participantID)
	if dataport.KindOf(err) == dataport.KindNotFound {
		return signOutUnknown, nil
	}
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(keys, func(k registry.APIKey) bool { return k.ID == keyID })
	if i < 0 {
		return signOutUnknown, nil
	}
	key := keys[i]
	now := c.deps.DB.Clock().Now()
	switch {
	case !key.RevokedAt.IsZero():
		return signOutRevoked, nil
	case !key.ExpiresAt.IsZero() && !now.Before(key.ExpiresAt):
		return signOutExpired, nil
	}
	p, err := c.deps.Registry.GetParticipant(ctx, self, participantID)
	if dataport.KindOf(err) == dataport.KindNotFound {
		return signOutUnknown, nil
	}
	if err != nil {
		return "", err
	}
	if p.Status == registry.Suspended {
		return signOutSuspended, nil
	}
	// As registry.Authenticate: the key's roles that the participant still holds.
	s.Actor = self
	for _, r := range key.Roles {
		if slices.Contains(p.Roles, r) {
			s.Actor.Roles = append(s.Actor.Roles, r)
		}
	}
	s.Participant, s.keyExpiry = p, key.ExpiresAt
	return "", nil
}

// endSession deletes a session; the cookie is the caller's to clear.
func (c *Console) endSession(ctx context.Context, s *Session) {
	err := c.deps.DB.WriteDerived(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		_, err := tx.Exec(`DELETE FROM web_sessions WHERE token_sha256 = $1`, s.tokenSHA256)
		return err
	})
	if err != nil {
		c.log.Error("console: ending a session", "error", err)
	}
}

// secureCookies reports whether the request came over TLS or to a loopback host:
// browsers treat both as secure contexts, so Secure cookies work there, and over
// plain HTTP anywhere else they would never come back.
func secureCookies(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// setCookie sets a console cookie: HttpOnly always, Secure where it can be, and
// SameSite Lax (the session: a link from elsewhere opens the console signed in)
// or Strict (what only the console's own forms use).
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time, strict bool) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: secureCookies(r), SameSite: http.SameSiteLaxMode}
	if strict {
		c.SameSite = http.SameSiteStrictMode
	}
	if value == "" {
		c.MaxAge = -1
	} else if !expires.IsZero() {
		c.Expires = expires.UTC()
	}
	http.SetCookie(w, c)
}
