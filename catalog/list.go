package catalog

import (
	"context"
	"strconv"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// ProductPage is one page of a product listing.
type ProductPage struct {
	Items []Product `json:"items"`
	Next  string    `json:"next,omitempty" doc:"pass as after for the next page"`
}

// ReviewQueue lists what awaits the operator's review — submitted or in review, new
// products and pending changes of listed ones alike — oldest first (ids are
// time-ordered). Operator and regulators.
func (s *Service) ReviewQueue(ctx context.Context, actor dataport.Actor, after string, limit int) (ProductPage, error) {
	const op = "catalog.ReviewQueue"
	if actor.Anonymous() {
		return ProductPage{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return ProductPage{}, dataport.Errorf(op, dataport.KindForbidden, "the review queue is the operator's")
	}
	return s.page(ctx, op, `(status IN ('submitted', 'under_review') OR change_status IN ('submitted', 'under_review'))`, nil, after, limit)
}

// ProductsOf lists a participant's products in every state, latest revision, oldest
// first: those it supplies and those it manages as agent. The participant itself, the
// operator and regulators. status, when set, keeps one workflow state.
func (s *Service) ProductsOf(ctx context.Context, actor dataport.Actor, participantID, status, after string, limit int) (ProductPage, error) {
	const op = "catalog.ProductsOf"
	if actor.Anonymous() {
		return ProductPage{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if actor.ParticipantID != participantID && !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return ProductPage{}, dataport.Errorf(op, dataport.KindNotFound, "no participant %s", participantID)
	}
	where, args := `(supplier_id = $1 OR agent_id = $1)`, []any{participantID}
	if status != "" {
		if !validStatus(status) {
			return ProductPage{}, dataport.Invalid(op, dataport.FieldProblem{Field: "status",
				Message: "draft, submitted, under_review, listed, rejected, suspended or delisted"})
		}
		where, args = where+` AND status = $2`, append(args, status)
	}
	return s.page(ctx, op, where, args, after, limit)
}

func validStatus(s string) bool {
	switch Status(s) {
	case Draft, Submitted, UnderReview, Listed, Rejected, Suspended, Delisted:
		return true
	}
	return false
}

// page reads one page of products matching where (over args), in id order after
// the cursor, with their latest revisions.
func (s *Service) page(ctx context.Context, op, where string, args []any, after string, limit int) (ProductPage, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	out := ProductPage{Items: []Product{}}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		n := len(args)
		q := `SELECT id FROM products WHERE ` + where + ` AND id > $` + strconv.Itoa(n+1) + ` ORDER BY id LIMIT $` + strconv.Itoa(n+2)
		rows, err := tx.Query(q, append(args, after, limit+1)...)
		if err != nil {
			return dataport.Internal(op, err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return dataport.Internal(op, err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dataport.Internal(op, err)
		}
		if len(ids) > limit {
			ids, out.Next = ids[:limit], ids[limit-1]
		}
		ps, err := productsAt(tx, op, ids, true)
		out.Items = append(out.Items, ps...)
		return err
	})
	return out, err
}
