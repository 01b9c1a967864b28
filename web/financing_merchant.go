package web

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/lending"
)

// The merchant's financing work beyond its dashboard: connecting a shop, granting
// and revoking consents, applying against an offer and reading the decision. Each
// page calls finance and lending as the signed-in merchant; they check that the
// shop, consent and offer are the merchant's own.

// financingRoutes adds the financing pages of both sides (routes.go lists the
// dashboard and the portfolio themselves).
func (c *Console) financingRoutes() {
	m := dataport.RoleMerchant
	c.page("GET /merchant/shops", signedIn, c.merchantShops, m)
	c.page("POST /merchant/shops", signedIn, c.merchantConnectShop, m)
	c.page("GET /merchant/consents", signedIn, c.merchantConsents, m)
	c.page("POST /merchant/consents", signedIn, c.merchantGrantConsent, m)
	c.page("POST /merchant/consents/{id}/revoke", signedIn, c.merchantRevokeConsent, m)
	c.page("GET /merchant/offers/{id}", signedIn, c.merchantOffer, m)
	c.page("POST /merchant/offers/{id}/apply", signedIn, c.merchantApply, m)
	c.page("GET /merchant/applications/{id}", signedIn, c.merchantApplication, m)
	c.institutionRoutes()
}

// financingWords are the messages the financing pages pick by value, listed so
// that the i18n tests check each exists in both languages.
var financingWords = []string{
	"financing.outcome.approved", "financing.outcome.declined",
	"financing.rule.passed", "financing.rule.failed",
}

// institutionNames names the financial institutions as a merchant sees them:
// lending lists those it may consent to (the registry shows a merchant no one
// else); one no longer listed is told apart by the end of its id.
func (c *Console) institutionNames(q *Request) (func(id string) string, []lending.Institution, error) {
	list, err := c.deps.Lending.Institutions(q.Context(), q.Actor)
	if err != nil {
		return nil, nil, err
	}
	names := map[string]string{}
	for _, in := range list {
		names[in.ID] = q.Text(in.LegalName)
	}
	return func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		return q.T("participant.unnamed", id[max(0, len(id)-8):])
	}, list, nil
}

// --- shops ---

// shopsPage is the data of the merchant's shops page.
type shopsPage struct {
	Shops []finance.Shop
	Form  *Form
}

// shopFields binds finance's NewShop fields to the connect form's inputs.
var shopFields = Fields{
	"platform":    {Input: "platform", Message: "financing.shop.error.platform"},
	"external_id": {Input: "external_id", Message: "financing.shop.error.external_id"},
	"name":        {Input: "name", Message: "financing.shop.error.name"},
}

func (c *Console) merchantShops(q *Request) error {
	return c.renderShops(q, http.StatusOK, NewForm(nil))
}

func (c *Console) renderShops(q *Request, status int, f *Form) error {
	shops, err := c.deps.Finance.Shops(q.Context(), q.Actor, q.Actor.ParticipantID)
	if err != nil {
		return err
	}
	return q.Render(status, "financing-shops", shopsPage{Shops: shops, Form: f})
}

// merchantConnectShop connects a shop: finance checks the platform's name, the
// shop's id and name, and that the merchant has not connected it already.
func (c *Console) merchantConnectShop(q *Request) error {
	f := q.Form()
	_, err := c.deps.Finance.ConnectShop(q.Context(), q.Actor, q.Actor.ParticipantID,
		finance.NewShop{Platform: f.Get("platform"), ExternalID: f.Get("external_id"), Name: f.Get("name")})
	if dataport.KindOf(err) == dataport.KindConflict {
		f.Fail("external_id", q.T("financing.shop.error.connected"))
		return c.renderShops(q, http.StatusUnprocessableEntity, f)
	}
	if f.Absorb(err, q.Localizer, shopFields) {
		return c.renderShops(q, http.StatusUnprocessableEntity, f)
	} else if err != nil {
		return err
	}
	q.Redirect("/merchant/shops")
	return nil
}

// --- consents ---

// consentsPage is the data of the merchant's consents page.
type consentsPage struct {
	Consents     []lending.Consent
	Institutions []choice
	Scopes       []choice
	Form         *Form
	Name         func(id string) string
}

// choice is a checkbox of a form: its value, its words, and whether it is ticked.
type choice struct {
	Value   string
	Label   string
	Checked bool
}

// consentDays is how long a consent runs unless the merchant says otherwise.
const consentDays = 90

// consentFields binds lending's NewConsent fields to the grant form's inputs.
var consentFields = Fields{
	"scope":        {Input: "scope", Message: "financing.consent.error.scope"},
	"institutions": {Input: "institution", Message: "financing.consent.error.institution"},
	"expires_at":   {Input: "days", Message: "financing.consent.error.days"},
}

func (c *Console) merchantConsents(q *Request) error {
	f := NewForm(map[string][]string{"scope": {string(lending.ScopeScore)}, "days": {strconv.Itoa(consentDays)}})
	return c.renderConsents(q, http.StatusOK, f)
}

func (c *Console) renderConsents(q *Request, status int, f *Form) error {
	name, list, err := c.institutionNames(q)
	if err != nil {
		return err
	}
	d := consentsPage{Form: f, Name: name}
	if d.Consents, err = c.deps.Lending.Consents(q.Context(), q.Actor, lending.ConsentFilter{MerchantID: q.Actor.ParticipantID, Limit: 200}); err != nil {
		return err
	}
	// The newest first: the one just granted or revoked is at the top.
	slices.Reverse(d.Consents)
	for _, in := range list {
		d.Institutions = append(d.Institutions, choice{Value: in.ID, Label: q.Text(in.LegalName),
			Checked: slices.Contains(f.Values["institution"], in.ID)})
	}
	for _, s := range lending.Scopes {
		d.Scopes = append(d.Scopes, choice{Value: string(s), Label: q.T("lending.scope." + string(s)),
			Checked: slices.Contains(f.Values["scope"], string(s))})
	}
	return q.Render(status, "financing-consents", d)
}

// merchantGrantConsent grants a consent: to the institutions ticked, for the
// scopes ticked, for so many days from now. Lending checks each (a consent names
// active financial institutions, runs at most a year) and files the grant.
func (c *Console) merchantGrantConsent(q *Request) error {
	f := q.Form()
	n := lending.NewConsent{Institutions: f.Values["institution"]}
	for _, s := range f.Values["scope"] {
		n.Scope = append(n.Scope, lending.Scope(s))
	}
	days, err := strconv.Atoi(f.Get("days"))
	if err != nil || days < 1 {
		f.Fail("days", q.T("financing.consent.error.days"))
		return c.renderConsents(q, http.StatusUnprocessableEntity, f)
	}
	n.ExpiresAt = c.deps.DB.Clock().Now().Add(time.Duration(days) * 24 * time.Hour)
	_, err = c.deps.Lending.GrantConsent(q.Context(), q.Actor, q.Actor.ParticipantID, n)
	if f.Absorb(err, q.Localizer, consentFields) {
		return c.renderConsents(q, http.StatusUnprocessableEntity, f)
	} else if err != nil {
		return err
	}
	q.Redirect("/merchant/consents")
	return nil
}

// merchantRevokeConsent ends a consent at once; lending withdraws the open offers
// made under it in the same transaction (loans already made stay: they are
// contracts).
func (c *Console) merchantRevokeConsent(q *Request) error {
	if _, err := c.deps.Lending.RevokeConsent(q.Context(), q.Actor, q.PathValue("id"), q.FormValue("reason")); err != nil {
		return err
	}
	q.Redirect("/merchant/consents")
	return nil
}

// --- offers and applications ---

// offerPage is the data of an offer's page, with the application form while the
// offer is open.
type offerPage struct {
	Offer       lending.Offer
	Institution string
	Open        bool
	Form        *Form
	Earlier     []lending.Application // the applications already made against it
}

// applyFields binds lending's NewApplication fields to the apply form's inputs.
var applyFields = Fields{
	"amount":          {Input: "amount", Message: "financing.apply.error.amount"},
	"term_days":       {Input: "term_days", Message: "financing.apply.error.term"},
	"purpose":         {Input: "purpose", Message: "financing.apply.error.purpose"},
	"idempotency_key": {Input: "", Message: "financing.apply.error.again"},
}

func (c *Console) merchantOffer(q *Request) error {
	o, err := c.deps.Lending.Offer(q.Context(), q.Actor, q.PathValue("id"))
	if err != nil {
		return err
	}
	f := NewForm(map[string][]string{"amount": {amountInput(o.Amount)}, "term_days": {strconv.Itoa(o.TermDays)}, "key": {applicationKey()}})
	return c.renderOffer(q, http.StatusOK, o, f)
}

func (c *Console) renderOffer(q *Request, status int, o lending.Offer, f *Form) error {
	name, _, err := c.institutionNames(q)
	if err != nil {
		return err
	}
	d := offerPage{Offer: o, Institution: name(o.InstitutionID), Form: f,
		Open: o.Status == "open" && c.deps.DB.Clock().Now().Before(o.ExpiresAt)}
	if d.Earlier, err = c.deps.Lending.Applications(q.Context(), q.Actor, lending.ApplicationFilter{MerchantID: q.Actor.ParticipantID, OfferID: o.ID}); err != nil {
		return err
	}
	return q.Render(status, "financing-offer", d)
}

// merchantApply applies against the offer; the institution's rules decide at once
// and the page that follows shows the decision (and the loan when approved). The
// form carries an idempotency key made when it was shown, so a form sent twice
// (a double click, a reload) makes one application: lending answers the second
// with the first.
func (c *Console) merchantApply(q *Request) error {
	o, err := c.deps.Lending.Offer(q.Context(), q.Actor, q.PathValue("id"))
	if err != nil {
		return err
	}
	f := q.Form()
	n := lending.NewApplication{Purpose: f.Get("purpose"), IdempotencyKey: f.Get("key")}
	amount, ok := parseAmount(f.Get("amount"), o.Amount.Currency)
	if !ok {
		f.Fail("amount", q.T("financing.apply.error.amount"))
	}
	n.Amount = dataport.Money{Amount: amount, Currency: o.Amount.Currency}
	if s := f.Get("term_days"); s != "" {
		if n.TermDays, err = strconv.Atoi(s); err != nil {
			f.Fail("term_days", q.T("financing.apply.error.term"))
		}
	}
	if f.Invalid() {
		return c.renderOffer(q, http.StatusUnprocessableEntity, o, f)
	}
	a, _, err := c.deps.Lending.Apply(q.Context(), q.Actor, o.ID, n)
	switch {
	case f.Absorb(err, q.Localizer, applyFields):
		return c.renderOffer(q, http.StatusUnprocessableEntity, o, f)
	case dataport.KindOf(err) == dataport.KindConflict:
		// The offer was taken, withdrawn or expired, or its consent ended, since
		// the page was shown: said at the form, with the offer as it is now.
		if o, err = c.deps.Lending.Offer(q.Context(), q.Actor, o.ID); err != nil {
			return err
		}
		f.Fail("", q.T("financing.apply.error.closed"))
		return c.renderOffer(q, http.StatusConflict, o, f)
	case err != nil:
		return err
	}
	q.Redirect("/merchant/applications/" + a.ID)
	return nil
}

// applicationKey is a fresh idempotency key for an application form.
func applicationKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "web-" + hex.EncodeToString(b)
}

// amountInput writes an amount as the forms take it: major units, no grouping.
func amountInput(m dataport.Money) string {
	if formatMoney(dataport.Money{Amount: 1, Currency: m.Currency}) == m.Currency+" 1" {
		return strconv.FormatInt(m.Amount, 10)
	}
	return strconv.FormatInt(m.Amount/100, 10) + "." + strconv.FormatInt(100+m.Amount%100, 10)[1:]
}

// applicationPage is the data of an application's page, for either side.
type applicationPage struct {
	Application  lending.Application
	Merchant     string // the other party as the reader sees it
	Institution  string
	AsMerchant   bool
	Subscription string         // the subscription's page, for the institution
	Line         dataport.Money // the credit line the rules saw
}

func (c *Console) merchantApplication(q *Request) error {
	a, err := c.deps.Lending.Application(q.Context(), q.Actor, q.PathValue("id"))
	if err != nil {
		return err
	}
	name, _, err := c.institutionNames(q)
	if err != nil {
		return err
	}
	return q.Render(http.StatusOK, "financing-application", applicationPage{Application: a, AsMerchant: true,
		Institution: name(a.InstitutionID), Merchant: c.participantNames(q)(a.MerchantID), Line: inputsLine(a)})
}

// inputsLine is the credit line an application's rules saw, in its currency.
func inputsLine(a lending.Application) dataport.Money {
	return dataport.Money{Amount: a.Decision.Inputs.Line, Currency: a.Decision.Inputs.Currency}
}
