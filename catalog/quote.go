package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Quotes answer demands: the supplier of a listed product (or the agent acting for
// it) offers the product at a price; the buyer accepts or declines. Each step is
// filed — with the hash of the price and message, not the terms themselves, which
// are the parties' business — and the other side is told in its inbox.

// Quote is an offer of a product for a demand.
type Quote struct {
	ID        string         `json:"id"`
	DemandID  string         `json:"demand_id"`
	ProductID string         `json:"product_id"`
	QuotedBy  string         `json:"quoted_by"`
	Price     dataport.Money `json:"price"`
	Message   string         `json:"message,omitempty"`
	Status    string         `json:"status" enum:"open,accepted,declined"`
	CreatedAt time.Time      `json:"created_at"`
	DecidedAt time.Time      `json:"decided_at,omitzero"`
}

// NewQuote is what a supplier or agent sends.
type NewQuote struct {
	ProductID string         `json:"product_id"`
	Price     dataport.Money `json:"price"`
	Message   string         `json:"message,omitempty" maxLength:"2000"`
}

// MakeQuote answers an open demand with a listed product the actor manages.
func (s *Service) MakeQuote(ctx context.Context, actor dataport.Actor, demandID string, n NewQuote) (Quote, error) {
	const op = "catalog.MakeQuote"
	var q Quote
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		d, err := getDemand(tx, op, demandID)
		if err != nil {
			return err
		}
		if d.Status != "open" {
			return dataport.Errorf(op, dataport.KindConflict, "demand %s is %s", d.ID, d.Status)
		}
		var p dataport.Problems
		if n.Price.Amount < 0 {
			p.Add("price.amount", "a price is not negative")
		}
		if !dataport.IsCurrency(n.Price.Currency) {
			p.Add("price.currency", "an ISO 4217 code such as CNY")
		}
		n.Message = strings.TrimSpace(n.Message)
		if utf8.RuneCountInString(n.Message) > 2000 {
			p.Add("message", "at most 2000 characters")
		}
		if err := p.Err(op); err != nil {
			return err
		}
		prod, err := get(tx, op, n.ProductID, 0)
		if err != nil {
			if dataport.KindOf(err) == dataport.KindNotFound {
				return dataport.Invalid(op, dataport.FieldProblem{Field: "product_id", Message: "no such product of yours"})
			}
			return err
		}
		manager := actor.ParticipantID == prod.SupplierID && prod.AgentID == "" || prod.AgentID != "" && actor.ParticipantID == prod.AgentID
		if !manager {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "product_id", Message: "no such product of yours"})
		}
		if prod.Status != Listed {
			return dataport.Errorf(op, dataport.KindConflict, "product %s is %s: only listed products are quoted", prod.ID, prod.Status)
		}
		if err := s.checkParties(tx, op, &prod); err != nil {
			return err
		}
		q = Quote{ID: dataport.NewID("quo"), DemandID: d.ID, ProductID: prod.ID, QuotedBy: actor.ParticipantID,
			Price: n.Price, Message: n.Message, Status: "open", CreatedAt: tx.Now()}
		if _, err := tx.Exec(`INSERT INTO quotes (id, demand_id, product_id, quoted_by, amount, currency, message, status, created_at, decided_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, '')`, q.ID, q.DemandID, q.ProductID, q.QuotedBy, q.Price.Amount,
			q.Price.Currency, q.Message, store.FormatTime(q.CreatedAt)); err != nil {
			return dataport.Internal(op, err)
		}
		if err := notify.Send(tx, d.BuyerID, "quote.received", q); err != nil {
			return dataport.Internal(op, err)
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "quote.made", Subjects: []string{q.ID, d.ID, prod.ID, d.BuyerID, actor.ParticipantID},
			Payload: map[string]any{"quote_id": q.ID, "demand_id": d.ID, "product_id": prod.ID, "terms_sha256": termsHash(q)}})
		return err
	})
	return q, err
}

func termsHash(q Quote) string {
	b, _ := json.Marshal(map[string]any{"price": q.Price, "message": q.Message})
	return sha(string(b))
}

// DecideQuote accepts or declines an open quote. The demand's buyer only.
func (s *Service) DecideQuote(ctx context.Context, actor dataport.Actor, quoteID string, accept bool) (Quote, error) {
	const op = "catalog.DecideQuote"
	var q Quote
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		var err error
		if q, err = getQuote(tx, op, quoteID); err != nil {
			return err
		}
		d, err := getDemand(tx, op, q.DemandID)
		if err != nil {
			return err
		}
		if d.BuyerID != actor.ParticipantID {
			return dataport.Errorf(op, dataport.KindNotFound, "no quote %s", quoteID)
		}
		if q.Status != "open" {
			return dataport.Errorf(op, dataport.KindConflict, "quote %s is %s", q.ID, q.Status)
		}
		q.Status, q.DecidedAt = "declined", tx.Now()
		if accept {
			q.Status = "accepted"
		}
		if _, err := tx.Exec(`UPDATE quotes SET status = $2, decided_at = $3 WHERE id = $1`, q.ID, q.Status, store.FormatTime(q.DecidedAt)); err != nil {
			return dataport.Internal(op, err)
		}
		if err := notify.Send(tx, q.QuotedBy, "quote."+q.Status, q); err != nil {
			return dataport.Internal(op, err)
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "quote." + q.Status, Subjects: []string{q.ID, d.ID, q.ProductID, d.BuyerID, q.QuotedBy},
			Payload: map[string]any{"quote_id": q.ID, "demand_id": d.ID, "terms_sha256": termsHash(q)}})
		return err
	})
	return q, err
}

// Quotes lists a demand's quotes: all of them to its buyer, one's own to a supplier.
func (s *Service) Quotes(ctx context.Context, actor dataport.Actor, demandID string) ([]Quote, error) {
	const op = "catalog.Quotes"
	var out []Quote
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		d, err := getDemand(tx, op, demandID)
		if err != nil {
			return err
		}
		ids, err := tx.Strings(`SELECT id FROM quotes WHERE demand_id = $1 ORDER BY id`, d.ID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, id := range ids {
			q, err := getQuote(tx, op, id)
			if err != nil {
				return err
			}
			if actor.ParticipantID == d.BuyerID || actor.ParticipantID == q.QuotedBy || actor.Has(dataport.RoleOperator) {
				out = append(out, q)
			}
		}
		if actor.ParticipantID != d.BuyerID && !actor.Has(dataport.RoleOperator) && len(out) == 0 {
			return dataport.Errorf(op, dataport.KindNotFound, "no demand %s", demandID)
		}
		return nil
	})
	return out, err
}

// CloseDemand closes an open demand: no more matches are notified, no more quotes taken.
func (s *Service) CloseDemand(ctx context.Context, actor dataport.Actor, demandID string) (Demand, error) {
	const op = "catalog.CloseDemand"
	var d Demand
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		var err error
		if d, err = getDemand(tx, op, demandID); err != nil {
			return err
		}
		if d.BuyerID != actor.ParticipantID {
			return dataport.Errorf(op, dataport.KindNotFound, "no demand %s", demandID)
		}
		if d.Status != "open" {
			return dataport.Errorf(op, dataport.KindConflict, "demand %s is %s", d.ID, d.Status)
		}
		d.Status = "closed"
		if _, err := tx.Exec(`UPDATE demands SET status = 'closed' WHERE id = $1`, d.ID); err != nil {
			return dataport.Internal(op, err)
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "demand.closed", Subjects: []string{d.ID, d.BuyerID},
			Payload: map[string]any{"demand_id": d.ID}})
		return err
	})
	return d, err
}

func getQuote(tx *store.Tx, op, id string) (Quote, error) {
	var q Quote
	var created, decided string
	err := tx.QueryRow(`SELECT id, demand_id, product_id, quoted_by, amount, currency, message, status, created_at, decided_at
		FROM quotes WHERE id = $1`, id).Scan(&q.ID, &q.DemandID, &q.ProductID, &q.QuotedBy, &q.Price.Amount, &q.Price.Currency,
		&q.Message, &q.Status, &created, &decided)
	if errors.Is(err, sql.ErrNoRows) {
		return Quote{}, dataport.Errorf(op, dataport.KindNotFound, "no quote %s", id)
	}
	if err != nil {
		return Quote{}, dataport.Internal(op, err)
	}
	q.CreatedAt, _ = store.ParseTime(created)
	q.DecidedAt, _ = store.ParseTime(decided)
	return q, nil
}
