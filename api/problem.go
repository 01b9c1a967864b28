package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/dataport/dataport"
)

func init() {
	// huma answers schema violations (wrong type, missing or unknown field) with 422;
	// the exchange answers every malformed request with 400, as it does for the rule
	// violations its services find, so that clients see one status for bad input.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		if status == http.StatusUnprocessableEntity {
			status = http.StatusBadRequest
		}
		if _, limit, ok := strings.Cut(msg, "too large limit="); ok && status == http.StatusRequestEntityTooLarge {
			// One wording for every body over its operation's bound (maxBody for JSON).
			msg = "the request body is larger than the limit of " + limit
		}
		details := make([]*huma.ErrorDetail, 0, len(errs))
		for _, err := range errs {
			if err == nil {
				continue
			}
			var d huma.ErrorDetailer
			if errors.As(err, &d) {
				details = append(details, d.ErrorDetail())
			} else {
				details = append(details, &huma.ErrorDetail{Message: err.Error()})
			}
		}
		if len(details) == 0 {
			details = nil
		}
		return &huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: msg, Errors: details}
	}
}

// statusOf maps an error kind to its HTTP status.
func statusOf(k dataport.Kind) int {
	switch k {
	case dataport.KindInvalid:
		return http.StatusBadRequest
	case dataport.KindNotFound:
		return http.StatusNotFound
	case dataport.KindConflict:
		return http.StatusConflict
	case dataport.KindUnauthorized:
		return http.StatusUnauthorized
	case dataport.KindForbidden:
		return http.StatusForbidden
	case dataport.KindUnavailable:
		return http.StatusServiceUnavailable
	case dataport.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// problem turns a service error into an RFC 9457 problem. Field problems become
// `errors` entries located in the request body; internal detail is logged, never sent.
func (s *Server) problem(err error) error { return s.problemAt(err, nil) }

// problemAt is problem for operations whose input is not all in the body: a field
// named in at is located there (e.g. "name" → "query.name").
func (s *Server) problemAt(err error, at map[string]string) error {
	if err == nil {
		return nil
	}
	kind := kindOf(err)
	status := statusOf(kind)
	if kind == dataport.KindInternal || kind == dataport.KindUnavailable {
		s.Logger.Error("request failed", "kind", kind.String(), "err", err)
	}
	m := &huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: dataport.MessageOf(err)}
	if fields := dataport.FieldsOf(err); len(fields) > 0 && kind == dataport.KindInvalid {
		// Say the first problem in the detail too: many clients show only that.
		m.Detail += ": " + fields[0].Field + ": " + fields[0].Message
		if len(fields) > 1 {
			m.Detail += fmt.Sprintf(" (and %d more)", len(fields)-1)
		}
	}
	if kind == dataport.KindUnavailable {
		m.Detail = "the service is temporarily unavailable; retry shortly"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The request ran past Limits.RequestTimeout (api/limits.go).
		status = http.StatusServiceUnavailable
		m.Status, m.Title = status, http.StatusText(status)
		m.Detail = "the request took longer than the server allows; retry, or ask for less"
	}
	for _, f := range dataport.FieldsOf(err) {
		loc := "body." + f.Field
		if l, ok := at[f.Field]; ok {
			loc = l
		}
		m.Errors = append(m.Errors, &huma.ErrorDetail{Location: loc, Message: f.Message})
	}
	if status == http.StatusServiceUnavailable {
		return huma.ErrorWithHeaders(m, http.Header{"Retry-After": {unavailableRetryAfter}})
	}
	return m
}

// unavailableRetryAfter is the Retry-After of a 503 (RFC 9110 section 10.2.3), in seconds: the
// database or blob store that was down is tried afresh by the next request, so a
// client may come back soon.
const unavailableRetryAfter = "5"

// kindOf is dataport.KindOf, except that an internal error caused by a dependency
// being unavailable is unavailable: a service that wrapped a failed transaction as
// internal must not turn a database that is down into a 500.
func kindOf(err error) dataport.Kind {
	kind := dataport.KindOf(err)
	if kind != dataport.KindInternal {
		return kind
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if de, ok := e.(*dataport.Error); ok && de.Kind == dataport.KindUnavailable {
			return dataport.KindUnavailable
		}
	}
	return kind
}

// writeProblem writes a problem outside huma (authentication, panics, unknown routes).
func writeProblem(w http.ResponseWriter, status int, detail string) {
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", unavailableRetryAfter)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: detail})
}
