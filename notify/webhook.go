package notify

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Webhook is an endpoint a participant registered.
type Webhook struct {
	ID            string    `json:"id"`
	ParticipantID string    `json:"participant_id"`
	URL           string    `json:"url"`
	Events        []string  `json:"events" doc:"the notification kinds delivered; all when empty"`
	Status        string    `json:"status" enum:"active,disabled,deleted"`
	StatusReason  string    `json:"status_reason,omitempty"`
	PublicKey     string    `json:"public_key" doc:"whpk_…: verify the v1a signatures of deliveries with it (Standard Webhooks 1.0)"`
	PreviousKey   string    `json:"previous_public_key,omitempty" doc:"after a rotation, deliveries are signed with this key too until previous_until"`
	PreviousUntil time.Time `json:"previous_until,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	generation int64
}

func (h *Webhook) takes(kind string) bool {
	return len(h.Events) == 0 || slices.Contains(h.Events, kind)
}

// NewWebhook is what a participant registers.
type NewWebhook struct {
	URL    string   `json:"url" maxLength:"2000" doc:"an https:// URL that answers 2xx to take a delivery"`
	Events []string `json:"events,omitempty" maxItems:"50" doc:"notification kinds to deliver, e.g. demand.matched; all when empty"`
}

// Options configure delivery.
type Options struct {
	// AllowPrivate lets endpoints be plain http:// and on loopback or private
	// networks: for a demo or a test on one machine. Off in production, where it would
	// let a participant make the exchange call into its own network (SSRF).
	AllowPrivate bool
	// Schedule is the wait before each retry; nil is DefaultSchedule.
	Schedule []time.Duration
	// Timeout bounds one delivery attempt; zero is 20 seconds.
	Timeout time.Duration
}

// DefaultSchedule is the example schedule of Standard Webhooks 1.0 ("Deliverability
// and reliability"): retries over three days, after which a delivery has failed.
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

// Service registers webhooks and delivers notifications to them.
type Service struct {
	db     *store.DB
	secret []byte
	opts   Options
	client *httpClient
}

// New returns the notification service; secret (SecretSize bytes, kept outside the
// database) derives the endpoints' signing keys.
func New(db *store.DB, secret []byte, opts Options) (*Service, error) {
	if len(secret) != SecretSize {
		return nil, fmt.Errorf("the webhook secret is %d bytes, want %d", len(secret), SecretSize)
	}
	if opts.Schedule == nil {
		opts.Schedule = DefaultSchedule
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Second
	}
	return &Service{db: db, secret: slices.Clone(secret), opts: opts, client: newHTTPClient(opts)}, nil
}

// Inbox returns the actor's notifications, newest first.
func (s *Service) Inbox(ctx context.Context, actor dataport.Actor, limit int) ([]Notification, error) {
	return Inbox(ctx, s.db, actor, limit)
}

var eventKind = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// checkURL refuses what no exchange should call: non-https, credentials in the URL,
// and — unless private networks are allowed — addresses inside private networks.
func (s *Service) checkURL(raw string, p *dataport.Problems) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		p.Add("url", "an absolute https:// URL")
		return
	case len(raw) > 2000:
		p.Add("url", "at most 2000 characters")
	case u.User != nil:
		p.Add("url", "no credentials in the URL: verify deliveries by their signature")
	case u.Fragment != "":
		p.Add("url", "no #fragment")
	case u.Scheme != "https" && !(u.Scheme == "http" && s.opts.AllowPrivate):
		p.Add("url", "deliveries go over https://")
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !s.opts.AllowPrivate && !public(ip) {
		p.Add("url", "not an address inside a private network")
	}
	if strings.EqualFold(u.Hostname(), "localhost") && !s.opts.AllowPrivate {
		p.Add("url", "not an address inside a private network")
	}
}

// public reports whether ip is routable on the internet: not loopback, private,
// link-local (cloud metadata lives there), multicast or unspecified.
func public(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() && !ip.IsLinkLocalMulticast() &&
		!ip.IsInterfaceLocalMulticast() && !ip.IsMulticast() && !ip.IsUnspecified() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(ip) // carrier-grade NAT
}

// Register adds an endpoint for the actor. Any active participant may.
func (s *Service) Register(ctx context.Context, actor dataport.Actor, n NewWebhook) (Webhook, error) {
	const op = "notify.Register"
	var p dataport.Problems
	n.URL = strings.TrimSpace(n.URL)
	s.checkURL(n.URL, &p)
	seen := map[string]bool{}
	for i, e := range n.Events {
		if !eventKind.MatchString(e) {
			p.Add(fmt.Sprintf("events[%d]", i), "a notification kind such as demand.matched")
		}
		if seen[e] {
			p.Add(fmt.Sprintf("events[%d]", i), "listed twice")
		}
		seen[e] = true
	}
	if err := p.Err(op); err != nil {
		return Webhook{}, err
	}
	var h Webhook
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		var n64 int64
		if err := tx.QueryRow(`SELECT COUNT(*) FROM webhooks WHERE participant_id = $1 AND status <> 'deleted'`, actor.ParticipantID).Scan(&n64); err != nil {
			return dataport.Internal(op, err)
		}
		if n64 >= 10 {
			return dataport.Errorf(op, dataport.KindConflict, "at most 10 webhooks per participant: remove one first")
		}
		now := tx.Now()
		h = Webhook{ID: dataport.NewID("whk"), ParticipantID: actor.ParticipantID, URL: n.URL, Events: append([]string{}, n.Events...),
			Status: "active", CreatedAt: now, UpdatedAt: now, generation: 1}
		events, _ := json.Marshal(h.Events)
		if _, err := tx.Exec(`INSERT INTO webhooks (id, participant_id, url, events, status, status_reason, key_generation,
			previous_until, created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', '', 1, '', $5, $5)`,
			h.ID, h.ParticipantID, h.URL, string(events), store.FormatTime(now)); err != nil {
			return dataport.Internal(op, err)
		}
		s.keys(&h)
		return fileWebhook(tx, actor, "webhook.registered", &h)
	})
	return h, err
}

// fileWebhook files a change of an endpoint: its host, not its full URL, which may
// carry a token of the receiver's.
func fileWebhook(tx *store.Tx, actor dataport.Actor, event string, h *Webhook) error {
	host := ""
	if u, err := url.Parse(h.URL); err == nil {
		host = u.Host
	}
	_, err := ledger.File(tx, actor, ledger.Change{Type: event, Subjects: []string{h.ParticipantID, h.ID},
		Payload: map[string]any{"webhook_id": h.ID, "host": host, "status": h.Status, "public_key": h.PublicKey, "events": h.Events}})
	return err
}

// keys fills in the endpoint's public keys.
func (s *Service) keys(h *Webhook) {
	h.PublicKey = PublicKey(signingKey(s.secret, h.ID, h.generation).Public().(ed25519.PublicKey))
	if !h.PreviousUntil.IsZero() && h.generation > 1 {
		h.PreviousKey = PublicKey(signingKey(s.secret, h.ID, h.generation-1).Public().(ed25519.PublicKey))
	}
}

// signingKeys are the keys a delivery at now is signed with: the current one, and the
// previous one during the grace period after a rotation.
func (s *Service) signingKeys(h *Webhook, now time.Time) []ed25519.PrivateKey {
	keys := []ed25519.PrivateKey{signingKey(s.secret, h.ID, h.generation)}
	if h.generation > 1 && now.Before(h.PreviousUntil) {
		keys = append(keys, signingKey(s.secret, h.ID, h.generation-1))
	}
	return keys
}

const webhookColumns = `id, participant_id, url, events, status, status_reason, key_generation, previous_until, created_at, updated_at`

func scanWebhook(row interface{ Scan(...any) error }) (Webhook, error) {
	var h Webhook
	var events, prev, created, updated string
	if err := row.Scan(&h.ID, &h.ParticipantID, &h.URL, &events, &h.Status, &h.StatusReason, &h.generation, &prev, &created, &updated); err != nil {
		return Webhook{}, err
	}
	if err := json.Unmarshal([]byte(events), &h.Events); err != nil {
		return Webhook{}, err
	}
	h.PreviousUntil, _ = store.ParseTime(prev)
	h.CreatedAt, _ = store.ParseTime(created)
	h.UpdatedAt, _ = store.ParseTime(updated)
	return h, nil
}

func activeWebhooks(tx *store.Tx, participant string) ([]Webhook, error) {
	rows, err := tx.Query(`SELECT `+webhookColumns+` FROM webhooks WHERE participant_id = $1 AND status = 'active' ORDER BY id`, participant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Webhook
	for rows.Next() {
		h, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// webhook reads an endpoint the actor owns (the operator: any).
func (s *Service) webhook(tx *store.Tx, op string, actor dataport.Actor, id string) (Webhook, error) {
	h, err := scanWebhook(tx.QueryRow(`SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) || err == nil && h.ParticipantID != actor.ParticipantID && !actor.Has(dataport.RoleOperator) {
		return Webhook{}, dataport.Errorf(op, dataport.KindNotFound, "no webhook %s", id)
	}
	if err != nil {
		return Webhook{}, dataport.Internal(op, err)
	}
	s.keys(&h)
	return h, nil
}

// Webhooks lists the actor's endpoints (deleted ones left out).
func (s *Service) Webhooks(ctx context.Context, actor dataport.Actor) ([]Webhook, error) {
	const op = "notify.Webhooks"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	out := []Webhook{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT `+webhookColumns+` FROM webhooks WHERE participant_id = $1 AND status <> 'deleted' ORDER BY id`, actor.ParticipantID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			h, err := scanWebhook(rows)
			if err != nil {
				return dataport.Internal(op, err)
			}
			s.keys(&h)
			out = append(out, h)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}

// rotationGrace is how long deliveries stay signed with the previous key after a
// rotation, for receivers to switch keys without losing a delivery.
const rotationGrace = 24 * time.Hour

// change runs one change of an endpoint the actor owns and files it.
func (s *Service) change(ctx context.Context, op string, actor dataport.Actor, id, event string, fn func(tx *store.Tx, h *Webhook) error) (Webhook, error) {
	var h Webhook
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		var err error
		if h, err = s.webhook(tx, op, actor, id); err != nil {
			return err
		}
		if h.Status == "deleted" {
			return dataport.Errorf(op, dataport.KindConflict, "webhook %s is deleted", id)
		}
		if err := fn(tx, &h); err != nil {
			return err
		}
		h.UpdatedAt = tx.Now()
		if _, err := tx.Exec(`UPDATE webhooks SET status = $2, status_reason = $3, key_generation = $4, previous_until = $5,
			updated_at = $6 WHERE id = $1`, h.ID, h.Status, h.StatusReason, h.generation, store.FormatTime(h.PreviousUntil),
			store.FormatTime(h.UpdatedAt)); err != nil {
			return dataport.Internal(op, err)
		}
		s.keys(&h)
		return fileWebhook(tx, actor, event, &h)
	})
	return h, err
}

// Rotate gives an endpoint a new key pair; the old one signs too for a day.
func (s *Service) Rotate(ctx context.Context, actor dataport.Actor, id string) (Webhook, error) {
	return s.change(ctx, "notify.Rotate", actor, id, "webhook.rotated", func(tx *store.Tx, h *Webhook) error {
		h.generation++
		h.PreviousUntil = tx.Now().Add(rotationGrace)
		return nil
	})
}

// Enable turns a disabled endpoint back on; what was not delivered meanwhile stays
// failed and can be redelivered.
func (s *Service) Enable(ctx context.Context, actor dataport.Actor, id string) (Webhook, error) {
	return s.change(ctx, "notify.Enable", actor, id, "webhook.enabled", func(tx *store.Tx, h *Webhook) error {
		h.Status, h.StatusReason = "active", ""
		return nil
	})
}

// Delete removes an endpoint; deliveries still pending are cancelled.
func (s *Service) Delete(ctx context.Context, actor dataport.Actor, id string) (Webhook, error) {
	return s.change(ctx, "notify.Delete", actor, id, "webhook.deleted", func(tx *store.Tx, h *Webhook) error {
		h.Status, h.StatusReason = "deleted", "deleted by "+actor.ParticipantID
		_, err := tx.Exec(`UPDATE webhook_deliveries SET status = 'cancelled', finished_at = $2, lease_until = ''
			WHERE webhook_id = $1 AND status = 'pending'`, h.ID, store.FormatTime(tx.Now()))
		return dataport.Wrap("notify.Delete", err)
	})
}
