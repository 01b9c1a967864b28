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
			next.ServeHTTP(w, r)
			return
		}
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dataport"`)
			writeProblem(w, http.StatusUnauthorized, "Authorization must be: Bearer <API key>")
			return
		}
		actor, err := s.Registry.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			if dataport.KindOf(err) == dataport.KindUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="dataport", error="invalid_token"`)
			}
			writeProblem(w, statusOf(dataport.KindOf(err)), dataport.MessageOf(err))
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
