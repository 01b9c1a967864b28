package web

import (
	"net/http"
	"path"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
)

// The review queue (catalog.ReviewQueue): each product submitted or in review with
// what the compliance engine says of it under the active pack, and a product's
// review page with the moves of the listing workflow (catalog's package comment):
// start review, approve (the registration number is issued and the certificate
// filed), reject with reasons, and suspend, resume or delist a listed one.
// Approving files the listing assessment (compliance.ListingCheck): anything but
// allow refuses the listing, with the reasons, in place.

// opReviewItem is a product of the queue with its assessment.
type opReviewItem struct {
	Product    catalog.Product
	State      catalog.Status
	Supplier   string
	Agent      string
	Assessment *compliance.Assessment
}

type opReviewPage struct {
	Items []opReviewItem
	Next  string
	After string
}

func (c *Console) operatorReview(q *Request) error {
	ctx, actor := q.Context(), q.Actor
	after := q.URL.Query().Get("after")
	page, err := c.deps.Catalog.ReviewQueue(ctx, actor, after, 50)
	if err != nil {
		return err
	}
	names := c.participantNames(q)
	d := opReviewPage{Next: page.Next, After: after}
	for _, p := range page.Items {
		it := opReviewItem{Product: p, State: opReviewState(p), Supplier: names(p.SupplierID), Agent: names(p.AgentID)}
		if a, _, err := c.opAssessment(q, p.ID); err != nil {
			return err
		} else {
			it.Assessment = a
		}
		d.Items = append(d.Items, it)
	}
	return opRender(q, http.StatusOK, "review", d)
}

// opAssessment is what the engine says of a product for the operator: the last
// assessment filed for it (at its listing), else a what-if for listing under the
// active pack — what approving it now would file. filed says which.
func (c *Console) opAssessment(q *Request, id string) (*compliance.Assessment, bool, error) {
	a, err := c.deps.Compliance.LatestAssessment(q.Context(), q.Actor, c.deps.Catalog, id)
	if err == nil {
		return &a, true, nil
	}
	if dataport.KindOf(err) != dataport.KindNotFound {
		return nil, false, err
	}
	a, err = c.deps.Compliance.Assess(q.Context(), q.Actor, c.deps.Catalog, compliance.Reference{ProductID: id})
	if err != nil {
		return nil, false, optional(err)
	}
	return &a, false, nil
}

// opProductPage is the data of the operator's "product" page.
type opProductPage struct {
	Product    catalog.Product
	State      catalog.Status
	Supplier   string
	Agent      string
	Assessment *compliance.Assessment
	Filed      bool
	Reject     *Form
	Suspend    *Form
	Refused    string // why the last move was opRefused
	Done       string // the move just made
}

func (c *Console) operatorProduct(q *Request) error {
	return c.opProductPage(q, http.StatusOK, opProductPage{Done: q.URL.Query().Get("done")})
}

func (c *Console) opProductPage(q *Request, status int, d opProductPage) error {
	p, err := c.deps.Catalog.Get(q.Context(), q.Actor, q.PathValue("id"))
	if err != nil {
		return err
	}
	names := c.participantNames(q)
	d.Product, d.State, d.Supplier, d.Agent = p, opReviewState(p), names(p.SupplierID), names(p.AgentID)
	if d.Assessment, d.Filed, err = c.opAssessment(q, p.ID); err != nil {
		return err
	}
	if d.Reject == nil {
		d.Reject = NewForm(nil)
	}
	if d.Suspend == nil {
		d.Suspend = NewForm(nil)
	}
	switch d.Done {
	case "review_started", "listed", "rejected", "suspended", "resumed", "delisted":
	default:
		d.Done = ""
	}
	return opRender(q, status, "product", d)
}

// operatorProductMove makes one move of the listing workflow, named by the path's
// last element, and returns to the product's review page.
func (c *Console) operatorProductMove(q *Request) error {
	ctx, actor, id := q.Context(), q.Actor, q.PathValue("id")
	f := q.Form()
	var err error
	var done string
	d := opProductPage{}
	switch move := path.Base(q.URL.Path); move {
	case "start":
		err, done = opErrOf(c.deps.Catalog.StartReview(ctx, actor, id)), "review_started"
	case "approve":
		err, done = opErrOf(c.deps.Catalog.Approve(ctx, actor, id)), "listed"
	case "reject":
		d.Reject = f
		// catalog.Reject takes one reason a line.
		err, done = opErrOf(c.deps.Catalog.Reject(ctx, actor, id, opFormLines(f.Values.Get("reasons")))), "rejected"
		if f.Absorb(err, q.Localizer, Fields{"reasons": {Input: "reasons", Message: "operator.review.error.reasons"}}) {
			return c.opProductPage(q, http.StatusUnprocessableEntity, d)
		}
	case "suspend":
		d.Suspend = f
		err, done = opErrOf(c.deps.Catalog.Suspend(ctx, actor, id, f.Get("reason"))), "suspended"
		if f.Absorb(err, q.Localizer, Fields{"reason": {Input: "suspend-reason", Message: "operator.review.error.reason"}}) {
			return c.opProductPage(q, http.StatusUnprocessableEntity, d)
		}
	case "resume":
		err, done = opErrOf(c.deps.Catalog.Resume(ctx, actor, id)), "resumed"
	case "delist":
		err, done = opErrOf(c.deps.Catalog.Delist(ctx, actor, id)), "delisted"
	default:
		return dataport.Errorf("web.operatorProductMove", dataport.KindNotFound, "no move %s", move)
	}
	if st, ok := opRefused(err); ok {
		d.Refused = dataport.MessageOf(err)
		return c.opProductPage(q, st, d)
	}
	if err != nil {
		return err
	}
	q.Redirect("/operator/products/" + id + "?done=" + done)
	return nil
}

// opErrOf keeps a service's error and drops its result: the page reads what changed
// again after a move.
func opErrOf[T any](_ T, err error) error { return err }
