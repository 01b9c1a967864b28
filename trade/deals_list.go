package trade

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
)

// Lists of deals, for the pages where a party follows its deals: a party sees the
// deals it is a party to — as the buyer, the supplier, or the agent acting for a
// foreign supplier — and the operator and regulators every deal, as Get decides for
// one deal. Newest first, paged by id (a deal's id sorts by its creation).

// DealFilter selects deals.
type DealFilter struct {
	// State, when set, keeps the deals in that state.
	State string
	// Before pages: only deals whose id sorts before it (the last id of the
	// previous page).
	Before string
	// Limit is at most how many; 50 when 0, 200 at most.
	Limit int
}

// Deals lists the deals the actor may read, newest first.
func (s *Service) Deals(ctx context.Context, actor dataport.Actor, f DealFilter) ([]Deal, error) {
	const op = "trade.Deals"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if f.State != "" {
		if _, ok := moves[f.State]; !ok && f.State != Finalized && f.State != Terminated {
			return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "state", Message: "one of REQUESTED, OFFERED, ACCEPTED, AGREED, VERIFIED, FINALIZED, TERMINATED"})
		}
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 200)
	all := actor.Has(dataport.RoleOperator, dataport.RoleRegulator) || actor.IsSystem()
	out := []Deal{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var where []string
		var args []any
		arg := func(v any) string {
			args = append(args, v)
			return fmt.Sprintf("$%d", len(args))
		}
		if !all {
			me := arg(actor.ParticipantID)
			// The agent's deals are those of the products it acts for (agent_id);
			// provider_id names it too, but agent_id is what Get goes by.
			where = append(where, "(buyer_id = "+me+" OR supplier_id = "+me+" OR (agent_id <> '' AND agent_id = "+me+"))")
		}
		if f.State != "" {
			where = append(where, "state = "+arg(f.State))
		}
		if f.Before != "" {
			where = append(where, "id < "+arg(f.Before))
		}
		q := `SELECT id FROM deals`
		if len(where) > 0 {
			q += ` WHERE ` + strings.Join(where, " AND ")
		}
		q += ` ORDER BY id DESC LIMIT ` + arg(f.Limit)
		ids, err := tx.Strings(q, args...)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, id := range ids {
			d, err := get(tx, op, actor, id)
			if err != nil {
				return err
			}
			d.Moves = allowed(d.State)
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// DealEvent is a step of a deal as filed: what happened, by whom, when, and the
// state and price it left the deal in.
type DealEvent struct {
	Seq     int64          `json:"seq" doc:"the filing's sequence number in the log"`
	Type    string         `json:"type" doc:"the filing's type, e.g. trade.offered"`
	Actor   string         `json:"actor"`
	At      time.Time      `json:"at"`
	State   string         `json:"state"`
	Price   dataport.Money `json:"price"`
	Outcome string         `json:"outcome,omitempty"`
	Reason  string         `json:"reason,omitempty" doc:"why it was terminated"`
	SHA256  string         `json:"sha256" doc:"the filing's hash: its leaf in the log"`
}

// History returns a deal's steps in the order they were filed (every move of the
// protocol and the money's is filed: fileDeal). Whoever may read the deal.
func (s *Service) History(ctx context.Context, actor dataport.Actor, id string) ([]DealEvent, error) {
	const op = "trade.History"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	out := []DealEvent{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if _, err := get(tx, op, actor, id); err != nil {
			return err
		}
		after := int64(0)
		for {
			fs, err := ledger.List(tx, ledger.Filter{Subject: id, After: after, Limit: 1000})
			if err != nil {
				return dataport.Wrap(op, err)
			}
			for _, f := range fs {
				after = f.Seq
				if !strings.HasPrefix(f.Type, "trade.") {
					continue // deliveries and the rest are shown where they belong
				}
				var p struct {
					DealID  string         `json:"deal_id"`
					State   string         `json:"state"`
					Price   dataport.Money `json:"price"`
					Outcome string         `json:"outcome"`
					Reason  string         `json:"reason"`
				}
				if err := json.Unmarshal(f.Payload, &p); err != nil || p.DealID != id {
					continue
				}
				out = append(out, DealEvent{Seq: f.Seq, Type: f.Type, Actor: f.Actor, At: f.FiledAt, State: p.State,
					Price: p.Price, Outcome: p.Outcome, Reason: p.Reason, SHA256: f.SHA256})
			}
			if len(fs) < 1000 {
				return nil
			}
		}
	})
	return out, err
}
