package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/trade"
)

// Suppliers' and agents' pages, under /supplier: their products in every state of
// the listing workflow, the product editor (a new draft, a revision of a draft, a
// proposed change of a listed product), submission for review with R20's answer in
// place, attachments uploaded and cited, every revision, the agency contracts of
// R22 (proposed, and signed in the browser with sign.js), and the supplier's
// balances. A foreign supplier's products are created and managed by the domestic
// agent acting for it (R22): the agent sees them beside its own, and the foreign
// supplier sees them read-only. The catalog and the compliance engine decide every
// step as they do for the API; the pages call them as the signed-in actor.

func (c *Console) supplierRoutes() {
	roles := []dataport.Role{dataport.RoleSupplier, dataport.RoleAgent}
	c.page("GET /supplier", signedIn, c.supplierHome, roles...)
	c.page("GET /supplier/products/new", signedIn, c.supplierNew, roles...)
	c.page("POST /supplier/products", signedIn, c.supplierCreate, roles...)
	c.page("GET /supplier/products/{id}", signedIn, c.supplierProduct, roles...)
	c.page("POST /supplier/products/{id}", signedIn, c.supplierRevise, roles...)
	c.page("POST /supplier/products/{id}/submit", signedIn, c.supplierSubmit, roles...)
	c.page("POST /supplier/products/{id}/attachments", signedIn, c.supplierUpload, roles...)
	c.page("GET /supplier/contracts", signedIn, c.supplierContracts, roles...)
	c.page("POST /supplier/contracts", signedIn, c.supplierPropose, roles...)
	c.page("POST /supplier/contracts/{id}/sign", signedIn, c.supplierSign, roles...)
}

func init() {
	for set, values := range map[string][]string{
		// An agency contract's states (compliance.AgencyContract.Status).
		"supplier.contract": {"proposed", "signed", "certified", "revoked"},
		// The accounts trade keeps for a participant: its own balance as a buyer,
		// its proceeds as a supplier, its commission as an agent.
		"supplier.account": {"balance", "supplier", "commission"},
	} {
		if _, ok := enums[set]; ok {
			panic("web: the enum set " + set + " is registered twice")
		}
		enums[set] = values
	}
}

// supplierHomePage is the supplier template's data.
type supplierHomePage struct {
	Products []supplierProductRow
	Next     string // the cursor of the next page of products
	Balances []supplierBalanceRow
	Foreign  bool // the participant is a foreign supplier, whose products its agent manages (R22)
}

// supplierProductRow is a product as the supplier's list shows it.
type supplierProductRow struct {
	catalog.Product
	Supplier string // the supplier's name, for the products an agent manages
	Manages  bool   // the actor edits it: its own product, or one it manages as agent
}

// supplierBalanceRow is one of trade's balances, by the kind of account.
type supplierBalanceRow struct {
	Kind    string
	Balance dataport.Money
}

func (c *Console) supplierHome(q *Request) error {
	ctx, me := q.Context(), q.Actor.ParticipantID
	page, err := c.deps.Catalog.ProductsOf(ctx, q.Actor, me, "", q.URL.Query().Get("after"), 50)
	if err != nil {
		return err
	}
	names := c.participantNames(q)
	d := supplierHomePage{Next: page.Next, Foreign: supplierForeign(q)}
	for _, p := range page.Items {
		row := supplierProductRow{Product: p, Manages: supplierManages(q.Actor, &p)}
		if p.SupplierID != me {
			row.Supplier = names(p.SupplierID)
		}
		d.Products = append(d.Products, row)
	}
	if c.deps.Trade != nil {
		balances, err := c.deps.Trade.Balances(ctx, q.Actor, me)
		if err != nil {
			return err
		}
		d.Balances = supplierBalanceRows(balances)
	}
	return q.Render(http.StatusOK, "supplier", d)
}

func supplierBalanceRows(bs []trade.Balance) []supplierBalanceRow {
	out := make([]supplierBalanceRow, 0, len(bs))
	for _, b := range bs {
		kind, _, _ := strings.Cut(b.Account, ":")
		out = append(out, supplierBalanceRow{Kind: kind, Balance: b.Balance})
	}
	return out
}

// supplierManages reports whether actor edits and submits p: a domestic supplier its own
// products, the agent those of the foreign suppliers it acts for (R22) — as the
// catalog decides (byManager).
func supplierManages(actor dataport.Actor, p *catalog.Product) bool {
	if p.AgentID != "" {
		return actor.ParticipantID == p.AgentID
	}
	return actor.ParticipantID == p.SupplierID
}

// supplierReviewState is where the product's latest revision is in review: the product's
// status, or its pending change's.
func supplierReviewState(p *catalog.Product) catalog.Status {
	if p.Change != nil {
		return p.Change.Status
	}
	return p.Status
}

// supplierRevisable: a draft or rejected product is revised; a listed or suspended one gets a
// pending change; a revision in review is decided first (catalog.Revise).
func supplierRevisable(p *catalog.Product) bool {
	switch supplierReviewState(p) {
	case catalog.Draft, catalog.Rejected, catalog.Listed, catalog.Suspended:
		return true
	}
	return false
}

// supplierProductPage is the supplier-product template's data: the editor of a new
// product (Product nil) or of one of the actor's products with its workflow,
// attachments and revisions.
type supplierProductPage struct {
	Product   *catalog.Product
	Supplier  string
	Agent     string
	Manages   bool
	Revisable bool
	Submit    bool // the latest revision is a draft: it may be submitted
	Editor    *supplierEditor
	Upload    *Form
	Refused   bool // the submission was refused: the editor shows why (R20)
	Revisions []supplierRevisionRow
}

// supplierRevisionRow is a revision as the history shows it.
type supplierRevisionRow struct {
	catalog.Revision
	By     string
	Listed bool
}

func (c *Console) supplierNew(q *Request) error {
	ed, err := c.supplierEditorFor(q, NewForm(supplierDefaults(q)), true)
	if err != nil {
		return err
	}
	return q.Render(http.StatusOK, "supplier-product", supplierProductPage{Editor: ed, Manages: true, Revisable: true})
}

func (c *Console) supplierCreate(q *Request) error {
	form := q.Form()
	d, fields := supplierParseDetails(form, q.Localizer)
	supplierID := form.Get("supplier_id")
	if supplierID == "" {
		supplierID = q.Actor.ParticipantID
		form.Values.Set("supplier_id", supplierID)
	}
	// What the console could not read is answered before the catalog is asked:
	// nothing half-read is created.
	status := http.StatusUnprocessableEntity
	if !form.Invalid() {
		p, err := c.deps.Catalog.Create(q.Context(), q.Actor, catalog.NewProduct{SupplierID: supplierID, Details: d})
		switch {
		case form.Absorb(err, q.Localizer, supplierUnder("details", fields)):
		case dataport.KindOf(err) == dataport.KindForbidden:
			// R22: the supplier chosen is not one the actor may list for (a foreign
			// supplier lists through its agent; an agent under a contract in force).
			status = http.StatusForbidden
			form.Fail("supplier_id", dataport.MessageOf(err))
		case err != nil:
			return err
		default:
			q.Redirect("/supplier/products/" + p.ID)
			return nil
		}
	}
	ed, err := c.supplierEditorFor(q, form, true)
	if err != nil {
		return err
	}
	return q.Render(status, "supplier-product", supplierProductPage{Editor: ed, Manages: true, Revisable: true})
}

// supplierOwnProduct reads a product of the actor's: one it supplies or manages as agent.
// Another's product is not for these pages, even when the catalog shows it listed.
func (c *Console) supplierOwnProduct(q *Request) (catalog.Product, error) {
	const op = "web.supplier"
	p, err := c.deps.Catalog.Get(q.Context(), q.Actor, q.PathValue("id"))
	if err != nil {
		return p, err
	}
	if p.SupplierID != q.Actor.ParticipantID && p.AgentID != q.Actor.ParticipantID {
		return p, dataport.Errorf(op, dataport.KindForbidden, "product %s is not the participant's: its page is /products/%s", p.ID, p.ID)
	}
	return p, nil
}

func (c *Console) supplierProduct(q *Request) error {
	p, err := c.supplierOwnProduct(q)
	if err != nil {
		return err
	}
	return c.supplierRenderProduct(q, http.StatusOK, &p, nil, nil, false)
}

// supplierRenderProduct shows one of the actor's products: form is the editor as typed (nil:
// the latest revision's details), upload the attachment form.
func (c *Console) supplierRenderProduct(q *Request, status int, p *catalog.Product, form, upload *Form, refused bool) error {
	names := c.participantNames(q)
	d := supplierProductPage{Product: p, Supplier: names(p.SupplierID), Agent: names(p.AgentID), Manages: supplierManages(q.Actor, p),
		Revisable: supplierRevisable(p), Submit: supplierReviewState(p) == catalog.Draft, Upload: upload, Refused: refused}
	if upload == nil {
		d.Upload = NewForm(nil)
	}
	if form == nil {
		form = NewForm(supplierDetailsValues(p.Details))
	}
	var err error
	if d.Editor, err = c.supplierEditorFor(q, form, false); err != nil {
		return err
	}
	revs, err := c.deps.Catalog.Revisions(q.Context(), q.Actor, p.ID)
	if err != nil {
		return err
	}
	for i := len(revs) - 1; i >= 0; i-- { // newest first
		r := revs[i]
		d.Revisions = append(d.Revisions, supplierRevisionRow{Revision: r, By: names(r.CreatedBy), Listed: r.Revision == p.ListedRevision})
	}
	return q.Render(status, "supplier-product", d)
}

func (c *Console) supplierRevise(q *Request) error {
	p, err := c.supplierOwnProduct(q)
	if err != nil {
		return err
	}
	form := q.Form()
	d, fields := supplierParseDetails(form, q.Localizer)
	// Where a harvested product came from is the harvest's to say, not the editor's.
	d.Harvested = p.Details.Harvested
	if !form.Invalid() {
		_, err := c.deps.Catalog.Revise(q.Context(), q.Actor, p.ID, d)
		if !form.Absorb(err, q.Localizer, fields) {
			if err != nil {
				return err
			}
			q.Redirect("/supplier/products/" + p.ID)
			return nil
		}
	}
	return c.supplierRenderProduct(q, http.StatusUnprocessableEntity, &p, form, nil, false)
}

// supplierSubmit sends the latest revision to review. R20 and a listing's content
// are checked by the catalog: what it refuses is shown at the editor's inputs.
func (c *Console) supplierSubmit(q *Request) error {
	p, err := c.supplierOwnProduct(q)
	if err != nil {
		return err
	}
	_, err = c.deps.Catalog.Submit(q.Context(), q.Actor, p.ID)
	if err == nil {
		q.Redirect("/supplier/products/" + p.ID)
		return nil
	}
	form := NewForm(supplierDetailsValues(p.Details))
	_, fields := supplierParseDetails(NewForm(supplierDetailsValues(p.Details)), q.Localizer)
	status := http.StatusUnprocessableEntity
	switch kind := dataport.KindOf(err); {
	case form.Absorb(err, q.Localizer, fields):
	case kind == dataport.KindForbidden || kind == dataport.KindConflict:
		// The listing assessment refused it, or the parties may not act (R22): the
		// engine's reasons, at the top of the form.
		status = http.StatusForbidden
		if kind == dataport.KindConflict {
			status = http.StatusConflict
		}
		form.Fail("", dataport.MessageOf(err))
	default:
		return err
	}
	return c.supplierRenderProduct(q, status, &p, form, nil, true)
}

// supplierUploadFields binds the catalog's problems with an upload to the upload form.
var supplierUploadFields = Fields{
	"name":         {Input: "file", Message: "supplier.upload.error.name"},
	"content_type": {Input: "file", Message: "supplier.upload.error.file"},
}

// supplierUpload stores an attachment (the third-party compliance report R20 asks
// for, a product description, a quality report) and cites it in a new revision of
// the product, in one step.
func (c *Console) supplierUpload(q *Request) error {
	p, err := c.supplierOwnProduct(q)
	if err != nil {
		return err
	}
	if !supplierRevisable(&p) {
		return dataport.Errorf("web.supplierUpload", dataport.KindConflict,
			"product %s has a revision in review: it is decided before the product is revised again", p.ID)
	}
	form := NewForm(nil)
	kind := strings.TrimSpace(q.FormValue("kind"))
	form.Values.Set("kind", kind)
	if !slices.Contains(enums["attach"], kind) {
		form.Fail("kind", q.T("supplier.upload.error.kind"))
	}
	file, header, err := q.FormFile("file")
	// The body was bounded before the CSRF check read it (bodyLimit); the catalog
	// takes attachments up to catalog.MaxAttachment.
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) || (err == nil && header.Size > catalog.MaxAttachment) {
		form.Fail("file", q.T("supplier.upload.error.size", catalog.MaxAttachment>>20))
	} else if err != nil {
		form.Fail("file", q.T("supplier.upload.error.file"))
	}
	if file != nil {
		defer file.Close()
	}
	if form.Invalid() {
		return c.supplierRenderProduct(q, http.StatusUnprocessableEntity, &p, nil, form, false)
	}
	up, err := c.deps.Catalog.UploadAttachment(q.Context(), q.Actor,
		catalog.NewAttachment{Name: header.Filename, MediaType: header.Header.Get("Content-Type")}, file)
	if form.Absorb(err, q.Localizer, supplierUploadFields) {
		return c.supplierRenderProduct(q, http.StatusUnprocessableEntity, &p, nil, form, false)
	} else if err != nil {
		return err
	}
	d := p.Details
	d.Attachments = slices.DeleteFunc(slices.Clone(d.Attachments), func(a catalog.Attachment) bool { return a.SHA256 == up.SHA256 })
	d.Attachments = append(d.Attachments, catalog.Attachment{Kind: kind, SHA256: up.SHA256, Name: up.Name})
	_, err = c.deps.Catalog.Revise(q.Context(), q.Actor, p.ID, d)
	if form.Absorb(err, q.Localizer, Fields{"attachments": {Input: "file"}}) {
		return c.supplierRenderProduct(q, http.StatusUnprocessableEntity, &p, nil, form, false)
	} else if err != nil {
		return err
	}
	q.Redirect("/supplier/products/" + p.ID + "#attachments")
	return nil
}

// Categories are the categories the editor suggests (the catalog takes any
// lower-case name).
func (supplierProductPage) Categories() []string {
	return []string{"climate", "e-commerce", "energy", "finance", "health", "logistics", "shipping", "trade"}
}

// AttachKinds are the kinds of attachment a listing cites.
func (supplierProductPage) AttachKinds() []string { return enums["attach"] }

// MaxAttachmentMiB is the largest attachment the catalog takes, in MiB.
func (supplierProductPage) MaxAttachmentMiB() int { return catalog.MaxAttachment >> 20 }

// supplierWords are the messages the supplier's templates name by a value
// ({{t (printf "supplier.next.%s" .Status)}}): listed so that the i18n tests check
// each exists in both languages.
var supplierWords = []string{
	"supplier.next.draft", "supplier.next.submitted", "supplier.next.under_review", "supplier.next.listed",
	"supplier.next.rejected", "supplier.next.suspended", "supplier.next.delisted",
}
