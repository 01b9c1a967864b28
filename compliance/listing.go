package compliance

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// Products is what the engine needs of the catalog to assess by reference.
type Products interface {
	Get(ctx context.Context, actor dataport.Actor, id string) (catalog.Product, error)
}

// Reference names what an assessment is about instead of giving its facts: a
// product, and for a transfer the recipient with the purpose and delivery mode.
type Reference struct {
	ProductID    string `json:"product_id"`
	RecipientID  string `json:"recipient_id,omitempty" doc:"the buyer; without one, the product is assessed for listing"`
	Purpose      string `json:"purpose,omitempty" enum:"trade,transport,academic,manufacturing,marketing,contract_with_individual,hr,emergency,other"`
	DeliveryMode string `json:"delivery_mode,omitempty" enum:"file,api,privacy_computing,sandbox,model_output"`
}

// productFacts turns a product (its revision as read) and its parties into facts.
// With no recipient the facts are a listing's: a foreign supplier's product comes in
// (import), a domestic one stays (domestic). With a recipient they are a transfer's:
// out of China when a domestic supplier sells abroad, in when a foreign one sells here.
func (s *Service) productFacts(tx *store.Tx, p *catalog.Product, recipientID, purpose, mode string, now time.Time) (Facts, error) {
	d := p.Details
	f := Facts{Context: "listing", Direction: "domestic", Purpose: purpose, DeliveryMode: mode,
		Data: DataFacts{Category: d.Category, Grade: d.Grade, Sublevel: int64(d.Sublevel), ImportantNotified: d.ImportantNotified,
			PISubjects: d.PISubjects, SensitivePISubjects: d.SensitivePISubjects, Source: d.Source},
		Product: ProductFacts{ID: p.ID, Scenarios: int64(len(d.Scenarios)),
			RightsClaimed: d.Rights.Holding || d.Rights.ProcessingUse || d.Rights.ProductOperation, DeliveryModes: d.DeliveryModes}}
	for _, a := range d.Attachments {
		f.Product.ComplianceAssessment = f.Product.ComplianceAssessment || a.Kind == "compliance_report"
	}
	supplier, err := s.reg.Participant(tx, p.SupplierID)
	if err != nil {
		return Facts{}, err
	}
	f.Supplier = SupplierFacts{ID: supplier.ID, Foreign: supplier.Kind == registry.Foreign}
	if p.AgentID != "" {
		agent, err := s.reg.Participant(tx, p.AgentID)
		if err != nil {
			return Facts{}, err
		}
		f.Agent = AgentFacts{ID: agent.ID, Domestic: agent.Kind == registry.Domestic, Whitelisted: agent.Whitelisted(now),
			KYCVerified: agent.KYC.Status == registry.KYCVerified, Active: registry.CheckActive(tx, agent.ID) == nil}
		if f.Agent.ContractInForce, err = contractCovers(tx, agent.ID, supplier.ID, p, now); err != nil {
			return Facts{}, err
		}
	}
	if f.Supplier.Foreign {
		f.Direction = "import"
	}
	if recipientID == "" {
		return f, nil
	}
	recipient, err := s.reg.Participant(tx, recipientID)
	if err != nil {
		return Facts{}, err
	}
	f.Context = "what_if"
	f.Recipient = RecipientFacts{ID: recipient.ID, Jurisdiction: recipient.Jurisdiction}
	switch {
	case !f.Supplier.Foreign && recipient.Kind == registry.Foreign:
		f.Direction = "export"
		f.Exporter = ExporterFacts{ID: supplier.ID, CIIO: supplier.CIIO, FTZ: supplier.FTZ}
	case f.Supplier.Foreign && recipient.Kind == registry.Domestic:
		f.Direction = "import"
	default:
		f.Direction = "domestic"
	}
	return f, nil
}

// Assess assesses a product by reference as a what-if: for listing, or for a sale to
// a recipient. Whoever may read the product may ask; nothing is filed.
func (s *Service) Assess(ctx context.Context, actor dataport.Actor, products Products, ref Reference) (Assessment, error) {
	const op = "compliance.Assess"
	p, err := products.Get(ctx, actor, ref.ProductID)
	if err != nil {
		if dataport.KindOf(err) == dataport.KindNotFound {
			return Assessment{}, dataport.Invalid(op, dataport.FieldProblem{Field: "reference.product_id", Message: "no such product"})
		}
		return Assessment{}, err
	}
	var probs dataport.Problems
	if ref.Purpose != "" && !slices.Contains(purposes, ref.Purpose) {
		probs.Add("reference.purpose", "one of %v", nonEmpty(purposes))
	}
	if ref.DeliveryMode != "" && !slices.Contains(modes, ref.DeliveryMode) {
		probs.Add("reference.delivery_mode", "one of %v", nonEmpty(modes))
	}
	if err := probs.Err(op); err != nil {
		return Assessment{}, err
	}
	var a Assessment
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		f, err := s.productFacts(tx, &p, ref.RecipientID, ref.Purpose, ref.DeliveryMode, tx.Now())
		if err != nil {
			if dataport.KindOf(err) == dataport.KindNotFound {
				return dataport.Invalid(op, dataport.FieldProblem{Field: "reference.recipient_id", Message: "no such participant"})
			}
			return dataport.Wrap(op, err)
		}
		if f.Context == "listing" {
			f.Context = "what_if" // asked for, not made for a listing: not filed
		}
		// The exporter's approvals and counters are its business.
		if f.Exporter.ID != "" && actor.ParticipantID != f.Exporter.ID && !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
			f.Exporter.ID = ""
		}
		a, err = s.evaluate(tx, &f)
		return dataport.Wrap(op, err)
	})
	return a, err
}

// AgencyCheck implements catalog.Rules (R22): the agent is eligible (domestic,
// whitelisted, KYC-verified, active), and — once the product exists — holds a
// certified agency contract in force that covers it.
func (s *Service) AgencyCheck(tx *store.Tx, now time.Time, agent, supplier registry.Participant, p *catalog.Product) error {
	const op = "compliance.AgencyCheck"
	if err := catalog.DefaultAgencyCheck(tx, now, agent, supplier); err != nil {
		return err
	}
	if p == nil {
		return nil
	}
	ok, err := contractCovers(tx, agent.ID, supplier.ID, p, now)
	if err != nil {
		return dataport.Internal(op, err)
	}
	if !ok {
		return dataport.Errorf(op, dataport.KindForbidden,
			"R22: %s holds no certified agency contract in force with %s that covers product %s (category %s)", agent.ID, supplier.ID, p.ID, p.Details.Category)
	}
	return nil
}

// ListingCheck implements catalog.Rules: the product is assessed for listing with the
// active pack, the assessment filed with the step, and anything but allow refuses it
// with the reasons.
func (s *Service) ListingCheck(tx *store.Tx, actor dataport.Actor, p *catalog.Product) error {
	const op = "compliance.ListingCheck"
	f, err := s.productFacts(tx, p, "", "", "", tx.Now())
	if err != nil {
		return dataport.Internal(op, err)
	}
	a, err := s.File(tx, actor, p.ID, f)
	if err != nil {
		return err
	}
	if a.Outcome == "allow" {
		return nil
	}
	why := strings.Join(a.Reasons.En, "; ")
	for _, r := range a.Requirements {
		if !r.Satisfied {
			why += "; unmet: " + r.Name.En
		}
	}
	return dataport.Errorf(op, dataport.KindForbidden, "the listing assessment is %s (pack %s): %s", a.Outcome, a.PackVersion, why)
}

// LatestAssessment returns the last assessment filed for a product or deal: what the
// operator's review shows. Whoever may read the subject's filings (its parties, the
// operator, regulators) may read it.
func (s *Service) LatestAssessment(ctx context.Context, actor dataport.Actor, products Products, subjectID string) (Assessment, error) {
	const op = "compliance.LatestAssessment"
	p, err := products.Get(ctx, actor, subjectID)
	if err != nil {
		return Assessment{}, err
	}
	if actor.ParticipantID != p.SupplierID && actor.ParticipantID != p.AgentID && !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return Assessment{}, dataport.Errorf(op, dataport.KindNotFound, "no assessment of %s for you", subjectID)
	}
	var a Assessment
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		var facts, result, created string
		err := tx.QueryRow(`SELECT id, facts, facts_sha256, result, created_at FROM assessments WHERE subject_id = $1 ORDER BY id DESC LIMIT 1`,
			subjectID).Scan(&a.ID, &facts, &a.FactsSHA256, &result, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return dataport.Errorf(op, dataport.KindNotFound, "%s has not been assessed", subjectID)
		}
		if err != nil {
			return dataport.Internal(op, err)
		}
		json.Unmarshal([]byte(facts), &a.Facts)
		json.Unmarshal([]byte(result), &a.Result)
		a.CreatedAt, _ = store.ParseTime(created)
		a.AssessedOn = Today(a.CreatedAt).Format(time.DateOnly)
		return nil
	})
	return a, err
}

var _ catalog.Rules = (*Service)(nil)

// AssessDeal assesses a deal in tx — the product's revision sold to buyerID for
// purpose, delivered by mode — and files the assessment (context deal).
func (s *Service) AssessDeal(tx *store.Tx, actor dataport.Actor, dealID string, p *catalog.Product, buyerID, purpose, mode string) (Assessment, error) {
	const op = "compliance.AssessDeal"
	f, err := s.productFacts(tx, p, buyerID, purpose, mode, tx.Now())
	if err != nil {
		return Assessment{}, dataport.Wrap(op, err)
	}
	f.Context = "deal"
	return s.File(tx, actor, dealID, f)
}

// PreviewDeal assesses a deal as AssessDeal would, without filing: what a contract
// draft records as its cross-border basis.
func (s *Service) PreviewDeal(tx *store.Tx, p *catalog.Product, buyerID, purpose, mode string) (Assessment, error) {
	f, err := s.productFacts(tx, p, buyerID, purpose, mode, tx.Now())
	if err != nil {
		return Assessment{}, err
	}
	f.Context = "deal"
	var probs dataport.Problems
	f.validate(&probs)
	if err := probs.Err("compliance.PreviewDeal"); err != nil {
		return Assessment{}, err
	}
	return s.evaluate(tx, &f)
}

// CountCompleted adds a completed deal's PI subjects to its exporter's year-to-date
// counters (R14) when the deal's assessment found an export.
func (s *Service) CountCompleted(tx *store.Tx, assessmentID string) error {
	var facts string
	if err := tx.QueryRow(`SELECT facts FROM assessments WHERE id = $1`, assessmentID).Scan(&facts); err != nil {
		return err
	}
	var f Facts
	if err := json.Unmarshal([]byte(facts), &f); err != nil {
		return err
	}
	if f.Direction != "export" || f.Exporter.ID == "" || f.Data.PISubjects == 0 && f.Data.SensitivePISubjects == 0 {
		return nil
	}
	return CountExport(tx, f.Exporter.ID, tx.Now(), f.Data.PISubjects, f.Data.SensitivePISubjects)
}
