package trade

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Entitlement is a finalised deal's right to use the agreed product revision under
// the contract's policy: in the buyer's territory, within the term, a number of times.
type Entitlement struct {
	ID        string    `json:"id"`
	DealID    string    `json:"deal_id"`
	BuyerID   string    `json:"buyer_id"`
	ProductID string    `json:"product_id"`
	Revision  int64     `json:"revision"`
	Territory string    `json:"territory" doc:"ISO 3166-1 alpha-2: where the data may be used"`
	StartsOn  string    `json:"starts_on"`
	EndsOn    string    `json:"ends_on" doc:"the last day of use"`
	MaxUses   int64     `json:"max_uses"`
	Uses      int64     `json:"uses"`
	CreatedAt time.Time `json:"created_at"`
}

// grant creates the entitlement of a deal being finalised, with the terms its
// contract's policy states.
func grant(tx *store.Tx, reg participants, d *Deal) error {
	buyer, err := reg.Participant(tx, d.BuyerID)
	if err != nil {
		return err
	}
	start := d.CreatedAt.In(china)
	now := store.FormatTime(tx.Now())
	_, err = tx.Exec(`INSERT INTO entitlements (id, deal_id, buyer_id, product_id, revision, territory, starts_on, ends_on, max_uses, uses,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10)`,
		dataport.NewID("ent"), d.ID, d.BuyerID, d.ProductID, d.Revision, buyer.Jurisdiction, start.Format(time.DateOnly),
		start.AddDate(0, 0, int(d.TermDays)).Format(time.DateOnly), d.MaxUses, now)
	return err
}

// Access is one use a delivery asks about.
type Access struct {
	Kind      string `json:"kind" enum:"download,call"`
	Territory string `json:"territory" doc:"where the buyer uses it (ISO 3166-1 alpha-2)"`
	Object    string `json:"object,omitempty" doc:"what is delivered: a file's path or an API operation"`
	// Resume marks an access that continues one already counted.
	Resume bool `json:"-"`
}

// Use is the one question delivery asks: may the buyer use its entitlement from deal
// dealID now for this access? If so the use is counted and filed, in one
// transaction; if not, the error says which term forbids it. A suspension of the
// buyer, the supplier or the agent pauses the entitlement (KindForbidden) until it is
// lifted.
func (s *Service) Use(ctx context.Context, actor dataport.Actor, dealID string, a Access) (Entitlement, error) {
	var e Entitlement
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		e, err = UseIn(tx, actor, dealID, a)
		return err
	})
	return e, err
}

// UseIn is Use inside the caller's transaction, so that delivery records what it
// delivers in the same commit as the use it counts. With a.Resume the terms are
// checked but no use is counted or filed: the access continues one already counted
// (a download resumed with a Range request).
func UseIn(tx *store.Tx, actor dataport.Actor, dealID string, a Access) (Entitlement, error) {
	const op = "trade.Use"
	if actor.Anonymous() {
		return Entitlement{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	d, err := get(tx, op, actor, dealID)
	if err != nil {
		return Entitlement{}, err
	}
	if actor.ParticipantID != d.BuyerID {
		return Entitlement{}, dataport.Errorf(op, dataport.KindForbidden, "the entitlement is the buyer's")
	}
	for _, p := range []string{d.BuyerID, d.SupplierID, d.AgentID} {
		if p == "" {
			continue
		}
		if err := registry.CheckActive(tx, p); err != nil {
			return Entitlement{}, dataport.Errorf(op, dataport.KindForbidden, "the entitlement is paused: participant %s is suspended", p)
		}
	}
	e, err := entitlementOf(tx, op, dealID)
	if dataport.KindOf(err) == dataport.KindNotFound {
		// The buyer sees its deal; what it lacks is the right to use it yet.
		return Entitlement{}, dataport.Errorf(op, dataport.KindForbidden, "deal %s is %s: it grants an entitlement once finalised", d.ID, d.State)
	}
	if err != nil {
		return Entitlement{}, err
	}
	today := tx.Now().In(china).Format(time.DateOnly)
	switch {
	case today < e.StartsOn || today > e.EndsOn:
		return Entitlement{}, dataport.Errorf(op, dataport.KindForbidden, "the entitlement runs from %s to %s", e.StartsOn, e.EndsOn)
	case !a.Resume && e.Uses >= e.MaxUses:
		return Entitlement{}, dataport.Errorf(op, dataport.KindForbidden, "all %d uses the contract allows are used", e.MaxUses)
	case a.Territory != e.Territory:
		return Entitlement{}, dataport.Errorf(op, dataport.KindForbidden, "the contract allows use in %s, not %q", e.Territory, a.Territory)
	case a.Kind != "download" && a.Kind != "call":
		return Entitlement{}, dataport.Invalid(op, dataport.FieldProblem{Field: "kind", Message: "download or call"})
	}
	if a.Resume {
		return e, nil
	}
	e.Uses++
	if _, err := tx.Exec(`UPDATE entitlements SET uses = $2, updated_at = $3 WHERE id = $1`, e.ID, e.Uses, store.FormatTime(tx.Now())); err != nil {
		return Entitlement{}, dataport.Internal(op, err)
	}
	_, err = ledger.File(tx, actor, ledger.Change{Type: "trade.used", Subjects: []string{d.ID, e.ID, d.BuyerID},
		Payload: map[string]any{"deal_id": d.ID, "entitlement_id": e.ID, "kind": a.Kind, "object": a.Object, "use": e.Uses, "of": e.MaxUses}})
	return e, err
}

func entitlementOf(tx *store.Tx, op, dealID string) (Entitlement, error) {
	var e Entitlement
	var created string
	err := tx.QueryRow(`SELECT id, deal_id, buyer_id, product_id, revision, territory, starts_on, ends_on, max_uses, uses, created_at
		FROM entitlements WHERE deal_id = $1`, dealID).Scan(&e.ID, &e.DealID, &e.BuyerID, &e.ProductID, &e.Revision, &e.Territory,
		&e.StartsOn, &e.EndsOn, &e.MaxUses, &e.Uses, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Entitlement{}, dataport.Errorf(op, dataport.KindNotFound, "deal %s grants no entitlement: it is granted when the deal is finalised", dealID)
	}
	if err != nil {
		return Entitlement{}, dataport.Internal(op, err)
	}
	e.CreatedAt, _ = store.ParseTime(created)
	return e, nil
}

// Entitlements lists a buyer's entitlements: the buyer, the operator and regulators.
func (s *Service) Entitlements(ctx context.Context, actor dataport.Actor, buyerID string) ([]Entitlement, error) {
	const op = "trade.Entitlements"
	if actor.ParticipantID != buyerID && !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return nil, dataport.Errorf(op, dataport.KindNotFound, "no participant %s", buyerID)
	}
	out := []Entitlement{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		ids, err := tx.Strings(`SELECT deal_id FROM entitlements WHERE buyer_id = $1 ORDER BY id`, buyerID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, id := range ids {
			e, err := entitlementOf(tx, op, id)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
