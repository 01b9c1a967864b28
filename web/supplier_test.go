package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"html"
	"io"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/registry"
)

// The supplier's and agent's pages over plain HTTP, against the shared exchange:
// the product editor answering bad input at its inputs and creating nothing, the
// submission refused with R20's answer in place, an attachment uploaded and cited,
// the listing seen with its registration number; and an agency contract (R22)
// proposed and signed by both parties, after which the agent creates a product for
// the foreign supplier. Each test makes participants of its own.

func init() {
	pageSets["supplier"] = func(t testing.TB, x *exchange) []pageCase {
		both := []dataport.Role{dataport.RoleSupplier, dataport.RoleAgent}
		// A listed product of the demo's supplier: its own page for it; the demo's
		// agent, which does not manage it, is refused (403), as every other role.
		var supplier registry.Participant
		for _, h := range x.world.KeyHolders() {
			if h.Role == dataport.RoleSupplier {
				supplier = h.Participant
			}
		}
		page, err := x.cat.ProductsOf(context.Background(), x.operator, supplier.ID, "listed", "", 1)
		if err != nil || len(page.Items) == 0 {
			t.Fatalf("a listed product of the demo supplier: %v", err)
		}
		return []pageCase{
			{path: "/supplier", status: http.StatusOK, roles: both},
			{path: "/supplier/products/new", status: http.StatusOK, roles: both},
			{path: "/supplier/contracts", status: http.StatusOK, roles: both},
			{path: "/supplier/products/" + page.Items[0].ID, status: http.StatusOK, roles: []dataport.Role{dataport.RoleSupplier}},
			{path: "/supplier/products/prd_nosuchproduct", status: http.StatusNotFound, roles: both},
		}
	}
}

// domesticParty registers a domestic participant of the test's own (a valid USCC),
// KYC-verified, with a key for its roles; an agent is put on the cross-border
// whitelist (R22).
func (x *exchange) domesticParty(t testing.TB, roles ...dataport.Role) (registry.Participant, string) {
	t.Helper()
	ctx := context.Background()
	org, err := rand.Int(rand.Reader, big.NewInt(1_000_000_000))
	if err != nil {
		t.Fatal(err)
	}
	code, err := registry.CompleteUSCC(fmt.Sprintf("91310115%09d", org.Int64()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := x.reg.CreateParticipant(ctx, x.operator, registry.NewParticipant{
		LegalName:    dataport.Bilingual{Zh: "测试数商" + code[8:17], En: "Test Data Co. " + code[8:17]},
		Jurisdiction: "CN", Kind: registry.Domestic, USCC: code, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = x.reg.ReviewKYC(ctx, x.operator, p.ID, registry.KYCReview{Status: registry.KYCVerified, Note: "test"}); err != nil {
		t.Fatal(err)
	}
	if p.Has(dataport.RoleAgent) {
		until := x.clock.Now().AddDate(1, 0, 0).Format(time.DateOnly)
		if p, err = x.reg.SetWhitelist(ctx, x.operator, p.ID, registry.WhitelistEntry{Reference: "TEST-" + code[8:17], ValidUntil: until}); err != nil {
			t.Fatal(err)
		}
	}
	_, token, err := x.reg.IssueKey(ctx, p.ID, registry.NewAPIKey{Name: "web test", Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return p, token
}

// supplierForm is the editor as a supplier fills it in: a complete dataset, but
// for the compliance report that submission asks for.
func supplierForm(title string) url.Values {
	return url.Values{
		"type": {"dataset"}, "title_zh": {title + "（中文）"}, "title_en": {title},
		"summary_zh": {"测试用的港口数据。"}, "summary_en": {"Port data for the test."},
		"category": {"shipping"}, "tags": {"port, 港口"}, "coverage": {"Yangtze delta"},
		"time_from": {"2024-01-01"}, "update_frequency": {"daily"}, "delivery_modes": {"file", "api"},
		"plan_kind_0": {"subscription"}, "plan_price_0": {"1,500.50"}, "plan_currency_0": {"CNY"}, "plan_period_0": {"month"},
		"plan_kind_1": {"one_off"}, "plan_price_1": {"12000"}, "plan_currency_1": {"CNY"},
		"scenarios": {"research\nrisk management"}, "usage_policy": {"No resale."},
		"fields": {"port | string | 港口 | port\nteu | integer | 标准箱 | twenty-foot equivalent units"},
		"sample": {"port,teu\nSHA,1200"}, "source": {"enterprise"}, "grade": {"general"}, "sublevel": {"2"},
		"pi_subjects": {"0"}, "sensitive_pi_subjects": {"0"}, "origin_jurisdiction": {"CN"},
		"rights_holding": {"on"}, "rights_product_operation": {"on"},
	}
}

// supplierSend posts a multipart form with one file, with the page's CSRF token, as
// the upload form does without JavaScript.
func (b *browser) supplierSend(path string, fields url.Values, name string, data []byte) page {
	b.t.Helper()
	fields.Set("csrf", b.csrf())
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		b.t.Fatal(err)
	}
	fw.Write(data)
	w.Close()
	req, err := http.NewRequest(http.MethodPost, b.x.srv.URL+path, &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Accept-Language", b.lang)
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(raw)}
}

// supplierProblem returns the problems shown under an input (empty when none).
func supplierProblem(body, input string) string {
	return html.UnescapeString(between(body, `id="problems-`+input+`" aria-live="polite">`, `</div>`))
}

// supplierProducts counts a participant's products, as the operator sees them.
func (x *exchange) supplierProducts(t testing.TB, id string) []catalog.Product {
	t.Helper()
	page, err := x.cat.ProductsOf(context.Background(), x.operator, id, "", "", 200)
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

// TestSupplierProductJourney: a domestic supplier creates a product through the
// editor — bad input first, answered at the inputs with 422 and nothing created —
// submits it and is told R20's answer at the inputs, uploads its compliance report
// (cited in a new revision), submits it, and after the operator's review sees it
// listed with its registration number.
func TestSupplierProductJourney(t *testing.T) {
	x := seeded(t)
	me, key := x.domesticParty(t, dataport.RoleSupplier)
	b := x.browser(t)
	b.lang = "en"
	b.signIn(key)
	home := b.mustPage("/supplier", http.StatusOK)
	if !strings.Contains(home.body, `id="products"`) || !strings.Contains(home.body, "No products yet") {
		t.Fatalf("the supplier's page without products:\n%s", clip(home.body))
	}
	b.mustPage("/supplier/products/new", http.StatusOK)

	// Bad input, one problem at a time: a country that is none, a general data
	// product without its sub-level, a subscription without its period, a title too
	// long (the catalog's checks); a price that is not one and a field dictionary
	// line without a type (the console's own reading).
	for _, c := range []struct {
		form  url.Values
		input string
		want  string
	}{
		{url.Values{"origin_jurisdiction": {"XX"}}, "origin_jurisdiction", "ISO 3166-1"},
		{url.Values{"plan_price_1": {"lots"}}, "plan_price_1", "price in the currency's units"},
		{url.Values{"fields": {"port"}}, "fields", "Line 1"},
		{url.Values{"sublevel": {""}}, "sublevel", "sub-level from 1 to 4"},
		{url.Values{"plan_period_0": {""}}, "plan_period_0", "per month, quarter or year"},
		{url.Values{"title_zh": {strings.Repeat("港", 301)}}, "title", "at most 300 characters"},
	} {
		form := supplierForm("Test port throughput")
		for k, v := range c.form {
			form[k] = v
		}
		p := b.post("/supplier/products", form)
		if p.status != http.StatusUnprocessableEntity {
			t.Errorf("%v: %d, want 422", c.form, p.status)
			continue
		}
		if got := supplierProblem(p.body, c.input); !strings.Contains(got, c.want) {
			t.Errorf("%v: the problem at %s is %q, want %q", c.form, c.input, got, c.want)
		}
		if !strings.Contains(p.body, `value="Test port throughput"`) || !strings.Contains(p.body, "SHA,1200") {
			t.Errorf("%v: the form lost what was typed", c.form)
		}
		if m := markers.FindAllString(p.body, -1); len(m) > 0 {
			t.Errorf("%v: missing messages %v", c.form, m)
		}
	}
	if n := len(x.supplierProducts(t, me.ID)); n != 0 {
		t.Fatalf("bad input created %d products", n)
	}
	// In Chinese, the same problem in Chinese.
	b.lang = "zh-CN"
	bad := supplierForm("Test port throughput")
	bad.Set("origin_jurisdiction", "XX")
	if p := b.post("/supplier/products", bad); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(supplierProblem(p.body, "origin_jurisdiction"), "国家或地区代码") {
		t.Errorf("the problem in Chinese: %d %q", p.status, supplierProblem(p.body, "origin_jurisdiction"))
	}
	b.lang = "en"

	// Created: the product's page, a draft at revision 1, as typed.
	created := b.post("/supplier/products", supplierForm("Test port throughput"))
	if created.status != http.StatusSeeOther || !strings.HasPrefix(created.header.Get("Location"), "/supplier/products/prd_") {
		t.Fatalf("create: %s", describe(created))
	}
	path := created.header.Get("Location")
	products := x.supplierProducts(t, me.ID)
	if len(products) != 1 {
		t.Fatalf("%d products after creating one", len(products))
	}
	prod := products[0]
	d := prod.Details
	if prod.Status != catalog.Draft || d.Title.En != "Test port throughput" || len(d.PricePlans) != 2 ||
		d.PricePlans[0].Price.Amount != 150050 || d.PricePlans[0].Period != "month" || d.PricePlans[1].Price.Amount != 1200000 ||
		len(d.Fields) != 2 || d.Fields[1].Description.En != "twenty-foot equivalent units" || d.Sublevel != 2 ||
		len(d.DeliveryModes) != 2 || len(d.Scenarios) != 2 || !d.Rights.Holding || d.Rights.ProcessingUse {
		t.Fatalf("the product as created: %+v", prod)
	}
	page := b.mustPage(path, http.StatusOK)
	if !strings.Contains(page.body, `data-status="draft"`) || !strings.Contains(page.body, `value="1500.50"`) {
		t.Errorf("the draft's page:\n%s", clip(page.body))
	}

	// Submitting without the compliance report: R20's answer at the attachments.
	refused := b.post(path+"/submit", url.Values{})
	if refused.status != http.StatusUnprocessableEntity || !strings.Contains(supplierProblem(refused.body, "attachments"), "R20") ||
		!strings.Contains(refused.body, `id="refused"`) {
		t.Fatalf("submit without a report: %d, at attachments %q", refused.status, supplierProblem(refused.body, "attachments"))
	}
	if p := x.supplierProducts(t, me.ID)[0]; p.Status != catalog.Draft {
		t.Fatalf("a refused submission left the product %s", p.Status)
	}

	// Upload the report: cited in revision 2. A kind that is none is refused first.
	report := []byte("# Compliance assessment\n\nThe data is lawful to trade. (test)\n")
	if p := b.supplierSend(path+"/attachments", url.Values{"kind": {"receipt"}}, "assessment.md", report); p.status != http.StatusUnprocessableEntity ||
		supplierProblem(p.body, "kind") == "" {
		t.Errorf("an upload of no kind: %d %q", p.status, supplierProblem(p.body, "kind"))
	}
	up := b.supplierSend(path+"/attachments", url.Values{"kind": {"compliance_report"}}, "assessment.md", report)
	if up.status != http.StatusSeeOther || up.header.Get("Location") != path+"#attachments" {
		t.Fatalf("upload: %s", describe(up))
	}
	prod = x.supplierProducts(t, me.ID)[0]
	if prod.LatestRevision != 2 || len(prod.Details.Attachments) != 1 || prod.Details.Attachments[0].Name != "assessment.md" {
		t.Fatalf("after the upload: revision %d, attachments %+v", prod.LatestRevision, prod.Details.Attachments)
	}
	page = b.mustPage(path, http.StatusOK)
	if !strings.Contains(page.body, `<span class="name">assessment.md</span>`) || !strings.Contains(page.body, `data-revision="2"`) {
		t.Errorf("the page lacks the attachment or revision 2:\n%s", clip(page.body))
	}

	// Revise the draft through the editor as it is shown (it carries the cited
	// report): revision 3, the report still cited.
	form := supplierForm("Test port throughput, revised")
	form.Set("att_kind", "compliance_report")
	form.Set("att_sha256", prod.Details.Attachments[0].SHA256)
	form.Set("att_name", "assessment.md")
	if p := b.post(path, form); p.status != http.StatusSeeOther {
		t.Fatalf("revise: %s", describe(p))
	}
	prod = x.supplierProducts(t, me.ID)[0]
	if prod.LatestRevision != 3 || len(prod.Details.Attachments) != 1 || prod.Details.Title.En != "Test port throughput, revised" {
		t.Fatalf("after revising: %+v", prod)
	}

	// Submitted; then listed by the operator.
	if p := b.post(path+"/submit", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("submit: %s", describe(p))
	}
	home = b.mustPage("/supplier", http.StatusOK)
	if !strings.Contains(home.body, `data-product="`+prod.ID+`" data-status="submitted"`) {
		t.Errorf("the supplier's page does not show the product submitted:\n%s", clip(home.body))
	}
	if p := b.post(path, supplierForm("Too late")); p.status != http.StatusConflict {
		t.Errorf("revising a submitted product: %d, want 409", p.status)
	}
	ctx := context.Background()
	if _, err := x.cat.StartReview(ctx, x.operator, prod.ID); err != nil {
		t.Fatal(err)
	}
	listed, err := x.cat.Approve(ctx, x.operator, prod.ID)
	if err != nil {
		t.Fatal(err)
	}
	b.lang = "zh-CN"
	home = b.mustPage("/supplier", http.StatusOK)
	if !strings.Contains(home.body, `data-product="`+prod.ID+`" data-status="listed"`) || !strings.Contains(home.body, listed.RegistrationNumber) {
		t.Errorf("the supplier's page does not show the product listed with %s:\n%s", listed.RegistrationNumber, clip(home.body))
	}
	// A listed product's editor proposes a change; buyers keep the listed revision.
	page = b.mustPage(path, http.StatusOK)
	if !strings.Contains(page.body, "提出变更") {
		t.Errorf("a listed product's editor does not propose a change")
	}
	form.Set("title_en", "Test port throughput, changed")
	if p := b.post(path, form); p.status != http.StatusSeeOther {
		t.Fatalf("propose a change: %s", describe(p))
	}
	if p := x.supplierProducts(t, me.ID)[0]; p.Status != catalog.Listed || p.Change == nil || p.Change.Status != catalog.Draft {
		t.Errorf("after proposing a change: %s, change %+v", p.Status, p.Change)
	}
}

// TestSupplierPagesAreTheirs: another supplier's product is not on these pages
// (nor may it be revised through them), a file larger than the catalog takes is
// refused at its input, and other roles do not open the pages.
func TestSupplierPagesAreTheirs(t *testing.T) {
	x := seeded(t)
	owner, ownerKey := x.domesticParty(t, dataport.RoleSupplier)
	_, otherKey := x.domesticParty(t, dataport.RoleSupplier)
	a := x.browser(t)
	a.signIn(ownerKey)
	created := a.post("/supplier/products", supplierForm("Owner's product"))
	if created.status != http.StatusSeeOther {
		t.Fatalf("create: %s", describe(created))
	}
	path := created.header.Get("Location")
	o := x.browser(t)
	o.signIn(otherKey)
	if p := o.get(path); p.status != http.StatusNotFound {
		t.Errorf("another supplier's draft: %d, want 404", p.status)
	}
	if p := o.post(path, supplierForm("Hijacked")); p.status != http.StatusNotFound {
		t.Errorf("revising another supplier's draft: %d, want 404", p.status)
	}
	if p := x.supplierProducts(t, owner.ID)[0]; p.Details.Title.En != "Owner's product" || p.LatestRevision != 1 {
		t.Errorf("the owner's product changed: %+v", p.Details.Title)
	}
	// An attachment larger than the catalog takes is answered at the file input.
	big := make([]byte, catalog.MaxAttachment+1)
	if p := a.supplierSend(path+"/attachments", url.Values{"kind": {"quality_report"}}, "big.bin", big); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(supplierProblem(p.body, "file"), fmt.Sprint(catalog.MaxAttachment>>20)) {
		t.Errorf("a file too large: %d %q", p.status, supplierProblem(p.body, "file"))
	}
	if p := x.supplierProducts(t, owner.ID)[0]; len(p.Details.Attachments) != 0 || p.LatestRevision != 1 {
		t.Errorf("a refused upload changed the product: revision %d", p.LatestRevision)
	}
	// The buyer's role opens none of them.
	buyer := x.browser(t)
	buyer.signIn(x.keys[dataport.RoleBuyer])
	if p := buyer.get("/supplier"); p.status != http.StatusForbidden {
		t.Errorf("the buyer on /supplier: %d", p.status)
	}
}

// TestAgencyContractThroughThePages: a domestic agent proposes an agency contract
// to a foreign supplier (a bad term first, answered in place, nothing proposed),
// both sign it on the contracts page (a signature that does not verify is
// answered at the signature), the operator certifies it, and the agent creates a
// product for the foreign supplier, which sees it on its own page (R22).
func TestAgencyContractThroughThePages(t *testing.T) {
	x := seeded(t)
	ctx := context.Background()
	agent, agentKey := x.domesticParty(t, dataport.RoleAgent)
	supplier, supplierKey := x.member(t, dataport.RoleSupplier) // foreign
	agentSigner, supplierSigner := newSigningKey(t), newSigningKey(t)
	agentSigner.register(t, x, agent.ID)
	supplierSigner.register(t, x, supplier.ID)

	ab := x.browser(t)
	ab.lang = "en"
	ab.signIn(agentKey)
	page := ab.mustPage("/supplier/contracts", http.StatusOK)
	if !strings.Contains(page.body, `id="propose"`) {
		t.Fatalf("the agent cannot propose a contract:\n%s", clip(page.body))
	}
	today := x.clock.Now().UTC()
	proposal := url.Values{"counterparty": {supplier.ID}, "categories": {"shipping, Energy"},
		"valid_from": {today.AddDate(0, 0, -1).Format(time.DateOnly)}, "valid_until": {today.AddDate(0, 0, -2).Format(time.DateOnly)},
		"terms": {"The agent lists the supplier's data in China. (test)"}}
	p := ab.post("/supplier/contracts", proposal)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(supplierProblem(p.body, "valid_until"), "not before the start") ||
		!strings.Contains(p.body, supplier.ID) {
		t.Fatalf("a term that ends before it starts: %d %q", p.status, supplierProblem(p.body, "valid_until"))
	}
	if cs, _ := x.rules.Contracts(ctx, x.operator, agent.ID); len(cs) != 0 {
		t.Fatalf("a refused proposal made %d contracts", len(cs))
	}
	proposal.Set("valid_until", today.AddDate(1, 0, 0).Format(time.DateOnly))
	if p := ab.post("/supplier/contracts", proposal); p.status != http.StatusSeeOther {
		t.Fatalf("propose: %s", describe(p))
	}
	cs, err := x.rules.Contracts(ctx, x.operator, agent.ID)
	if err != nil || len(cs) != 1 {
		t.Fatalf("contracts after proposing: %d, %v", len(cs), err)
	}
	k := cs[0]
	// Until the contract is certified and in force, the agent lists for no one.
	if editor := ab.mustPage("/supplier/products/new", http.StatusOK); !strings.Contains(editor.body, `id="no-suppliers"`) ||
		strings.Contains(editor.body, `<option value="`+supplier.ID+`"`) {
		t.Errorf("the agent's editor offers the supplier before the contract is certified")
	}
	page = ab.mustPage("/supplier/contracts", http.StatusOK)
	if !strings.Contains(page.body, `action="/supplier/contracts/`+k.ID+`/sign"`) || html.UnescapeString(between(page.body, "data-sign-document>", "</pre>")) != k.Document {
		t.Fatalf("the contract's sign form lacks its document:\n%s", clip(page.body))
	}

	// A signature by another key (the supplier's) does not verify for the agent.
	wrong := supplierSigner.sign(k.Document)
	p = ab.post("/supplier/contracts/"+k.ID+"/sign", url.Values{"key_id": {supplierSigner.id}, "signature": {wrong}})
	if p.status != http.StatusUnprocessableEntity || supplierProblem(p.body, "key_id-"+k.ID) == "" {
		t.Fatalf("another party's key: %d %q", p.status, supplierProblem(p.body, "key_id-"+k.ID))
	}
	wrong = agentSigner.sign(k.Document + " ")
	p = ab.post("/supplier/contracts/"+k.ID+"/sign", url.Values{"key_id": {agentSigner.id}, "signature": {wrong}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(supplierProblem(p.body, "signature-"+k.ID), "does not verify") {
		t.Fatalf("a signature over other bytes: %d %q", p.status, supplierProblem(p.body, "signature-"+k.ID))
	}
	if c, _ := x.rules.Contract(ctx, x.operator, k.ID); c.AgentSignature != nil {
		t.Fatalf("a refused signature was recorded")
	}
	sig := agentSigner.sign(k.Document)
	if p := ab.post("/supplier/contracts/"+k.ID+"/sign", url.Values{"key_id": {agentSigner.id}, "signature": {sig}}); p.status != http.StatusSeeOther {
		t.Fatalf("the agent signs: %s", describe(p))
	}
	// The foreign supplier signs on its page, in Chinese.
	sb := x.browser(t)
	sb.signIn(supplierKey)
	page = sb.mustPage("/supplier/contracts", http.StatusOK)
	if !strings.Contains(page.body, `data-contract="`+k.ID+`"`) || !strings.Contains(page.body, agentSigner.id) {
		t.Fatalf("the supplier's contracts page lacks the contract signed by the agent:\n%s", clip(page.body))
	}
	sig = supplierSigner.sign(k.Document)
	if p := sb.post("/supplier/contracts/"+k.ID+"/sign", url.Values{"key_id": {supplierSigner.id}, "signature": {sig}}); p.status != http.StatusSeeOther {
		t.Fatalf("the supplier signs: %s", describe(p))
	}
	if _, err := x.rules.CertifyContract(ctx, x.operator, k.ID); err != nil {
		t.Fatal(err)
	}
	page = sb.mustPage("/supplier/contracts", http.StatusOK)
	if !strings.Contains(page.body, `data-status="certified"`) || strings.Contains(page.body, `/sign"`) {
		t.Errorf("the certified contract:\n%s", clip(page.body))
	}

	// The agent creates a product for the foreign supplier, which sees it.
	editor := ab.mustPage("/supplier/products/new", http.StatusOK)
	if !strings.Contains(editor.body, `<option value="`+supplier.ID+`"`) {
		t.Fatalf("the agent's editor does not offer the foreign supplier:\n%s", clip(editor.body))
	}
	form := supplierForm("Singapore port calls")
	form.Set("supplier_id", supplier.ID)
	form.Set("origin_jurisdiction", "SG")
	created := ab.post("/supplier/products", form)
	if created.status != http.StatusSeeOther {
		t.Fatalf("the agent creates the supplier's product: %s", describe(created))
	}
	ps := x.supplierProducts(t, supplier.ID)
	if len(ps) != 1 || ps[0].AgentID != agent.ID {
		t.Fatalf("the supplier's products: %+v", ps)
	}
	home := sb.mustPage("/supplier", http.StatusOK)
	if !strings.Contains(home.body, `data-product="`+ps[0].ID+`"`) {
		t.Errorf("the foreign supplier does not see its product")
	}
	own := sb.mustPage(created.header.Get("Location"), http.StatusOK)
	if strings.Contains(own.body, `id="editor"`) || !strings.Contains(own.body, `id="readonly"`) {
		t.Errorf("the foreign supplier may edit the product its agent manages")
	}
	if p := sb.post("/supplier/products", supplierForm("By the supplier itself")); p.status != http.StatusForbidden ||
		!strings.Contains(supplierProblem(p.body, "supplier_id"), "R22") {
		t.Errorf("a foreign supplier creating a product itself: %d %q, want 403 with R22 at the supplier", p.status, supplierProblem(p.body, "supplier_id"))
	}
	if n := len(x.supplierProducts(t, supplier.ID)); n != 1 {
		t.Errorf("the refused product was created: %d products", n)
	}
}
