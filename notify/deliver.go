package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// WebhookDelivery is one notification on its way to one endpoint.
type WebhookDelivery struct {
	ID             string    `json:"id" doc:"the webhook-id header: the same on every attempt"`
	WebhookID      string    `json:"webhook_id"`
	NotificationID string    `json:"notification_id"`
	Kind           string    `json:"kind"`
	Status         string    `json:"status" enum:"pending,delivered,failed,cancelled"`
	Attempts       int       `json:"attempts"`
	NextAttemptAt  time.Time `json:"next_attempt_at,omitzero"`
	LastStatus     int       `json:"last_status,omitempty" doc:"the endpoint's HTTP status at the last attempt"`
	LastError      string    `json:"last_error,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	FinishedAt     time.Time `json:"finished_at,omitzero"`
}

type httpClient struct{ *http.Client }

// newHTTPClient makes the client deliveries go out with: no redirects (Standard
// Webhooks counts a 3xx as a failure; following one would also let an endpoint steer
// the exchange elsewhere), and — unless private networks are allowed — a dialer that
// refuses any address that is not public, checked on the address actually dialled,
// so a name that resolves inside the network (or changes what it resolves to) is
// refused too.
func newHTTPClient(opts Options) *httpClient {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if !opts.AllowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !public(ap.Addr()) {
				return fmt.Errorf("refusing to deliver to %s: not a public address", address)
			}
			return nil
		}
	}
	transport := &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: 10 * time.Second,
		ResponseHeaderTimeout: opts.Timeout, MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true}
	return &httpClient{&http.Client{Transport: transport, Timeout: opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// OutboundClient returns the client the exchange connects to addresses its
// participants give with (webhook endpoints, a data space connector's callback
// address): the same refusal of non-public addresses on the address dialled, unless
// the exchange allows private networks, and no redirects.
func (s *Service) OutboundClient() *http.Client { return s.client.Client }

// lease is how long a server holds a delivery it is sending; another server takes
// it over after that (a server that died mid-attempt).
const lease = time.Minute

// due is one claimed delivery with its endpoint.
type due struct {
	WebhookDelivery
	body []byte
	hook Webhook
}

// DeliverDue sends the deliveries that are due, up to batch of them, a few at a time,
// and records each attempt. It returns how many it attempted.
func (s *Service) DeliverDue(ctx context.Context, batch int) (int, error) {
	const op = "notify.DeliverDue"
	var claimed []due
	err := s.db.WriteDerived(ctx, func(tx *store.Tx) error {
		claimed = claimed[:0]
		now := store.FormatTime(tx.Now())
		rows, err := tx.Query(`SELECT d.id, d.webhook_id, d.notification_id, d.kind, d.body, d.attempts, d.created_at
			FROM webhook_deliveries d WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND d.lease_until <= $1
			ORDER BY d.next_attempt_at, d.id LIMIT $2`, now, batch)
		if err != nil {
			return err
		}
		for rows.Next() {
			var d due
			var body, created string
			if err := rows.Scan(&d.ID, &d.WebhookID, &d.NotificationID, &d.Kind, &body, &d.Attempts, &created); err != nil {
				rows.Close()
				return err
			}
			d.body, d.Status = []byte(body), "pending"
			d.CreatedAt, _ = store.ParseTime(created)
			claimed = append(claimed, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		until := store.FormatTime(tx.Now().Add(lease))
		kept := claimed[:0]
		for _, d := range claimed {
			// Claim it unless another server did since the query above.
			res, err := tx.Exec(`UPDATE webhook_deliveries SET lease_until = $3 WHERE id = $1 AND status = 'pending' AND lease_until <= $2`,
				d.ID, now, until)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			if d.hook, err = scanWebhook(tx.QueryRow(`SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, d.WebhookID)); err != nil {
				return err
			}
			kept = append(kept, d)
		}
		claimed = kept
		return nil
	})
	if err != nil {
		return 0, dataport.Internal(op, err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	errs := make(chan error, len(claimed))
	for _, d := range claimed {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs <- s.attempt(ctx, d)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return len(claimed), err
		}
	}
	return len(claimed), nil
}

// attempt sends one delivery and records the outcome.
func (s *Service) attempt(ctx context.Context, d due) error {
	now := s.db.Clock().Now()
	status, retryAfter, sendErr := 0, time.Duration(0), error(nil)
	if d.hook.Status != "active" {
		sendErr = fmt.Errorf("the webhook is %s", d.hook.Status)
	} else {
		status, retryAfter, sendErr = s.send(ctx, d, now)
	}
	d.Attempts++
	d.LastStatus = status
	d.LastError = ""
	gone := status == http.StatusGone
	switch {
	case sendErr == nil && status >= 200 && status < 300:
		d.Status, d.FinishedAt = "delivered", now
	case gone:
		d.Status, d.FinishedAt, d.LastError = "failed", now, "the endpoint answered 410 Gone: it is disabled"
	default:
		if sendErr != nil {
			d.LastError = sendErr.Error()
		} else {
			d.LastError = fmt.Sprintf("the endpoint answered %d", status)
		}
		if d.hook.Status != "active" || d.Attempts > len(s.opts.Schedule) {
			d.Status, d.FinishedAt = "failed", now
			break
		}
		wait := s.opts.Schedule[d.Attempts-1]
		wait += time.Duration(rand.Int64N(int64(wait)/10 + 1)) // jitter, so retries do not come in waves
		if retryAfter > wait {
			wait = min(retryAfter, 24*time.Hour)
		}
		d.NextAttemptAt = now.Add(wait)
	}
	if len(d.LastError) > 500 {
		d.LastError = d.LastError[:500]
	}
	record := func(tx *store.Tx) error {
		_, err := tx.Exec(`UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, lease_until = '',
			last_status = $5, last_error = $6, finished_at = $7 WHERE id = $1`, d.ID, d.Status, d.Attempts,
			store.FormatTime(d.NextAttemptAt), d.LastStatus, d.LastError, store.FormatTime(d.FinishedAt))
		return err
	}
	if !gone {
		// The outcome of an attempt is bookkeeping about a filed notification, not a
		// change of its own.
		return dataport.Wrap("notify.attempt", s.db.WriteDerived(context.WithoutCancel(ctx), record))
	}
	// 410 Gone: the receiver wants no more (Standard Webhooks, "Delivery success and
	// failure"): the endpoint is disabled, and that change is filed.
	_, err := s.change(context.WithoutCancel(ctx), "notify.attempt", dataport.System, d.WebhookID, "webhook.disabled",
		func(tx *store.Tx, h *Webhook) error {
			h.Status, h.StatusReason = "disabled", "the endpoint answered 410 Gone"
			return record(tx)
		})
	return err
}

// send makes one HTTP attempt: the canonical body, the three Standard Webhooks
// headers, the response status and any Retry-After.
func (s *Service) send(ctx context.Context, d due, now time.Time) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.hook.URL, bytes.NewReader(d.body))
	if err != nil {
		return 0, 0, err
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "dataport-webhooks/1")
	req.Header.Set(HeaderID, d.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, sign(s.signingKeys(&d.hook, now), d.ID, ts, d.body))
	res, err := s.client.Do(req)
	if err != nil {
		var uerr interface{ Unwrap() error }
		if errors.As(err, &uerr) {
			err = uerr.Unwrap() // the cause, without the method and URL repeated
		}
		return 0, 0, err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	var retryAfter time.Duration
	if v := res.Header.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
			retryAfter = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			retryAfter = t.Sub(now)
		}
	}
	return res.StatusCode, retryAfter, nil
}

// Run delivers due notifications until ctx ends, looking every interval.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := s.DeliverDue(ctx, 32)
			if err != nil || n < 32 {
				break // on a full batch, at once again
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Deliveries lists an endpoint's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, actor dataport.Actor, webhookID string, limit int) ([]WebhookDelivery, error) {
	const op = "notify.Deliveries"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	out := []WebhookDelivery{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if _, err := s.webhook(tx, op, actor, webhookID); err != nil {
			return err
		}
		rows, err := tx.Query(`SELECT id, webhook_id, notification_id, kind, status, attempts, next_attempt_at, last_status,
			last_error, created_at, finished_at FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2`, webhookID, limit)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var d WebhookDelivery
			var next, created, finished string
			if err := rows.Scan(&d.ID, &d.WebhookID, &d.NotificationID, &d.Kind, &d.Status, &d.Attempts, &next, &d.LastStatus,
				&d.LastError, &created, &finished); err != nil {
				return dataport.Internal(op, err)
			}
			d.NextAttemptAt, _ = store.ParseTime(next)
			d.CreatedAt, _ = store.ParseTime(created)
			d.FinishedAt, _ = store.ParseTime(finished)
			if d.Status != "pending" {
				d.NextAttemptAt = time.Time{}
			}
			out = append(out, d)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}

// Redeliver queues a failed (or cancelled) delivery again, now, with a fresh schedule.
func (s *Service) Redeliver(ctx context.Context, actor dataport.Actor, webhookID, deliveryID string) (WebhookDelivery, error) {
	const op = "notify.Redeliver"
	var d WebhookDelivery
	_, err := s.change(ctx, op, actor, webhookID, "webhook.redelivery", func(tx *store.Tx, h *Webhook) error {
		if h.Status != "active" {
			return dataport.Errorf(op, dataport.KindConflict, "webhook %s is %s: enable it first", h.ID, h.Status)
		}
		var status string
		err := tx.QueryRow(`SELECT status FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2`, deliveryID, h.ID).Scan(&status)
		if err != nil {
			return dataport.Errorf(op, dataport.KindNotFound, "no delivery %s of webhook %s", deliveryID, h.ID)
		}
		if status == "pending" || status == "delivered" {
			return dataport.Errorf(op, dataport.KindConflict, "delivery %s is %s", deliveryID, status)
		}
		now := store.FormatTime(tx.Now())
		if _, err := tx.Exec(`UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2, lease_until = '',
			finished_at = '' WHERE id = $1`, deliveryID, now); err != nil {
			return dataport.Internal(op, err)
		}
		d = WebhookDelivery{ID: deliveryID, WebhookID: h.ID, Status: "pending", NextAttemptAt: tx.Now()}
		return nil
	})
	return d, err
}
