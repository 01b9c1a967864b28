package lending

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/notify"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Consent is a merchant's consent (授權同意) to let some of its data leave the
// exchange to the financial institutions it names, until it expires or is revoked.
type Consent struct {
	ID           string    `json:"id"`
	MerchantID   string    `json:"merchant_id"`
	Scope        []Scope   `json:"scope" doc:"score (score, grade, PD, line, reasons), features (the feature values), orders (attested order data)"`
	Institutions []string  `json:"institutions" doc:"participant ids of the financial institutions; an institution reading the consent sees only itself here"`
	ExpiresAt    time.Time `json:"expires_at"`
	Status       string    `json:"status" enum:"active,revoked,expired"`
	GrantedBy    string    `json:"granted_by"`
	GrantedAt    time.Time `json:"granted_at"`
	RevokedBy    string    `json:"revoked_by,omitempty"`
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	RevokeReason string    `json:"revoke_reason,omitempty"`
	FilingSeq    int64     `json:"filing_seq" doc:"the filing of the grant"`
}

// NewConsent is what a merchant grants.
type NewConsent struct {
	Scope        []Scope   `json:"scope" minItems:"1" maxItems:"3" enum:"score,features,orders"`
	Institutions []string  `json:"institutions" minItems:"1" maxItems:"50" doc:"participant ids of active financial institutions"`
	ExpiresAt    time.Time `json:"expires_at" doc:"in the future, at most a year away"`
}

// maxInstitutions caps the institutions one consent names.
const maxInstitutions = 50

// validateConsent checks n, its institutions against the registry, as of now.
func (s *Service) validateConsent(tx *store.Tx, merchantID string, n *NewConsent, now time.Time) (dataport.Problems, error) {
	var p dataport.Problems
	if len(n.Scope) == 0 {
		p.Add("scope", "name at least one of score, features, orders")
	}
	for i, sc := range n.Scope {
		switch {
		case !slices.Contains(Scopes, sc):
			p.Add(fmt.Sprintf("scope[%d]", i), "%q is not one of score, features, orders", sc)
		case slices.Index(n.Scope, sc) < i:
			p.Add(fmt.Sprintf("scope[%d]", i), "%q is named twice", sc)
		}
	}
	switch {
	case len(n.Institutions) == 0:
		p.Add("institutions", "name at least one financial institution")
	case len(n.Institutions) > maxInstitutions:
		p.Add("institutions", "at most %d institutions in one consent", maxInstitutions)
	}
	for i, id := range n.Institutions {
		n.Institutions[i] = strings.TrimSpace(id)
		id = n.Institutions[i]
		field := fmt.Sprintf("institutions[%d]", i)
		if i >= maxInstitutions {
			break
		}
		if id == "" || len(id) > 64 || !utf8.ValidString(id) {
			p.Add(field, "a participant id")
			continue
		}
		if slices.Index(n.Institutions, id) < i {
			p.Add(field, "%s is named twice", id)
			continue
		}
		if id == merchantID {
			p.Add(field, "a merchant does not consent to itself")
			continue
		}
		inst, err := s.reg.Participant(tx, id)
		if dataport.KindOf(err) == dataport.KindNotFound {
			p.Add(field, "no financial institution %s", id)
			continue
		}
		if err != nil {
			return nil, err
		}
		switch {
		case !inst.Has(dataport.RoleFinancialInstitution):
			p.Add(field, "%s is not a financial institution", id)
		case inst.Status != registry.Active:
			p.Add(field, "%s is suspended by the exchange", id)
		}
	}
	switch {
	case n.ExpiresAt.IsZero():
		p.Add("expires_at", "required: when the consent ends")
	case !n.ExpiresAt.After(now):
		p.Add("expires_at", "in the future")
	case n.ExpiresAt.Sub(now) > s.opts.MaxConsent:
		p.Add("expires_at", "at most %d days away", int(s.opts.MaxConsent/(24*time.Hour)))
	}
	return p, nil
}

// GrantConsent records merchant merchantID's consent, granted by the merchant
// itself (role merchant): a consent is the merchant's own word, so no one grants
// it for another, the operator included. From its commit on, the named
// institutions receive offers made on the merchant's credit decisions (scope
// score) and may see what the scope names; nothing else of the merchant leaves to
// anyone. Filed as lending.consent_granted.
//
// Errors: KindInvalid naming each wrong field (scope[i], institutions[i],
// expires_at); KindNotFound when a merchant names another merchant (to it there is
// no such merchant); KindForbidden for a caller that is suspended or not acting as
// a merchant; KindUnauthorized.
func (s *Service) GrantConsent(ctx context.Context, actor dataport.Actor, merchantID string, n NewConsent) (Consent, error) {
	const op = "lending.GrantConsent"
	var c Consent
	n.Institutions = slices.Clone(n.Institutions)
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayActAs(tx, op, actor, dataport.RoleMerchant); err != nil {
			return err
		}
		if actor.ParticipantID != merchantID {
			return dataport.Errorf(op, dataport.KindNotFound, "no merchant %s", merchantID)
		}
		now := tx.Now()
		problems, err := s.validateConsent(tx, actor.ParticipantID, &n, now)
		if err != nil {
			return dataport.Wrap(op, err)
		}
		if err := problems.Err(op); err != nil {
			return err
		}
		n.ExpiresAt = n.ExpiresAt.UTC().Truncate(time.Microsecond) // as stored
		slices.Sort(n.Institutions)                                // as read back
		scope := slices.Clone(n.Scope)
		slices.SortFunc(scope, func(a, b Scope) int { return slices.Index(Scopes, a) - slices.Index(Scopes, b) })
		c = Consent{ID: dataport.NewID("cns"), MerchantID: actor.ParticipantID, Scope: scope, Institutions: n.Institutions,
			ExpiresAt: n.ExpiresAt, Status: "active", GrantedBy: actor.ParticipantID, GrantedAt: now}
		f, err := ledger.File(tx, actor, ledger.Change{Type: "lending.consent_granted",
			Subjects: append([]string{c.ID, c.MerchantID}, c.Institutions...),
			Payload: map[string]any{"consent_id": c.ID, "merchant_id": c.MerchantID, "scope": c.Scope,
				"institutions": c.Institutions, "expires_at": c.ExpiresAt}})
		if err != nil {
			return err
		}
		c.FilingSeq = f.Seq
		if _, err := tx.Exec(`INSERT INTO lending_consents (id, merchant_id, scope, expires_at, status, granted_by, granted_at,
			revoked_by, revoked_at, revoke_reason, filing_seq) VALUES ($1, $2, $3, $4, 'active', $5, $6, '', '', '', $7)`,
			c.ID, c.MerchantID, mustJSON(c.Scope), store.FormatTime(c.ExpiresAt), c.GrantedBy, store.FormatTime(now), c.FilingSeq); err != nil {
			return dataport.Internal(op, err)
		}
		for _, inst := range c.Institutions {
			if _, err := tx.Exec(`INSERT INTO lending_consent_institutions (consent_id, institution_id) VALUES ($1, $2)`, c.ID, inst); err != nil {
				return dataport.Internal(op, err)
			}
		}
		return nil
	})
	if err != nil {
		return Consent{}, err
	}
	return c, nil
}

// RevokeConsent ends a consent at once (the merchant that granted it, role
// merchant). In the same transaction every open offer made under it is withdrawn
// (lending.offer_withdrawn, the institution notified) and the institutions stop
// seeing the merchant's credit data on those offers. Loans already made stay as
// they are: they are contracts. Filed as lending.consent_revoked.
//
// Errors: KindNotFound for a consent that is not the caller's; KindConflict when it
// is revoked or expired already; KindInvalid for a reason over 1,000 characters;
// KindForbidden, KindUnauthorized.
func (s *Service) RevokeConsent(ctx context.Context, actor dataport.Actor, id, reason string) (Consent, error) {
	const op = "lending.RevokeConsent"
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > 1000 || !utf8.ValidString(reason) {
		return Consent{}, dataport.Invalid(op, dataport.FieldProblem{Field: "reason", Message: "at most 1,000 characters"})
	}
	var c Consent
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := mayActAs(tx, op, actor, dataport.RoleMerchant); err != nil {
			return err
		}
		var err error
		c, err = getConsent(tx, op, id, true)
		if err != nil {
			return err
		}
		if c.MerchantID != actor.ParticipantID {
			return noConsent(op, id)
		}
		now := tx.Now()
		if c.statusAt(now) != "active" {
			return dataport.Errorf(op, dataport.KindConflict, "consent %s is %s already", id, c.statusAt(now))
		}
		c.Status, c.RevokedBy, c.RevokedAt, c.RevokeReason = "revoked", actor.ParticipantID, now, reason
		if _, err := tx.Exec(`UPDATE lending_consents SET status = 'revoked', revoked_by = $2, revoked_at = $3, revoke_reason = $4
			WHERE id = $1`, c.ID, c.RevokedBy, store.FormatTime(now), reason); err != nil {
			return dataport.Internal(op, err)
		}
		if _, err := ledger.File(tx, actor, ledger.Change{Type: "lending.consent_revoked",
			Subjects: append([]string{c.ID, c.MerchantID}, c.Institutions...),
			Payload:  map[string]any{"consent_id": c.ID, "merchant_id": c.MerchantID, "reason": reason}}); err != nil {
			return err
		}
		ids, err := tx.Strings(`SELECT id FROM lending_offers WHERE merchant_id = $1 AND status = 'open' AND consent_id = $2 ORDER BY id`,
			c.MerchantID, c.ID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, offerID := range ids {
			if err := withdrawOffer(tx, actor, offerID, "the merchant revoked its consent "+c.ID); err != nil {
				return dataport.Wrap(op, err)
			}
		}
		return nil
	})
	if err != nil {
		return Consent{}, err
	}
	return c, nil
}

// withdrawOffer withdraws an open offer, files it and tells the institution (the
// offer's id and why: nothing more of the merchant).
func withdrawOffer(tx *store.Tx, actor dataport.Actor, offerID, why string) error {
	var merchantID, institutionID string
	if err := tx.QueryRow(`SELECT merchant_id, institution_id FROM lending_offers WHERE id = $1`, offerID).Scan(&merchantID, &institutionID); err != nil {
		return err
	}
	res, err := tx.Exec(`UPDATE lending_offers SET status = 'withdrawn', status_reason = $2, updated_at = $3 WHERE id = $1 AND status = 'open'`,
		offerID, why, store.FormatTime(tx.Now()))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // taken meanwhile (another replica): nothing was withdrawn
	}
	f, err := ledger.File(tx, actor, ledger.Change{Type: "lending.offer_withdrawn", Subjects: []string{offerID, merchantID, institutionID},
		Payload: map[string]any{"offer_id": offerID, "merchant_id": merchantID, "institution_id": institutionID, "reason": why}})
	if err != nil {
		return err
	}
	if err := setChangeSeq(tx, offerID, f.Seq); err != nil {
		return err
	}
	return notify.Send(tx, institutionID, "lending.offer_withdrawn", map[string]any{"offer_id": offerID, "reason": why})
}

// ConsentFilter selects consents. Zero fields do not filter.
type ConsentFilter struct {
	MerchantID    string
	InstitutionID string
	After         string // the last id of the previous page
	Limit         int    // 100 when 0, 1,000 at most
}

// Consents lists consents in id (grant) order: a merchant its own, an institution
// those naming it (showing only itself among the institutions), the operator and
// regulators all.
//
// Errors: KindForbidden for a caller in none of those roles (a suspended one
// reads its own); KindUnauthorized.
func (s *Service) Consents(ctx context.Context, actor dataport.Actor, f ConsentFilter) ([]Consent, error) {
	const op = "lending.Consents"
	out := []Consent{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		r, err := mayRead(tx, op, actor)
		if err != nil {
			return err
		}
		q := `SELECT c.id FROM lending_consents c WHERE c.id > $1`
		args := []any{f.After}
		add := func(cond string, v any) {
			args = append(args, v)
			q += fmt.Sprintf(" AND "+cond, len(args))
		}
		if f.MerchantID != "" {
			add("c.merchant_id = $%d", f.MerchantID)
		}
		if f.InstitutionID != "" {
			if !r.all && !r.merchant && f.InstitutionID != actor.ParticipantID {
				return nil // which other institutions a consent names is not an institution's business
			}
			add("c.id IN (SELECT consent_id FROM lending_consent_institutions WHERE institution_id = $%d)", f.InstitutionID)
		}
		if !r.all {
			// Each role sees its own side; a participant acting in both sees both.
			var sides []string
			args = append(args, actor.ParticipantID)
			n := len(args)
			if r.merchant {
				sides = append(sides, fmt.Sprintf("c.merchant_id = $%d", n))
			}
			if r.institution {
				sides = append(sides, fmt.Sprintf("c.id IN (SELECT consent_id FROM lending_consent_institutions WHERE institution_id = $%d)", n))
			}
			q += " AND (" + strings.Join(sides, " OR ") + ")"
		}
		args = append(args, page(f.Limit))
		ids, err := tx.Strings(q+fmt.Sprintf(" ORDER BY c.id LIMIT $%d", len(args)), args...)
		if err != nil {
			return dataport.Internal(op, err)
		}
		for _, id := range ids {
			c, err := getConsent(tx, op, id, false)
			if err != nil {
				return err
			}
			out = append(out, r.consentView(c, tx.Now()))
		}
		return nil
	})
	return out, err
}

// Consent returns one consent the actor may see (as Consents).
//
// Errors: KindNotFound for an unknown consent or one the actor may not see;
// KindForbidden, KindUnauthorized.
func (s *Service) Consent(ctx context.Context, actor dataport.Actor, id string) (Consent, error) {
	const op = "lending.Consent"
	var c Consent
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		r, err := mayRead(tx, op, actor)
		if err != nil {
			return err
		}
		if c, err = getConsent(tx, op, id, false); err != nil {
			return err
		}
		if !r.all && !(r.merchant && c.MerchantID == actor.ParticipantID) &&
			!(r.institution && slices.Contains(c.Institutions, actor.ParticipantID)) {
			return noConsent(op, id)
		}
		c = r.consentView(c, tx.Now())
		return nil
	})
	return c, err
}

// consentView is c as the reader sees it, its status as of now: an institution
// that is not also the merchant sees only itself among the institutions.
func (r reader) consentView(c Consent, now time.Time) Consent {
	c.Status = c.statusAt(now)
	if !r.all && c.MerchantID != r.actor.ParticipantID {
		c.Institutions = []string{r.actor.ParticipantID}
	}
	return c
}

// Consented reports whether merchantID's consent lets data of scope go to
// institutionID now: a consent in force (not revoked, not expired at tx.Now())
// naming the institution with that scope. Other capabilities ask it, in their own
// transaction, before they let the merchant's data leave.
func (s *Service) Consented(tx *store.Tx, merchantID, institutionID string, scope Scope) (bool, error) {
	_, ok, err := covering(tx, merchantID, institutionID, scope, tx.Now())
	return ok, dataport.Wrap("lending.Consented", err)
}

// covering returns the consent in force at now that lets scope go from the merchant
// to the institution; of several, the one granted last.
func covering(tx *store.Tx, merchantID, institutionID string, scope Scope, now time.Time) (Consent, bool, error) {
	rows, err := tx.Query(`SELECT c.id, c.scope FROM lending_consents c
		JOIN lending_consent_institutions i ON i.consent_id = c.id AND i.institution_id = $2
		WHERE c.merchant_id = $1 AND c.status = 'active' AND c.expires_at > $3
		ORDER BY c.granted_at DESC, c.id DESC`, merchantID, institutionID, store.FormatTime(now))
	if err != nil {
		return Consent{}, false, err
	}
	found := ""
	for rows.Next() {
		var id, sc string
		if err := rows.Scan(&id, &sc); err != nil {
			rows.Close()
			return Consent{}, false, err
		}
		var scopes []Scope
		if err := json.Unmarshal([]byte(sc), &scopes); err != nil {
			rows.Close()
			return Consent{}, false, err
		}
		if slices.Contains(scopes, scope) {
			found = id
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || found == "" {
		return Consent{}, false, err
	}
	c, err := getConsent(tx, "lending.covering", found, false)
	return c, err == nil, err
}

func (c Consent) statusAt(now time.Time) string {
	if c.Status == "active" && !now.Before(c.ExpiresAt) {
		return "expired"
	}
	return c.Status
}

func (c Consent) has(scope Scope) bool { return slices.Contains(c.Scope, scope) }

func noConsent(op, id string) error {
	return dataport.Errorf(op, dataport.KindNotFound, "no consent %s", id)
}

// getConsent reads a consent with its institutions; lock takes its row lock for
// a change.
func getConsent(tx *store.Tx, op, id string, lock bool) (Consent, error) {
	q := `SELECT id, merchant_id, scope, expires_at, status, granted_by, granted_at, revoked_by, revoked_at, revoke_reason, filing_seq
		FROM lending_consents WHERE id = $1`
	if lock {
		q += forUpdate(tx)
	}
	var c Consent
	var scope, expires, granted, revoked string
	err := tx.QueryRow(q, id).Scan(&c.ID, &c.MerchantID, &scope, &expires, &c.Status, &c.GrantedBy, &granted,
		&c.RevokedBy, &revoked, &c.RevokeReason, &c.FilingSeq)
	if isNoRows(err) {
		return Consent{}, noConsent(op, id)
	}
	if err != nil {
		return Consent{}, dataport.Internal(op, err)
	}
	if err := json.Unmarshal([]byte(scope), &c.Scope); err != nil {
		return Consent{}, dataport.Internal(op, err)
	}
	if err := parseTimes([]*time.Time{&c.ExpiresAt, &c.GrantedAt, &c.RevokedAt}, expires, granted, revoked); err != nil {
		return Consent{}, dataport.Internal(op, err)
	}
	if c.Institutions, err = tx.Strings(`SELECT institution_id FROM lending_consent_institutions WHERE consent_id = $1 ORDER BY institution_id`, id); err != nil {
		return Consent{}, dataport.Internal(op, err)
	}
	return c, nil
}
