package compliance

import (
	"context"
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
	if ref.Purpose != "" && !contains(purposes, ref.Purpose) {
		probs.Add("reference.purpose", "one of %v", nonEmpty(purposes))
	}
	if ref.DeliveryMode != "" && !contains(modes, ref.DeliveryMode) {
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

// contractCovers reports whether agent holds a certified agency contract for the
// supplier, in force now, covering the product (R22). Agency contracts arrive with
// their own capability; until one is certified, none covers anything.
func contractCovers(tx *store.Tx, agent, supplier string, p *catalog.Product, now time.Time) (bool, error) {
	return false, nil
}
