package web

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/registry"
)

// The product editor: every part of catalog.Details a supplier fills in
// (CROSS-BORDER-RULES, "What a listing carries"), as form inputs, read back into
// Details. The catalog checks the details (a draft's form, then at submission R20
// and a listing's mandatory content); the console only reads what was typed —
// numbers, prices, the field dictionary's lines — and answers what it cannot read
// at the input before asking the catalog anything.

// supplierPlanRows is how many price plans the editor offers at least; a product
// with more (made through the API) gets a row for each, and one empty, up to the
// catalog's 20.
const supplierPlanRows = 4

// supplierPlanCount is how many price plan rows the form f holds.
func supplierPlanCount(f *Form) int {
	n := supplierPlanRows
	for i := 0; i < 20; i++ {
		if f.Get(fmt.Sprintf("plan_kind_%d", i)) != "" || f.Get(fmt.Sprintf("plan_price_%d", i)) != "" {
			n = max(n, min(i+2, 20))
		}
	}
	return n
}

// supplierEditor is the editor form as the template shows it.
type supplierEditor struct {
	Form        *Form
	New         bool
	Agent       bool             // a new product of an agent's: it names the supplier it acts for (R22)
	Suppliers   []supplierChoice // whom an agent may create a product for
	Types       []supplierEditorOption
	Frequencies []supplierEditorOption
	Delivery    []supplierEditorOption
	Sources     []supplierEditorOption
	Grades      []supplierEditorOption
	Sublevels   []supplierEditorOption
	Mechanisms  []supplierEditorOption
	Plans       []supplierPlanRow
	Attachments []catalog.Attachment
	Checked     map[string]bool // the checkboxes that are ticked
}

// supplierEditorOption is a choice of a select or a checkbox group.
type supplierEditorOption struct {
	Value string
	On    bool
}

func supplierEditorOptions(values []string, chosen ...string) []supplierEditorOption {
	out := make([]supplierEditorOption, len(values))
	for i, v := range values {
		out[i] = supplierEditorOption{Value: v, On: slices.Contains(chosen, v)}
	}
	return out
}

// supplierPlanRow is one price plan's inputs, plan_<field>_<index>.
type supplierPlanRow struct {
	Index                               int
	Kind, Name, Price, Currency, Period string
	Kinds, Periods                      []supplierEditorOption
}

// supplierChoice is a supplier an agent may create a product for: a foreign supplier
// whose agency contract it holds, or itself when it is also a supplier.
type supplierChoice struct {
	ID   string
	Name string
	On   bool
}

func (c *Console) supplierEditorFor(q *Request, f *Form, isNew bool) (*supplierEditor, error) {
	v := f.Values
	e := &supplierEditor{Form: f, New: isNew, Checked: map[string]bool{}}
	e.Types = supplierEditorOptions(enums["type"], f.Get("type"))
	e.Frequencies = supplierEditorOptions(enums["frequency"], f.Get("update_frequency"))
	e.Delivery = supplierEditorOptions(enums["delivery"], v["delivery_modes"]...)
	e.Sources = supplierEditorOptions(enums["source"], f.Get("source"))
	e.Grades = supplierEditorOptions(enums["grade"], f.Get("grade"))
	e.Sublevels = supplierEditorOptions([]string{"1", "2", "3", "4"}, f.Get("sublevel"))
	e.Mechanisms = supplierEditorOptions(enums["mechanism"], f.Get("export_mechanism"))
	for _, name := range []string{"rights_holding", "rights_processing_use", "rights_product_operation", "important_notified", "export_allowed"} {
		e.Checked[name] = f.Get(name) != ""
	}
	for i := range supplierPlanCount(f) {
		at := func(field string) string { return f.Get(fmt.Sprintf("plan_%s_%d", field, i)) }
		e.Plans = append(e.Plans, supplierPlanRow{Index: i, Kind: at("kind"), Name: at("name"), Price: at("price"),
			Currency: at("currency"), Period: at("period"),
			Kinds: supplierEditorOptions(enums["plan"], at("kind")), Periods: supplierEditorOptions(enums["period"], at("period"))})
	}
	e.Attachments = supplierAttachments(f)
	if isNew && q.Actor.Has(dataport.RoleAgent) {
		e.Agent = true
		choices, err := c.supplierChoices(q, f.Get("supplier_id"))
		if err != nil {
			return nil, err
		}
		e.Suppliers = choices
	}
	return e, nil
}

// supplierChoices are the suppliers an agent may create products for: the foreign
// suppliers of its agency contracts (R22; the catalog checks the contract covers
// the product), and itself when it is a supplier too.
func (c *Console) supplierChoices(q *Request, chosen string) ([]supplierChoice, error) {
	var out []supplierChoice
	if q.Actor.Has(dataport.RoleSupplier) {
		out = append(out, supplierChoice{ID: q.Actor.ParticipantID, Name: q.Text(q.Session.Participant.LegalName)})
	}
	if c.deps.Compliance != nil {
		contracts, err := c.deps.Compliance.Contracts(q.Context(), q.Actor, q.Actor.ParticipantID)
		if err != nil {
			return nil, err
		}
		names := c.participantNames(q)
		for _, k := range contracts {
			if k.AgentID != q.Actor.ParticipantID || !k.InForce ||
				slices.ContainsFunc(out, func(s supplierChoice) bool { return s.ID == k.SupplierID }) {
				continue
			}
			out = append(out, supplierChoice{ID: k.SupplierID, Name: names(k.SupplierID)})
		}
	}
	for i := range out {
		out[i].On = out[i].ID == chosen
	}
	return out, nil
}

// supplierDefaults starts a new product's form: a dataset of general data, collected
// where the participant is registered.
func supplierDefaults(q *Request) url.Values {
	origin := q.Session.Participant.Jurisdiction
	if origin == "" {
		origin = "CN"
	}
	return url.Values{"type": {"dataset"}, "grade": {"general"}, "sublevel": {"1"}, "source": {"enterprise"},
		"origin_jurisdiction": {origin}, "delivery_modes": {"file"}, "plan_currency_0": {"CNY"}, "pi_subjects": {"0"},
		"sensitive_pi_subjects": {"0"}}
}

// supplierDetailFields bind the catalog's field names (catalog.Details' JSON names) to the
// editor's inputs, with the words that explain each.
var supplierDetailFields = Fields{
	"type":                       {Input: "type", Message: "supplier.problem.type"},
	"title":                      {Input: "title", Message: "supplier.problem.title"},
	"summary":                    {Input: "summary", Message: "supplier.problem.summary"},
	"category":                   {Input: "category", Message: "supplier.problem.category"},
	"tags":                       {Input: "tags", Message: "supplier.problem.tags"},
	"update_frequency":           {Input: "update_frequency", Message: "supplier.problem.frequency"},
	"delivery_modes":             {Input: "delivery_modes", Message: "supplier.problem.delivery"},
	"scenarios":                  {Input: "scenarios", Message: "supplier.problem.scenarios"},
	"price_plans":                {Input: "plans", Message: "supplier.problem.plans"},
	"time_span.from":             {Input: "time_from", Message: "supplier.problem.date"},
	"time_span.to":               {Input: "time_to", Message: "supplier.problem.time_to"},
	"source":                     {Input: "source", Message: "supplier.problem.source"},
	"grade":                      {Input: "grade", Message: "supplier.problem.grade"},
	"sublevel":                   {Input: "sublevel", Message: "supplier.problem.sublevel"},
	"important_notified":         {Input: "important_notified", Message: "supplier.problem.notified"},
	"pi_subjects":                {Input: "pi_subjects", Message: "supplier.problem.count"},
	"sensitive_pi_subjects":      {Input: "sensitive_pi_subjects", Message: "supplier.problem.sensitive"},
	"origin_jurisdiction":        {Input: "origin_jurisdiction", Message: "supplier.problem.origin"},
	"export_mechanism":           {Input: "export_mechanism", Message: "supplier.problem.mechanism"},
	"rights":                     {Input: "rights", Message: "supplier.problem.rights"},
	"attachments":                {Input: "attachments", Message: "supplier.problem.report"},
	"fields":                     {Input: "fields"},
	"sample":                     {Input: "sample"},
	"usage_policy":               {Input: "usage_policy"},
	"restrictions":               {Input: "restrictions"},
	"coverage":                   {Input: "coverage"},
	"lawful_basis":               {Input: "lawful_basis"},
	"deidentification":           {Input: "deidentification"},
	"description":                {Input: "description"},
	"export_mechanism_reference": {Input: "export_mechanism_reference"},
}

// supplierUnder returns fields as the catalog names them inside a new product ("details.title"),
// with the supplier chosen.
func supplierUnder(prefix string, fields Fields) Fields {
	out := Fields{"supplier_id": {Input: "supplier_id", Message: "supplier.problem.supplier"}}
	for name, f := range fields {
		out[prefix+"."+name] = f
	}
	return out
}

// supplierParseDetails reads the editor into Details. What cannot be read is failed at its
// input in f; the Fields returned bind the catalog's problems with the result to
// the inputs, a price plan's to its row.
func supplierParseDetails(f *Form, l *Localizer) (catalog.Details, Fields) {
	fields := Fields{}
	for k, v := range supplierDetailFields {
		fields[k] = v
	}
	d := catalog.Details{
		Type:        f.Get("type"),
		Title:       dataport.Bilingual{Zh: f.Get("title_zh"), En: f.Get("title_en")},
		Summary:     dataport.Bilingual{Zh: f.Get("summary_zh"), En: f.Get("summary_en")},
		Description: dataport.Bilingual{Zh: f.Get("description_zh"), En: f.Get("description_en")},
		Category:    strings.ToLower(f.Get("category")),
		Tags:        supplierSplit(f.Get("tags")),
		Sample:      strings.TrimRight(f.Values.Get("sample"), " \r\n"),
		Coverage:    f.Get("coverage"),
		TimeSpan:    catalog.TimeSpan{From: f.Get("time_from"), To: f.Get("time_to")},

		UpdateFrequency:    f.Get("update_frequency"),
		DeliveryModes:      supplierNonBlank(f.Values["delivery_modes"]),
		Scenarios:          supplierLines(f.Get("scenarios")),
		Restrictions:       f.Get("restrictions"),
		UsagePolicy:        f.Get("usage_policy"),
		Source:             f.Get("source"),
		LawfulBasis:        f.Get("lawful_basis"),
		Grade:              f.Get("grade"),
		ImportantNotified:  f.Get("important_notified") != "",
		Deidentification:   f.Get("deidentification"),
		OriginJurisdiction: strings.ToUpper(f.Get("origin_jurisdiction")),
		ExportAllowed:      f.Get("export_allowed") != "",
		ExportMechanism:    f.Get("export_mechanism"),
		ExportMechanismRef: f.Get("export_mechanism_reference"),
		Rights: catalog.Rights{Holding: f.Get("rights_holding") != "", ProcessingUse: f.Get("rights_processing_use") != "",
			ProductOperation: f.Get("rights_product_operation") != ""},
	}
	if d.Grade == "general" { // only general data has a sub-level (GB/T 43697-2024)
		if n, err := strconv.Atoi(f.Get("sublevel")); err == nil {
			d.Sublevel = n
		}
	}
	count := func(input string) int64 {
		s := f.Get(input)
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			f.Fail(input, l.T("supplier.problem.count"))
		}
		return n
	}
	d.PISubjects, d.SensitivePISubjects = count("pi_subjects"), count("sensitive_pi_subjects")
	// The field dictionary: a line a field, "name | type | 中文说明 | English description".
	for i, line := range supplierLines(f.Values.Get("fields")) {
		parts := strings.Split(line, "|")
		for j := range parts {
			parts[j] = strings.TrimSpace(parts[j])
		}
		if len(parts) < 2 || len(parts) > 4 || parts[0] == "" {
			f.Fail("fields", l.T("supplier.problem.fields", i+1))
			continue
		}
		fd := catalog.Field{Name: parts[0], Type: parts[1]}
		if len(parts) > 2 {
			fd.Description.Zh = parts[2]
		}
		if len(parts) > 3 {
			fd.Description.En = parts[3]
		}
		d.Fields = append(d.Fields, fd)
	}
	// Price plans: the rows filled in, in order; a plan's problems go to its row.
	for row := range supplierPlanCount(f) {
		at := func(field string) string { return fmt.Sprintf("plan_%s_%d", field, row) }
		kind, price, currency := f.Get(at("kind")), f.Get(at("price")), strings.ToUpper(f.Get(at("currency")))
		if kind == "" && price == "" {
			continue
		}
		plan := catalog.PricePlan{Kind: kind, Name: f.Get(at("name")), Period: f.Get(at("period")),
			Price: dataport.Money{Currency: currency}}
		if kind != "subscription" {
			plan.Period = "" // the period select keeps its value when the kind changes
		}
		amount, ok := supplierParsePrice(price, currency)
		if !ok {
			f.Fail(at("price"), l.T("supplier.problem.price"))
		}
		plan.Price.Amount = amount
		i := len(d.PricePlans)
		base := fmt.Sprintf("price_plans[%d]", i)
		fields[base] = Field{Input: at("kind"), Message: "supplier.problem.plans"}
		fields[base+".kind"] = Field{Input: at("kind"), Message: "supplier.problem.plan.kind"}
		fields[base+".price.amount"] = Field{Input: at("price"), Message: "supplier.problem.price"}
		fields[base+".price.currency"] = Field{Input: at("currency"), Message: "supplier.problem.currency"}
		fields[base+".period"] = Field{Input: at("period"), Message: "supplier.problem.period"}
		d.PricePlans = append(d.PricePlans, plan)
	}
	d.Attachments = supplierAttachments(f)
	for i := range d.Attachments {
		// An attachment's own problems (not uploaded by the supplier or its agent)
		// are the catalog's words; "attachments" alone is R20's.
		fields[fmt.Sprintf("attachments[%d]", i)] = Field{Input: "attachments"}
	}
	return d, fields
}

// supplierAttachments reads the attachments the editor carries (att_kind, att_sha256,
// att_name, in order), less those ticked to be removed (att_remove).
func supplierAttachments(f *Form) []catalog.Attachment {
	kinds, sums, names := f.Values["att_kind"], f.Values["att_sha256"], f.Values["att_name"]
	remove := f.Values["att_remove"]
	var out []catalog.Attachment
	for i := range min(len(kinds), len(sums)) {
		if slices.Contains(remove, sums[i]) {
			continue
		}
		a := catalog.Attachment{Kind: kinds[i], SHA256: sums[i]}
		if i < len(names) {
			a.Name = names[i]
		}
		out = append(out, a)
	}
	return out
}

// supplierDetailsValues is the editor's form holding d: supplierParseDetails' inverse.
func supplierDetailsValues(d catalog.Details) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	flag := func(k string, b bool) {
		if b {
			v.Set(k, "on")
		}
	}
	set("type", d.Type)
	set("title_zh", d.Title.Zh)
	set("title_en", d.Title.En)
	set("summary_zh", d.Summary.Zh)
	set("summary_en", d.Summary.En)
	set("description_zh", d.Description.Zh)
	set("description_en", d.Description.En)
	set("category", d.Category)
	set("tags", strings.Join(d.Tags, ", "))
	set("sample", d.Sample)
	set("coverage", d.Coverage)
	set("time_from", d.TimeSpan.From)
	set("time_to", d.TimeSpan.To)
	set("update_frequency", d.UpdateFrequency)
	v["delivery_modes"] = slices.Clone(d.DeliveryModes)
	set("scenarios", strings.Join(d.Scenarios, "\n"))
	set("restrictions", d.Restrictions)
	set("usage_policy", d.UsagePolicy)
	set("source", d.Source)
	set("lawful_basis", d.LawfulBasis)
	set("grade", d.Grade)
	if d.Sublevel > 0 {
		v.Set("sublevel", strconv.Itoa(d.Sublevel))
	}
	flag("important_notified", d.ImportantNotified)
	v.Set("pi_subjects", strconv.FormatInt(d.PISubjects, 10))
	v.Set("sensitive_pi_subjects", strconv.FormatInt(d.SensitivePISubjects, 10))
	set("deidentification", d.Deidentification)
	set("origin_jurisdiction", d.OriginJurisdiction)
	flag("export_allowed", d.ExportAllowed)
	set("export_mechanism", d.ExportMechanism)
	set("export_mechanism_reference", d.ExportMechanismRef)
	flag("rights_holding", d.Rights.Holding)
	flag("rights_processing_use", d.Rights.ProcessingUse)
	flag("rights_product_operation", d.Rights.ProductOperation)
	var fl []string
	for _, fd := range d.Fields {
		parts := []string{fd.Name, fd.Type}
		if fd.Description.Zh != "" || fd.Description.En != "" {
			parts = append(parts, fd.Description.Zh)
		}
		if fd.Description.En != "" {
			parts = append(parts, fd.Description.En)
		}
		fl = append(fl, strings.Join(parts, " | "))
	}
	set("fields", strings.Join(fl, "\n"))
	for i, p := range d.PricePlans {
		at := func(field string) string { return fmt.Sprintf("plan_%s_%d", field, i) }
		v.Set(at("kind"), p.Kind)
		v.Set(at("name"), p.Name)
		v.Set(at("price"), supplierFormatAmount(p.Price))
		v.Set(at("currency"), p.Price.Currency)
		v.Set(at("period"), p.Period)
	}
	if len(d.PricePlans) == 0 {
		v.Set("plan_currency_0", "CNY")
	}
	for _, a := range d.Attachments {
		v.Add("att_kind", a.Kind)
		v.Add("att_sha256", a.SHA256)
		v.Add("att_name", a.Name)
	}
	return v
}

// supplierMinorDigits is how many minor digits a currency has, as formatMoney shows it.
func supplierMinorDigits(currency string) int {
	if formatMoney(dataport.Money{Amount: 1, Currency: currency}) == currency+" 1" {
		return 0
	}
	return 2
}

// supplierParsePrice reads a plan's price in major units ("1500", "1,500.50") into minor
// units, exactly: no more decimals than the currency has.
func supplierParsePrice(s, currency string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	if s == "" {
		return 0, false
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	digits := supplierMinorDigits(currency)
	if whole == "" || len(frac) > digits || (hasFrac && frac == "") {
		return 0, false
	}
	frac += strings.Repeat("0", digits-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
		return 0, false
	}
	return n, true
}

// supplierFormatAmount writes minor units as supplierParsePrice reads them, without grouping.
func supplierFormatAmount(m dataport.Money) string {
	digits := supplierMinorDigits(m.Currency)
	s := strconv.FormatInt(m.Amount, 10)
	if digits == 0 {
		return s
	}
	for len(s) <= digits {
		s = "0" + s
	}
	return s[:len(s)-digits] + "." + s[len(s)-digits:]
}

// supplierSplit reads a comma-separated list (tags, categories): either comma.
func supplierSplit(s string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '，' || r == '\n' }) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// supplierLines reads a list given a line an item.
func supplierLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func supplierNonBlank(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// supplierForeign reports whether the signed-in participant is a foreign one.
func supplierForeign(q *Request) bool { return q.Session.Participant.Kind == registry.Foreign }
