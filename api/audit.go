package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
	"github.com/prometheus/client_golang/prometheus"
)

// The audit of denied requests. Every request the server refuses with 401, 403,
// 413 or 429, and every failed sign-in at the console, is
//   - logged, one structured line: who (participant, key id, client address),
//     method, route pattern, status, reason and the problem's detail;
//   - counted, dataport_http_denied_total by route, status and reason;
//   - added up in memory by (minute, participant, key id, address, method, route,
//     status, reason) and written to denied_requests in one transaction every
//     Limits.AuditFlush: a flood of refusals costs a few writes, never one each, so
//     that the record cannot itself become the way to swamp the database.
// The operator and the regulators read it at GET /api/v1/audit/denials.

// Reasons a request was denied: the record's reason column and the metric's label.
const (
	reasonCredentials = "credentials" // no valid API key (401), a failed sign-in
	reasonBackoff     = "backoff"     // too many failed authentications (429)
	reasonForbidden   = "forbidden"   // a valid key without the right (403)
	reasonRate        = "rate"        // over the rate limit (429)
	reasonSize        = "size"        // the body is larger than the limit (413)
)

// denial is what the server's layers learn about a request that is refused: set
// through deny, read once the request is answered.
type denial struct {
	keyID  string // the key id the request named, when authentication failed
	reason string
	detail string
}

const denialKey ctxKey = 101

// deny marks the request as refused for reason; detail, when not "", says more.
func deny(r *http.Request, reason, detail string) {
	if d, ok := r.Context().Value(denialKey).(*denial); ok {
		d.reason = reason
		if detail != "" {
			d.detail = detail
		}
	}
}

// namedKey records the key id a request's token named, for the record of a refusal.
func namedKey(r *http.Request, keyID string) {
	if d, ok := r.Context().Value(denialKey).(*denial); ok {
		d.keyID = keyID
	}
}

// denialRow is a row of denied_requests, and an entry of the audit's answer.
type denialRow struct {
	Minute        time.Time `json:"minute" doc:"the minute the requests were refused in, UTC"`
	ParticipantID string    `json:"participant_id,omitempty" doc:"the caller's participant; empty when it had no valid API key"`
	KeyID         string    `json:"key_id,omitempty" doc:"the API key presented: the caller's, or the one a failed authentication named"`
	ClientIP      string    `json:"client_ip" doc:"the client's address (an IPv6 address by its /64); * for the rest of a minute beyond the record's bound"`
	Method        string    `json:"method"`
	Route         string    `json:"route" doc:"the route pattern, never the raw path"`
	Status        int       `json:"status" doc:"401, 403, 413, 429, or 422 for a failed sign-in at the console"`
	Reason        string    `json:"reason" enum:"credentials,backoff,forbidden,rate,size"`
	Detail        string    `json:"detail,omitempty" doc:"the latest refusal's problem detail"`
	Count         int64     `json:"count" doc:"how many requests"`
}

type denialGroup struct {
	minute                                        string
	participant, keyID, ip, method, route, reason string
	status                                        int
}

// auditor adds denied requests up and writes them in batches.
type auditor struct {
	db      *store.DB
	cfg     Limits
	counter *prometheus.CounterVec

	mu      sync.Mutex
	pending map[denialGroup]*denialRow
	rows    map[string]int // distinct rows pending per minute, for AuditRowsPerMinute
	timer   *time.Timer
	// flushing serialises flushes, so that a read of the record after a flush sees
	// every count made before it.
	flushing sync.Mutex
}

func newAuditor(db *store.DB, cfg Limits, reg *prometheus.Registry) *auditor {
	a := &auditor{db: db, cfg: cfg, pending: map[denialGroup]*denialRow{}, rows: map[string]int{},
		counter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dataport_http_denied_total",
			Help: "Requests refused (401, 403, 413, 429, failed console sign-ins), by route pattern, status and reason.",
		}, []string{"route", "code", "reason"})}
	if err := reg.Register(a.counter); err != nil {
		if dup, ok := err.(prometheus.AlreadyRegisteredError); ok {
			a.counter = dup.ExistingCollector.(*prometheus.CounterVec)
		} else {
			panic(err)
		}
	}
	return a
}

// add counts one denied request, and starts the timer of the next flush when it
// is the first since the last.
func (a *auditor) add(s *Server, row denialRow) {
	a.counter.WithLabelValues(row.Route, itoa(row.Status), row.Reason).Inc()
	g := denialGroup{minute: store.FormatTime(row.Minute), participant: row.ParticipantID, keyID: row.KeyID, ip: row.ClientIP,
		method: row.Method, route: row.Route, reason: row.Reason, status: row.Status}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.pending[g]; !ok && a.rows[g.minute] >= a.cfg.AuditRowsPerMinute {
		// Past the bound for the minute: the rest is counted by route and status only.
		g.participant, g.keyID, g.ip = "", "", "*"
		row.ParticipantID, row.KeyID, row.ClientIP = "", "", "*"
	}
	p, ok := a.pending[g]
	if !ok {
		p = &row
		a.pending[g] = p
		a.rows[g.minute]++
	}
	p.Count++
	p.Detail = row.Detail
	if a.timer == nil {
		a.timer = time.AfterFunc(a.cfg.AuditFlush, func() {
			if err := a.flush(context.Background()); err != nil {
				s.Logger.Warn("audit: writing denied requests", "err", err)
			}
		})
	}
}

// flush writes the pending counts, adding them to the rows already there (another
// replica's, or this one's of the same minute), and deletes rows past the retention.
func (a *auditor) flush(ctx context.Context) error {
	a.flushing.Lock()
	defer a.flushing.Unlock()
	a.mu.Lock()
	pending := a.pending
	a.pending, a.rows = map[denialGroup]*denialRow{}, map[string]int{}
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	a.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	return a.db.WriteDerived(ctx, func(tx *store.Tx) error {
		for g, r := range pending {
			if _, err := tx.Exec(`INSERT INTO denied_requests
				(minute, participant_id, key_id, client_ip, method, route, status, reason, detail, count)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (minute, participant_id, key_id, client_ip, method, route, status, reason)
				DO UPDATE SET count = denied_requests.count + excluded.count, detail = excluded.detail`,
				g.minute, g.participant, g.keyID, g.ip, g.method, g.route, g.status, g.reason, r.Detail, r.Count); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`DELETE FROM denied_requests WHERE minute < $1`, store.FormatTime(tx.Now().Add(-a.cfg.AuditRetention)))
		return err
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// auditDenials records the requests that are refused (see auditor). It sits just
// inside observe: every request, the console's included, passes it.
func (s *Server) auditDenials(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := &denial{}
		r = r.WithContext(context.WithValue(r.Context(), denialKey, d))
		dw := &denialWriter{ResponseWriter: w}
		next.ServeHTTP(dw, r)
		status := dw.status
		switch {
		case d.reason != "":
		case status == http.StatusUnauthorized:
			d.reason = reasonCredentials
		case status == http.StatusForbidden:
			d.reason = reasonForbidden
		case status == http.StatusRequestEntityTooLarge:
			d.reason = reasonSize
		case status == http.StatusTooManyRequests:
			d.reason = reasonRate
		default:
			return
		}
		if d.detail == "" {
			var p struct{ Detail string }
			if json.Unmarshal(dw.body, &p) == nil {
				d.detail = p.Detail
			}
		}
		if len(d.detail) > 300 {
			d.detail = d.detail[:300]
		}
		info := infoOf(r)
		route := info.route
		if route == "" {
			// Refused before routing (authentication): the route it was for.
			if _, pattern := s.limiter.mux.Handler(r); pattern != "" {
				route = pattern
			} else {
				route = "unmatched"
			}
		}
		keyID := info.actor.KeyID
		if keyID == "" {
			keyID = d.keyID
		}
		row := denialRow{Minute: s.DB.Clock().Now().UTC().Truncate(time.Minute), ParticipantID: info.actor.ParticipantID,
			KeyID: keyID, ClientIP: s.clientIP(r), Method: r.Method, Route: route, Status: status, Reason: d.reason, Detail: d.detail}
		s.Logger.Info("denied", "method", r.Method, "route", route, "status", status, "reason", d.reason,
			"participant", row.ParticipantID, "key_id", keyID, "client_ip", row.ClientIP, "detail", d.detail)
		s.audit.add(s, row)
	})
}

// denialWriter keeps the status and, for a refusal, the start of the body: the
// problem whose detail the record keeps.
type denialWriter struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (d *denialWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
	d.ResponseWriter.WriteHeader(code)
}

func (d *denialWriter) Write(b []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	if d.status >= 400 && len(d.body) < 1024 {
		d.body = append(d.body, b[:min(len(b), 1024-len(d.body))]...)
	}
	return d.ResponseWriter.Write(b)
}

// ReadFrom keeps net/http's sendfile(2) within reach of downloads (see recorder).
func (d *denialWriter) ReadFrom(src io.Reader) (int64, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	if rf, ok := d.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(d.ResponseWriter, src)
}

func (d *denialWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

type denialsInput struct {
	Since         time.Time `query:"since" doc:"RFC 3339: from this minute on; the last 24 hours when absent"`
	Until         time.Time `query:"until" doc:"RFC 3339: before this moment; now when absent"`
	ParticipantID string    `query:"participant_id" doc:"only this participant's requests"`
	ClientIP      string    `query:"client_ip" doc:"only this client address's requests"`
	Status        int       `query:"status" doc:"only requests refused with this status"`
	Limit         int       `query:"limit" minimum:"1" maximum:"1000" default:"100"`
}

type denialsOutput struct {
	Body struct {
		Items []denialRow `json:"items" doc:"newest minute first, then the most requests"`
	}
}

// listDenials answers the record of denied requests, to the operator and the
// regulators: first this process's counts not yet written are written, so that the
// answer includes every refusal this replica made until now.
func (s *Server) listDenials(ctx context.Context, in *denialsInput) (*denialsOutput, error) {
	const op = "api.listDenials"
	actor := actorOf(ctx)
	if actor.ParticipantID == "" {
		return nil, s.problem(dataport.Errorf(op, dataport.KindUnauthorized, "authentication required"))
	}
	if !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return nil, s.problem(dataport.Errorf(op, dataport.KindForbidden, "the record of denied requests is for the operator and regulators"))
	}
	if err := s.audit.flush(ctx); err != nil {
		return nil, s.problem(dataport.Internal(op, err))
	}
	now := s.DB.Clock().Now()
	since, until := in.Since, in.Until
	if since.IsZero() {
		since = now.Add(-24 * time.Hour)
	}
	if until.IsZero() {
		until = now.Add(time.Minute)
	}
	q := `SELECT minute, participant_id, key_id, client_ip, method, route, status, reason, detail, count
		FROM denied_requests WHERE minute >= $1 AND minute < $2`
	args := []any{store.FormatTime(since.UTC().Truncate(time.Minute)), store.FormatTime(until)}
	if in.ParticipantID != "" {
		args = append(args, in.ParticipantID)
		q += ` AND participant_id = $` + itoa(len(args))
	}
	if in.ClientIP != "" {
		args = append(args, in.ClientIP)
		q += ` AND client_ip = $` + itoa(len(args))
	}
	if in.Status != 0 {
		args = append(args, in.Status)
		q += ` AND status = $` + itoa(len(args))
	}
	args = append(args, in.Limit)
	q += ` ORDER BY minute DESC, count DESC, route, status, client_ip LIMIT $` + itoa(len(args))
	out := &denialsOutput{}
	out.Body.Items = []denialRow{}
	err := s.DB.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r denialRow
			var minute string
			if err := rows.Scan(&minute, &r.ParticipantID, &r.KeyID, &r.ClientIP, &r.Method, &r.Route, &r.Status, &r.Reason, &r.Detail, &r.Count); err != nil {
				return err
			}
			if r.Minute, err = store.ParseTime(minute); err != nil {
				return err
			}
			out.Body.Items = append(out.Body.Items, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.problem(dataport.Wrap(op, err))
	}
	return out, nil
}

// signInWait and signedIn guard the console's sign-in form (web.Console.GuardSignIn)
// as authenticate guards API keys: one count of failures per client address and key
// id for both.
func (s *Server) signInWait(r *http.Request, key string) time.Duration {
	wait := s.limiter.authWait(s.clientIP(r), keyIDOf(strings.TrimSpace(key)))
	if wait > 0 {
		deny(r, reasonBackoff, "console sign-in: too many failed authentications from this address")
	}
	return wait
}

func (s *Server) signedIn(r *http.Request, key string, ok bool) {
	ip, keyID := s.clientIP(r), keyIDOf(strings.TrimSpace(key))
	if ok {
		s.limiter.authSucceeded(ip, keyID)
		return
	}
	s.limiter.authFailed(ip, keyID)
	namedKey(r, keyID)
	deny(r, reasonCredentials, "console sign-in with an invalid API key")
}

// FlushDenials writes the denied requests counted in memory and not yet written:
// call it at shutdown, after the HTTP server has stopped, so that the last seconds'
// refusals are not lost.
func (s *Server) FlushDenials(ctx context.Context) error { return s.audit.flush(ctx) }
