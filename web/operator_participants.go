package web

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/trade"
)

// Participants (數商) as the operator keeps them: the list with filters, a new
// participant, and a participant's page with its KYC review, its cross-border
// whitelist entry (R22: an agent acts for foreign suppliers only while
// whitelisted), its trading balance and the funding recorded from the bank's
// statement, its agency contracts and products, and its suspension (叫停).
//
// A suspension is one POST: the participant's page links to a confirmation that
// says what will happen — its listed products suspended with it (catalog's
// SuspensionCascade), its open financing offers withdrawn (lending's), its API
// keys and console sessions refused from the commit on (registry.CheckActive) —
// and its button suspends. The participant's page then shows what the suspension
// changed, read back from the filings made in its transaction: every cascade files
// each change it makes.

// opParticipantsPage is the data of the operator's "participants" page.
type opParticipantsPage struct {
	Filter      registry.ListFilter
	Items       []registry.Participant
	Next        string // the next page's URL
	Form        *Form  // a new participant
	Roles       []dataport.Role
	RoleChoices []opRoleChoice // the new participant's roles
	Kinds       []string
	Statuses    []string
	KYCs        []string
}

type opRoleChoice struct {
	Role    dataport.Role
	Checked bool
}

// opParticipantRoles are the roles a new participant may hold: every role but the
// exchange operator's, which stays with the exchange.
var opParticipantRoles = []dataport.Role{dataport.RoleSupplier, dataport.RoleAgent, dataport.RoleBuyer, dataport.RoleAssessor,
	dataport.RoleFinancialInstitution, dataport.RoleMerchant, dataport.RoleRegulator}

func (c *Console) operatorParticipants(q *Request) error {
	return c.opParticipantsPage(q, http.StatusOK, NewForm(nil))
}

func (c *Console) opParticipantsPage(q *Request, status int, form *Form) error {
	v := q.URL.Query()
	f := registry.ListFilter{Role: dataport.Role(v.Get("role")), Kind: registry.Kind(v.Get("kind")), Status: registry.Status(v.Get("status")),
		KYCStatus: registry.KYCStatus(v.Get("kyc")), Jurisdiction: strings.ToUpper(strings.TrimSpace(v.Get("jurisdiction"))),
		Query: strings.TrimSpace(v.Get("q")), After: v.Get("after"), Limit: 50}
	items, next, err := c.deps.Registry.ListParticipants(q.Context(), q.Actor, f)
	if err != nil {
		return err
	}
	d := opParticipantsPage{Filter: f, Items: items, Form: form, Roles: opParticipantRoles,
		Kinds: enums["operator.kind"], Statuses: enums["operator.pstatus"], KYCs: enums["operator.kyc"]}
	for _, r := range opParticipantRoles {
		d.RoleChoices = append(d.RoleChoices, opRoleChoice{Role: r, Checked: slices.Contains(form.Values["roles"], string(r))})
	}
	if next != "" {
		nv := url.Values{}
		for k, vs := range v {
			nv[k] = vs
		}
		nv.Set("after", next)
		d.Next = "/operator/participants?" + nv.Encode()
	}
	return opRender(q, status, "participants", d)
}

// opParticipantFields binds the registry's field problems to the new participant form.
var opParticipantFields = Fields{
	"legal_name": {Input: "name_zh"}, "legal_name.zh": {Input: "name_zh"}, "legal_name.en": {Input: "name_en"},
	"jurisdiction": {Input: "jurisdiction"}, "kind": {Input: "kind"}, "uscc": {Input: "uscc"},
	"registration_number": {Input: "registration_number"}, "roles": {Input: "roles"}, "ciio": {Input: "ciio"},
	"ftz": {Input: "ftz"}, "merchant_category": {Input: "merchant_category"}, "contact": {Input: "contact_email"},
}

// operatorCreateParticipant registers a participant (its KYC pending) and opens its page.
func (c *Console) operatorCreateParticipant(q *Request) error {
	f := q.Form()
	n := registry.NewParticipant{LegalName: dataport.Bilingual{Zh: f.Get("name_zh"), En: f.Get("name_en")},
		Jurisdiction: strings.ToUpper(f.Get("jurisdiction")), Kind: registry.Kind(f.Get("kind")), USCC: f.Get("uscc"),
		RegistrationNumber: f.Get("registration_number"), MerchantCategory: f.Get("merchant_category"),
		CIIO: f.Get("ciio") == "on", FTZ: f.Get("ftz"),
		Contact: registry.Contact{Name: f.Get("contact_name"), Email: f.Get("contact_email"), Phone: f.Get("contact_phone")}}
	for _, r := range f.Values["roles"] {
		n.Roles = append(n.Roles, dataport.Role(r))
	}
	if len(n.Roles) == 0 {
		// Said in the page's words: the registry would say it in English.
		f.Fail("roles", q.T("operator.participants.error.roles"))
		return c.opParticipantsPage(q, http.StatusUnprocessableEntity, f)
	}
	p, err := c.deps.Registry.CreateParticipant(q.Context(), q.Actor, n)
	if f.Absorb(err, q.Localizer, opParticipantFields) {
		return c.opParticipantsPage(q, http.StatusUnprocessableEntity, f)
	}
	if st, ok := opRefused(err); ok {
		f.Fail("", dataport.MessageOf(err))
		return c.opParticipantsPage(q, st, f)
	}
	if err != nil {
		return err
	}
	q.Redirect("/operator/participants/" + p.ID + "?done=created")
	return nil
}

// opParticipantPage is the data of the operator's "participant" page.
type opParticipantPage struct {
	P         registry.Participant
	Operator  bool // the exchange operator itself: not suspended, not funded
	Agent     bool // holds the agent role: its whitelist entry is shown (R22)
	Done      string
	Refused   string
	KYC       *Form
	Edit      *Form // the participant's record: names, roles, contact (UpdateParticipant)
	Roles     []opRoleChoice
	Whitelist *Form
	Fund      *Form
	FundKey   string // the idempotency key of the funding form: a resubmission funds once
	Balances  []trade.Balance
	Keys      int // API keys in force
	Contracts []compliance.AgencyContract
	Products  []catalog.Product
	MoreProds bool
	Cascade   *opCascadeView // what the last suspension or resume changed
	Names     func(string) string
}

// opCascadeView is a suspension or a resume as filed, with the filings its cascades
// made in the same transaction.
type opCascadeView struct {
	Filing  ledger.Filing
	Resumed bool
	Changes []opCascadeChange
}

type opCascadeChange struct {
	Seq     int64
	Type    string // the filing's type with "_" for "."
	Subject string // the product or offer changed
	Title   string // the product's title, in the page's language
}

// opCascadeTypes are the filings the registered cascades make (catalog's and
// lending's SuspensionCascade), with "_" for ".".
var opCascadeTypes = []string{"product_suspended", "product_suspension_held", "product_resumed", "lending_offer_withdrawn"}

func (c *Console) operatorParticipant(q *Request) error {
	return c.opParticipantPage(q, http.StatusOK, opParticipantPage{Done: q.URL.Query().Get("done")})
}

func (c *Console) opParticipantPage(q *Request, status int, d opParticipantPage) error {
	ctx, actor, id := q.Context(), q.Actor, q.PathValue("id")
	p, err := c.deps.Registry.GetParticipant(ctx, actor, id)
	if err != nil {
		return err
	}
	d.P, d.Operator, d.Agent, d.Names = p, p.Has(dataport.RoleOperator), p.Has(dataport.RoleAgent), c.participantNames(q)
	for _, f := range []**Form{&d.KYC, &d.Whitelist, &d.Fund} {
		if *f == nil {
			*f = NewForm(nil)
		}
	}
	if d.Edit == nil {
		d.Edit = NewForm(url.Values{"name_zh": {p.LegalName.Zh}, "name_en": {p.LegalName.En}, "merchant_category": {p.MerchantCategory},
			"ftz": {p.FTZ}, "contact_name": {p.Contact.Name}, "contact_email": {p.Contact.Email}, "contact_phone": {p.Contact.Phone},
			"version": {strconv.FormatInt(p.Version, 10)}})
		if p.CIIO {
			d.Edit.Values.Set("ciio", "on")
		}
		for _, r := range p.Roles {
			d.Edit.Values.Add("roles", string(r))
		}
	}
	if !d.Operator {
		for _, r := range opParticipantRoles {
			d.Roles = append(d.Roles, opRoleChoice{Role: r, Checked: slices.Contains(d.Edit.Values["roles"], string(r))})
		}
	}
	if d.KYC.Get("status") == "" {
		d.KYC.Values.Set("status", string(p.KYC.Status))
	}
	if d.Fund.Get("currency") == "" {
		d.Fund.Values.Set("currency", "CNY")
	}
	if d.FundKey = d.Fund.Get("key"); d.FundKey == "" {
		d.FundKey = opNewFormKey()
	}
	switch d.Done {
	case "created", "updated", "kyc", "whitelisted", "unwhitelisted", "suspended", "resumed", "funded":
	default:
		d.Done = ""
	}
	if d.Balances, err = c.deps.Trade.Balances(ctx, actor, id); err != nil {
		return err
	}
	keys, err := c.deps.Registry.ListAPIKeys(ctx, actor, id)
	if err != nil {
		return err
	}
	d.Keys = c.opKeysInForce(keys)
	if d.Contracts, err = c.deps.Compliance.Contracts(ctx, actor, id); err != nil {
		return err
	}
	products, err := c.deps.Catalog.ProductsOf(ctx, actor, id, "", "", 20)
	if err != nil {
		return err
	}
	d.Products, d.MoreProds = products.Items, products.Next != ""
	if d.Cascade, err = c.opLastCascade(q, id); err != nil {
		return err
	}
	return opRender(q, status, "participant", d)
}

// The participant filings a cascade follows: a suspension or a resume. Written
// apart so that the message-key check does not take a filing type for a key.
const (
	opFiledSuspended = "participant" + ".suspended"
	opFiledResumed   = "participant" + ".resumed"
)

// opLastCascade reads the participant's last suspension or resume from the filings,
// with what its cascades filed in the same transaction: the filings about the
// participant just before it, made by the same actor at the same time, of the
// cascades' types (ledger.File numbers a transaction's filings together).
func (c *Console) opLastCascade(q *Request, id string) (*opCascadeView, error) {
	ctx, actor := q.Context(), q.Actor
	var last *ledger.Filing
	for _, typ := range []string{opFiledSuspended, opFiledResumed} {
		for after := int64(0); ; {
			fs, err := c.deps.Filings.List(ctx, actor, ledger.Filter{Subject: id, Type: typ, After: after, Limit: 1000})
			if err != nil {
				return nil, err
			}
			if len(fs) > 0 && (last == nil || fs[len(fs)-1].Seq > last.Seq) {
				last = &fs[len(fs)-1]
			}
			if len(fs) < 1000 {
				break
			}
			after = fs[len(fs)-1].Seq
		}
	}
	if last == nil {
		return nil, nil
	}
	v := &opCascadeView{Filing: *last, Resumed: last.Type == opFiledResumed}
	const window = 1000 // a cascade's filings at most, before the participant's own
	fs, err := c.deps.Filings.List(ctx, actor, ledger.Filter{Subject: id, After: max(0, last.Seq-window-1), Limit: window})
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		typ := strings.ReplaceAll(f.Type, ".", "_")
		if f.Seq >= last.Seq || !f.FiledAt.Equal(last.FiledAt) || f.Actor != last.Actor || !slices.Contains(opCascadeTypes, typ) {
			continue
		}
		subject := ""
		if len(f.Subjects) > 0 {
			subject = f.Subjects[0]
		}
		change := opCascadeChange{Seq: f.Seq, Type: typ, Subject: subject}
		if strings.HasPrefix(typ, "product_") {
			if p, err := c.deps.Catalog.Get(ctx, actor, subject); err == nil {
				change.Title = q.Text(p.Details.Title)
			}
		}
		v.Changes = append(v.Changes, change)
	}
	return v, nil
}

// opKeysInForce counts the keys neither revoked nor expired.
func (c *Console) opKeysInForce(keys []registry.APIKey) int {
	now, n := c.deps.DB.Clock().Now(), 0
	for _, k := range keys {
		if k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || k.ExpiresAt.After(now)) {
			n++
		}
	}
	return n
}

// opNewFormKey is a fresh idempotency key for a form that moves money.
func opNewFormKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "console-" + hex.EncodeToString(b)
}

// operatorUpdateParticipant changes a participant's record, for the version the
// operator read: a change made meanwhile is refused (409), not overwritten.
func (c *Console) operatorUpdateParticipant(q *Request) error {
	f := q.Form()
	name := dataport.Bilingual{Zh: f.Get("name_zh"), En: f.Get("name_en")}
	category, ftz, ciio := f.Get("merchant_category"), f.Get("ftz"), f.Get("ciio") == "on"
	contact := registry.Contact{Name: f.Get("contact_name"), Email: f.Get("contact_email"), Phone: f.Get("contact_phone")}
	version, _ := strconv.ParseInt(f.Get("version"), 10, 64)
	u := registry.ParticipantUpdate{LegalName: &name, MerchantCategory: &category, FTZ: &ftz, CIIO: &ciio, Contact: &contact, Version: version}
	for _, r := range f.Values["roles"] {
		u.Roles = append(u.Roles, dataport.Role(r))
	}
	p, err := c.deps.Registry.GetParticipant(q.Context(), q.Actor, q.PathValue("id"))
	if err != nil {
		return err
	}
	switch {
	case p.Has(dataport.RoleOperator):
		u.Roles = nil // the exchange operator's roles stay as they are: the form has none
	case len(u.Roles) == 0:
		f.Fail("edit-roles", q.T("operator.participants.error.roles"))
		return c.opParticipantPage(q, http.StatusUnprocessableEntity, opParticipantPage{Edit: f})
	}
	_, err = c.deps.Registry.UpdateParticipant(q.Context(), q.Actor, q.PathValue("id"), u)
	return c.opParticipantMove(q, err, "updated", opParticipantPage{Edit: f}, Fields{
		"legal_name": {Input: "edit-name_zh"}, "legal_name.zh": {Input: "edit-name_zh"}, "legal_name.en": {Input: "edit-name_en"},
		"roles": {Input: "edit-roles"}, "ciio": {Input: "edit-ciio"}, "ftz": {Input: "edit-ftz"},
		"merchant_category": {Input: "edit-merchant_category"}, "contact": {Input: "edit-contact_email"},
		"contact.email": {Input: "edit-contact_email"}, "contact.phone": {Input: "edit-contact_phone"}, "contact.name": {Input: "edit-contact_name"},
		"uscc": {Input: ""},
	})
}

func (c *Console) operatorKYC(q *Request) error {
	f := q.Form()
	_, err := c.deps.Registry.ReviewKYC(q.Context(), q.Actor, q.PathValue("id"),
		registry.KYCReview{Status: registry.KYCStatus(f.Get("status")), Note: f.Get("note")})
	return c.opParticipantMove(q, err, "kyc", opParticipantPage{KYC: f}, Fields{
		"status": {Input: "kyc-status", Message: "operator.kyc.error.status"},
		"note":   {Input: "kyc-note", Message: "operator.kyc.error.note"},
	})
}

func (c *Console) operatorWhitelist(q *Request) error {
	f := q.Form()
	_, err := c.deps.Registry.SetWhitelist(q.Context(), q.Actor, q.PathValue("id"),
		registry.WhitelistEntry{Reference: f.Get("reference"), ValidUntil: f.Get("valid_until")})
	return c.opParticipantMove(q, err, "whitelisted", opParticipantPage{Whitelist: f}, Fields{
		"reference":   {Input: "wl-reference", Message: "operator.whitelist.error.reference"},
		"valid_until": {Input: "wl-until", Message: "operator.whitelist.error.until"},
	})
}

func (c *Console) operatorUnwhitelist(q *Request) error {
	_, err := c.deps.Registry.RemoveWhitelist(q.Context(), q.Actor, q.PathValue("id"), q.Form().Get("reason"))
	return c.opParticipantMove(q, err, "unwhitelisted", opParticipantPage{}, nil)
}

func (c *Console) operatorResume(q *Request) error {
	_, err := c.deps.Registry.Resume(q.Context(), q.Actor, q.PathValue("id"), q.Form().Get("note"))
	return c.opParticipantMove(q, err, "resumed", opParticipantPage{}, nil)
}

// operatorFund records money the participant paid in (trade.Fund), in the
// currency's major units as typed: 1500 or 1500.50.
func (c *Console) operatorFund(q *Request) error {
	f := q.Form()
	currency := strings.ToUpper(f.Get("currency"))
	amount, ok := opParseAmount(f.Get("amount"), currency)
	if !ok {
		f.Fail("fund-amount", q.T("operator.fund.error.amount"))
		return c.opParticipantPage(q, http.StatusUnprocessableEntity, opParticipantPage{Fund: f})
	}
	_, err := c.deps.Trade.Fund(q.Context(), q.Actor, q.PathValue("id"), dataport.Money{Amount: amount, Currency: currency}, f.Get("key"))
	return c.opParticipantMove(q, err, "funded", opParticipantPage{Fund: f}, Fields{
		"amount.amount":   {Input: "fund-amount", Message: "operator.fund.error.amount"},
		"amount.currency": {Input: "fund-currency", Message: "operator.fund.error.currency"},
		"idempotency_key": {Input: ""},
	})
}

// opParseAmount reads an amount in major units into minor units: two decimals, none
// for the currencies formatMoney shows without.
func opParseAmount(s, currency string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	whole, frac, _ := strings.Cut(s, ".")
	digits := 2
	if formatMoney(dataport.Money{Amount: 1, Currency: currency}) == currency+" 1" {
		digits = 0
	}
	if whole == "" || len(frac) > digits || strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
		return 0, false
	}
	frac += strings.Repeat("0", digits-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || n <= 0 || len(whole) > 15 {
		return 0, false
	}
	return n, true
}

// opParticipantMove ends an operator's change to a participant: bad input back in its
// form (422), a refused change said in place, else back to the participant's page.
func (c *Console) opParticipantMove(q *Request, err error, done string, d opParticipantPage, fields Fields) error {
	form := d.KYC
	if form == nil {
		form = d.Whitelist
	}
	if form == nil {
		form = d.Edit
	}
	if form == nil {
		form = d.Fund
	}
	if form != nil && fields != nil && form.Absorb(err, q.Localizer, fields) {
		return c.opParticipantPage(q, http.StatusUnprocessableEntity, d)
	}
	if st, ok := opRefused(err); ok {
		d.Refused = dataport.MessageOf(err)
		return c.opParticipantPage(q, st, d)
	}
	if err != nil {
		return err
	}
	q.Redirect("/operator/participants/" + q.PathValue("id") + "?done=" + done)
	return nil
}

// opSuspendPage is the data of the operator's "suspend" page: what a suspension will do.
type opSuspendPage struct {
	P        registry.Participant
	Form     *Form
	Listed   int
	More     bool // more listed products than counted
	Offers   int
	Keys     int
	Sessions bool
}

func (c *Console) operatorSuspendConfirm(q *Request) error {
	return c.opSuspendPage(q, http.StatusOK, NewForm(nil))
}

func (c *Console) opSuspendPage(q *Request, status int, form *Form) error {
	ctx, actor, id := q.Context(), q.Actor, q.PathValue("id")
	p, err := c.deps.Registry.GetParticipant(ctx, actor, id)
	if err != nil {
		return err
	}
	if p.Status == registry.Suspended || p.Has(dataport.RoleOperator) {
		// Nothing to confirm: the participant's page says why.
		q.Redirect("/operator/participants/" + id)
		return nil
	}
	d := opSuspendPage{P: p, Form: form}
	listed, err := c.deps.Catalog.ProductsOf(ctx, actor, id, string(catalog.Listed), "", 200)
	if err != nil {
		return err
	}
	d.Listed, d.More = len(listed.Items), listed.Next != ""
	if c.deps.Lending != nil {
		for _, f := range []lending.OfferFilter{{MerchantID: id, Status: "open", Limit: 1000}, {InstitutionID: id, Status: "open", Limit: 1000}} {
			offers, err := c.deps.Lending.Offers(ctx, actor, f)
			if err != nil {
				return err
			}
			d.Offers += len(offers)
		}
	}
	keys, err := c.deps.Registry.ListAPIKeys(ctx, actor, id)
	if err != nil {
		return err
	}
	d.Keys = c.opKeysInForce(keys)
	return opRender(q, status, "suspend", d)
}

// operatorSuspend suspends the participant: one POST, whose cascades run in its
// transaction.
func (c *Console) operatorSuspend(q *Request) error {
	f := q.Form()
	_, err := c.deps.Registry.Suspend(q.Context(), q.Actor, q.PathValue("id"), f.Get("reason"))
	if f.Absorb(err, q.Localizer, Fields{"reason": {Input: "reason", Message: "operator.suspend.error.reason"}}) {
		return c.opSuspendPage(q, http.StatusUnprocessableEntity, f)
	}
	return c.opParticipantMove(q, err, "suspended", opParticipantPage{}, nil)
}
