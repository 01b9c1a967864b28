package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/lending"
)

// The financial institution's financing work beyond its portfolio: subscribing
// with criteria, terms and decision rules; pausing, resuming and cancelling a
// subscription and changing its rules; reading an application's decision. Each
// page calls lending as the signed-in institution, which checks that the
// subscription or application is its own.

func (c *Console) institutionRoutes() {
	fi := dataport.RoleFinancialInstitution
	c.page("GET /institution/subscriptions/new", signedIn, c.newSubscription, fi)
	c.page("POST /institution/subscriptions", signedIn, c.createSubscription, fi)
	c.page("GET /institution/subscriptions/{id}", signedIn, c.subscription, fi)
	c.page("POST /institution/subscriptions/{id}/rules", signedIn, c.setRules, fi)
	c.page("POST /institution/subscriptions/{id}/pause", signedIn, c.subscriptionStatus(c.deps.Lending.PauseSubscription), fi)
	c.page("POST /institution/subscriptions/{id}/resume", signedIn, c.subscriptionStatus(c.deps.Lending.ResumeSubscription), fi)
	c.page("POST /institution/subscriptions/{id}/cancel", signedIn, c.subscriptionStatus(c.deps.Lending.CancelSubscription), fi)
	c.page("GET /institution/applications/{id}", signedIn, c.institutionApplication, fi)
}

// subscriptionForm is the data of the new subscription's page.
type subscriptionForm struct {
	Products []choice
	Grades   []choice
	Form     *Form
}

// The form's first values: a plain order-financing subscription, for any grade.
var subscriptionDefaults = map[string][]string{
	"product": {string(lending.OrderFinancing)}, "min_line": {"0"}, "max_line": {"1000000"}, "max_amount": {"100000"},
	"rate": {"8"}, "term_days": {"60"}, "share": {"30"}, "valid_days": {"7"}, "score_floor": {"500"},
}

// subscriptionFields binds lending's NewSubscription fields to the form's inputs;
// the rules are bound by subscriptionProblems, line by line.
var subscriptionFields = Fields{
	"criteria.product":          {Input: "product", Message: "financing.sub.error.product"},
	"criteria.grades":           {Input: "grades", Message: "financing.sub.error.grades"},
	"criteria.min_line":         {Input: "min_line", Message: "financing.sub.error.line"},
	"criteria.max_line":         {Input: "max_line", Message: "financing.sub.error.line"},
	"criteria.sectors":          {Input: "sectors", Message: "financing.sub.error.sectors"},
	"terms.max_amount":          {Input: "max_amount", Message: "financing.sub.error.max_amount"},
	"terms.rate_bps":            {Input: "rate", Message: "financing.sub.error.rate"},
	"terms.term_days":           {Input: "term_days", Message: "financing.sub.error.term"},
	"terms.repayment_share_bps": {Input: "share", Message: "financing.sub.error.share"},
	"terms.offer_valid_days":    {Input: "valid_days", Message: "financing.sub.error.valid"},
}

func (c *Console) newSubscription(q *Request) error {
	return c.renderNewSubscription(q, http.StatusOK, NewForm(subscriptionDefaults))
}

func (c *Console) renderNewSubscription(q *Request, status int, f *Form) error {
	d := subscriptionForm{Form: f}
	for _, p := range lending.Products {
		d.Products = append(d.Products, choice{Value: string(p), Label: q.T("lending.product." + string(p)), Checked: f.Get("product") == string(p)})
	}
	for _, g := range lending.Grades {
		d.Grades = append(d.Grades, choice{Value: g, Label: g, Checked: slices.Contains(f.Values["grades"], g)})
	}
	return q.Render(status, "financing-subscription-new", d)
}

// createSubscription subscribes the institution. The form's score floor becomes a
// decision rule (score >= floor, its reason in the page's language) after the
// rules written out; lending compiles every rule at once and refuses the whole
// subscription, naming each wrong field, before anything is filed.
func (c *Console) createSubscription(q *Request) error {
	f := q.Form()
	var n lending.NewSubscription
	n.Criteria.Product = lending.Product(f.Get("product"))
	n.Criteria.Grades = f.Values["grades"]
	for _, s := range strings.Split(f.Get("sectors"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			n.Criteria.Sectors = append(n.Criteria.Sectors, s)
		}
	}
	n.Criteria.MinLine = formMoney(q, f, "min_line", "financing.sub.error.line")
	n.Criteria.MaxLine = formMoney(q, f, "max_line", "financing.sub.error.line")
	n.Terms.MaxAmount = formMoney(q, f, "max_amount", "financing.sub.error.max_amount")
	n.Terms.RateBPS = formBPS(q, f, "rate", "financing.sub.error.rate")
	n.Terms.TermDays = formInt(q, f, "term_days", "financing.sub.error.term")
	n.Terms.RepaymentShareBPS = formBPS(q, f, "share", "financing.sub.error.share")
	n.Terms.OfferValidDays = formInt(q, f, "valid_days", "financing.sub.error.valid")
	written := parseRules(q, f)
	n.Rules = written
	if s := f.Get("score_floor"); s != "" {
		if floor, err := strconv.Atoi(s); err != nil || floor < 0 {
			f.Fail("score_floor", q.T("financing.sub.error.floor"))
		} else {
			n.Rules = append(slices.Clone(written), lending.Rule{ID: "score_floor", Expr: fmt.Sprintf("score >= %d", floor),
				Reason: q.T("financing.rule.score_floor", floor)})
		}
	}
	if f.Invalid() {
		return c.renderNewSubscription(q, http.StatusUnprocessableEntity, f)
	}
	sub, err := c.deps.Lending.CreateSubscription(q.Context(), q.Actor, n)
	if subscriptionProblems(f, err, q.Localizer, len(written)) {
		return c.renderNewSubscription(q, http.StatusUnprocessableEntity, f)
	} else if err != nil {
		return err
	}
	q.Redirect("/institution/subscriptions/" + sub.ID)
	return nil
}

// ruleIndex reads the rule's index from a field such as rules[2].expr.
var ruleIndex = regexp.MustCompile(`^rules\[(\d+)\]`)

// subscriptionProblems takes lending's refusal into the form, as Form.Absorb does:
// a written rule's problem at the rules' input with its line, the score floor's
// at its own, every other field at its input. It reports whether it did.
func subscriptionProblems(f *Form, err error, l *Localizer, written int) bool {
	if err == nil || dataport.KindOf(err) != dataport.KindInvalid {
		return false
	}
	var rest []dataport.FieldProblem
	for _, p := range dataport.FieldsOf(err) {
		m := ruleIndex.FindStringSubmatch(p.Field)
		switch {
		case m == nil && p.Field == "rules":
			f.Fail("rules", l.T("financing.rules.error.many"))
		case m == nil:
			rest = append(rest, p)
		default:
			i, _ := strconv.Atoi(m[1])
			if i < written {
				// The compiler's words name what is wrong in the expression.
				f.Fail("rules", l.T("financing.rules.error.line", i+1, strings.TrimPrefix(p.Field, m[0]+"."), p.Message))
			} else {
				f.Fail("score_floor", l.T("financing.sub.error.floor"))
			}
		}
	}
	if len(rest) > 0 || len(dataport.FieldsOf(err)) == 0 {
		f.Absorb(&dataport.Error{Op: "web.subscription", Kind: dataport.KindInvalid, Message: dataport.MessageOf(err), Fields: rest},
			l, subscriptionFields)
	}
	return true
}

// parseRules reads the rules written one a line as "id | condition | reason"; a
// line that is not is a problem at the input, with its number.
func parseRules(q *Request, f *Form) []lending.Rule {
	var out []lending.Rule
	n := 0
	for line := range strings.Lines(f.Values.Get("rules")) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		n++
		id, rest, ok := strings.Cut(line, "|")
		i := strings.LastIndex(rest, "|")
		if !ok || i < 0 {
			f.Fail("rules", q.T("financing.rules.error.form", n))
			continue
		}
		out = append(out, lending.Rule{ID: strings.TrimSpace(id), Expr: strings.TrimSpace(rest[:i]), Reason: strings.TrimSpace(rest[i+1:])})
	}
	return out
}

// rulesText writes rules as parseRules reads them.
func rulesText(rules []lending.Rule) string {
	var b strings.Builder
	for _, r := range rules {
		b.WriteString(r.ID + " | " + r.Expr + " | " + r.Reason + "\n")
	}
	return b.String()
}

// formMoney reads an amount in yuan (CNY: lending's currency) from an input.
func formMoney(q *Request, f *Form, input, message string) dataport.Money {
	v, ok := parseAmount(f.Get(input), lending.Currency)
	if !ok || f.Get(input) == "" {
		f.Fail(input, q.T(message))
	}
	return dataport.Money{Amount: v, Currency: lending.Currency}
}

// formBPS reads a percentage ("5.8") as basis points (580).
func formBPS(q *Request, f *Form, input, message string) int64 {
	v, err := strconv.ParseFloat(strings.TrimSuffix(f.Get(input), "%"), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e6 {
		f.Fail(input, q.T(message))
		return 0
	}
	return int64(math.Round(v * 100))
}

// formInt reads a whole number from an input.
func formInt(q *Request, f *Form, input, message string) int {
	v, err := strconv.Atoi(f.Get(input))
	if err != nil {
		f.Fail(input, q.T(message))
	}
	return v
}

// subscriptionPage is the data of a subscription's page.
type subscriptionPage struct {
	Subscription lending.Subscription
	Offers       []lending.Offer
	Form         *Form // the rules form
	Merchant     func(id string) string
}

func (c *Console) subscription(q *Request) error {
	sub, err := c.deps.Lending.Subscription(q.Context(), q.Actor, q.PathValue("id"))
	if err != nil {
		return err
	}
	return c.renderSubscription(q, http.StatusOK, sub, NewForm(map[string][]string{"rules": {rulesText(sub.Rules)}}))
}

func (c *Console) renderSubscription(q *Request, status int, sub lending.Subscription, f *Form) error {
	d := subscriptionPage{Subscription: sub, Form: f, Merchant: c.participantNames(q)}
	offers, err := c.deps.Lending.Offers(q.Context(), q.Actor, lending.OfferFilter{InstitutionID: q.Actor.ParticipantID, Product: sub.Criteria.Product, Limit: 1000})
	if err != nil {
		return err
	}
	for _, o := range offers {
		if o.SubscriptionID == sub.ID {
			d.Offers = append(d.Offers, o)
		}
	}
	return q.Render(status, "financing-subscription", d)
}

// setRules replaces the subscription's rules: a new rules version; applications
// decided before keep the version they were decided by.
func (c *Console) setRules(q *Request) error {
	sub, err := c.deps.Lending.Subscription(q.Context(), q.Actor, q.PathValue("id"))
	if err != nil {
		return err
	}
	f := q.Form()
	rules := parseRules(q, f)
	if f.Invalid() {
		return c.renderSubscription(q, http.StatusUnprocessableEntity, sub, f)
	}
	_, err = c.deps.Lending.SetRules(q.Context(), q.Actor, sub.ID, rules)
	if subscriptionProblems(f, err, q.Localizer, len(rules)) {
		return c.renderSubscription(q, http.StatusUnprocessableEntity, sub, f)
	} else if err != nil {
		return err
	}
	q.Redirect("/institution/subscriptions/" + sub.ID)
	return nil
}

// subscriptionStatus is the handler of a button that pauses, resumes or cancels a
// subscription; lending refuses a change the status does not allow (KindConflict).
func (c *Console) subscriptionStatus(change func(ctx context.Context, actor dataport.Actor, id string) (lending.Subscription, error)) func(*Request) error {
	return func(q *Request) error {
		sub, err := change(q.Context(), q.Actor, q.PathValue("id"))
		if err != nil {
			return err
		}
		q.Redirect("/institution/subscriptions/" + sub.ID)
		return nil
	}
}

func (c *Console) institutionApplication(q *Request) error {
	a, err := c.deps.Lending.Application(q.Context(), q.Actor, q.PathValue("id"))
	if err != nil {
		return err
	}
	return q.Render(http.StatusOK, "financing-application", applicationPage{Application: a,
		Merchant: c.participantNames(q)(a.MerchantID), Institution: c.participantNames(q)(a.InstitutionID),
		Subscription: "/institution/subscriptions/" + a.SubscriptionID, Line: inputsLine(a)})
}
