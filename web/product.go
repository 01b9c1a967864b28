package web

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
)

// The product page: what a listing carries (CROSS-BORDER-RULES) as the actor may
// see it. The catalog decides what that is — a product's parties and the operator
// see its latest revision in any state and every revision, anyone else the listed
// revision of a listed product — and the compliance engine gives the summary: the
// filed listing assessment to those who may read it, and to anyone else what the
// rules say about a sale of this product to them (a what-if, not filed).

// productPage is the product template's data.
type productPage struct {
	Product     catalog.Product
	Supplier    string
	Agent       string
	Revisions   []catalog.Revision // nil when the actor may not see the history
	Certificate *catalog.ListingCertificate
	Assessment  *compliance.Assessment
	// Filed says the assessment is the one filed at listing; otherwise it is a
	// what-if for the actor as the buyer.
	Filed bool
	// CanRequest says the viewer may request a deal for the product, with
	// DealForm (what was typed, and its problems) and the purposes it may give.
	CanRequest bool
	DealForm   *Form
	Purposes   []string
}

func (c *Console) product(q *Request) error {
	return c.productView(q, http.StatusOK, q.PathValue("id"), nil)
}

// productView renders product id's page; form, when given, is the buyer's request
// of a deal that came back with its problems (deals.go, requestDeal).
func (c *Console) productView(q *Request, status int, id string, form *Form) error {
	ctx, actor := q.Context(), q.Actor
	p, err := c.deps.Catalog.Get(ctx, actor, id)
	if err != nil {
		return err
	}
	names := c.participantNames(q)
	d := productPage{Product: p, Supplier: names(p.SupplierID), Agent: names(p.AgentID), DealForm: form}
	// A buyer requests a deal for one of the price plans (trade.Request); the
	// product's parties do not buy their own product.
	d.CanRequest = actor.Has(dataport.RoleBuyer) && p.Status == catalog.Listed && actor.ParticipantID != p.SupplierID &&
		actor.ParticipantID != p.AgentID && len(p.Details.PricePlans) > 0
	if d.CanRequest && d.DealForm == nil {
		d.DealForm = NewForm(url.Values{"plan": {"0"}})
		if len(p.Details.Scenarios) > 0 {
			d.DealForm.Values.Set("scenario", p.Details.Scenarios[0])
		}
		if len(p.Details.DeliveryModes) > 0 {
			d.DealForm.Values.Set("delivery_mode", p.Details.DeliveryModes[0])
		}
	}
	if d.CanRequest {
		d.Purposes = enums["dealpurpose"]
	}
	// What the actor may not read is left out of the page, not an error of it.
	revs, err := c.deps.Catalog.Revisions(ctx, actor, id)
	if err := optional(err); err != nil {
		return err
	}
	d.Revisions = slices.Clone(revs)
	slices.Reverse(d.Revisions) // newest first
	if p.RegistrationNumber != "" {
		cert, err := c.deps.Catalog.Certificate(ctx, actor, id)
		if err == nil {
			d.Certificate = &cert
		} else if err := optional(err); err != nil {
			return err
		}
	}
	if c.deps.Compliance != nil {
		a, err := c.deps.Compliance.LatestAssessment(ctx, actor, c.deps.Catalog, id)
		switch {
		case err == nil:
			d.Assessment, d.Filed = &a, true
		case dataport.KindOf(err) == dataport.KindNotFound:
			ref := compliance.Reference{ProductID: id}
			if actor.Has(dataport.RoleBuyer) {
				ref.RecipientID = actor.ParticipantID
			}
			a, err := c.deps.Compliance.Assess(ctx, actor, c.deps.Catalog, ref)
			if err == nil {
				d.Assessment = &a
			} else if err := optional(err); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return q.Render(status, "product", d)
}

// optional drops the errors that mean "not for this actor" (not found, forbidden),
// keeping the rest.
func optional(err error) error {
	switch dataport.KindOf(err) {
	case dataport.KindNotFound, dataport.KindForbidden:
		return nil
	}
	return err
}
