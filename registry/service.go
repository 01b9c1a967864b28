package registry

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
)

// Service is the participant registry.
type Service struct {
	db       *store.DB
	cascades []Cascade
}

// New returns the registry over db.
func New(db *store.DB) *Service { return &Service{db: db} }

// CheckActive is the one check every capability makes before a participant acts or is
// acted for: the participant exists and is not suspended (叫停). It returns
// KindForbidden for a suspended participant and KindNotFound for an unknown one.
func CheckActive(tx *store.Tx, participantID string) error {
	const op = "registry.CheckActive"
	var status, reason string
	err := tx.QueryRow(`SELECT status, suspended_reason FROM participants WHERE id = $1`, participantID).Scan(&status, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		return dataport.Errorf(op, dataport.KindNotFound, "no participant %s", participantID)
	}
	if err != nil {
		return dataport.Internal(op, err)
	}
	if Status(status) == Suspended {
		return dataport.Errorf(op, dataport.KindForbidden, "participant %s is suspended by the exchange: %s", participantID, reason)
	}
	return nil
}

// MayAct is the check every capability makes before an actor changes anything: the
// actor is authenticated and its participant active. The system actor always may.
func MayAct(tx *store.Tx, op string, actor dataport.Actor) error {
	if actor.Anonymous() {
		return dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if actor.IsSystem() {
		return nil
	}
	if err := CheckActive(tx, actor.ParticipantID); err != nil {
		if dataport.KindOf(err) == dataport.KindNotFound {
			return dataport.Errorf(op, dataport.KindUnauthorized, "the caller's participant no longer exists")
		}
		return dataport.Wrap(op, err)
	}
	return nil
}

// mayChangeFor checks that actor may change things now and that they are its own
// or it is the operator; another participant's records are not found.
func mayChangeFor(tx *store.Tx, op string, actor dataport.Actor, participantID string) error {
	if err := MayAct(tx, op, actor); err != nil {
		return err
	}
	if !actor.Has(dataport.RoleOperator) && actor.ParticipantID != participantID {
		return notFound(op, participantID)
	}
	return nil
}

// requireOperator checks that actor is the exchange operator and may change things.
func requireOperator(tx *store.Tx, op string, actor dataport.Actor) error {
	if err := MayAct(tx, op, actor); err != nil {
		return err
	}
	if !actor.Has(dataport.RoleOperator) {
		return dataport.Errorf(op, dataport.KindForbidden, "only the exchange operator may do this")
	}
	return nil
}

// canSee reports whether actor may read participant id's full record: the operator,
// a regulator, or the participant itself. Others are told it does not exist.
func canSee(actor dataport.Actor, id string) bool {
	return actor.ParticipantID == id || actor.Has(dataport.RoleOperator, dataport.RoleRegulator)
}

// CreateParticipant registers an organisation. Operator only.
//
// Errors: KindInvalid naming each wrong field; KindConflict when the USCC or the
// foreign registration number is already registered; KindUnauthorized,
// KindForbidden.
func (s *Service) CreateParticipant(ctx context.Context, actor dataport.Actor, n NewParticipant) (Participant, error) {
	const op = "registry.CreateParticipant"
	var p Participant
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := requireOperator(tx, op, actor); err != nil {
			return err
		}
		// The exchange has one operator, created at first start.
		if slices.Contains(n.Roles, dataport.RoleOperator) {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "roles", Message: "the exchange has one operator; it cannot be created"})
		}
		var err error
		p, err = insertParticipant(tx, op, actor, n)
		return err
	})
	return p, err
}

func insertParticipant(tx *store.Tx, op string, actor dataport.Actor, n NewParticipant) (Participant, error) {
	n.normalise()
	now := tx.Now()
	p := Participant{
		ID: dataport.NewID("prt"), LegalName: n.LegalName, Jurisdiction: n.Jurisdiction, Kind: n.Kind,
		USCC: n.USCC, RegistrationNumber: n.RegistrationNumber, MerchantCategory: n.MerchantCategory,
		Roles: sortRoles(n.Roles), CIIO: n.CIIO, FTZ: n.FTZ, KYC: KYC{Status: KYCPending},
		Status: Active, Contact: n.Contact, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	var problems dataport.Problems
	validate(&p, &problems)
	if err := problems.Err(op); err != nil {
		return Participant{}, err
	}
	_, err := tx.Exec(`INSERT INTO participants (id, legal_name_zh, legal_name_en, jurisdiction, kind, uscc,
		registration_number, merchant_category, ciio, ftz, kyc_status, kyc_by, kyc_at, kyc_note,
		whitelist_reference, whitelist_valid_until, status, suspended_reason, suspended_by, suspended_at,
		contact_name, contact_email, contact_phone, created_at, updated_at, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '', '', '', '', '', $12, '', '', '', $13, $14, $15, $16, $16, 1)`,
		p.ID, p.LegalName.Zh, p.LegalName.En, p.Jurisdiction, string(p.Kind), nullable(p.USCC),
		nullable(p.RegistrationNumber), p.MerchantCategory, p.CIIO, p.FTZ, string(p.KYC.Status),
		string(p.Status), p.Contact.Name, p.Contact.Email, p.Contact.Phone, store.FormatTime(now))
	if err != nil {
		return Participant{}, duplicate(op, err)
	}
	if err := writeRoles(tx, p.ID, p.Roles); err != nil {
		return Participant{}, dataport.Internal(op, err)
	}
	_, err = ledger.File(tx, actor, ledger.Change{Type: "participant.created", Subjects: []string{p.ID}, Payload: filed(p)})
	return p, err
}

// duplicate turns a unique violation into a conflict naming the field.
func duplicate(op string, err error) error {
	if !store.IsUniqueViolation(err) {
		return dataport.Internal(op, err)
	}
	field, what := "uscc", "a participant with this unified social credit code is already registered"
	if c := store.ConstraintName(err); strings.Contains(c, "registration_number") || strings.Contains(c, "jurisdiction") {
		field, what = "registration_number", "a participant with this registration number is already registered in this jurisdiction"
	}
	return &dataport.Error{Op: op, Kind: dataport.KindConflict, Message: what,
		Fields: []dataport.FieldProblem{{Field: field, Message: what}}}
}

// GetParticipant returns a participant the actor may see.
//
// Errors: KindNotFound for an unknown id and for one the actor may not see.
func (s *Service) GetParticipant(ctx context.Context, actor dataport.Actor, id string) (Participant, error) {
	const op = "registry.GetParticipant"
	if actor.Anonymous() {
		return Participant{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !canSee(actor, id) {
		return Participant{}, notFound(op, id)
	}
	var p Participant
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		p, err = get(tx, op, id)
		return err
	})
	return p, err
}

func notFound(op, id string) error {
	return dataport.Errorf(op, dataport.KindNotFound, "no participant %s", id)
}

// ListFilter selects participants. Zero fields do not filter.
type ListFilter struct {
	Role         dataport.Role
	Kind         Kind
	Status       Status
	KYCStatus    KYCStatus
	Jurisdiction string
	Query        string // part of either legal name, any case
	After        string // the last id of the previous page
	Limit        int    // 50 when 0, 500 at most
}

// ListParticipants returns participants in id (creation) order and the cursor of the
// next page ("" on the last). The operator and regulators see everyone; any other
// participant sees only itself.
func (s *Service) ListParticipants(ctx context.Context, actor dataport.Actor, f ListFilter) ([]Participant, string, error) {
	const op = "registry.ListParticipants"
	if actor.Anonymous() {
		return nil, "", dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 500 {
		f.Limit = 500
	}
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		where = append(where, "p.id = "+arg(actor.ParticipantID))
	}
	if f.Role != "" {
		where = append(where, "EXISTS (SELECT 1 FROM participant_roles r WHERE r.participant_id = p.id AND r.role = "+arg(string(f.Role))+")")
	}
	if f.Kind != "" {
		where = append(where, "p.kind = "+arg(string(f.Kind)))
	}
	if f.Status != "" {
		where = append(where, "p.status = "+arg(string(f.Status)))
	}
	if f.KYCStatus != "" {
		where = append(where, "p.kyc_status = "+arg(string(f.KYCStatus)))
	}
	if f.Jurisdiction != "" {
		where = append(where, "p.jurisdiction = "+arg(f.Jurisdiction))
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		like := "%" + escapeLike(strings.ToLower(q)) + "%"
		a := arg(like)
		where = append(where, "(LOWER(p.legal_name_en) LIKE "+a+" ESCAPE '\\' OR p.legal_name_zh LIKE "+a+" ESCAPE '\\')")
	}
	if f.After != "" {
		where = append(where, "p.id > "+arg(f.After))
	}
	q := selectParticipant + " p"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY p.id LIMIT " + arg(f.Limit+1)

	var out []Participant
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(q, args...)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanParticipant(rows)
			if err != nil {
				return dataport.Internal(op, err)
			}
			out = append(out, p)
		}
		if err := rows.Err(); err != nil {
			return dataport.Internal(op, err)
		}
		rows.Close()
		for i := range out {
			if out[i].Roles, err = readRoles(tx, out[i].ID); err != nil {
				return dataport.Internal(op, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UpdateParticipant changes a participant. The operator may change every field of
// the update; a participant may change only its own contact.
//
// Errors: KindInvalid, KindConflict (version mismatch or duplicate USCC),
// KindNotFound, KindForbidden, KindUnauthorized.
func (s *Service) UpdateParticipant(ctx context.Context, actor dataport.Actor, id string, u ParticipantUpdate) (Participant, error) {
	const op = "registry.UpdateParticipant"
	var p Participant
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := MayAct(tx, op, actor); err != nil {
			return err
		}
		operator := actor.Has(dataport.RoleOperator)
		if !operator && actor.ParticipantID != id {
			if actor.Has(dataport.RoleRegulator) {
				return dataport.Errorf(op, dataport.KindForbidden, "regulators read the registry; only the operator changes it")
			}
			return notFound(op, id)
		}
		if !operator && (u.LegalName != nil || u.USCC != nil || u.MerchantCategory != nil || u.Roles != nil || u.CIIO != nil || u.FTZ != nil) {
			return dataport.Errorf(op, dataport.KindForbidden, "a participant may change only its contact; other fields are changed by the operator")
		}
		var err error
		if p, err = get(tx, op, id); err != nil {
			return err
		}
		if u.Version != 0 && u.Version != p.Version {
			return &dataport.Error{Op: op, Kind: dataport.KindConflict,
				Message: fmt.Sprintf("participant %s is at version %d, not %d: read it again", id, p.Version, u.Version),
				Fields:  []dataport.FieldProblem{{Field: "version", Message: "stale"}}}
		}
		var changed []string
		if u.LegalName != nil {
			n := dataport.Bilingual{Zh: strings.TrimSpace(u.LegalName.Zh), En: strings.TrimSpace(u.LegalName.En)}
			if n != p.LegalName {
				p.LegalName, changed = n, append(changed, "legal_name")
			}
		}
		if u.USCC != nil && strings.TrimSpace(*u.USCC) != p.USCC {
			p.USCC, changed = strings.TrimSpace(*u.USCC), append(changed, "uscc")
		}
		if u.MerchantCategory != nil && strings.TrimSpace(*u.MerchantCategory) != p.MerchantCategory {
			p.MerchantCategory, changed = strings.TrimSpace(*u.MerchantCategory), append(changed, "merchant_category")
		}
		if u.Roles != nil {
			roles := sortRoles(u.Roles)
			if p.Has(dataport.RoleOperator) != slices.Contains(roles, dataport.RoleOperator) {
				return dataport.Invalid(op, dataport.FieldProblem{Field: "roles", Message: "the operator role stays with the exchange operator"})
			}
			if !slices.Equal(roles, p.Roles) {
				p.Roles, changed = roles, append(changed, "roles")
			}
		}
		if u.CIIO != nil && *u.CIIO != p.CIIO {
			p.CIIO, changed = *u.CIIO, append(changed, "ciio")
		}
		if u.FTZ != nil && strings.TrimSpace(*u.FTZ) != p.FTZ {
			p.FTZ, changed = strings.TrimSpace(*u.FTZ), append(changed, "ftz")
		}
		if u.Contact != nil {
			c := *u.Contact
			c.normalise()
			if c != p.Contact {
				p.Contact, changed = c, append(changed, "contact")
			}
		}
		var problems dataport.Problems
		validate(&p, &problems)
		if p.Whitelist != nil && !p.Has(dataport.RoleAgent) {
			problems.Add("roles", "a whitelisted agent keeps the agent role; remove the whitelist entry first")
		}
		if err := problems.Err(op); err != nil {
			return err
		}
		if len(changed) == 0 {
			return dataport.Errorf(op, dataport.KindInvalid, "the update changes nothing")
		}
		p.UpdatedAt, p.Version = tx.Now(), p.Version+1
		_, err = tx.Exec(`UPDATE participants SET legal_name_zh = $2, legal_name_en = $3, uscc = $4,
			merchant_category = $5, ciio = $6, ftz = $7, contact_name = $8, contact_email = $9,
			contact_phone = $10, updated_at = $11, version = $12 WHERE id = $1`,
			p.ID, p.LegalName.Zh, p.LegalName.En, nullable(p.USCC), p.MerchantCategory, p.CIIO, p.FTZ,
			p.Contact.Name, p.Contact.Email, p.Contact.Phone, store.FormatTime(p.UpdatedAt), p.Version)
		if err != nil {
			return duplicate(op, err)
		}
		if slices.Contains(changed, "roles") {
			if _, err := tx.Exec(`DELETE FROM participant_roles WHERE participant_id = $1`, p.ID); err != nil {
				return dataport.Internal(op, err)
			}
			if err := writeRoles(tx, p.ID, p.Roles); err != nil {
				return dataport.Internal(op, err)
			}
		}
		_, err = ledger.File(tx, actor, ledger.Change{Type: "participant.updated", Subjects: []string{p.ID},
			Payload: map[string]any{"changed": changed, "participant": filed(p)}})
		return err
	})
	return p, err
}

// KYCReview is the operator's decision on a participant's identity.
type KYCReview struct {
	Status KYCStatus `json:"status" enum:"verified,rejected,pending"`
	Note   string    `json:"note,omitempty" maxLength:"1000"`
}

// ReviewKYC records the operator's KYC decision. Operator only.
func (s *Service) ReviewKYC(ctx context.Context, actor dataport.Actor, id string, r KYCReview) (Participant, error) {
	const op = "registry.ReviewKYC"
	return s.change(ctx, op, actor, id, func(tx *store.Tx, p *Participant) (ledger.Change, error) {
		switch r.Status {
		case KYCVerified, KYCRejected, KYCPending:
		default:
			return ledger.Change{}, dataport.Invalid(op, dataport.FieldProblem{Field: "status", Message: "verified, rejected or pending"})
		}
		if r.Status == KYCRejected && strings.TrimSpace(r.Note) == "" {
			return ledger.Change{}, dataport.Invalid(op, dataport.FieldProblem{Field: "note", Message: "say why the review was rejected"})
		}
		p.KYC = KYC{Status: r.Status, ReviewedBy: actor.ParticipantID, ReviewedAt: tx.Now(), Note: strings.TrimSpace(r.Note)}
		_, err := tx.Exec(`UPDATE participants SET kyc_status = $2, kyc_by = $3, kyc_at = $4, kyc_note = $5 WHERE id = $1`,
			p.ID, string(p.KYC.Status), p.KYC.ReviewedBy, store.FormatTime(p.KYC.ReviewedAt), p.KYC.Note)
		return ledger.Change{Type: "participant.kyc_reviewed", Payload: map[string]any{"kyc": p.KYC}}, err
	})
}

// SetWhitelist records a domestic agent's cross-border whitelist entry. Operator only.
func (s *Service) SetWhitelist(ctx context.Context, actor dataport.Actor, id string, w WhitelistEntry) (Participant, error) {
	const op = "registry.SetWhitelist"
	return s.change(ctx, op, actor, id, func(tx *store.Tx, p *Participant) (ledger.Change, error) {
		var problems dataport.Problems
		w.Reference = strings.TrimSpace(w.Reference)
		if w.Reference == "" || len(w.Reference) > 100 {
			problems.Add("reference", "the whitelist reference, 1 to 100 characters")
		}
		if d, err := time.Parse(time.DateOnly, w.ValidUntil); err != nil {
			problems.Add("valid_until", "a date, YYYY-MM-DD")
		} else if d.Format(time.DateOnly) < tx.Now().In(chinaTime).Format(time.DateOnly) {
			problems.Add("valid_until", "already past")
		}
		if err := problems.Err(op); err != nil {
			return ledger.Change{}, err
		}
		if !p.Has(dataport.RoleAgent) || p.Kind != Domestic {
			return ledger.Change{}, dataport.Errorf(op, dataport.KindConflict, "only a domestic participant with the agent role is whitelisted")
		}
		p.Whitelist = &w
		_, err := tx.Exec(`UPDATE participants SET whitelist_reference = $2, whitelist_valid_until = $3 WHERE id = $1`,
			p.ID, w.Reference, w.ValidUntil)
		return ledger.Change{Type: "participant.whitelisted", Payload: map[string]any{"whitelist": w}}, err
	})
}

// RemoveWhitelist takes a participant off the whitelist. Operator only.
func (s *Service) RemoveWhitelist(ctx context.Context, actor dataport.Actor, id string, reason string) (Participant, error) {
	const op = "registry.RemoveWhitelist"
	return s.change(ctx, op, actor, id, func(tx *store.Tx, p *Participant) (ledger.Change, error) {
		if p.Whitelist == nil {
			return ledger.Change{}, dataport.Errorf(op, dataport.KindConflict, "participant %s is not whitelisted", id)
		}
		old := *p.Whitelist
		p.Whitelist = nil
		_, err := tx.Exec(`UPDATE participants SET whitelist_reference = '', whitelist_valid_until = '' WHERE id = $1`, p.ID)
		return ledger.Change{Type: "participant.whitelist_removed", Payload: map[string]any{"removed": old, "reason": strings.TrimSpace(reason)}}, err
	})
}

// Suspend stops a participant at once (叫停): from the commit on, its keys change
// nothing and every capability's CheckActive refuses it. Operator only; the
// operator itself cannot be suspended.
func (s *Service) Suspend(ctx context.Context, actor dataport.Actor, id, reason string) (Participant, error) {
	const op = "registry.Suspend"
	return s.change(ctx, op, actor, id, func(tx *store.Tx, p *Participant) (ledger.Change, error) {
		reason = strings.TrimSpace(reason)
		if reason == "" || len([]rune(reason)) > 1000 {
			return ledger.Change{}, dataport.Invalid(op, dataport.FieldProblem{Field: "reason", Message: "say why, in at most 1000 characters"})
		}
		if p.Has(dataport.RoleOperator) {
			return ledger.Change{}, dataport.Errorf(op, dataport.KindConflict, "the exchange operator cannot be suspended")
		}
		if p.Status == Suspended {
			return ledger.Change{}, dataport.Errorf(op, dataport.KindConflict, "participant %s is already suspended", id)
		}
		p.Status = Suspended
		p.Suspension = &Suspension{Reason: reason, By: actor.ParticipantID, At: tx.Now()}
		if _, err := tx.Exec(`UPDATE participants SET status = 'suspended', suspended_reason = $2, suspended_by = $3, suspended_at = $4 WHERE id = $1`,
			p.ID, reason, actor.ParticipantID, store.FormatTime(tx.Now())); err != nil {
			return ledger.Change{}, err
		}
		if err := s.cascade(tx, actor, p.ID, true, reason); err != nil {
			return ledger.Change{}, err
		}
		return ledger.Change{Type: "participant.suspended", Payload: map[string]any{"reason": reason}}, nil
	})
}

// Cascade carries a suspension (叫停) of a participant to what other capabilities hold
// for it — its listings, open deals, entitlements — in the suspension's transaction,
// filing what it changes; on resume it restores exactly what the suspension paused.
type Cascade func(tx *store.Tx, actor dataport.Actor, participantID string, suspended bool, reason string) error

// OnSuspension adds a cascade. Register every cascade before serving.
func (s *Service) OnSuspension(c Cascade) { s.cascades = append(s.cascades, c) }

func (s *Service) cascade(tx *store.Tx, actor dataport.Actor, id string, suspended bool, reason string) error {
	for _, c := range s.cascades {
		if err := c(tx, actor, id, suspended, reason); err != nil {
			return err
		}
	}
	return nil
}

// Resume lifts a suspension. Operator only.
func (s *Service) Resume(ctx context.Context, actor dataport.Actor, id, note string) (Participant, error) {
	const op = "registry.Resume"
	return s.change(ctx, op, actor, id, func(tx *store.Tx, p *Participant) (ledger.Change, error) {
		if p.Status != Suspended {
			return ledger.Change{}, dataport.Errorf(op, dataport.KindConflict, "participant %s is not suspended", id)
		}
		was := *p.Suspension
		p.Status, p.Suspension = Active, nil
		if _, err := tx.Exec(`UPDATE participants SET status = 'active', suspended_reason = '', suspended_by = '', suspended_at = '' WHERE id = $1`, p.ID); err != nil {
			return ledger.Change{}, err
		}
		if err := s.cascade(tx, actor, p.ID, false, ""); err != nil {
			return ledger.Change{}, err
		}
		return ledger.Change{Type: "participant.resumed", Payload: map[string]any{"note": strings.TrimSpace(note), "suspension": was}}, nil
	})
}

// change runs an operator's change to one participant: it checks the actor, loads the
// participant, lets fn change it, bumps the version and files fn's change with the
// participant's new state, all in one transaction.
func (s *Service) change(ctx context.Context, op string, actor dataport.Actor, id string,
	fn func(tx *store.Tx, p *Participant) (ledger.Change, error)) (Participant, error) {
	var p Participant
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := requireOperator(tx, op, actor); err != nil {
			return err
		}
		var err error
		if p, err = get(tx, op, id); err != nil {
			return err
		}
		c, err := fn(tx, &p)
		if err != nil {
			return dataport.Wrap(op, err)
		}
		p.UpdatedAt, p.Version = tx.Now(), p.Version+1
		if _, err := tx.Exec(`UPDATE participants SET updated_at = $2, version = $3 WHERE id = $1`,
			p.ID, store.FormatTime(p.UpdatedAt), p.Version); err != nil {
			return dataport.Internal(op, err)
		}
		c.Subjects = append([]string{p.ID}, c.Subjects...)
		payload, _ := c.Payload.(map[string]any)
		payload["participant"] = filed(p)
		_, err = ledger.File(tx, actor, c)
		return err
	})
	return p, err
}

const selectParticipant = `SELECT p.id, p.legal_name_zh, p.legal_name_en, p.jurisdiction, p.kind,
	COALESCE(p.uscc, ''), COALESCE(p.registration_number, ''), p.merchant_category, p.ciio, p.ftz,
	p.kyc_status, p.kyc_by, p.kyc_at, p.kyc_note, p.whitelist_reference, p.whitelist_valid_until,
	p.status, p.suspended_reason, p.suspended_by, p.suspended_at,
	p.contact_name, p.contact_email, p.contact_phone, p.created_at, p.updated_at, p.version
	FROM participants`

type scanner interface{ Scan(...any) error }

func scanParticipant(r scanner) (Participant, error) {
	var p Participant
	var kind, kycStatus, kycAt, wlRef, wlUntil, status, susReason, susBy, susAt, created, updated string
	if err := r.Scan(&p.ID, &p.LegalName.Zh, &p.LegalName.En, &p.Jurisdiction, &kind, &p.USCC,
		&p.RegistrationNumber, &p.MerchantCategory, &p.CIIO, &p.FTZ, &kycStatus, &p.KYC.ReviewedBy, &kycAt,
		&p.KYC.Note, &wlRef, &wlUntil, &status, &susReason, &susBy, &susAt,
		&p.Contact.Name, &p.Contact.Email, &p.Contact.Phone, &created, &updated, &p.Version); err != nil {
		return Participant{}, err
	}
	p.Kind, p.KYC.Status, p.Status = Kind(kind), KYCStatus(kycStatus), Status(status)
	var err error
	if p.KYC.ReviewedAt, err = store.ParseTime(kycAt); err != nil {
		return Participant{}, err
	}
	if p.CreatedAt, err = store.ParseTime(created); err != nil {
		return Participant{}, err
	}
	if p.UpdatedAt, err = store.ParseTime(updated); err != nil {
		return Participant{}, err
	}
	if wlRef != "" {
		p.Whitelist = &WhitelistEntry{Reference: wlRef, ValidUntil: wlUntil}
	}
	if p.Status == Suspended {
		at, err := store.ParseTime(susAt)
		if err != nil {
			return Participant{}, err
		}
		p.Suspension = &Suspension{Reason: susReason, By: susBy, At: at}
	}
	return p, nil
}

// get reads one participant with its roles.
func get(tx *store.Tx, op, id string) (Participant, error) {
	p, err := scanParticipant(tx.QueryRow(selectParticipant+` p WHERE p.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Participant{}, notFound(op, id)
	}
	if err != nil {
		return Participant{}, dataport.Internal(op, err)
	}
	if p.Roles, err = readRoles(tx, id); err != nil {
		return Participant{}, dataport.Internal(op, err)
	}
	return p, nil
}

func readRoles(tx *store.Tx, id string) ([]dataport.Role, error) {
	rows, err := tx.Query(`SELECT role FROM participant_roles WHERE participant_id = $1`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var roles []dataport.Role
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		roles = append(roles, dataport.Role(r))
	}
	return sortRoles(roles), rows.Err()
}

func writeRoles(tx *store.Tx, id string, roles []dataport.Role) error {
	for _, r := range roles {
		if _, err := tx.Exec(`INSERT INTO participant_roles (participant_id, role) VALUES ($1, $2)`, id, string(r)); err != nil {
			return err
		}
	}
	return nil
}

// sortRoles puts roles in the order of dataport.Roles, without duplicates.
func sortRoles(roles []dataport.Role) []dataport.Role {
	out := make([]dataport.Role, 0, len(roles))
	for _, r := range dataport.Roles {
		if slices.Contains(roles, r) {
			out = append(out, r)
		}
	}
	for _, r := range roles { // unknown roles stay, so validation can name them
		if !r.Valid() && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// filedParticipant is a participant as filed: the public record, with the contact
// (personal data) replaced by its hash so the public log carries none.
type filedParticipant struct {
	Participant
	Contact       *Contact `json:"contact,omitempty"`
	ContactSHA256 string   `json:"contact_sha256,omitempty"`
}

func filed(p Participant) filedParticipant {
	f := filedParticipant{Participant: p}
	if p.Contact != (Contact{}) {
		sum := sha256.Sum256([]byte(p.Contact.Name + "\x00" + p.Contact.Email + "\x00" + p.Contact.Phone))
		f.ContactSHA256 = hex.EncodeToString(sum[:])
	}
	return f
}

// Active reports, outside any transaction, whether a participant may act now:
// CheckActive in a read transaction of its own.
func (s *Service) Active(ctx context.Context, participantID string) error {
	return s.db.Read(ctx, func(tx *store.Tx) error { return CheckActive(tx, participantID) })
}

// Participant reads a participant inside another capability's transaction, for the
// checks that capability makes (kind, roles, whitelist, KYC, status).
func (s *Service) Participant(tx *store.Tx, id string) (Participant, error) {
	return get(tx, "registry.Participant", id)
}
