package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/dataport/dataport"
)

// authenticate resolves the bearer key, if any, into the request's Actor. A request
// without a key goes on as anonymous, and each service decides what an anonymous
// caller may do; a request with a bad key stops here with 401.
//
// A suspended participant (叫停) keeps read access to its own records but every
// mutating request is refused here with 403, before any handler runs; the services
// check again inside their transactions, so a suspension that lands mid-request
// still stops the change.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			if s.limitIP(w, r) {
				next.ServeHTTP(w, r)
			}
			return
		}
		// A failed authentication counts against the client's address and the key
		// id it named; after a few, the next attempts wait (api/limits.go).
		scheme, token, ok := strings.Cut(h, " ")
		token = strings.TrimSpace(token)
		keyID := keyIDOf(token)
		namedKey(r, keyID)
		if !s.authBackoff(w, r, keyID) {
			return
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			s.limiter.authFailed(s.clientIP(r), "")
			w.Header().Set("WWW-Authenticate", `Bearer realm="dataport"`)
			writeProblem(w, http.StatusUnauthorized, "Authorization must be: Bearer <API key>")
			return
		}
		if wait, b := s.limiter.empty("key:" + keyID); keyID != "" && wait > 0 && !s.limiter.cfg.Off {
			infoOf(r).actor = dataport.Actor{ParticipantID: b.participant, KeyID: keyID}
			s.rateAnswer(w, r, wait, 0, b.rate, b.burst, "this API key")
			return
		}
		actor, err := s.Registry.Authenticate(r.Context(), token)
		if err != nil {
			if dataport.KindOf(err) == dataport.KindUnauthorized {
				s.limiter.authFailed(s.clientIP(r), keyID)
				w.Header().Set("WWW-Authenticate", `Bearer realm="dataport", error="invalid_token"`)
			}
			writeProblem(w, statusOf(dataport.KindOf(err)), dataport.MessageOf(err))
			return
		}
		s.limiter.authSucceeded(s.clientIP(r), keyID)
		infoOf(r).actor = actor // the record of a refusal names the caller
		if !s.limitKey(w, r, actor) {
			return
		}
		if mutating(r.Method) {
			if err := s.Registry.Active(r.Context(), actor.ParticipantID); err != nil {
				writeProblem(w, statusOf(dataport.KindOf(err)), dataport.MessageOf(err))
				return
			}
		}
		next.ServeHTTP(w, withActor(r, actor))
	})
}

func mutating(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// actorOf returns the request's caller; the zero Actor is anonymous.
func actorOf(ctx context.Context) dataport.Actor {
	a, _ := ctx.Value(actorKey).(dataport.Actor)
	return a
}
