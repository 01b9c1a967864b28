package web_test

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/lending"
)

// The financing pages beyond the dashboard and the portfolio, over plain HTTP:
// a merchant connects a shop, grants and revokes consents, applies against an
// offer and reads the decision; an institution subscribes with its criteria,
// terms and rules, changes them, pauses, resumes and cancels, and reads the
// applications. Every form answers bad input at its field (422) and changes
// nothing.

func init() {
	pageSets["financing-more"] = financingPages
}

// financingPages are the financing pages beyond the dashboard and the portfolio,
// as the demo's merchant and bank (the financing world's) open them.
func financingPages(t testing.TB, x *exchange) []pageCase {
	_, f := financedWorld(t)
	bank := dataport.Actor{ParticipantID: f.bank.ID, Roles: []dataport.Role{dataport.RoleFinancialInstitution}}
	subs, err := x.lend.Subscriptions(context.Background(), bank, lending.SubscriptionFilter{InstitutionID: f.bank.ID})
	if err != nil || len(subs) == 0 {
		t.Fatalf("the bank's subscriptions: %v %d", err, len(subs))
	}
	m := []dataport.Role{dataport.RoleMerchant}
	fi := []dataport.Role{dataport.RoleFinancialInstitution}
	return []pageCase{
		{path: "/merchant/shops", status: http.StatusOK, roles: m},
		{path: "/merchant/consents", status: http.StatusOK, roles: m},
		{path: "/merchant/offers/" + f.loan.OfferID, status: http.StatusOK, roles: m},
		{path: "/merchant/offers/ofr_nosuchoffer", status: http.StatusNotFound, roles: m},
		{path: "/merchant/applications/" + f.loan.ApplicationID, status: http.StatusOK, roles: m},
		{path: "/institution/subscriptions/new", status: http.StatusOK, roles: fi},
		{path: "/institution/subscriptions/" + subs[0].ID, status: http.StatusOK, roles: fi},
		{path: "/institution/subscriptions/sub_nosuchsubscription", status: http.StatusNotFound, roles: fi},
		{path: "/institution/applications/" + f.loan.ApplicationID, status: http.StatusOK, roles: fi},
	}
}

// problemAt returns the problems shown under an input.
func problemAt(body, input string) string {
	return html.UnescapeString(between(body, `id="problems-`+input+`" aria-live="polite">`, `</div>`))
}

// TestMerchantShopsPage: a bad shop is refused at its inputs with what was typed,
// a shop connected already at its id, and a good one is connected.
func TestMerchantShopsPage(t *testing.T) {
	x, _ := financedWorld(t)
	m, key, _ := x.newMerchant(t, 4)
	self := dataport.Actor{ParticipantID: m.ID, Roles: []dataport.Role{dataport.RoleMerchant}}
	ctx := context.Background()
	before, err := x.fin.Shops(ctx, self, m.ID)
	if err != nil || len(before) == 0 {
		t.Fatalf("shops: %v %d", err, len(before))
	}
	b := x.browser(t)
	b.lang = "en"
	b.signIn(key)
	p := b.mustPage("/merchant/shops", http.StatusOK)
	for _, s := range before {
		if !strings.Contains(p.body, `data-shop="`+s.ID+`"`) {
			t.Errorf("the shops page lacks %s", s.ID)
		}
	}
	p = b.post("/merchant/shops", url.Values{"platform": {"Tao bao!"}, "external_id": {"S-1"}, "name": {""}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("a bad shop: %s", describe(p))
	}
	if !strings.Contains(problemAt(p.body, "platform"), "lower-case letters") || !strings.Contains(problemAt(p.body, "name"), "1 to 200") {
		t.Errorf("the problems are not at their inputs:\n%s", clip(between(p.body, `id="connect"`, `</section>`)))
	}
	if !strings.Contains(p.body, `value="Tao bao!"`) || !strings.Contains(p.body, `value="S-1"`) {
		t.Errorf("the form does not keep what was typed")
	}
	p = b.post("/merchant/shops", url.Values{"platform": {before[0].Platform}, "external_id": {before[0].ExternalID}, "name": {"again"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(problemAt(p.body, "external_id"), "connected this platform's shop already") {
		t.Errorf("a shop connected already: %s", describe(p))
	}
	if after, _ := x.fin.Shops(ctx, self, m.ID); len(after) != len(before) {
		t.Fatalf("refused forms connected shops: %d, were %d", len(after), len(before))
	}
	p = b.post("/merchant/shops", url.Values{"platform": {"JD"}, "external_id": {"jd-778812"}, "name": {"京东旗舰店"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/merchant/shops" {
		t.Fatalf("connect: %s", describe(p))
	}
	after, _ := x.fin.Shops(ctx, self, m.ID)
	if len(after) != len(before)+1 || after[len(after)-1].Platform != "jd" || after[len(after)-1].Name != "京东旗舰店" {
		t.Fatalf("shops after connecting: %+v", after)
	}
	if p := b.mustPage("/merchant/shops", http.StatusOK); !strings.Contains(p.body, `data-shop="`+after[len(after)-1].ID+`"`) {
		t.Errorf("the new shop is not listed")
	}
}

// TestMerchantConsentsPage: a consent without institutions or scope, or for longer
// than a year, is refused at its inputs and none is granted; a good one is
// granted to the institution ticked, names it, and is revoked once.
func TestMerchantConsentsPage(t *testing.T) {
	x, f := financedWorld(t)
	m, key := x.member(t, dataport.RoleMerchant)
	self := dataport.Actor{ParticipantID: m.ID, Roles: []dataport.Role{dataport.RoleMerchant}}
	ctx := context.Background()
	b := x.browser(t)
	b.lang = "en"
	b.signIn(key)
	p := b.mustPage("/merchant/consents", http.StatusOK)
	// Every institution a consent may name is offered, by name.
	if !strings.Contains(p.body, `name="institution" value="`+f.bank.ID+`"`) || !strings.Contains(p.body, f.bank.LegalName.En) {
		t.Fatalf("the form does not offer the bank:\n%s", clip(between(p.body, `id="grant"`, `</section>`)))
	}
	p = b.post("/merchant/consents", url.Values{"days": {"30"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(problemAt(p.body, "institution"), "at least one financial institution") ||
		!strings.Contains(problemAt(p.body, "scope"), "at least one of score") {
		t.Errorf("a consent naming nothing: %s", describe(p))
	}
	p = b.post("/merchant/consents", url.Values{"institution": {f.bank.ID}, "scope": {"score", "features"}, "days": {"400"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(problemAt(p.body, "days"), "from 1 to 366") {
		t.Errorf("a consent for 400 days: %s", describe(p))
	}
	// What was ticked stays ticked.
	if !regexp.MustCompile(`value="`+f.bank.ID+`" checked`).MatchString(p.body) || !strings.Contains(p.body, `value="features" checked`) {
		t.Errorf("the refused form lost what was ticked")
	}
	p = b.post("/merchant/consents", url.Values{"institution": {f.bank.ID}, "scope": {"score"}, "days": {"zero"}})
	if p.status != http.StatusUnprocessableEntity || problemAt(p.body, "days") == "" {
		t.Errorf("a consent for zero days: %s", describe(p))
	}
	if list, _ := x.lend.Consents(ctx, self, lending.ConsentFilter{MerchantID: m.ID}); len(list) != 0 {
		t.Fatalf("refused forms granted %d consents", len(list))
	}
	p = b.post("/merchant/consents", url.Values{"institution": {f.bank.ID}, "scope": {"score", "orders"}, "days": {"30"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("grant: %s", describe(p))
	}
	list, err := x.lend.Consents(ctx, self, lending.ConsentFilter{MerchantID: m.ID})
	if err != nil || len(list) != 1 {
		t.Fatalf("consents: %v %d", err, len(list))
	}
	c := list[0]
	if len(c.Institutions) != 1 || c.Institutions[0] != f.bank.ID || len(c.Scope) != 2 || c.Status != "active" ||
		c.ExpiresAt.Sub(x.clock.Now()).Hours() < 29*24 || c.ExpiresAt.Sub(x.clock.Now()).Hours() > 30*24 {
		t.Fatalf("the consent granted: %+v", c)
	}
	p = b.mustPage("/merchant/consents", http.StatusOK)
	row := between(p.body, `data-consent="`+c.ID+`"`, `</tr>`)
	if !strings.Contains(row, f.bank.LegalName.En) || !strings.Contains(row, "Order data") || !strings.Contains(row, "/revoke") {
		t.Errorf("the consent's row: %s", row)
	}
	if p := b.post("/merchant/consents/"+c.ID+"/revoke", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %s", describe(p))
	}
	if c, _ = x.lend.Consent(ctx, self, c.ID); c.Status != "revoked" {
		t.Fatalf("after revoking: %s", c.Status)
	}
	if p := b.post("/merchant/consents/"+c.ID+"/revoke", url.Values{}); p.status != http.StatusConflict {
		t.Errorf("revoking twice: %d", p.status)
	}
	// Another merchant's consent is not there to revoke.
	other := x.browser(t)
	other.signIn(f.merchantKey)
	if p := other.post("/merchant/consents/"+c.ID+"/revoke", url.Values{}); p.status != http.StatusNotFound {
		t.Errorf("revoking another merchant's consent: %d", p.status)
	}
}

// subscriptionForm is the subscription form as a browser sends it, filled in.
func subscriptionForm(pairs ...string) url.Values {
	v := url.Values{"product": {"order_financing"}, "min_line": {"0"}, "max_line": {"100000000"}, "max_amount": {"80000"},
		"rate": {"7.5"}, "term_days": {"45"}, "share": {"40"}, "valid_days": {"5"}, "score_floor": {"300"},
		"rules": {"exposure | outstanding + amount <= 50000000 | more than 500,000 CNY outstanding with us\n"}}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Set(pairs[i], pairs[i+1])
	}
	return v
}

// TestFinancingJourneyOverHTTP: an institution of the test's own subscribes
// through the form (bad amounts and a rule that does not compile refused at their
// inputs first); a merchant of its own consents to it through its form and has
// its credit decided, and the offer reaches it. Its application is declined by a
// rule the institution sets, then approved under the rules set back: each
// decision shows its reasons and rules, the approved one its loan, which the
// institution sees too. The institution pauses, resumes and cancels.
func TestFinancingJourneyOverHTTP(t *testing.T) {
	x, f := financedWorld(t)
	ctx := context.Background()
	bankP, bankKey := x.member(t, dataport.RoleFinancialInstitution)
	bank := dataport.Actor{ParticipantID: bankP.ID, Roles: []dataport.Role{dataport.RoleFinancialInstitution}}
	bb := x.browser(t)
	bb.lang = "en"
	bb.signIn(bankKey)
	bb.mustPage("/institution/subscriptions/new", http.StatusOK)

	// Bad input: answered at the inputs, nothing subscribed.
	p := bb.post("/institution/subscriptions", subscriptionForm("max_line", "lots", "rate", "30"))
	if p.status != http.StatusUnprocessableEntity || problemAt(p.body, "max_line") == "" || !strings.Contains(p.body, `value="lots"`) {
		t.Fatalf("an amount that is not one: %s", describe(p))
	}
	p = bb.post("/institution/subscriptions", subscriptionForm("min_line", "5000", "max_line", "1000", "rate", "30", "grades", "F",
		"rules", "ok | score >= | bad\nno pipes here\n"))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad fields: %s", describe(p))
	}
	if !strings.Contains(problemAt(p.body, "rules"), "Line 2") {
		t.Errorf("the rules' line without its parts: %q", problemAt(p.body, "rules"))
	}
	p = bb.post("/institution/subscriptions", subscriptionForm("min_line", "5000", "max_line", "1000", "rate", "30", "grades", "F",
		"rules", "ok | score >= | bad"))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad fields: %s", describe(p))
	}
	for input, want := range map[string]string{"max_line": "highest at least the lowest", "rate": "from 0 to 24",
		"grades": "among A to E", "rules": "Rule 1, expr"} {
		if got := problemAt(p.body, input); !strings.Contains(got, want) {
			t.Errorf("the problem at %s is %q, want %q", input, got, want)
		}
	}
	if subs, _ := x.lend.Subscriptions(ctx, bank, lending.SubscriptionFilter{}); len(subs) != 0 {
		t.Fatalf("refused forms subscribed: %d", len(subs))
	}
	p = bb.post("/institution/subscriptions", subscriptionForm())
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/institution/subscriptions/sub_") {
		t.Fatalf("subscribe: %s", describe(p))
	}
	subPath := p.header.Get("Location")
	subs, err := x.lend.Subscriptions(ctx, bank, lending.SubscriptionFilter{})
	if err != nil || len(subs) != 1 {
		t.Fatalf("subscriptions: %v %d", err, len(subs))
	}
	sub := subs[0]
	if sub.Terms.RateBPS != 750 || sub.Terms.RepaymentShareBPS != 4000 || sub.Terms.MaxAmount.Amount != 8_000_000 ||
		sub.Criteria.MaxLine.Amount != 10_000_000_000 || len(sub.Rules) != 2 || sub.Rules[1].Expr != "score >= 300" {
		t.Fatalf("the subscription: %+v", sub)
	}
	if p := bb.mustPage(subPath, http.StatusOK); !strings.Contains(p.body, `data-rule="score_floor"`) || !strings.Contains(p.body, "7.5") && !strings.Contains(p.body, "750 bp") {
		t.Errorf("the subscription's page:\n%s", clip(between(p.body, `id="subscription"`, `</section>`)))
	}

	// The merchant consents to the bank through its form and has its credit
	// decided: the offer reaches it.
	m, key, csv := x.newMerchant(t, 6)
	self := dataport.Actor{ParticipantID: m.ID, Roles: []dataport.Role{dataport.RoleMerchant}}
	if _, err := x.fin.IngestBatch(ctx, self, m.ID, "csv", bytes.NewReader(csv)); err != nil {
		t.Fatal(err)
	}
	mb := x.browser(t)
	mb.lang = "en"
	mb.signIn(key)
	if p := mb.post("/merchant/consents", url.Values{"institution": {bankP.ID}, "scope": {"score"}, "days": {"60"}}); p.status != http.StatusSeeOther {
		t.Fatalf("grant: %s", describe(p))
	}
	if p := mb.post("/merchant/decide", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("decide: %s", describe(p))
	}
	offers, err := x.lend.Offers(ctx, self, lending.OfferFilter{MerchantID: m.ID, InstitutionID: bankP.ID, Status: "open"})
	if err != nil || len(offers) != 1 {
		t.Fatalf("offers from the bank: %v %d", err, len(offers))
	}
	o := offers[0]
	dash := mb.mustPage("/merchant", http.StatusOK)
	if !strings.Contains(dash.body, `href="/merchant/offers/`+o.ID+`"`) {
		t.Errorf("the dashboard does not link the offer")
	}
	p = mb.mustPage("/merchant/offers/"+o.ID, http.StatusOK)
	if !strings.Contains(p.body, `id="apply-form"`) || !strings.Contains(p.body, bankP.LegalName.En) {
		t.Fatalf("the offer's page:\n%s", clip(p.body))
	}
	// Another merchant's offer is not there to see or take.
	if p := x.browserAs(t, f.merchantKey).get("/merchant/offers/" + o.ID); p.status != http.StatusNotFound {
		t.Errorf("another merchant opens the offer: %d", p.status)
	}
	key1 := between(p.body, `name="key" value="`, `"`)
	apply := func(form url.Values) page {
		t.Helper()
		form.Set("key", key1)
		return mb.post("/merchant/offers/"+o.ID+"/apply", form)
	}
	if p := apply(url.Values{"amount": {"many"}}); p.status != http.StatusUnprocessableEntity || problemAt(p.body, "amount") == "" {
		t.Errorf("an amount that is not one: %s", describe(p))
	}
	over := formatMajor(o.Amount.Amount + 100)
	if p := apply(url.Values{"amount": {over}}); p.status != http.StatusUnprocessableEntity ||
		problemAt(p.body, "amount") == "" || !strings.Contains(p.body, `value="`+over+`"`) {
		t.Errorf("more than the offer: %s", describe(p))
	}
	if p := apply(url.Values{"amount": {"100"}, "term_days": {"400"}}); p.status != http.StatusUnprocessableEntity || problemAt(p.body, "term_days") == "" {
		t.Errorf("a longer term than the offer's: %s", describe(p))
	}
	if list, _ := x.lend.Applications(ctx, self, lending.ApplicationFilter{MerchantID: m.ID}); len(list) != 0 {
		t.Fatalf("refused forms applied: %d", len(list))
	}

	// The bank's rules decline an amount above 1 yuan: the decision says why.
	strict := "tiny | amount <= 100 | more than 1 CNY asked\n"
	if p := bb.post(subPath+"/rules", url.Values{"rules": {"tiny | amount <= | x"}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(problemAt(p.body, "rules"), "Rule 1, expr") {
		t.Errorf("a rule that does not compile: %s", describe(p))
	}
	if p := bb.post(subPath+"/rules", url.Values{"rules": {strict}}); p.status != http.StatusSeeOther {
		t.Fatalf("set rules: %s", describe(p))
	}
	half := formatMajor(o.Amount.Amount / 2)
	p = apply(url.Values{"amount": {half}, "purpose": {"stock for the spring festival"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/merchant/applications/") {
		t.Fatalf("apply: %s", describe(p))
	}
	declined := mb.mustPage(p.header.Get("Location"), http.StatusOK)
	if !strings.Contains(declined.body, `data-outcome="declined"`) || !strings.Contains(between(declined.body, `id="reasons"`, `</ul>`), "more than 1 CNY asked") ||
		strings.Contains(declined.body, `id="loan"`) {
		t.Errorf("the declined decision:\n%s", clip(between(declined.body, `id="decision"`, `</section>`)))
	}
	// The same form sent again is the same application: lending answers with it.
	if again := apply(url.Values{"amount": {half}, "purpose": {"stock for the spring festival"}}); again.header.Get("Location") != p.header.Get("Location") {
		t.Errorf("the form sent twice: %s, then %s", p.header.Get("Location"), again.header.Get("Location"))
	}

	// The rules set back, a new form: approved, with its loan.
	if p := bb.post(subPath+"/rules", url.Values{"rules": {rulesOf(sub.Rules)}}); p.status != http.StatusSeeOther {
		t.Fatalf("set rules back: %s", describe(p))
	}
	p = mb.mustPage("/merchant/offers/"+o.ID, http.StatusOK)
	if strings.Contains(p.body, `value="`+key1+`"`) {
		t.Errorf("a new form carries the old idempotency key")
	}
	key1 = between(p.body, `name="key" value="`, `"`)
	p = apply(url.Values{"amount": {half}, "term_days": {"30"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("apply again: %s", describe(p))
	}
	appPath := p.header.Get("Location")
	approved := mb.mustPage(appPath, http.StatusOK)
	apps, _ := x.lend.Applications(ctx, self, lending.ApplicationFilter{MerchantID: m.ID, Outcome: "approved"})
	if len(apps) != 1 || apps[0].Loan == nil || "/merchant/applications/"+apps[0].ID != appPath {
		t.Fatalf("approved applications: %+v", apps)
	}
	loan := apps[0].Loan
	if !strings.Contains(approved.body, `data-outcome="approved"`) || !strings.Contains(approved.body, `data-loan="`+loan.ID+`"`) ||
		!strings.Contains(approved.body, `class="loan-principal">`+cny(loan.Principal.Amount)+"<") || loan.TermDays != 30 {
		t.Errorf("the approved decision:\n%s", clip(between(approved.body, `id="decision"`, `</div>
</div>`)))
	}
	if p := mb.mustPage("/merchant/offers/"+o.ID, http.StatusOK); strings.Contains(p.body, `id="apply-form"`) || !strings.Contains(p.body, "Taken") {
		t.Errorf("the taken offer still takes applications")
	}

	// The bank sees both applications, their decisions and the loan.
	inst := bb.mustPage("/institution", http.StatusOK)
	for _, w := range []string{`data-application="` + apps[0].ID + `"`, `data-loan="` + loan.ID + `"`, `href="` + subPath + `"`} {
		if !strings.Contains(inst.body, w) {
			t.Errorf("the institution's page lacks %s", w)
		}
	}
	if p := bb.mustPage("/institution/applications/"+apps[0].ID, http.StatusOK); !strings.Contains(p.body, `data-loan="`+loan.ID+`"`) ||
		!strings.Contains(p.body, `data-rule="score_floor"`) {
		t.Errorf("the application as the bank sees it:\n%s", clip(p.body))
	}
	// Another institution sees nothing of it.
	if p := x.browserAs(t, x.keys[dataport.RoleFinancialInstitution]).get("/institution/applications/" + apps[0].ID); p.status != http.StatusNotFound {
		t.Errorf("another institution opens the application: %d", p.status)
	}

	// Pause, resume, cancel; a cancelled subscription cannot be paused.
	for _, c := range []struct{ action, want string }{{"pause", "paused"}, {"resume", "active"}, {"cancel", "cancelled"}} {
		if p := bb.post(subPath+"/"+c.action, url.Values{}); p.status != http.StatusSeeOther {
			t.Fatalf("%s: %s", c.action, describe(p))
		}
		if s, _ := x.lend.Subscription(ctx, bank, sub.ID); s.Status != c.want {
			t.Fatalf("after %s: %s", c.action, s.Status)
		}
		if p := bb.mustPage(subPath, http.StatusOK); !strings.Contains(p.body, `data-status="`+c.want+`"`) {
			t.Errorf("the page after %s does not say %s", c.action, c.want)
		}
	}
	if p := bb.post(subPath+"/pause", url.Values{}); p.status != http.StatusConflict {
		t.Errorf("pausing a cancelled subscription: %d", p.status)
	}
	// Another institution's subscription is not there to change.
	if p := x.browserAs(t, x.keys[dataport.RoleFinancialInstitution]).post(subPath+"/resume", url.Values{}); p.status != http.StatusNotFound {
		t.Errorf("another institution resumes it: %d", p.status)
	}
}

// browserAs is a browser signed in with key.
func (x *exchange) browserAs(t testing.TB, key string) *browser {
	b := x.browser(t)
	b.signIn(key)
	return b
}

// formatMajor writes minor units of CNY as the forms take them: 1234.50.
func formatMajor(minor int64) string {
	return strings.ReplaceAll(strings.TrimPrefix(cny(minor), "CNY "), ",", "")
}

// rulesOf writes rules as the rules input takes them.
func rulesOf(rules []lending.Rule) string {
	var b strings.Builder
	for _, r := range rules {
		b.WriteString(r.ID + " | " + r.Expr + " | " + r.Reason + "\n")
	}
	return b.String()
}
