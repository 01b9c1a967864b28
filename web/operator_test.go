package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/registry"
)

// The operator's pages, as TestEveryPageInBothLanguages opens them: every one is
// the operator's alone (the services let no other role act on any of them).
func init() {
	pageSets["operator"] = func(t testing.TB, x *exchange) []pageCase {
		ctx := context.Background()
		op := []dataport.Role{dataport.RoleOperator}
		listed := x.firstHit(t, "港口")
		packs, err := x.rules.Packs(ctx, x.operator)
		if err != nil || len(packs) == 0 {
			t.Fatalf("packs: %v %v", packs, err)
		}
		supplier := opDomesticSupplier(t, x)
		agent := opMemberWith(t, x, dataport.RoleAgent)
		return []pageCase{
			{path: "/operator", status: http.StatusOK, roles: op},
			{path: "/operator/review", status: http.StatusOK, roles: op},
			{path: "/operator/products/" + listed.ID, status: http.StatusOK, roles: op},
			{path: "/operator/products/prd_nosuchproduct", status: http.StatusNotFound, roles: op},
			{path: "/operator/participants", status: http.StatusOK, roles: op},
			{path: "/operator/participants?kyc=verified&role=supplier&kind=domestic&q=" + url.QueryEscape("上海"), status: http.StatusOK, roles: op},
			{path: "/operator/participants/" + x.world.Operator.ID, status: http.StatusOK, roles: op},
			{path: "/operator/participants/" + supplier.ID, status: http.StatusOK, roles: op},
			{path: "/operator/participants/" + agent.ID, status: http.StatusOK, roles: op},
			{path: "/operator/participants/" + supplier.ID + "/suspend", status: http.StatusOK, roles: op},
			{path: "/operator/participants/par_nosuchparticipant", status: http.StatusNotFound, roles: op},
			{path: "/operator/packs", status: http.StatusOK, roles: op},
			{path: "/operator/packs/" + packs[0].Version, status: http.StatusOK, roles: op},
			{path: "/operator/contracts", status: http.StatusOK, roles: op},
			{path: "/operator/approvals", status: http.StatusOK, roles: op},
			{path: "/operator/approvals?exporter=" + supplier.ID, status: http.StatusOK, roles: op},
			{path: "/operator/harvest", status: http.StatusOK, roles: op},
			{path: "/operator/mirror", status: http.StatusOK, roles: op},
		}
	}
}

// opMemberWith is a verified, active participant of the demo world with role.
func opMemberWith(t testing.TB, x *exchange, role dataport.Role, also ...func(registry.Participant) bool) registry.Participant {
	t.Helper()
	for _, p := range x.world.Members {
		ok := p.Has(role) && p.Status == registry.Active && p.KYC.Status == registry.KYCVerified
		for _, f := range also {
			ok = ok && f(p)
		}
		if ok {
			return p
		}
	}
	t.Fatalf("the demo world has no %s", role)
	return registry.Participant{}
}

// opDomesticSupplier is a domestic supplier of the demo world: its products list
// without an agent.
func opDomesticSupplier(t testing.TB, x *exchange) registry.Participant {
	return opMemberWith(t, x, dataport.RoleSupplier, func(p registry.Participant) bool { return p.Kind == registry.Domestic })
}

// opSubmitted creates and submits a product of the supplier, as its supplier
// would: a general-grade enterprise dataset with the third-party compliance report
// and a use scenario (R20), which the default pack allows to list.
func opSubmitted(t testing.TB, x *exchange, supplier registry.Participant, title string) catalog.Product {
	t.Helper()
	ctx := context.Background()
	as := dataport.Actor{ParticipantID: supplier.ID, Roles: []dataport.Role{dataport.RoleSupplier}}
	report, err := x.cat.UploadAttachment(ctx, as, catalog.NewAttachment{Name: "assessment.md", MediaType: "text/markdown"},
		strings.NewReader("third-party compliance assessment of "+title))
	if err != nil {
		t.Fatal(err)
	}
	d := catalog.Details{Type: "dataset", Title: dataport.Bilingual{Zh: title + "（中文）", En: title},
		Summary: dataport.Bilingual{Zh: "月度数据", En: "Monthly data"}, Category: "logistics", DeliveryModes: []string{"api"},
		Scenarios: []string{"research"}, Source: "enterprise", Grade: "general", Sublevel: 1, OriginJurisdiction: "CN",
		Rights:      catalog.Rights{Holding: true},
		PricePlans:  []catalog.PricePlan{{Kind: "one_off", Price: dataport.Money{Amount: 100000, Currency: "CNY"}}},
		Attachments: []catalog.Attachment{{Kind: "compliance_report", SHA256: report.SHA256}}}
	p, err := x.cat.Create(ctx, as, catalog.NewProduct{SupplierID: supplier.ID, Details: d})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = x.cat.Submit(ctx, as, p.ID); err != nil {
		t.Fatal(err)
	}
	return p
}

// opListed is a product of the supplier taken through the whole workflow.
func opListed(t testing.TB, x *exchange, supplier registry.Participant, title string) catalog.Product {
	t.Helper()
	p := opSubmitted(t, x, supplier, title)
	ctx := context.Background()
	if _, err := x.cat.StartReview(ctx, x.operator, p.ID); err != nil {
		t.Fatal(err)
	}
	p, err := x.cat.Approve(ctx, x.operator, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (x *exchange) opProduct(t testing.TB, id string) catalog.Product {
	t.Helper()
	p, err := x.cat.Get(context.Background(), x.operator, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (x *exchange) opParticipant(t testing.TB, id string) registry.Participant {
	t.Helper()
	p, err := x.reg.GetParticipant(context.Background(), x.operator, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// opMustSee fails unless the page has every one of wants (HTML unescaped).
func opMustSee(t testing.TB, what string, p page, wants ...string) {
	t.Helper()
	body := html.UnescapeString(p.body)
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, clip(p.body))
		}
	}
}

// opProblemAt is the problem shown under an input, "" when none is.
func opProblemAt(p page, input string) string {
	m := regexp.MustCompile(`id="problems-` + regexp.QuoteMeta(input) + `"[^>]*>(.*?)</div>`).FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], ""))
}

// TestOperatorReview: a submitted product is in the review queue with what the
// rules say of it; rejecting without a reason is answered at the reasons and
// changes nothing; starting the review and approving lists it with its
// registration number, and the filed listing assessment is shown.
func TestOperatorReview(t *testing.T) {
	x := fresh(t, dataport.SystemClock{})
	supplier := opDomesticSupplier(t, x)
	p := opSubmitted(t, x, supplier, "Yangshan berth occupancy")
	b := x.browser(t)
	b.lang = "en"
	b.signIn(x.keys[dataport.RoleOperator])

	home := b.mustPage("/operator", http.StatusOK)
	if got := between(home.body, `id="count-queue">`, `<`); got != "1" {
		t.Errorf("the overview counts %q products in review", got)
	}
	queue := b.mustPage("/operator/review", http.StatusOK)
	row := between(queue.body, `data-product="`+p.ID+`"`, `</tr>`)
	if !strings.Contains(row, "Submitted") || !strings.Contains(row, "outcome-allow") {
		t.Fatalf("the queue's row: %s", row)
	}
	page := b.mustPage("/operator/products/"+p.ID, http.StatusOK)
	// Submission filed the listing assessment: the review shows it.
	opMustSee(t, "the product's review", page, "Listing assessment (filed)", `data-outcome="allow"`, `id="start"`)

	// Not under review yet: the console offers no approval, and the catalog
	// refuses one in place.
	if strings.Contains(page.body, `id="approve"`) {
		t.Errorf("approve offered for a submitted product")
	}
	refused := b.post("/operator/products/"+p.ID+"/approve", url.Values{})
	if refused.status != http.StatusConflict || !strings.Contains(refused.body, `id="refused"`) {
		t.Errorf("approving a submitted product: %s", describe(refused))
	}

	if got := b.post("/operator/products/"+p.ID+"/start", url.Values{}); got.status != http.StatusSeeOther {
		t.Fatalf("start review: %s", describe(got))
	}
	if st := x.opProduct(t, p.ID).Status; st != catalog.UnderReview {
		t.Fatalf("after starting the review: %s", st)
	}
	bad := b.post("/operator/products/"+p.ID+"/reject", url.Values{"reasons": {"  \n "}})
	if bad.status != http.StatusUnprocessableEntity || opProblemAt(bad, "reasons") == "" {
		t.Fatalf("a rejection without reasons: %s", describe(bad))
	}
	if st := x.opProduct(t, p.ID).Status; st != catalog.UnderReview {
		t.Errorf("the refused rejection changed the product: %s", st)
	}
	ok := b.post("/operator/products/"+p.ID+"/approve", url.Values{})
	if ok.status != http.StatusSeeOther || ok.header.Get("Location") != "/operator/products/"+p.ID+"?done=listed" {
		t.Fatalf("approve: %s", describe(ok))
	}
	listed := x.opProduct(t, p.ID)
	if listed.Status != catalog.Listed || listed.RegistrationNumber == "" {
		t.Fatalf("after approval: %s %q", listed.Status, listed.RegistrationNumber)
	}
	after := b.mustPage(ok.header.Get("Location"), http.StatusOK)
	opMustSee(t, "the listed product", after, `id="regno">`+listed.RegistrationNumber, "Listing assessment (filed)", `data-done="listed"`)
	if q := b.mustPage("/operator/review", http.StatusOK); !strings.Contains(q.body, `id="queue-empty"`) {
		t.Errorf("the queue still holds the listed product")
	}

	// Suspending a listing needs a reason; resuming lists it again.
	if got := b.post("/operator/products/"+p.ID+"/suspend", url.Values{"reason": {""}}); got.status != http.StatusUnprocessableEntity || opProblemAt(got, "suspend-reason") == "" {
		t.Errorf("a suspension without a reason: %s", describe(got))
	}
	if got := b.post("/operator/products/"+p.ID+"/suspend", url.Values{"reason": {"complaint under review"}}); got.status != http.StatusSeeOther {
		t.Fatalf("suspend: %s", describe(got))
	}
	if st := x.opProduct(t, p.ID).Status; st != catalog.Suspended {
		t.Errorf("after suspending: %s", st)
	}
	if got := b.post("/operator/products/"+p.ID+"/resume", url.Values{}); got.status != http.StatusSeeOther || x.opProduct(t, p.ID).Status != catalog.Listed {
		t.Errorf("resume: %s", describe(got))
	}
}

// TestOperatorSuspension: the confirmation says what a suspension will do; a
// suspension without a reason is answered in place and changes nothing; one POST
// suspends, and the participant's page shows the cascade read from the filings
// (its listed product suspended with it); resuming lists the product again.
func TestOperatorSuspension(t *testing.T) {
	x := fresh(t, dataport.SystemClock{})
	supplier := opDomesticSupplier(t, x)
	p := opListed(t, x, supplier, "Ningbo truck arrivals")
	b := x.browser(t)
	b.lang = "en"
	b.signIn(x.keys[dataport.RoleOperator])
	base := "/operator/participants/" + supplier.ID

	confirm := b.mustPage(base+"/suspend", http.StatusOK)
	opMustSee(t, "the confirmation", confirm, "1 listed products are suspended with it.", `id="suspend-submit"`)
	bad := b.post(base+"/suspend", url.Values{"reason": {" "}})
	if bad.status != http.StatusUnprocessableEntity || opProblemAt(bad, "reason") == "" {
		t.Fatalf("a suspension without a reason: %s", describe(bad))
	}
	if st := x.opParticipant(t, supplier.ID).Status; st != registry.Active {
		t.Fatalf("the refused suspension changed the participant: %s", st)
	}
	got := b.post(base+"/suspend", url.Values{"reason": {"unpaid fees"}})
	if got.status != http.StatusSeeOther || got.header.Get("Location") != base+"?done=suspended" {
		t.Fatalf("suspend: %s", describe(got))
	}
	if st := x.opParticipant(t, supplier.ID).Status; st != registry.Suspended {
		t.Fatalf("after the suspension: %s", st)
	}
	if st := x.opProduct(t, p.ID).Status; st != catalog.Suspended {
		t.Fatalf("the listed product is %s after its supplier's suspension", st)
	}
	page := b.mustPage(got.header.Get("Location"), http.StatusOK)
	cascade := between(page.body, `id="cascade"`, `</div>`)
	if !strings.Contains(cascade, `data-kind="suspended"`) || !strings.Contains(cascade, `data-type="product_suspended" data-subject="`+p.ID+`"`) {
		t.Fatalf("the cascade shown: %s", cascade)
	}
	opMustSee(t, "the suspended participant", page, `id="resume"`, "Listed product suspended")
	if strings.Contains(page.body, `href="`+base+`/suspend"`) {
		t.Errorf("a suspended participant is offered suspension again")
	}
	// The confirmation of a suspended participant goes back to its page.
	if again := b.get(base + "/suspend"); again.status != http.StatusSeeOther {
		t.Errorf("the confirmation of a suspended participant: %s", describe(again))
	}

	if got := b.post(base+"/resume", url.Values{"note": {"fees paid"}}); got.status != http.StatusSeeOther {
		t.Fatalf("resume: %s", describe(got))
	}
	if st := x.opProduct(t, p.ID).Status; st != catalog.Listed {
		t.Errorf("the product is %s after the resume", st)
	}
	page = b.mustPage(base, http.StatusOK)
	cascade = between(page.body, `id="cascade"`, `</div>`)
	if !strings.Contains(cascade, `data-kind="resumed"`) || !strings.Contains(cascade, `data-type="product_resumed" data-subject="`+p.ID+`"`) {
		t.Errorf("the resume's cascade shown: %s", cascade)
	}
	// The exchange operator itself is never offered a suspension.
	if op := b.mustPage("/operator/participants/"+x.world.Operator.ID, http.StatusOK); strings.Contains(op.body, `id="suspension"`) {
		t.Errorf("the operator's own page offers its suspension")
	}
}

// TestOperatorParticipantForms: a new participant with bad input is answered at
// its inputs and not registered; its record changed, a stale version refused; KYC rejected without a note, a whitelist entry
// already past and funding with a bad amount each come back at their input and
// change nothing; the good ones are recorded, and funding sent twice funds once.
func TestOperatorParticipantForms(t *testing.T) {
	x := fresh(t, dataport.SystemClock{})
	b := x.browser(t)
	b.lang = "en"
	b.signIn(x.keys[dataport.RoleOperator])
	ctx := context.Background()
	count := func() int {
		ps, _, err := x.reg.ListParticipants(ctx, x.operator, registry.ListFilter{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}
	before := count()
	bad := b.post("/operator/participants", url.Values{"name_en": {"Nordkyst Fisheries AS"}, "kind": {"foreign"}, "jurisdiction": {"CN"}, "roles": {"supplier"}})
	if bad.status != http.StatusUnprocessableEntity || opProblemAt(bad, "jurisdiction") == "" || opProblemAt(bad, "registration_number") == "" {
		t.Fatalf("a bad participant: %s", describe(bad))
	}
	if !strings.Contains(bad.body, `value="Nordkyst Fisheries AS"`) {
		t.Errorf("the form lost what was typed")
	}
	if noRole := b.post("/operator/participants", url.Values{"name_en": {"X"}, "kind": {"foreign"}}); noRole.status != http.StatusUnprocessableEntity || opProblemAt(noRole, "roles") == "" {
		t.Errorf("no role: %s", describe(noRole))
	}
	if count() != before {
		t.Fatalf("a refused form registered a participant")
	}
	made := b.post("/operator/participants", url.Values{"name_en": {"Nordkyst Fisheries AS"}, "kind": {"foreign"}, "jurisdiction": {"NO"},
		"registration_number": {"987654321"}, "roles": {"supplier"}})
	if made.status != http.StatusSeeOther || !strings.HasPrefix(made.header.Get("Location"), "/operator/participants/") {
		t.Fatalf("register: %s", describe(made))
	}
	id := strings.TrimPrefix(strings.Split(made.header.Get("Location"), "?")[0], "/operator/participants/")
	page := b.mustPage(made.header.Get("Location"), http.StatusOK)
	opMustSee(t, "the new participant", page, "Nordkyst Fisheries AS", `id="kyc-badge"`, "Pending")

	base := "/operator/participants/" + id

	// Its record: a bad e-mail at the e-mail; a stale version refused; then saved.
	edit := url.Values{"name_en": {"Nordkyst Fisheries AS"}, "roles": {"supplier", "buyer"}, "contact_email": {"not-an-address"},
		"version": {between(page.body, `name="version" value="`, `"`)}}
	if got := b.post(base, edit); got.status != http.StatusUnprocessableEntity || opProblemAt(got, "edit-contact_email") == "" {
		t.Fatalf("a bad e-mail: %s", describe(got))
	}
	edit.Set("contact_email", "data@nordkyst.example")
	stale := url.Values{}
	for k, v := range edit {
		stale[k] = v
	}
	stale.Set("version", "1000")
	if got := b.post(base, stale); got.status != http.StatusConflict || !strings.Contains(got.body, `id="refused"`) {
		t.Errorf("a stale version: %s", describe(got))
	}
	if got := b.post(base, edit); got.status != http.StatusSeeOther {
		t.Fatalf("update: %s", describe(got))
	}
	if p := x.opParticipant(t, id); p.Contact.Email != "data@nordkyst.example" || !p.Has(dataport.RoleBuyer) {
		t.Errorf("after the update: %+v", p)
	}
	if got := b.post(base+"/kyc", url.Values{"status": {"rejected"}, "note": {""}}); got.status != http.StatusUnprocessableEntity || opProblemAt(got, "kyc-note") == "" {
		t.Fatalf("KYC rejected without a note: %s", describe(got))
	}
	if k := x.opParticipant(t, id).KYC; k.Status != registry.KYCPending {
		t.Fatalf("the refused review changed KYC to %s", k.Status)
	}
	if got := b.post(base+"/kyc", url.Values{"status": {"verified"}, "note": {"documents checked"}}); got.status != http.StatusSeeOther {
		t.Fatalf("KYC: %s", describe(got))
	}
	if k := x.opParticipant(t, id).KYC; k.Status != registry.KYCVerified || k.Note != "documents checked" {
		t.Errorf("KYC after the review: %+v", k)
	}

	// The whitelist is for domestic agents (R22).
	agent := opMemberWith(t, x, dataport.RoleAgent)
	wl := "/operator/participants/" + agent.ID + "/whitelist"
	if got := b.post(wl, url.Values{"reference": {"MOFCOM-9"}, "valid_until": {"2001-01-01"}}); got.status != http.StatusUnprocessableEntity || opProblemAt(got, "wl-until") == "" {
		t.Fatalf("a whitelist entry already past: %s", describe(got))
	}
	if got := b.post(wl, url.Values{"reference": {"MOFCOM-9"}, "valid_until": {"2099-12-31"}}); got.status != http.StatusSeeOther {
		t.Fatalf("whitelist: %s", describe(got))
	}
	if w := x.opParticipant(t, agent.ID).Whitelist; w == nil || w.Reference != "MOFCOM-9" {
		t.Errorf("the whitelist entry: %+v", w)
	}

	// Funding: bad amounts at the amount; the same form sent twice funds once.
	buyer := opMemberWith(t, x, dataport.RoleBuyer)
	fund := "/operator/participants/" + buyer.ID + "/fund"
	for _, amount := range []string{"", "-5", "1.234", "abc"} {
		if got := b.post(fund, url.Values{"amount": {amount}, "currency": {"CNY"}, "key": {"k1"}}); got.status != http.StatusUnprocessableEntity || opProblemAt(got, "fund-amount") == "" {
			t.Errorf("funding %q: %s", amount, describe(got))
		}
	}
	if got := b.post(fund, url.Values{"amount": {"10"}, "currency": {"XX1"}, "key": {"k1"}}); got.status != http.StatusUnprocessableEntity || opProblemAt(got, "fund-currency") == "" {
		t.Errorf("funding in no currency: %s", describe(got))
	}
	key := between(b.mustPage("/operator/participants/"+buyer.ID, http.StatusOK).body, `name="key" value="`, `"`)
	if key == "" {
		t.Fatal("the funding form carries no idempotency key")
	}
	for i := 0; i < 2; i++ {
		if got := b.post(fund, url.Values{"amount": {"1,500.50"}, "currency": {"CNY"}, "key": {key}}); got.status != http.StatusSeeOther {
			t.Fatalf("fund: %s", describe(got))
		}
	}
	bal, err := x.deals.Balances(ctx, x.operator, buyer.ID)
	if err != nil || len(bal) != 1 || bal[0].Balance.Amount != 150050 {
		t.Errorf("the balance after funding twice with one key: %+v %v", bal, err)
	}
	opMustSee(t, "the funded participant", b.mustPage("/operator/participants/"+buyer.ID, http.StatusOK), "CNY 1,500.50")
}

// TestOperatorRulePacks: a pack that does not compile is answered at the source
// with the rule and the line; one whose own case fails is refused with every
// case's result, the failing one marked; a good one is stored and activated.
func TestOperatorRulePacks(t *testing.T) {
	x := fresh(t, dataport.SystemClock{})
	b := x.browser(t)
	b.lang = "en"
	b.signIn(x.keys[dataport.RoleOperator])
	src := string(compliance.DefaultPackSource)
	packs := func() int {
		ps, err := x.rules.Packs(context.Background(), x.operator)
		if err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}
	before := packs()

	if got := b.post("/operator/packs", url.Values{"source": {""}}); got.status != http.StatusUnprocessableEntity || opProblemAt(got, "source") == "" {
		t.Errorf("an empty pack: %s", describe(got))
	}
	broken := strings.Replace(src, `(recipient.restricted || recipient.id`, `(recipient.restricted || || recipient.id`, 1)
	got := b.post("/operator/packs", url.Values{"source": {broken}})
	if got.status != http.StatusUnprocessableEntity || !strings.Contains(opProblemAt(got, "source"), "rule R15") {
		t.Fatalf("a pack that does not compile: %s", describe(got))
	}
	failing := strings.Replace(src, "expect: {outcome: deny, fired: [R1]}", "expect: {outcome: allow, fired: [R1]}", 1)
	got = b.post("/operator/packs", url.Values{"source": {failing}})
	if got.status != http.StatusUnprocessableEntity || !strings.Contains(opProblemAt(got, "source"), "outcome deny, want allow") {
		t.Fatalf("a pack with a failing case: %s", describe(got))
	}
	if n := strings.Count(got.body, `data-passed="false"`); n != 1 || !strings.Contains(got.body, `data-passed="true"`) {
		t.Errorf("%d failing cases shown", n)
	}
	if packs() != before {
		t.Fatalf("a refused pack was stored")
	}

	good := strings.Replace(src, `version: "2026.11.1"`, `version: "2026.12.1"`, 1)
	got = b.post("/operator/packs", url.Values{"source": {good}})
	if got.status != http.StatusSeeOther || got.header.Get("Location") != "/operator/packs/2026.12.1?done=uploaded" {
		t.Fatalf("a good pack: %s", describe(got))
	}
	page := b.mustPage(got.header.Get("Location"), http.StatusOK)
	opMustSee(t, "the stored pack", page, `data-status="uploaded"`, `id="activate"`)
	if strings.Contains(page.body, `data-passed="false"`) {
		t.Errorf("a stored pack shows a failing case")
	}
	if again := b.post("/operator/packs", url.Values{"source": {good}}); again.status != http.StatusConflict {
		t.Errorf("the same version again: %s", describe(again))
	}
	if got := b.post("/operator/packs/2026.12.1/activate", url.Values{}); got.status != http.StatusSeeOther {
		t.Fatalf("activate: %s", describe(got))
	}
	opMustSee(t, "the active pack", b.mustPage("/operator/packs/2026.12.1", http.StatusOK), `data-status="active"`)
	if got := b.post("/operator/packs/2026.12.1/activate", url.Values{}); got.status != http.StatusConflict || !strings.Contains(got.body, `id="refused"`) {
		t.Errorf("activating the active pack: %s", describe(got))
	}
}

// TestOperatorQueuesAndSources: bad input to the approval, harvest source and
// mirror upstream forms comes back at the inputs with nothing recorded; a feed
// source is added and run from the page, its report shown.
func TestOperatorQueuesAndSources(t *testing.T) {
	x := fresh(t, dataport.SystemClock{})
	b := x.browser(t)
	b.lang = "en"
	b.signIn(x.keys[dataport.RoleOperator])
	ctx := context.Background()
	supplier := opDomesticSupplier(t, x)

	got := b.post("/operator/approvals", url.Values{"kind": {"standard_contract"}, "exporter_id": {supplier.ID}, "reference": {""}, "issued_on": {"2026-13-01"}})
	if got.status != http.StatusUnprocessableEntity || opProblemAt(got, "reference") == "" || opProblemAt(got, "issued_on") == "" ||
		opProblemAt(got, "effective_on") == "" || opProblemAt(got, "evidence_sha256") == "" {
		t.Fatalf("a bad approval: %s", describe(got))
	}
	if as, err := x.rules.Approvals(ctx, x.operator, supplier.ID); err != nil || len(as) != 0 {
		t.Fatalf("a refused approval was recorded: %v %v", as, err)
	}

	got = b.post("/operator/harvest", url.Values{"name": {""}, "kind": {"feed"}, "location": {"x.csv"}, "supplier_id": {supplier.ID}})
	if got.status != http.StatusUnprocessableEntity || opProblemAt(got, "name") == "" || opProblemAt(got, "scenarios") == "" || opProblemAt(got, "compliance_report") == "" {
		t.Fatalf("a bad source: %s", describe(got))
	}
	as := dataport.Actor{ParticipantID: supplier.ID, Roles: []dataport.Role{dataport.RoleSupplier}}
	report, err := x.cat.UploadAttachment(ctx, as, catalog.NewAttachment{Name: "catalog-assessment.md", MediaType: "text/markdown"},
		strings.NewReader("third-party assessment of the partner's catalog"))
	if err != nil {
		t.Fatal(err)
	}
	feed := filepath.Join(t.TempDir(), "partner.csv")
	if err := os.WriteFile(feed, []byte("id,title_zh,title_en,summary_en,license\r\nPX-1,上海港吞吐量,Shanghai port throughput,Monthly TEU,CC-BY-4.0\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got = b.post("/operator/harvest", url.Values{"name": {"Partner feed"}, "kind": {"feed"}, "location": {feed}, "supplier_id": {supplier.ID},
		"scenarios": {"research"}, "compliance_report": {report.SHA256}, "category": {"logistics"}})
	if got.status != http.StatusSeeOther {
		t.Fatalf("add a source: %s", describe(got))
	}
	sources, err := x.harvests.Sources(ctx, x.operator)
	if err != nil || len(sources) != 1 {
		t.Fatalf("sources %v %v", sources, err)
	}
	run := b.post("/operator/harvest/"+sources[0].ID+"/run", url.Values{})
	if run.status != http.StatusOK || !strings.Contains(run.body, `id="run-report" data-status="succeeded"`) {
		t.Fatalf("run: %s", describe(run))
	}
	opMustSee(t, "the run's report", run, "1 records read: 1 added")
	if page := b.mustPage("/operator/harvest", http.StatusOK); !strings.Contains(page.body, `<tr data-status="succeeded">`) {
		t.Errorf("the source's runs do not show the run")
	}

	got = b.post("/operator/mirror", url.Values{"name": {"deal-x"}, "endpoint": {"s3.example.com"}, "bucket": {"weather"}})
	if got.status != http.StatusUnprocessableEntity || opProblemAt(got, "name") == "" {
		t.Fatalf("a bad upstream: %s", describe(got))
	}
	if ups, err := x.mirrors.Upstreams(ctx, x.operator); err != nil || len(ups) != 0 {
		t.Errorf("a refused upstream was registered: %v %v", ups, err)
	}
	got = b.post("/operator/mirror", url.Values{"name": {"open-weather"}, "endpoint": {"s3.example.com"}, "bucket": {"weather"}, "access_key": {"AKIAEXAMPLE"}, "secret_key": {"hidden-secret-value"}})
	if got.status != http.StatusSeeOther {
		t.Fatalf("register an upstream: %s", describe(got))
	}
	page := b.mustPage("/operator/mirror", http.StatusOK)
	opMustSee(t, "the mirror", page, `data-upstream="open-weather"`, "0 objects cached")
	if strings.Contains(page.body, "hidden-secret-value") {
		t.Errorf("the mirror page shows a secret")
	}
}
