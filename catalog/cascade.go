package catalog

import (
	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// cascadePrefix marks a listing suspended because a participant was: "cascade:" and
// the participant's id, so that resuming that participant restores exactly these.
const cascadePrefix = "cascade:"

// SuspensionCascade is the catalog's part of a participant's suspension (registry
// Cascade): the listings it supplies or acts for as agent are suspended with it, and
// on resume the ones its suspension paused are listed again — unless the product's
// other party is suspended too, whose suspension then holds them. Each change is
// filed as the product's own event, naming the cascade.
func (s *Service) SuspensionCascade(tx *store.Tx, actor dataport.Actor, participantID string, suspended bool, reason string) error {
	const op = "catalog.SuspensionCascade"
	status, where := Listed, `status = 'listed' AND (supplier_id = $1 OR agent_id = $1)`
	if !suspended {
		status, where = Suspended, `status = 'suspended' AND suspended_by = $1`
	}
	arg := participantID
	if !suspended {
		arg = cascadePrefix + participantID
	}
	ids, err := tx.Strings(`SELECT id FROM products WHERE `+where+` ORDER BY id`, arg)
	if err != nil {
		return dataport.Internal(op, err)
	}
	for _, id := range ids {
		p, err := get(tx, op, id, 0)
		if err != nil {
			return err
		}
		if p.Status != status {
			continue
		}
		extra := map[string]any{"cascade": participantID}
		event := "product.suspended"
		if suspended {
			p.Status = Suspended
			p.Suspension = &ListingSuspension{Reason: "participant " + participantID + " suspended: " + reason, By: cascadePrefix + participantID, At: tx.Now()}
			extra["reason"] = p.Suspension.Reason
			if err := unindex(tx, p.ID); err != nil {
				return dataport.Internal(op, err)
			}
		} else {
			// Still held by the other party's suspension?
			other := p.SupplierID
			if other == participantID {
				other = p.AgentID
			}
			if other != "" && registry.CheckActive(tx, other) != nil {
				p.Suspension.By = cascadePrefix + other
				p.Suspension.Reason = "participant " + other + " suspended"
				event, extra["held_by"] = "product.suspension_held", other
			} else {
				p.Status, p.Suspension, event = Listed, nil, "product.resumed"
				listed, err := get(tx, op, p.ID, p.ListedRevision)
				if err != nil {
					return err
				}
				listed.UpdatedAt = tx.Now()
				if err := index(tx, &listed); err != nil {
					return dataport.Internal(op, err)
				}
			}
		}
		if err := s.store(tx, op, &p); err != nil {
			return err
		}
		if err := file(tx, actor, event, p, extra); err != nil {
			return err
		}
	}
	return nil
}
