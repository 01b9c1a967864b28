package catalog

import (
	"context"
	"strconv"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog/search"
	"github.com/dataport/dataport/store"
)

// Lists of demands, for the pages where buyers follow theirs and suppliers and
// agents find the demands their products could answer. A buyer's demands are its
// own business (they are filed without their text); the manager of a listed product
// that fits an open demand hears of it (notifyBothSides, product.fits_demand) with
// its text, and so may read it here.

// DemandFilter selects a buyer's demands.
type DemandFilter struct {
	Status string // "open" or "closed"; both when empty
	Limit  int    // 50 when 0, 200 at most
}

// Demands lists the actor's own demands, newest first; the operator's are
// everyone's.
func (s *Service) Demands(ctx context.Context, actor dataport.Actor, f DemandFilter) ([]Demand, error) {
	const op = "catalog.Demands"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if f.Status != "" && f.Status != "open" && f.Status != "closed" {
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "status", Message: "open or closed"})
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 200)
	out := []Demand{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		q, args := `SELECT id FROM demands WHERE ($1 = '' OR status = $1)`, []any{f.Status}
		if !actor.Has(dataport.RoleOperator) {
			q += ` AND buyer_id = $2`
			args = append(args, actor.ParticipantID)
		}
		ids, err := tx.Strings(q+` ORDER BY id DESC LIMIT `+strconv.Itoa(f.Limit), args...)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, id := range ids {
			d, err := getDemand(tx, op, id)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// DemandFit is an open demand and the actor's listed products that fit it, each
// with the explanation fit gives.
type DemandFit struct {
	Demand  Demand  `json:"demand"`
	Matches []Match `json:"matches"`
}

// maxScanned is how many of the newest open demands FittingDemands looks at.
const maxScanned = 500

// FittingDemands lists the open demands (not past their deadline) that a listed
// product the actor manages fits — its own as a domestic supplier, or those it acts
// for as an agent (R22) — newest first: the demands the actor may quote for.
func (s *Service) FittingDemands(ctx context.Context, actor dataport.Actor, limit int) ([]DemandFit, error) {
	const op = "catalog.FittingDemands"
	if actor.Anonymous() {
		return nil, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleSupplier, dataport.RoleAgent) {
		return nil, dataport.Errorf(op, dataport.KindForbidden, "demands are answered by suppliers and agents")
	}
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	out := []DemandFit{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		ids, err := tx.Strings(`SELECT id FROM products WHERE status = 'listed' AND
			((supplier_id = $1 AND COALESCE(agent_id, '') = '') OR COALESCE(agent_id, '') = $1) ORDER BY id`, actor.ParticipantID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		ps, err := listedProducts(tx, op, ids)
		if err != nil {
			return err
		}
		mine := ps[:0]
		for i := range ps {
			if visible(tx, &ps[i]) {
				mine = append(mine, ps[i])
			}
		}
		if len(mine) == 0 {
			return nil
		}
		demands, err := tx.Strings(`SELECT id FROM demands WHERE status = 'open' ORDER BY id DESC LIMIT ` + strconv.Itoa(maxScanned))
		if err != nil {
			return dataport.Internal(op, err)
		}
		today := tx.Now().In(dataport.China).Format(time.DateOnly)
		for _, id := range demands {
			d, err := getDemand(tx, op, id)
			if err != nil {
				return err
			}
			if d.Deadline != "" && d.Deadline < today || d.BuyerID == actor.ParticipantID {
				continue
			}
			terms := search.Query(d.Text)
			var fits []Match
			for i := range mine {
				if m, ok := fit(&d, &mine[i], terms); ok {
					fits = append(fits, m)
				}
			}
			if len(fits) == 0 {
				continue
			}
			rank(fits)
			out = append(out, DemandFit{Demand: d, Matches: fits})
			if len(out) == limit {
				return nil
			}
		}
		return nil
	})
	return out, err
}
