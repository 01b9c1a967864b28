// Package notify tells participants what concerns them: a new match for a demand, a
// quote, a decision. Every notification lands in the participant's in-app inbox, in
// the same transaction as the change that caused it, and — for participants that
// register webhooks — is delivered to their endpoints as a signed Standard Webhooks
// 1.0 request, retried on a schedule spanning days until the endpoint takes it.
//
// Deliveries are rows written with the notification, so a notification acknowledged
// with its change is never lost to a crash; any server of the exchange may deliver
// them, each holding a short lease on what it is sending.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
	"github.com/gowebpki/jcs"
)

// Notification is a message in a participant's inbox.
type Notification struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind" doc:"e.g. demand.matched, product.fits_demand, quote.received"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
}

// Send puts a notification of kind in to's inbox and queues its delivery to each of
// to's active webhooks that takes the kind, all in tx: the notification exists exactly
// when the change that caused it does.
func Send(tx *store.Tx, to, kind string, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	id, now := dataport.NewID("ntf"), tx.Now()
	if _, err := tx.Exec(`INSERT INTO notifications (id, participant_id, kind, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id, to, kind, string(raw), store.FormatTime(now)); err != nil {
		return err
	}
	hooks, err := activeWebhooks(tx, to)
	if err != nil {
		return err
	}
	if len(hooks) == 0 {
		return nil
	}
	// The body, as Standard Webhooks suggests: the event type, when it happened, and
	// its data; canonical (RFC 8785), so the signed bytes are what any JSON library
	// would write back for the same value.
	body, err := json.Marshal(map[string]any{"type": kind, "timestamp": now.Format(time.RFC3339Nano),
		"data": json.RawMessage(raw), "notification_id": id})
	if err != nil {
		return err
	}
	if body, err = jcs.Transform(body); err != nil {
		return err
	}
	for _, h := range hooks {
		if !h.takes(kind) {
			continue
		}
		if _, err := tx.Exec(`INSERT INTO webhook_deliveries (id, webhook_id, notification_id, kind, body, status, attempts,
			next_attempt_at, lease_until, last_status, last_error, created_at, finished_at)
			VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, '', 0, '', $6, '')`,
			dataport.NewID("msg"), h.ID, id, kind, string(body), store.FormatTime(now)); err != nil {
			return err
		}
	}
	return nil
}

// Inbox returns the actor's notifications, newest first.
func Inbox(ctx context.Context, db *store.DB, actor dataport.Actor, limit int) ([]Notification, error) {
	const op = "notify.Inbox"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	out := []Notification{}
	err := db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT id, kind, payload, created_at FROM notifications WHERE participant_id = $1 ORDER BY id DESC LIMIT $2`,
			actor.ParticipantID, limit)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var n Notification
			var payload, at string
			if err := rows.Scan(&n.ID, &n.Kind, &payload, &at); err != nil {
				return dataport.Internal(op, err)
			}
			n.Payload = json.RawMessage(payload)
			if n.CreatedAt, err = store.ParseTime(at); err != nil {
				return dataport.Internal(op, fmt.Errorf("notification %s: %w", n.ID, err))
			}
			out = append(out, n)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}
