package lending

import (
	"context"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Institution is a financial institution a merchant may name in a consent.
type Institution struct {
	ID        string             `json:"id"`
	LegalName dataport.Bilingual `json:"legal_name"`
}

// Institutions lists the financial institutions a consent may name now — active
// participants holding the role financial_institution, as GrantConsent checks
// them — in id order, with their legal names. A consent names institutions by
// participant id, and a merchant sees no other participant in the registry: this
// is how it learns whom it may consent to. It tells no more than that the
// institution lends on the exchange; nothing of the institution's own records.
//
// Errors: KindForbidden for a caller that is not a merchant, a financial
// institution, the operator or a regulator; KindUnauthorized.
func (s *Service) Institutions(ctx context.Context, actor dataport.Actor) ([]Institution, error) {
	const op = "lending.Institutions"
	out := []Institution{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if _, err := mayRead(tx, op, actor); err != nil {
			return err
		}
		ids, err := tx.Strings(`SELECT p.id FROM participants p
			JOIN participant_roles r ON r.participant_id = p.id AND r.role = $1
			WHERE p.status = $2 ORDER BY p.id LIMIT 1000`, string(dataport.RoleFinancialInstitution), string(registry.Active))
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, id := range ids {
			p, err := s.reg.Participant(tx, id)
			if err != nil {
				return dataport.Wrap(op, err)
			}
			out = append(out, Institution{ID: p.ID, LegalName: p.LegalName})
		}
		return nil
	})
	return out, err
}
