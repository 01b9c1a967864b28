package catalog

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/blob"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/gowebpki/jcs"
)

// Participants is what the catalog needs of the registry.
type Participants interface {
	Participant(tx *store.Tx, id string) (registry.Participant, error)
}

// Rules is what the catalog asks of the compliance engine.
type Rules interface {
	// AgencyCheck decides whether agent may act for a foreign supplier's product (R22):
	// p is nil when the product is being created, and is checked at submission and
	// listing.
	AgencyCheck(tx *store.Tx, now time.Time, agent, supplier registry.Participant, p *Product) error
	// ListingCheck assesses a product at submission and at listing (R1, R19–R22) and
	// files the assessment with the step; an error refuses the step.
	ListingCheck(tx *store.Tx, actor dataport.Actor, p *Product) error
}

// BasicRules are the catalog's own checks, for a catalog without a compliance
// engine: R22 without the agency contract, and no listing assessment.
type BasicRules struct{}

// AgencyCheck implements Rules with DefaultAgencyCheck.
func (BasicRules) AgencyCheck(tx *store.Tx, now time.Time, agent, supplier registry.Participant, _ *Product) error {
	return DefaultAgencyCheck(tx, now, agent, supplier)
}

// ListingCheck implements Rules: nothing beyond the catalog's own R20 checks.
func (BasicRules) ListingCheck(*store.Tx, dataport.Actor, *Product) error { return nil }

// DefaultAgencyCheck is R22 without the agency contract: a domestic agent that is
// whitelisted, KYC-verified and active.
func DefaultAgencyCheck(tx *store.Tx, now time.Time, agent, supplier registry.Participant) error {
	const op = "catalog.AgencyCheck"
	switch {
	case !agent.Has(dataport.RoleAgent) || agent.Kind != registry.Domestic:
		return dataport.Errorf(op, dataport.KindForbidden, "R22: a foreign supplier's products are listed through a domestic agent")
	case !agent.Whitelisted(now):
		return dataport.Errorf(op, dataport.KindForbidden, "R22: the agent is not on the cross-border whitelist")
	case agent.KYC.Status != registry.KYCVerified:
		return dataport.Errorf(op, dataport.KindForbidden, "R22: the agent's KYC is not verified")
	}
	return registry.CheckActive(tx, agent.ID)
}

// Service is the catalog.
type Service struct {
	db    *store.DB
	reg   Participants
	blobs blob.Store
	rules Rules
	live  *liveIndex
}

// New returns the catalog over db, keeping attachments in blobs and asking rules
// (nil: BasicRules) what compliance requires.
func New(db *store.DB, reg Participants, blobs blob.Store, rules Rules) *Service {
	if rules == nil {
		rules = BasicRules{}
	}
	return &Service{db: db, reg: reg, blobs: blobs, rules: rules, live: &liveIndex{}}
}

// NewProduct starts a product as a draft.
type NewProduct struct {
	SupplierID string  `json:"supplier_id" doc:"the supplier; for a foreign supplier, the calling agent acts for it"`
	Details    Details `json:"details"`
}

// Create makes a draft product at revision 1. A domestic supplier creates its own; a
// foreign supplier's product is created by the domestic agent acting for it (R22).
func (s *Service) Create(ctx context.Context, actor dataport.Actor, n NewProduct) (Product, error) {
	const op = "catalog.Create"
	var p Product
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		supplier, err := s.reg.Participant(tx, n.SupplierID)
		if err != nil {
			if dataport.KindOf(err) == dataport.KindNotFound {
				return dataport.Invalid(op, dataport.FieldProblem{Field: "supplier_id", Message: "no such participant"})
			}
			return err
		}
		if !supplier.Has(dataport.RoleSupplier) {
			return dataport.Invalid(op, dataport.FieldProblem{Field: "supplier_id", Message: "the participant is not a supplier"})
		}
		if err := registry.CheckActive(tx, supplier.ID); err != nil {
			return dataport.Wrap(op, err)
		}
		agentID := ""
		switch {
		case supplier.Kind == registry.Foreign:
			agent, err := s.reg.Participant(tx, actor.ParticipantID)
			if err != nil {
				return err
			}
			if !actor.Has(dataport.RoleAgent) {
				return dataport.Errorf(op, dataport.KindForbidden, "R22: a foreign supplier's products are created by the domestic agent acting for it")
			}
			if err := s.rules.AgencyCheck(tx, tx.Now(), agent, supplier, nil); err != nil {
				return dataport.Wrap(op, err)
			}
			agentID = agent.ID
		case actor.ParticipantID != supplier.ID || !actor.Has(dataport.RoleSupplier):
			return dataport.Errorf(op, dataport.KindForbidden, "a domestic supplier lists its own products")
		}
		now := tx.Now()
		p = Product{ID: dataport.NewID("prd"), SupplierID: supplier.ID, AgentID: agentID, Status: Draft,
			CreatedAt: now, UpdatedAt: now, Version: 1}
		var problems dataport.Problems
		n.Details.validate(&problems)
		if err := s.attachmentsExist(tx, &n.Details, &p, &problems); err != nil {
			return err
		}
		for i := range problems { // the details sit under "details" in a new product
			problems[i].Field = "details." + problems[i].Field
		}
		if err := problems.Err(op); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO products (id, supplier_id, agent_id, status, latest_revision, listed_revision,
			registration_number, registered_at, review_reasons, suspended_reason, suspended_by, suspended_at,
			created_at, updated_at, version) VALUES ($1, $2, $3, 'draft', 0, 0, NULL, '', '[]', '', '', '', $4, $4, 1)`,
			p.ID, p.SupplierID, nullable(agentID), store.FormatTime(now)); err != nil {
			return dataport.Internal(op, err)
		}
		if err := s.addRevision(tx, op, actor, &p, n.Details); err != nil {
			return err
		}
		return file(tx, actor, "product.created", p, nil)
	})
	return p, err
}

// Revise stores new details as the product's next revision. A draft or rejected
// product becomes a draft again. A listed or suspended product gets (or updates) a
// pending change that goes through review on its own while buyers keep seeing the
// listed revision; a change already submitted or in review is not revised.
func (s *Service) Revise(ctx context.Context, actor dataport.Actor, id string, d Details) (Product, error) {
	const op = "catalog.Revise"
	return s.change(ctx, op, actor, id, byManager, func(tx *store.Tx, p *Product) (string, map[string]any, error) {
		switch p.reviewState() {
		case Draft, Rejected:
		case Listed, Suspended:
		default:
			return "", nil, conflict(op, p, "a revision in review is decided before the product is revised again")
		}
		var problems dataport.Problems
		d.validate(&problems)
		if err := s.attachmentsExist(tx, &d, p, &problems); err != nil {
			return "", nil, err
		}
		if err := problems.Err(op); err != nil {
			return "", nil, err
		}
		if err := s.addRevision(tx, op, actor, p, d); err != nil {
			return "", nil, err
		}
		p.ReviewReasons = nil
		if p.Status == Listed || p.Status == Suspended {
			p.Change = &PendingChange{Revision: p.LatestRevision, Status: Draft}
		} else {
			p.Status = Draft
		}
		return "product.revised", nil, nil
	})
}

// Submit sends the latest revision to the operator's review (R20 checked here).
func (s *Service) Submit(ctx context.Context, actor dataport.Actor, id string) (Product, error) {
	const op = "catalog.Submit"
	return s.change(ctx, op, actor, id, byManager, func(tx *store.Tx, p *Product) (string, map[string]any, error) {
		if p.reviewState() != Draft {
			return "", nil, conflict(op, p, "only a draft or a pending change in draft is submitted")
		}
		var problems dataport.Problems
		p.Details.readyForReview(&problems)
		if err := s.attachmentsExist(tx, &p.Details, p, &problems); err != nil {
			return "", nil, err
		}
		if err := problems.Err(op); err != nil {
			return "", nil, err
		}
		if err := s.checkParties(tx, op, p); err != nil {
			return "", nil, err
		}
		if err := s.rules.ListingCheck(tx, actor, p); err != nil {
			return "", nil, err
		}
		p.setReviewState(Submitted)
		return "product.submitted", nil, nil
	})
}

// StartReview takes a submitted product into review. Operator only.
func (s *Service) StartReview(ctx context.Context, actor dataport.Actor, id string) (Product, error) {
	const op = "catalog.StartReview"
	return s.change(ctx, op, actor, id, byOperator, func(tx *store.Tx, p *Product) (string, map[string]any, error) {
		if p.reviewState() != Submitted {
			return "", nil, conflict(op, p, "only a submitted product or change goes into review")
		}
		p.setReviewState(UnderReview)
		return "product.review_started", nil, nil
	})
}

// Reject ends a review with the reasons. Operator only.
func (s *Service) Reject(ctx context.Context, actor dataport.Actor, id string, reasons []string) (Product, error) {
	const op = "catalog.Reject"
	return s.change(ctx, op, actor, id, byOperator, func(tx *store.Tx, p *Product) (string, map[string]any, error) {
		var rs []string
		for _, r := range reasons {
			if r = strings.TrimSpace(r); r != "" {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			return "", nil, dataport.Invalid(op, dataport.FieldProblem{Field: "reasons", Message: "say why the product is rejected"})
		}
		if p.reviewState() != UnderReview {
			return "", nil, conflict(op, p, "only a product or change under review is rejected")
		}
		p.setReviewState(Rejected)
		p.ReviewReasons = rs
		return "product.rejected", map[string]any{"reasons": rs}, nil
	})
}

// Certificate is the registration certificate (登記證書) of a listed product: what was
// listed, when and by whom. It is filed, so anyone can check it against the log.
type Certificate struct {
	RegistrationNumber string             `json:"registration_number"`
	ProductID          string             `json:"product_id"`
	Revision           int64              `json:"revision"`
	DetailsSHA256      string             `json:"details_sha256"`
	Title              dataport.Bilingual `json:"title"`
	SupplierID         string             `json:"supplier_id"`
	AgentID            string             `json:"agent_id,omitempty"`
	ListedAt           string             `json:"listed_at"`
	Issuer             string             `json:"issuer" doc:"the exchange operator"`
}

// Approve lists a product under review, issuing its registration number at the first
// listing and filing the certificate; for a pending change, the change's revision
// becomes the listed one and a new certificate is filed under the same number.
// Operator only.
func (s *Service) Approve(ctx context.Context, actor dataport.Actor, id string) (Product, error) {
	const op = "catalog.Approve"
	return s.change(ctx, op, actor, id, byOperator, func(tx *store.Tx, p *Product) (string, map[string]any, error) {
		if p.reviewState() != UnderReview {
			return "", nil, conflict(op, p, "only a product or change under review is listed")
		}
		if err := s.checkParties(tx, op, p); err != nil {
			return "", nil, err
		}
		if err := s.rules.ListingCheck(tx, actor, p); err != nil {
			return "", nil, err
		}
		first := p.RegistrationNumber == ""
		if first {
			n, err := nextRegistration(tx, tx.Now())
			if err != nil {
				return "", nil, dataport.Internal(op, err)
			}
			p.RegistrationNumber, p.RegisteredAt = n, tx.Now()
		}
		if p.Change == nil {
			p.Status = Listed
		}
		p.Change, p.ListedRevision, p.ReviewReasons = nil, p.LatestRevision, nil
		p.UpdatedAt = tx.Now()
		if p.Status == Listed { // a suspended product's new revision is shown when it resumes
			if err := index(tx, p); err != nil {
				return "", nil, dataport.Internal(op, err)
			}
		}
		if first {
			if err := notifyDemands(tx, p); err != nil {
				return "", nil, dataport.Internal(op, err)
			}
		}
		cert := Certificate{RegistrationNumber: p.RegistrationNumber, ProductID: p.ID, Revision: p.ListedRevision,
			DetailsSHA256: p.DetailsSHA256, Title: p.Details.Title, SupplierID: p.SupplierID, AgentID: p.AgentID,
			ListedAt: store.FormatTime(tx.Now()), Issuer: actor.ParticipantID}
		return "product.listed", map[string]any{"certificate": cert}, nil
	})
}

// Suspend takes a listed product off the shelf at once. Operator only.
func (s *Service) Suspend(ctx context.Context, actor dataport.Actor, id, reason string) (Product, error) {
	const op = "catalog.Suspend"
	return s.change(ctx, op, actor, id, byOperator, func(tx *store.Tx, p *Product) (string, map[string]any, error) {
		if reason = strings.TrimSpace(reason); reason == "" {
			return "", nil, dataport.Invalid(op, dataport.FieldProblem{Field: "reason", Message: "say why"})
		}
		if p.Status != Listed {
			return "", nil, conflict(op, p, "only a listed product is suspended")
		}
		p.Status, p.Suspension = Suspended, &ListingSuspension{Reason: reason, By: actor.ParticipantID, At: tx.Now()}
		if err := unindex(tx, p.ID); err != nil {
			return "", nil, dataport.Internal(op, err)
		}
		return "product.suspended", map[string]any{"reason": reason}, nil
	})
}

// Resume lists a suspended product again. Operator only.
func (s *Service) Resume(ctx context.Context, actor dataport.Actor, id string) (Product, error) {
	const op = "catalog.Resume"
	return s.change(ctx, op, actor, id, byOperator, func(tx *store.Tx, p *Product) (string, map[string]any, error) {
		if p.Status != Suspended {
			return "", nil, conflict(op, p, "only a suspended product is resumed")
		}
		if by, ok := strings.CutPrefix(p.Suspension.By, cascadePrefix); ok && registry.CheckActive(tx, by) != nil {
			return "", nil, conflict(op, p, "it is held by the suspension of participant "+by+": resume the participant")
		}
		p.Status, p.Suspension = Listed, nil
		p.UpdatedAt = tx.Now()
		listed, err := get(tx, op, p.ID, p.ListedRevision) // not a pending change's details
		if err != nil {
			return "", nil, err
		}
		listed.UpdatedAt, listed.Status = p.UpdatedAt, p.Status
		if err := index(tx, &listed); err != nil {
			return "", nil, dataport.Internal(op, err)
		}
		return "product.resumed", nil, nil
	})
}

// Delist takes a product off the exchange for good, or withdraws one never listed
// (its supplier or agent, or the operator).
func (s *Service) Delist(ctx context.Context, actor dataport.Actor, id string) (Product, error) {
	const op = "catalog.Delist"
	return s.change(ctx, op, actor, id, byManagerOrOperator, func(tx *store.Tx, p *Product) (string, map[string]any, error) {
		// A product never listed (a draft, one in review) is withdrawn the same way:
		// it leaves the review queue and stays readable, as delisted ones do.
		if p.Status == Delisted {
			return "", nil, conflict(op, p, "the product is delisted already")
		}
		p.Status, p.Suspension, p.Change = Delisted, nil, nil // a pending change dies with the listing
		if err := unindex(tx, p.ID); err != nil {
			return "", nil, dataport.Internal(op, err)
		}
		return "product.delisted", nil, nil
	})
}

func conflict(op string, p *Product, why string) error {
	if p.Change != nil {
		return dataport.Errorf(op, dataport.KindConflict, "product %s is %s with a pending change in %s: %s", p.ID, p.Status, p.Change.Status, why)
	}
	return dataport.Errorf(op, dataport.KindConflict, "product %s is %s: %s", p.ID, p.Status, why)
}

// setReviewState moves the latest revision on in review: the product itself, or its
// pending change.
func (p *Product) setReviewState(st Status) {
	if p.Change != nil {
		p.Change.Status = st
		return
	}
	p.Status = st
}

// checkParties: the supplier, and the agent acting for a foreign supplier, may act.
func (s *Service) checkParties(tx *store.Tx, op string, p *Product) error {
	if err := registry.CheckActive(tx, p.SupplierID); err != nil {
		return dataport.Wrap(op, err)
	}
	if p.AgentID == "" {
		return nil
	}
	supplier, err := s.reg.Participant(tx, p.SupplierID)
	if err != nil {
		return err
	}
	agent, err := s.reg.Participant(tx, p.AgentID)
	if err != nil {
		return err
	}
	return dataport.Wrap(op, s.rules.AgencyCheck(tx, tx.Now(), agent, supplier, p))
}

type who int

const (
	byManager who = iota
	byOperator
	byManagerOrOperator
)

// change runs one workflow step: checks the actor, loads the product, lets fn change
// it, stores it and files fn's event with the product's new state.
func (s *Service) change(ctx context.Context, op string, actor dataport.Actor, id string, allowed who,
	fn func(tx *store.Tx, p *Product) (string, map[string]any, error)) (Product, error) {
	var p Product
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		var err error
		if p, err = get(tx, op, id, 0); err != nil {
			return err
		}
		manager := actor.ParticipantID == p.SupplierID && p.AgentID == "" || actor.ParticipantID == p.AgentID && p.AgentID != ""
		operator := actor.Has(dataport.RoleOperator)
		switch {
		case allowed == byOperator && !operator, allowed == byManager && !manager, allowed == byManagerOrOperator && !manager && !operator:
			if !manager && !operator && !canRead(actor, &p) {
				return notFound(op, id)
			}
			return dataport.Errorf(op, dataport.KindForbidden, "not yours to do")
		}
		event, extra, err := fn(tx, &p)
		if err != nil {
			return dataport.Wrap(op, err)
		}
		if err := s.store(tx, op, &p); err != nil {
			return err
		}
		return file(tx, actor, event, p, extra)
	})
	return p, err
}

// store writes a product's workflow state, a new version of it.
func (s *Service) store(tx *store.Tx, op string, p *Product) error {
	p.UpdatedAt, p.Version = tx.Now(), p.Version+1
	reasons, _ := json.Marshal(p.ReviewReasons)
	if p.ReviewReasons == nil {
		reasons = []byte("[]")
	}
	var sr, sb, sa, cs string
	if p.Suspension != nil {
		sr, sb, sa = p.Suspension.Reason, p.Suspension.By, store.FormatTime(p.Suspension.At)
	}
	if p.Change != nil {
		cs = string(p.Change.Status)
	}
	if _, err := tx.Exec(`UPDATE products SET status = $2, latest_revision = $3, listed_revision = $4,
		registration_number = $5, registered_at = $6, review_reasons = $7, suspended_reason = $8,
		suspended_by = $9, suspended_at = $10, updated_at = $11, version = $12, change_status = $13 WHERE id = $1`,
		p.ID, string(p.Status), p.LatestRevision, p.ListedRevision, nullable(p.RegistrationNumber),
		store.FormatTime(p.RegisteredAt), string(reasons), sr, sb, sa, store.FormatTime(p.UpdatedAt), p.Version, cs); err != nil {
		return dataport.Internal(op, err)
	}
	return nil
}

// file files a catalog event. The filing names the product, its supplier and agent,
// and carries the revision's hash, not the details: those can exceed a log entry.
func file(tx *store.Tx, actor dataport.Actor, event string, p Product, extra map[string]any) error {
	payload := map[string]any{"product_id": p.ID, "status": p.Status, "revision": p.LatestRevision,
		"details_sha256": p.DetailsSHA256, "supplier_id": p.SupplierID}
	if p.AgentID != "" {
		payload["agent_id"] = p.AgentID
	}
	if p.RegistrationNumber != "" {
		payload["registration_number"] = p.RegistrationNumber
	}
	if p.ListedRevision > 0 {
		payload["listed_revision"] = p.ListedRevision
	}
	if p.Change != nil {
		payload["pending_change"] = p.Change.Status
	}
	for k, v := range extra {
		payload[k] = v
	}
	subjects := []string{p.ID, p.SupplierID}
	if p.AgentID != "" {
		subjects = append(subjects, p.AgentID)
	}
	_, err := ledger.File(tx, actor, ledger.Change{Type: event, Subjects: subjects, Payload: payload})
	return err
}

// addRevision stores details as the product's next revision.
func (s *Service) addRevision(tx *store.Tx, op string, actor dataport.Actor, p *Product, d Details) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return dataport.Internal(op, err)
	}
	canon, err := jcs.Transform(raw)
	if err != nil {
		return dataport.Internal(op, err)
	}
	sum := sha256.Sum256(canon)
	p.LatestRevision++
	p.Details, p.DetailsSHA256, p.Revision = d, hex.EncodeToString(sum[:]), p.LatestRevision
	if _, err := tx.Exec(`INSERT INTO product_revisions (product_id, revision, details, sha256, created_at, created_by)
		VALUES ($1, $2, $3, $4, $5, $6)`, p.ID, p.LatestRevision, string(canon), p.DetailsSHA256,
		store.FormatTime(tx.Now()), actor.ParticipantID); err != nil {
		return dataport.Internal(op, err)
	}
	_, err = tx.Exec(`UPDATE products SET latest_revision = $2 WHERE id = $1`, p.ID, p.LatestRevision)
	return dataport.Wrap(op, err)
}

// nextRegistration issues the next registration number of the year (China time):
// DP-2026-000123.
func nextRegistration(tx *store.Tx, now time.Time) (string, error) {
	year := now.In(dataport.China).Year()
	if _, err := tx.Exec(`INSERT INTO registration_sequence (year, last) VALUES ($1, 0) ON CONFLICT (year) DO NOTHING`, year); err != nil {
		return "", err
	}
	var n int64
	if err := tx.QueryRow(`UPDATE registration_sequence SET last = last + 1 WHERE year = $1 RETURNING last`, year).Scan(&n); err != nil {
		return "", err
	}
	return fmt.Sprintf("DP-%d-%06d", year, n), nil
}

// canRead: the operator, regulators, the supplier and its agent see a product in
// every state; everyone else only while it is listed and its parties are active.
func canRead(actor dataport.Actor, p *Product) bool {
	return actor.Has(dataport.RoleOperator, dataport.RoleRegulator) ||
		actor.ParticipantID == p.SupplierID || (p.AgentID != "" && actor.ParticipantID == p.AgentID)
}

// visible reports whether anyone may see p: listed, with its supplier and agent active.
func visible(tx *store.Tx, p *Product) bool {
	return p.Status == Listed && registry.CheckActive(tx, p.SupplierID) == nil &&
		(p.AgentID == "" || registry.CheckActive(tx, p.AgentID) == nil)
}

func notFound(op, id string) error {
	return dataport.Errorf(op, dataport.KindNotFound, "no product %s", id)
}

// Get returns a product as the actor may see it: its parties and the operator see
// the latest revision in any state; anyone else sees the listed revision of a listed
// product whose supplier (and agent) are active — a suspended supplier's products
// vanish at once.
func (s *Service) Get(ctx context.Context, actor dataport.Actor, id string) (Product, error) {
	const op = "catalog.Get"
	if actor.Anonymous() {
		return Product{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var p Product
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		if p, err = get(tx, op, id, 0); err != nil {
			return err
		}
		if canRead(actor, &p) {
			return nil
		}
		if !visible(tx, &p) {
			return notFound(op, id)
		}
		p, err = get(tx, op, id, p.ListedRevision)
		p.publicView()
		return err
	})
	return p, err
}

// Revisions returns every revision of a product, oldest first, to its parties, the
// operator and regulators.
func (s *Service) Revisions(ctx context.Context, actor dataport.Actor, id string) ([]Revision, error) {
	const op = "catalog.Revisions"
	var out []Revision
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		p, err := get(tx, op, id, 0)
		if err != nil {
			return err
		}
		if !canRead(actor, &p) {
			return notFound(op, id)
		}
		rows, err := tx.Query(`SELECT revision, details, sha256, created_at, created_by FROM product_revisions
			WHERE product_id = $1 ORDER BY revision`, id)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			r := Revision{ProductID: id}
			var details, at string
			if err := rows.Scan(&r.Revision, &details, &r.SHA256, &at, &r.CreatedBy); err != nil {
				return dataport.Internal(op, err)
			}
			if err := json.Unmarshal([]byte(details), &r.Details); err != nil {
				return dataport.Internal(op, err)
			}
			r.CreatedAt, _ = store.ParseTime(at)
			out = append(out, r)
		}
		return dataport.Wrap(op, rows.Err())
	})
	return out, err
}

// get reads a product with the details of revision rev (0: the latest).
func get(tx *store.Tx, op, id string, rev int64) (Product, error) {
	p, err := scanProduct(tx.QueryRow(`SELECT `+productColumns+` FROM products WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Product{}, notFound(op, id)
	}
	if err != nil {
		return Product{}, dataport.Internal(op, err)
	}
	if rev == 0 {
		rev = p.LatestRevision
	}
	var details string
	err = tx.QueryRow(`SELECT details, sha256 FROM product_revisions WHERE product_id = $1 AND revision = $2`, id, rev).
		Scan(&details, &p.DetailsSHA256)
	if err != nil {
		return Product{}, dataport.Internal(op, fmt.Errorf("product %s revision %d: %w", id, rev, err))
	}
	if err := json.Unmarshal([]byte(details), &p.Details); err != nil {
		return Product{}, dataport.Internal(op, err)
	}
	p.Revision = rev
	return p, nil
}

const productColumns = `id, supplier_id, agent_id, status, latest_revision, listed_revision, registration_number,
	registered_at, review_reasons, suspended_reason, suspended_by, suspended_at, created_at, updated_at, version, change_status`

type rowScanner interface{ Scan(...any) error }

// scanProduct reads productColumns, and any columns after them into extra.
func scanProduct(row rowScanner, extra ...any) (Product, error) {
	var p Product
	var agent sql.NullString
	var regNo sql.NullString
	var status, regAt, reasons, sr, sb, sa, created, updated, cs string
	dest := append([]any{&p.ID, &p.SupplierID, &agent, &status, &p.LatestRevision, &p.ListedRevision,
		&regNo, &regAt, &reasons, &sr, &sb, &sa, &created, &updated, &p.Version, &cs}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Product{}, err
	}
	p.AgentID, p.RegistrationNumber, p.Status = agent.String, regNo.String, Status(status)
	p.RegisteredAt, _ = store.ParseTime(regAt)
	p.CreatedAt, _ = store.ParseTime(created)
	p.UpdatedAt, _ = store.ParseTime(updated)
	json.Unmarshal([]byte(reasons), &p.ReviewReasons)
	if cs != "" {
		p.Change = &PendingChange{Revision: p.LatestRevision, Status: Status(cs)}
	}
	if sr != "" {
		at, _ := store.ParseTime(sa)
		p.Suspension = &ListingSuspension{Reason: sr, By: sb, At: at}
	}
	return p, nil
}

// listedProducts reads products with the details of their listed revisions (the
// latest, before a first listing), as the public sees them, a query per 500, in the
// order of ids; ids not found are left out.
func listedProducts(tx *store.Tx, op string, ids []string) ([]Product, error) {
	return productsAt(tx, op, ids, false)
}

// productsAt reads products with the details of their latest revisions (latest) or
// of their listed ones as the public sees them.
func productsAt(tx *store.Tx, op string, ids []string, latest bool) ([]Product, error) {
	const per = 500 // well under either engine's limit on parameters
	if len(ids) > per {
		out := make([]Product, 0, len(ids))
		for start := 0; start < len(ids); start += per {
			ps, err := productsAt(tx, op, ids[start:min(start+per, len(ids))], latest)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
		return out, nil
	}
	if len(ids) == 0 {
		return nil, nil
	}
	in := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		in[i], args[i] = fmt.Sprintf("$%d", i+1), id
	}
	revision := `CASE WHEN p.listed_revision > 0 THEN p.listed_revision ELSE p.latest_revision END`
	if latest {
		revision = `p.latest_revision`
	}
	rows, err := tx.Query(`SELECT p.id, p.supplier_id, p.agent_id, p.status, p.latest_revision, p.listed_revision,
		p.registration_number, p.registered_at, p.review_reasons, p.suspended_reason, p.suspended_by, p.suspended_at,
		p.created_at, p.updated_at, p.version, p.change_status, r.revision, r.details, r.sha256
		FROM products p JOIN product_revisions r ON r.product_id = p.id AND r.revision = `+revision+`
		WHERE p.id IN (`+strings.Join(in, ", ")+`)`, args...)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	defer rows.Close()
	byID := map[string]Product{}
	for rows.Next() {
		var details string
		var rev int64
		var sum string
		p, err := scanProduct(rows, &rev, &details, &sum)
		if err != nil {
			return nil, dataport.Internal(op, err)
		}
		if err := json.Unmarshal([]byte(details), &p.Details); err != nil {
			return nil, dataport.Internal(op, err)
		}
		p.Revision, p.DetailsSHA256 = rev, sum
		if !latest {
			p.publicView()
		}
		byID[p.ID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, dataport.Internal(op, err)
	}
	out := make([]Product, 0, len(ids))
	for _, id := range ids {
		if p, ok := byID[id]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// publicView leaves out what only a product's parties and the operator see: its
// pending change and the reasons of past reviews.
func (p *Product) publicView() {
	p.Change, p.ReviewReasons = nil, nil
	if p.ListedRevision > 0 {
		p.LatestRevision = p.ListedRevision
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ListingCertificate is a product's registration certificate as filed, with the
// filing that carries it.
type ListingCertificate struct {
	Certificate Certificate `json:"certificate"`
	// Canonical is the certificate as RFC 8785 canonical JSON: what the exchange signs.
	Canonical string `json:"canonical"`
	FilingSeq int64  `json:"filing_seq" doc:"the product.listed filing that carries the certificate"`
	FilingSHA string `json:"filing_sha256" doc:"SHA-256 of that filing's log entry"`
}

// Certificate returns the certificate of the product's latest listing. Whoever may
// read the product may read it.
func (s *Service) Certificate(ctx context.Context, actor dataport.Actor, id string) (ListingCertificate, error) {
	const op = "catalog.Certificate"
	if actor.Anonymous() {
		return ListingCertificate{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	var out ListingCertificate
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		p, err := get(tx, op, id, 0)
		if err != nil {
			return err
		}
		if !canRead(actor, &p) && !visible(tx, &p) { // as the product itself
			return notFound(op, id)
		}
		if p.RegistrationNumber == "" {
			return dataport.Errorf(op, dataport.KindNotFound, "product %s has never been listed: no certificate", id)
		}
		var last ledger.Filing
		for after := int64(0); ; {
			fs, err := ledger.List(tx, ledger.Filter{Subject: id, Type: "product.listed", After: after, Limit: 1000})
			if err != nil {
				return err
			}
			if len(fs) == 0 {
				break
			}
			last, after = fs[len(fs)-1], fs[len(fs)-1].Seq
		}
		if last.Seq == 0 {
			return dataport.Internal(op, fmt.Errorf("product %s is registered but no listing is filed", id))
		}
		var payload struct {
			Certificate json.RawMessage `json:"certificate"`
		}
		if err := json.Unmarshal(last.Payload, &payload); err != nil || len(payload.Certificate) == 0 {
			return dataport.Internal(op, fmt.Errorf("filing %d carries no certificate", last.Seq))
		}
		if err := json.Unmarshal(payload.Certificate, &out.Certificate); err != nil {
			return dataport.Internal(op, err)
		}
		canon, err := jcs.Transform(payload.Certificate)
		if err != nil {
			return dataport.Internal(op, err)
		}
		out.Canonical, out.FilingSeq, out.FilingSHA = string(canon), last.Seq, last.SHA256
		return nil
	})
	return out, err
}

// ListedProduct reads, in tx, a product as buyers see it: its listed revision, while
// it is listed and its supplier and agent are active. Anything else is not found.
// Trade uses it to take a product into a deal.
func ListedProduct(tx *store.Tx, id string) (Product, error) {
	const op = "catalog.ListedProduct"
	p, err := get(tx, op, id, 0)
	if err != nil {
		return Product{}, err
	}
	if !visible(tx, &p) {
		return Product{}, notFound(op, id)
	}
	if p, err = get(tx, op, id, p.ListedRevision); err != nil {
		return Product{}, err
	}
	p.publicView()
	return p, nil
}

// ProductAt reads, in tx, a product with the details of revision rev (0: the latest)
// whatever its status, for the capabilities that act for its parties: delivery checks
// who may add files to a revision. Callers check permissions themselves.
func ProductAt(tx *store.Tx, id string, rev int64) (Product, error) {
	const op = "catalog.ProductAt"
	p, err := get(tx, op, id, 0)
	if err != nil {
		return Product{}, err
	}
	if rev < 0 || rev > p.LatestRevision {
		return Product{}, dataport.Errorf(op, dataport.KindNotFound, "product %s has no revision %d", id, rev)
	}
	if rev == 0 || rev == p.LatestRevision {
		return p, nil
	}
	return get(tx, op, id, rev)
}

// CanRead reports whether actor may see every revision of p: its supplier, its agent,
// the operator and regulators.
func CanRead(actor dataport.Actor, p *Product) bool { return canRead(actor, p) }
